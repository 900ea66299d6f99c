// Escalation end to end through a real nginx (docs/key-binding.md, issue 11):
// sluiced attached to the lab's rx side answers nginx's auth_request (the
// shipped examples/nginx/sluice-auth.conf); an abusive client's requests get
// 429s, and past `refusals` its packets stop arriving at the far side of the
// veth (counted there) until the penalty is over. Another client is served
// throughout.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "daemon_lab.h"
#include "http_answer.h"
#include "test_nginx.h"
#include "traffic.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
constexpr uint16_t kUdpPort = 9998;

class EscalationThroughNginx : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon = std::make_unique<DaemonLab>("sescn", 243);
    const std::string dir = daemon->dir();
    // The kernel tier lets everything through: only the penalty drops.
    daemon->write_config(R"(metrics:
  listen: ""
default_tier: open
tiers:
  open: {packets: 100000/s}
check:
  listen: 127.0.0.1:9465
  keys_file: )" + dir + R"(/keys.json
  pepper_file: )" + dir + R"(/pepper
  state_file: )" + dir + R"(/request-state.bin
  default_tier: free
  tiers:
    free: {minute: 3/min}
    pro: {minute: 100000/min}
escalation:
  refusals: 4
  within: 10s
  penalty: 6s
)");
    daemon->start();
    abuser = daemon->lab().add_tx_v4(20);
    neighbour = daemon->lab().add_tx_v4(30);
    start_nginx();
  }

  void TearDown() override {
    nginx.stop();
    if (HasFailure()) std::cerr << daemon->log();
    daemon.reset();
  }

  void start_nginx() {
    nginx.start(daemon->dir(), daemon->lab().rx_ns(), daemon->lab().rx_v4() + ":8080",
                "127.0.0.1:9465", "backend");
    for (int i = 0; i < 100; ++i) {
      if (get(neighbour, "sk_readiness_probe_never_issued").status != 0) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "nginx did not answer";
  }

  // One request through nginx from `source` in the tx namespace; status 0
  // when no answer came (the connection was never made).
  HttpAnswer get(const std::string& source, const std::string& key) {
    return parse_http_answer(run_captured("ip netns exec " + daemon->lab().tx_ns() +
                                          " curl -s -i --connect-timeout 1 -m 2 --interface " +
                                          source + " -H 'X-API-Key: " + key + "' 'http://" +
                                          daemon->lab().rx_v4() + ":8080/users/1'")
                                 .out);
  }
  std::string add_key(const std::string& tier) {
    auto added = daemon->ctl("key add --tier " + tier);
    EXPECT_EQ(added.exit_code, 0) << added.err;
    return added.out.substr(0, added.out.find('\n'));
  }
  // UDP datagrams from `src` counted on the far side of the veth.
  uint64_t arriving_from(const std::string& src, uint64_t rate, std::chrono::milliseconds time) {
    UdpCounter counter(daemon->lab().rx_ns(), false, kUdpPort);
    send_udp(daemon->lab().tx_ns(), src, daemon->lab().rx_v4(), kUdpPort, rate, time);
    return counter.stop()[src];
  }

  std::unique_ptr<DaemonLab> daemon;
  std::string abuser, neighbour;
  TestNginx nginx;
};

TEST_F(EscalationThroughNginx, AnAbuserGoesFrom429sToNicDropsAndBackWhileANeighbourIsServed) {
  const std::string free_key = add_key("free"), pro_key = add_key("pro");
  ASSERT_GE(arriving_from(abuser, 100, 300ms), 28u) << "before: the abuser's packets arrive";

  // The neighbour asks every 100 ms from start to end.
  std::atomic<bool> done{false};
  std::atomic<int> served{0}, not_served{0};
  std::thread neighbour_client([&] {
    while (!done) {
      (get(neighbour, pro_key).status == 200 ? served : not_served)++;
      std::this_thread::sleep_for(100ms);
    }
  });

  std::vector<int> statuses;
  for (int i = 0; i < 3 + 5; ++i) statuses.push_back(get(abuser, free_key).status);
  const auto escalated_at = Clock::now();
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200, 429, 429, 429, 429, 429}))
      << "3/min, then 429s; the 5th refusal (more than 4) escalates";
  std::this_thread::sleep_for(300ms);  // the key link flushes every 100 ms

  auto list = daemon->ctl_json("deny list");
  ASSERT_EQ(list["deny"].size(), 1u) << list.dump();
  EXPECT_EQ(list["deny"][0]["cidr"], abuser);
  EXPECT_EQ(list["deny"][0]["origin"], "penalty");
  EXPECT_EQ(list["deny"][0]["rule"], "more than 4 refusals in 10s: 6s");
  EXPECT_LE(list["deny"][0]["expires_in_s"].get<uint64_t>(), 6u);
  EXPECT_GE(list["deny"][0]["expires_in_s"].get<uint64_t>(), 4u);
  const auto text = daemon->ctl("deny list");
  EXPECT_NE(text.out.find(abuser), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("penalty (more than 4 refusals in 10s: 6s)"), std::string::npos)
      << text.out;

  // Dropped at the NIC: no datagram arrives, and nginx never sees a connection.
  const uint64_t during = arriving_from(abuser, 100, 1000ms);
  EXPECT_EQ(during, 0u) << "penalised: dropped before the far side";
  EXPECT_EQ(get(abuser, free_key).status, 0) << "no answer while penalised";
  EXPECT_GE(arriving_from(neighbour, 100, 300ms), 28u) << "the neighbour's packets pass";
  ASSERT_LT(Clock::now(), escalated_at + 5500ms) << "too slow: the penalty was nearly over";

  // 6 s after the escalation the penalty is over by itself.
  std::this_thread::sleep_until(escalated_at + 6300ms);
  const uint64_t after = arriving_from(abuser, 100, 500ms);
  EXPECT_GE(after, 48u) << "penalty over: the abuser's packets arrive again";
  EXPECT_EQ(get(abuser, free_key).status, 429) << "answered again (still over its 3/min)";
  EXPECT_TRUE(daemon->ctl_json("deny list")["deny"].empty());

  done = true;
  neighbour_client.join();
  std::cout << "abuser packets arriving: during the penalty " << during << " of 100, after "
            << after << " of 50; neighbour served " << served << " of " << served + not_served
            << "\n";
  EXPECT_EQ(not_served, 0) << "the neighbour was refused or unanswered";
  EXPECT_GE(served, 20);
}

}  // namespace
}  // namespace sluice::testing
