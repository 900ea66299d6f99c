// Test labs: network namespaces joined by veth pairs, removed on destruction
// (also when a test fails). Addresses come from 198.18.0.0/15 and 2001:db8::/32.
// VethLab drives scripts/lab.sh, the lab the quickstart and benchmarks use too.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

// Runs `command` through /bin/sh; returns its exit status (-1 if it could not run).
int run(const std::string& command);
// Like run(), but throws std::runtime_error naming the command when it fails.
void run_or_throw(const std::string& command);
// Runs `command` and returns its standard output.
std::string capture(const std::string& command);

// Runs `fn` in the calling thread with its network namespace switched to
// /run/netns/<netns>, then switches back (also when fn throws). The mount
// namespace is untouched, so /sys/fs/bpf stays the host's bpffs.
void in_netns(const std::string& netns, const std::function<void()>& fn);

// Two namespaces, "<name>-tx" and "<name>-rx", joined by a veth pair.
// tx side: interface "<name>-t", 198.18.<subnet>.1/24 and 2001:db8:<subnet>::1/64.
// rx side: interface "<name>-r", 198.18.<subnet>.2/24 and 2001:db8:<subnet>::2/64.
// Extra addresses can be added to the tx side to act as further sources.
class VethLab {
 public:
  // `name` at most 10 characters (interface names are limited to 15);
  // `subnet` 0..255 keeps concurrently running labs apart.
  VethLab(const std::string& name, int subnet);
  ~VethLab();
  VethLab(const VethLab&) = delete;
  VethLab& operator=(const VethLab&) = delete;

  const std::string& tx_ns() const { return tx_ns_; }
  const std::string& rx_ns() const { return rx_ns_; }
  const std::string& tx_if() const { return tx_if_; }
  const std::string& rx_if() const { return rx_if_; }
  std::string tx_v4() const { return "198.18." + std::to_string(subnet_) + ".1"; }
  std::string rx_v4() const { return "198.18." + std::to_string(subnet_) + ".2"; }
  std::string tx_v6() const { return "2001:db8:" + std::to_string(subnet_) + "::1"; }
  std::string rx_v6() const { return "2001:db8:" + std::to_string(subnet_) + "::2"; }
  const std::string& rx_mac() const { return rx_mac_; }
  // Stacks VLAN links on both ends ("802.1ad 100" then "802.1Q 10", say) and
  // addresses the innermost ones 198.19.<subnet>.1 (tx) and .2 (rx); returns
  // the tx and rx addresses.
  std::pair<std::string, std::string> add_vlans(
      const std::vector<std::pair<std::string, int>>& stack, int subnet);
  // An extra source address on the tx side: 198.18.<subnet>.<host> / 2001:db8:<subnet>:<host>::1.
  std::string add_tx_v4(int host);
  std::string add_tx_v6(int host);

  // Runs a shell command inside a namespace (`ip netns exec`).
  int exec_tx(const std::string& command) const;
  int exec_rx(const std::string& command) const;

 private:
  static void add_neighbour(const std::string& ns, const std::string& ifname,
                            const std::string& address, const std::string& mac);
  std::string name_, tx_ns_, rx_ns_, tx_if_, rx_if_, tx_mac_, rx_mac_;
  int subnet_;
};

}  // namespace sluice::testing
