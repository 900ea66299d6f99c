#include "lab.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace sluice::testing {

int run(const std::string& command) {
  int status = std::system(command.c_str());
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void run_or_throw(const std::string& command) {
  int rc = run(command);
  if (rc != 0) throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + command);
}

std::string capture(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  pclose(pipe);
  return out;
}

void in_netns(const std::string& netns, const std::function<void()>& fn) {
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) throw std::system_error(errno, std::generic_category(), "open own netns");
  std::string path = "/run/netns/" + netns;
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(home);
    throw std::system_error(err, std::generic_category(), "open " + path);
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(home);
    close(target);
    throw std::system_error(err, std::generic_category(), "enter " + path);
  }
  close(target);
  struct Restore {
    int fd;
    ~Restore() {
      setns(fd, CLONE_NEWNET);
      close(fd);
    }
  } restore{home};
  fn();
}

VethLab::VethLab(const std::string& name, int subnet)
    : tx_ns_(name + "-tx"),
      rx_ns_(name + "-rx"),
      tx_if_(name + "-t"),
      rx_if_(name + "-r"),
      subnet_(subnet) {
  if (name.size() > 10) throw std::invalid_argument("lab name too long: " + name);
  // Remove leftovers of a crashed earlier run with the same name.
  run("ip netns del " + tx_ns_ + " 2>/dev/null; ip netns del " + rx_ns_ + " 2>/dev/null");
  try {
    std::string s = std::to_string(subnet);
    run_or_throw("ip netns add " + tx_ns_);
    run_or_throw("ip netns add " + rx_ns_);
    run_or_throw("ip link add " + tx_if_ + " netns " + tx_ns_ + " type veth peer name " + rx_if_ +
                 " netns " + rx_ns_);
    for (const auto& [ns, ifname, host] : {std::tuple{tx_ns_, tx_if_, std::string("1")},
                                           std::tuple{rx_ns_, rx_if_, std::string("2")}}) {
      std::string in = "ip -n " + ns + " ";
      run_or_throw(in + "link set lo up");
      run_or_throw(in + "addr add 198.18." + s + "." + host + "/24 dev " + ifname);
      run_or_throw(in + "addr add 2001:db8:" + s + "::" + host + "/64 dev " + ifname + " nodad");
      run_or_throw(in + "link set " + ifname + " up");
    }
    // Extra tx sources live in 2001:db8:<subnet>:<host>::/64; route them back.
    run_or_throw("ip -n " + rx_ns_ + " -6 route add 2001:db8:" + s + "::/48 dev " + rx_if_);
    // Permanent neighbours: resolution traffic must not race the limits under test.
    tx_mac_ = mac_of(tx_ns_, tx_if_);
    rx_mac_ = mac_of(rx_ns_, rx_if_);
    add_neighbour(tx_ns_, tx_if_, rx_v4(), rx_mac_);
    add_neighbour(tx_ns_, tx_if_, rx_v6(), rx_mac_);
    add_neighbour(rx_ns_, rx_if_, tx_v4(), tx_mac_);
    add_neighbour(rx_ns_, rx_if_, tx_v6(), tx_mac_);
  } catch (...) {
    run("ip netns del " + tx_ns_ + " 2>/dev/null; ip netns del " + rx_ns_ + " 2>/dev/null");
    throw;
  }
}

std::string VethLab::mac_of(const std::string& ns, const std::string& ifname) {
  std::string out = capture("ip -n " + ns + " -br link show dev " + ifname);
  // "<name>@<peer> UP 02:..:.. <flags>": the third field.
  std::istringstream fields(out);
  std::string name, state, mac;
  fields >> name >> state >> mac;
  if (mac.size() != 17) throw std::runtime_error("cannot read MAC of " + ifname + ": " + out);
  return mac;
}

void VethLab::add_neighbour(const std::string& ns, const std::string& ifname,
                            const std::string& address, const std::string& mac) {
  run_or_throw("ip -n " + ns + " neigh replace " + address + " lladdr " + mac + " dev " + ifname +
               " nud permanent");
}

VethLab::~VethLab() {
  // Deleting the namespaces removes the veth pair and everything attached to it.
  run("ip netns del " + tx_ns_ + " 2>/dev/null");
  run("ip netns del " + rx_ns_ + " 2>/dev/null");
}

std::string VethLab::add_tx_v4(int host) {
  std::string addr = "198.18." + std::to_string(subnet_) + "." + std::to_string(host);
  run_or_throw("ip -n " + tx_ns_ + " addr add " + addr + "/24 dev " + tx_if_);
  add_neighbour(rx_ns_, rx_if_, addr, tx_mac_);
  return addr;
}

std::string VethLab::add_tx_v6(int host) {
  std::string addr = "2001:db8:" + std::to_string(subnet_) + ":" + std::to_string(host) + "::1";
  run_or_throw("ip -n " + tx_ns_ + " addr add " + addr + "/48 dev " + tx_if_ + " nodad");
  add_neighbour(rx_ns_, rx_if_, addr, tx_mac_);
  return addr;
}

std::pair<std::string, std::string> VethLab::add_vlans(
    const std::vector<std::pair<std::string, int>>& stack, int subnet) {
  std::string addresses[2];
  for (int side = 0; side < 2; ++side) {
    const std::string& ns = side ? rx_ns_ : tx_ns_;
    std::string parent = side ? rx_if_ : tx_if_;
    for (const auto& [proto, id] : stack) {
      std::string name = parent + "." + std::to_string(id);  // "sxg-t.100.10": within 15
      run_or_throw("ip -n " + ns + " link add link " + parent + " name " + name +
                   " type vlan proto " + proto + " id " + std::to_string(id));
      run_or_throw("ip -n " + ns + " link set " + name + " up");
      parent = name;
    }
    addresses[side] = "198.19." + std::to_string(subnet) + "." + std::to_string(side + 1);
    run_or_throw("ip -n " + ns + " addr add " + addresses[side] + "/24 dev " + parent);
  }
  // Permanent neighbours on the innermost links, as for the plain pair.
  std::string suffix;
  for (const auto& [proto, id] : stack) suffix += "." + std::to_string(id);
  add_neighbour(tx_ns_, tx_if_ + suffix, addresses[1], rx_mac_);
  add_neighbour(rx_ns_, rx_if_ + suffix, addresses[0], tx_mac_);
  return {addresses[0], addresses[1]};
}

int VethLab::exec_tx(const std::string& command) const {
  return run("ip netns exec " + tx_ns_ + " " + command);
}

int VethLab::exec_rx(const std::string& command) const {
  return run("ip netns exec " + rx_ns_ + " " + command);
}

}  // namespace sluice::testing
