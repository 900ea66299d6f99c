// Key-bound addresses and escalation with a real sluiced and real traffic
// (docs/key-binding.md): checks through the check API's unix socket bind the
// client addresses to a key, then UDP floods from two addresses are held by
// the data path to the key's one packet rate; an address refused too often is
// dropped at the NIC (counted on the far side of the veth) and recovers.
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "daemon_lab.h"
#include "http_get.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
constexpr uint16_t kPort = 9999;

class KeyBindingLab : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon = std::make_unique<DaemonLab>("skeyb", 249);
    const std::string dir = daemon->dir();
    // Unbound sources: 50/s, burst 50. The gold key's addresses: 200/s, burst 100, shared.
    daemon->write_config(R"(metrics:
  listen: 127.0.0.1:19473
default_tier: small
tiers:
  small: {packets: {rate: 50/s, burst: 50}}
  keyed: {packets: {rate: 200/s, burst: 100}}
check:
  listen: ""
  socket: )" + socket() + R"(
  keys_file: )" + dir + R"(/keys.json
  pepper_file: )" + dir + R"(/pepper
  state_file: )" + dir + R"(/request-state.bin
  default_tier: free
  tiers:
    free: {minute: 3/min}
    gold: {minute: 100000/min}
key_binding:
  ttl: 4s
  tiers: {gold: keyed}
escalation:
  refusals: 5
  within: 10s
  penalty: 3s
)");
    daemon->start();
    gold = add_key("gold");
    free = add_key("free");
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << daemon->log();
    daemon.reset();
  }
  std::string socket() const { return daemon->dir() + "/check.sock"; }
  std::string add_key(const std::string& tier) {
    auto added = daemon->ctl("key add --tier " + tier);
    EXPECT_EQ(added.exit_code, 0) << added.err;
    return added.out.substr(0, added.out.find('\n'));
  }
  // One check as nginx asks it, for a client at `address`; returns the status.
  int check(const std::string& key, const std::string& address) {
    auto r = run_captured(
        "curl -s -o /dev/null -w '%{http_code}' -m 5 -H 'X-Original-Method: GET'"
        " -H 'X-Original-URI: /users/1' -H 'X-API-Key: " +
        key + "' -H 'X-Real-IP: " + address + "' --unix-socket " + socket() +
        " http://localhost/v1/check");
    return std::atoi(r.out.c_str());
  }
  // Sends `rate`/s for `duration` from `src`; returns (sent, received) for it.
  uint64_t received_from(const std::string& src, uint64_t rate, milliseconds duration) {
    UdpCounter counter(daemon->lab().rx_ns(), false, kPort);
    send_udp(daemon->lab().tx_ns(), src, daemon->lab().rx_v4(), kPort, rate, duration);
    return counter.stop()[src];
  }
  void settle() { std::this_thread::sleep_for(milliseconds(300)); }  // a flush is 100 ms

  std::unique_ptr<DaemonLab> daemon;
  std::string gold, free;
};

