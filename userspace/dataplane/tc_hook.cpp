#include "tc_hook.h"

#include <bpf/libbpf.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <utility>

#include "error.h"
#include "libbpf_log.h"
#include "netns.h"

namespace sluice {
namespace {

// Our filters' handle and priority ("Sl"): fixed, so a restarted daemon
// finds and replaces its predecessor's filter instead of adding a second.
constexpr uint32_t kHandle = 0x536c;
constexpr uint32_t kPriority = 0x536c;

// Per interface: whether this process created its clsact qdisc, and how many
// of our filters are on it. The ingress limiter and the egress shaper of one
// interface share the qdisc; the last to leave removes what we created.
struct ClsactUse {
  bool created = false;
  int filters = 0;
};
std::mutex clsact_mutex;
std::map<int, ClsactUse> clsact_uses;

// A filter outlives its daemon (a restarted sluiced replaces it), so whether
// sluiced added the qdisc is kept on tmpfs, which a reboot clears along with
// the qdisc: one empty file per interface.
const char* kAddedDir = "/run/sluice/clsact-added";

// Keyed by namespace too: two namespaces may each have an interface of this name.
std::string added_dir() {
  return std::string(kAddedDir) + "/" + netns_tag();
}

std::string added_marker(const std::string& ifname) {
  return added_dir() + "/" + ifname;
}

void mark_added(const std::string& ifname, bool added) {
  std::error_code ec;
  if (!added) {
    std::filesystem::remove(added_marker(ifname), ec);
    if (std::filesystem::is_regular_file(std::string(kAddedDir) + "/" + ifname, ec))
      std::filesystem::remove(std::string(kAddedDir) + "/" + ifname, ec);
    return;
  }
  std::filesystem::create_directories(added_dir(), ec);
  std::ofstream(added_marker(ifname)).flush();
}

bool marked_added(const std::string& ifname) {
  std::error_code ec;
  // A build before namespace-keyed markers left <kAddedDir>/<ifname>.
  return std::filesystem::exists(added_marker(ifname), ec) ||
         std::filesystem::is_regular_file(std::string(kAddedDir) + "/" + ifname, ec);
}

enum bpf_tc_attach_point point_of(TcDirection direction) {
  return direction == TcDirection::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

const char* name_of(TcDirection direction) {
  return direction == TcDirection::kIngress ? "ingress" : "egress";
}

}  // namespace

TcFilter TcFilter::attach(const std::string& ifname, TcDirection direction, int prog_fd) {
  route_libbpf_logs_to_spdlog();
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (!ifindex)
    throw_last_errno("attach TC " + std::string(name_of(direction)) + " to " + ifname +
                     ": no such interface");
  std::lock_guard lock(clsact_mutex);
  ClsactUse& use = clsact_uses[ifindex];
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point_of(direction));
  int rc = bpf_tc_hook_create(&hook);
  if (rc == 0 && use.filters == 0) {
    use.created = true;
    mark_added(ifname, true);
    spdlog::info("{}: added a clsact qdisc", ifname);
  } else if (rc == -EEXIST && use.filters == 0 && marked_added(ifname)) {
    use.created = true;  // by the sluiced before this one
  } else if (rc != 0 && rc != -EEXIST) {
    if (use.filters == 0) clsact_uses.erase(ifindex);
    throw_errno(-rc, "create the clsact qdisc of " + ifname);
  }
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE, .handle = kHandle,
              .priority = kPriority);
  rc = bpf_tc_attach(&hook, &opts);
  if (rc != 0) {
    int err = -rc;
    if (use.filters == 0) {
      if (use.created) {
        LIBBPF_OPTS(
            bpf_tc_hook, whole, .ifindex = ifindex,
            .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
        bpf_tc_hook_destroy(&whole);
        mark_added(ifname, false);
      }
      clsact_uses.erase(ifindex);
    }
    throw_errno(err, "attach TC " + std::string(name_of(direction)) + " filter to " + ifname);
  }
  ++use.filters;
  spdlog::info("attached to {} at TC {}", ifname, name_of(direction));
  return TcFilter(ifname, ifindex, direction);
}

TcFilter::TcFilter(TcFilter&& other) noexcept
    : ifname_(std::move(other.ifname_)),
      ifindex_(std::exchange(other.ifindex_, 0)),
      direction_(other.direction_) {}

TcFilter& TcFilter::operator=(TcFilter&& other) noexcept {
  ifname_ = std::move(other.ifname_);
  ifindex_ = std::exchange(other.ifindex_, 0);
  direction_ = other.direction_;
  return *this;
}

uint32_t TcFilter::running_prog_id() const {
  if (!ifindex_) return 0;
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex_, .attach_point = point_of(direction_));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kHandle, .priority = kPriority);
  return bpf_tc_query(&hook, &opts) == 0 ? opts.prog_id : 0;
}

void TcFilter::detach() {
  if (!ifindex_) return;
  std::lock_guard lock(clsact_mutex);
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex_, .attach_point = point_of(direction_));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kHandle, .priority = kPriority);
  int rc = bpf_tc_detach(&hook, &opts);
  // ENOENT/ENODEV: the filter or the interface went away behind our back.
  if (rc != 0 && rc != -ENOENT && rc != -ENODEV && rc != -EINVAL)
    throw_errno(-rc, "detach TC " + std::string(name_of(direction_)) + " filter from " + ifname_);
  spdlog::info("detached from {} at TC {}", ifname_, name_of(direction_));
  auto it = clsact_uses.find(ifindex_);
  if (it != clsact_uses.end() && --it->second.filters <= 0) {
    if (it->second.created) {
      // Both attach points: libbpf then deletes the qdisc, not only its filters.
      LIBBPF_OPTS(bpf_tc_hook, whole, .ifindex = ifindex_,
                  .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
      rc = bpf_tc_hook_destroy(&whole);
      if (rc != 0 && rc != -ENOENT && rc != -ENODEV && rc != -EINVAL)
        spdlog::warn("{}: could not remove the clsact qdisc: {}", ifname_, std::strerror(-rc));
      else
        spdlog::info("{}: removed the clsact qdisc it added", ifname_);
      mark_added(ifname_, false);
    }
    clsact_uses.erase(it);
  }
  ifindex_ = 0;
}

}  // namespace sluice
