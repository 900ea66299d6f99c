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

namespace {

// scripts/lab.sh: the one lab implementation, shared with the quickstart and
// the benchmarks (docs/lab.md).
std::string lab_script() {
  return SLUICE_LAB_SCRIPT;
}

}  // namespace

VethLab::VethLab(const std::string& name, int subnet)
    : name_(name),
      tx_ns_(name + "-tx"),
      rx_ns_(name + "-rx"),
      tx_if_(name + "-t"),
      rx_if_(name + "-r"),
      subnet_(subnet) {
  if (name.size() > 10) throw std::invalid_argument("lab name too long: " + name);
  // lab.sh removes leftovers of an earlier run first and, when a step fails,
  // whatever it built; its last lines are KEY=VALUE facts about the lab.
  std::string command =
      lab_script() + " up " + name + " --subnet " + std::to_string(subnet) + " --print-env";
  std::istringstream env(capture(command));
  std::string line;
  while (std::getline(env, line)) {
    if (line.rfind("LAB_TX_MAC=", 0) == 0) tx_mac_ = line.substr(line.find('=') + 1);
    if (line.rfind("LAB_RX_MAC=", 0) == 0) rx_mac_ = line.substr(line.find('=') + 1);
  }
  if (tx_mac_.size() != 17 || rx_mac_.size() != 17) {
    run(lab_script() + " down " + name);
    throw std::runtime_error("command failed: " + command);
  }
}

void VethLab::add_neighbour(const std::string& ns, const std::string& ifname,
                            const std::string& address, const std::string& mac) {
  run_or_throw("ip -n " + ns + " neigh replace " + address + " lladdr " + mac + " dev " + ifname +
               " nud permanent");
}

VethLab::~VethLab() {
  // Deleting the namespaces removes the veth pair and everything attached to it.
  run(lab_script() + " down " + name_);
}

std::string VethLab::add_tx_v4(int host) {
  std::string addr = "198.18." + std::to_string(subnet_) + "." + std::to_string(host);
  run_or_throw(lab_script() + " add-source " + name_ + " " + addr);
  return addr;
}

std::string VethLab::add_tx_v6(int host) {
  std::string addr = "2001:db8:" + std::to_string(subnet_) + ":" + std::to_string(host) + "::1";
  run_or_throw(lab_script() + " add-source " + name_ + " " + addr);
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
  for (const auto& [proto, id] : stack) {
    // Appended in two steps: `"." + std::to_string(id)` trips GCC 12's false
    // -Wrestrict inside libstdc++ at -O3 (GCC bug 105651).
    suffix += '.';
    suffix += std::to_string(id);
  }
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