TEST_F(KeyBindingLab, TheKernelHoldsTheKeysRateAcrossTwoAddresses) {
  const std::string a = daemon->lab().tx_v4(), b = daemon->lab().add_tx_v4(10);
  ASSERT_EQ(check(gold, a), 200);
  ASSERT_EQ(check(gold, b), 200);
  settle();
  // The usage API reports the key's kernel tier for a bound address.
  auto usage = run_captured("curl -s -m 5 -H 'X-API-Key: " + gold + "' --unix-socket " + socket() +
                            " 'http://localhost/v1/usage?address=" + b + "'");
  auto body = nlohmann::json::parse(usage.out, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << usage.out;
  EXPECT_EQ(body["kernel"]["tier"], "keyed") << usage.out;
  EXPECT_EQ(body["kernel"]["key_bound"], true) << usage.out;

  UdpCounter counter(daemon->lab().rx_ns(), false, kPort);
  SendReport ra, rb;
  std::thread ta([&] {
    ra = send_udp(daemon->lab().tx_ns(), a, daemon->lab().rx_v4(), kPort, 600, milliseconds(2000));
  });
  std::thread tb([&] {
    rb = send_udp(daemon->lab().tx_ns(), b, daemon->lab().rx_v4(), kPort, 600, milliseconds(2000));
  });
  ta.join();
  tb.join();
  auto counts = counter.stop();
  const double seconds = std::max(ra.seconds, rb.seconds);
  const double expected = 200 * seconds + 100;
  const uint64_t received = counts[a] + counts[b];
  std::cout << "key across two addresses: received " << received << " (" << counts[a] << " + "
            << counts[b] << ") of " << ra.sent + rb.sent << " sent over " << seconds
            << " s; expected 200/s x time + 100 = " << expected << "\n";
  EXPECT_NEAR(received, expected, expected * 0.05)
      << "sent " << ra.sent << " + " << rb.sent << " over " << seconds << " s; received "
      << counts[a] << " + " << counts[b];
  // Unbound, each address alone would get 50/s + 50: far less than the key's share.
  EXPECT_GT(received, 2 * (50 * seconds + 50) * 1.3);

  // The binding expires 4 s after the last check: back to the CIDR tier.
  std::this_thread::sleep_for(milliseconds(4500));
  const uint64_t alone = received_from(a, 600, milliseconds(1000));
  EXPECT_NEAR(alone, 50 * 1.0 + 50, 15) << "after expiry: the small tier's 50/s, burst 50";
}

TEST_F(KeyBindingLab, RefusalsEscalateToDropsAtTheNicAndBack) {
  const std::string abuser = daemon->lab().add_tx_v4(20);
  int refused = 0;
  for (int i = 0; i < 3 + 6; ++i) refused += check(free, abuser) == 403;  // 429 travels as 403
  ASSERT_EQ(refused, 6) << "3/min: the 4th check on is refused";
  settle();

  auto list = daemon->ctl_json("deny list");
  ASSERT_EQ(list["deny"].size(), 1u) << list.dump();
  EXPECT_EQ(list["deny"][0]["cidr"], abuser);
  EXPECT_EQ(list["deny"][0]["origin"], "penalty");
  EXPECT_EQ(list["deny"][0]["rule"], "more than 5 refusals in 10s: 3s");
  EXPECT_LE(list["deny"][0]["expires_in_s"].get<uint64_t>(), 3u);

  // The usage API and the metrics show it.
  auto usage = run_captured("curl -s -m 5 -H 'X-API-Key: " + free + "' --unix-socket " + socket() +
                            " 'http://localhost/v1/usage?address=" + abuser + "'");
  auto body = nlohmann::json::parse(usage.out, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << usage.out;
  EXPECT_EQ(body["kernel"]["access"], "penalty") << usage.out;
  EXPECT_EQ(body["kernel"]["penalty"]["rule"], "more than 5 refusals in 10s: 3s") << usage.out;
  const std::string metrics = http_body(http_get(daemon->lab().rx_ns(), 19473, "/metrics"));
  EXPECT_NE(metrics.find("\nsluice_penalties 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nsluice_escalations_total 1\n"), std::string::npos);

  EXPECT_EQ(received_from(abuser, 100, milliseconds(1000)), 0u) << "penalised: dropped at the NIC";
  const std::string after = http_body(http_get(daemon->lab().rx_ns(), 19473, "/metrics"));
  EXPECT_NE(after.find("reason=\"penalty\""), std::string::npos) << after;
  EXPECT_GT(received_from(daemon->lab().tx_v4(), 100, milliseconds(300)), 0u) << "others pass";
  // The penalty is over after 3 s and lifts by itself.
  std::this_thread::sleep_for(milliseconds(2500));
  EXPECT_GE(received_from(abuser, 40, milliseconds(500)), 18u) << "penalty expired";
  EXPECT_TRUE(daemon->ctl_json("deny list")["deny"].empty());

  // Again, and this time lifted by hand.
  for (int i = 0; i < 6; ++i) check(free, abuser);
  settle();
  EXPECT_EQ(received_from(abuser, 100, milliseconds(300)), 0u);
  auto removed = daemon->ctl("deny remove " + abuser);
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "penalty of " + abuser + "/32 lifted\n");
  EXPECT_GE(received_from(abuser, 40, milliseconds(500)), 18u) << "lifted";
}

}  // namespace
}  // namespace sluice::testing
