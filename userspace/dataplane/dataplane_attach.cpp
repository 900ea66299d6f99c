// Attaching, pinning and detaching: the life of a Dataplane's link on an
// interface and of its pins under /sys/fs/bpf/sluice/net<inode>/<ifname>/v<layout>/.
// Loading the program and writing its maps is dataplane.cpp; adopting pins
// (and upgrading their program in place) is dataplane_adopt.cpp.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "bpffs.h"
#include "dataplane.h"
#include "error.h"
#include "libbpf_log.h"

namespace sluice {

XdpMode Dataplane::attached_mode() const {
  if (tc_.attached()) return XdpMode::kTc;
  if (!ifindex_) return XdpMode::kAuto;
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  check_libbpf(bpf_xdp_query(ifindex_, 0, &query), "query XDP mode of " + ifname_);
  switch (query.attach_mode) {
    case XDP_ATTACHED_DRV:
      return XdpMode::kNative;
    case XDP_ATTACHED_SKB:
      return XdpMode::kGeneric;
    default:
      return XdpMode::kAuto;
  }
}

// Pins of another layout version under /sys/fs/bpf/sluice/<ifname>/v<N>: a
// daemon of an older (or newer) build left its program enforcing there.
static std::vector<std::string> other_layout_pin_dirs(const std::string& ifname) {
  std::vector<std::string> dirs;
  const std::filesystem::path root = std::filesystem::path(pin_dir_of(ifname)).parent_path();
  const std::string ours = std::filesystem::path(pin_dir_of(ifname)).filename();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename();
    if (name.size() > 1 && name[0] == 'v' && name != ours) dirs.push_back(entry.path());
  }
  return dirs;
}

bool Dataplane::take_over_other_layout(const std::string& ifname, int ifindex) {
  for (const std::string& dir : other_layout_pin_dirs(ifname)) {
    Fd old_link(bpf_obj_get((dir + "/link").c_str()));
    struct bpf_link_info info {};
    uint32_t len = sizeof(info);
    bool ours = old_link && bpf_obj_get_info_by_fd(old_link.get(), &info, &len) == 0 &&
                info.type == BPF_LINK_TYPE_XDP && static_cast<int>(info.xdp.ifindex) == ifindex;
    if (ours) {
      // The maps' layouts differ, so nothing can be migrated; but the link can
      // take the new program in place, so the interface is never unguarded.
      if (bpf_link_update(old_link.get(), prog_fd_.get(), nullptr) != 0)
        throw_last_errno("replace the program of layout " + dir + " on " + ifname);
      link_ = std::move(old_link);
      upgrade_note_ = "replaced the program of another layout (" + dir +
                      ") in place; its buckets, lists and counters could not be carried over "
                      "and start afresh";
      spdlog::warn("{}: {}", ifname, upgrade_note_);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (ec) spdlog::warn("{}: could not remove old pins {}: {}", ifname, dir, ec.message());
  }
  return link_.valid();
}

void Dataplane::attach(const std::string& ifname, XdpMode mode) {
  if (link_) throw_errno(EALREADY, "attach to " + ifname + ": already attached to " + ifname_);
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (!ifindex) throw_last_errno("attach to " + ifname + ": no such interface");
  if (take_over_other_layout(ifname, ifindex)) {
    ifname_ = ifname;
    ifindex_ = ifindex;
    return;
  }

  auto try_attach = [&](uint32_t flags) {
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
    return bpf_link_create(prog_fd_.get(), ifindex, BPF_XDP, &opts);
  };
  int fd = -1;
  if (mode == XdpMode::kTc) return attach_tc(ifname, ifindex);
  if (mode == XdpMode::kGeneric) {
    fd = try_attach(XDP_FLAGS_SKB_MODE);
  } else {
    fd = try_attach(XDP_FLAGS_DRV_MODE);
    // Generic XDP runs after GRO and sees one super-packet for many on the
    // wire; TC counts the segments, and costs about as much (docs/tc.md).
    if (fd < 0 && mode == XdpMode::kAuto && (errno == EOPNOTSUPP || errno == EINVAL)) {
      spdlog::info("{}: no native XDP support ({}), falling back to TC ingress", ifname,
                   std::strerror(errno));
      return attach_tc(ifname, ifindex);
    }
  }
  if (fd < 0) {
    int err = errno;
    std::string hint = err == EBUSY || err == EEXIST ? " (another XDP program is attached)" : "";
    throw_errno(err, "attach XDP (" + std::string(to_string(mode)) + ") to " + ifname + hint);
  }
  link_.reset(fd);
  ifname_ = ifname;
  ifindex_ = ifindex;
  spdlog::info("attached to {} in {} mode", ifname, to_string(attached_mode()));
}

std::vector<std::pair<const char*, Fd*>> Dataplane::pinned_objects() {
  std::vector<std::pair<const char*, Fd*>> objects = {
#define SLUICE_PIN_ENTRY(name) {#name, &maps_.name},
      SLUICE_PINNED_MAPS(SLUICE_PIN_ENTRY)
#undef SLUICE_PIN_ENTRY
  };
  // A dispatcher's program (attach_multiprog) has no link of ours: pin the program.
  if (multiprog_)
    objects.emplace_back("prog", &prog_fd_);
  else
    objects.emplace_back("link", &link_);
  return objects;
}

void Dataplane::pin() {
  if (!attached()) throw_errno(ENOTCONN, "pin: not attached");
  const std::string dir = pin_dir_of(ifname_);
  ensure_bpffs("/sys/fs/bpf");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::system_error(ec, "create pin directory " + dir);
  for (auto& [file, fd] : pinned_objects()) {
    if (!fd->valid()) continue;  // the link, in TC mode: a filter is no BPF object
    std::string path = dir + "/" + file;
    // A leftover pin belongs to a program that is no longer attached (attach
    // would have failed with EBUSY otherwise): replace it.
    ::unlink(path.c_str());
    if (bpf_obj_pin(fd->get(), path.c_str()) != 0) throw_last_errno("pin " + path);
  }
  spdlog::debug("pinned {} maps and link under {}", pinned_objects().size() - 1, dir);
}

void Dataplane::remove_pins() {
  if (ifname_.empty()) return;
  const std::string dir = pin_dir_of(ifname_);
  for (auto& [file, fd] : pinned_objects()) ::unlink((dir + "/" + file).c_str());
  // Remove the now empty version, interface and namespace directories, keep
  // /sys/fs/bpf/sluice.
  ::rmdir(dir.c_str());
  ::rmdir(std::filesystem::path(dir).parent_path().c_str());
  ::rmdir(std::filesystem::path(dir).parent_path().parent_path().c_str());
}

void Dataplane::detach() {
  tc_.detach();
  if (multiprog_attached_) detach_multiprog();
  if (link_) {
    if (bpf_link_detach(link_.get()) != 0 && errno != ENOLINK)
      throw_last_errno("detach XDP from " + ifname_);
    link_.reset();
    spdlog::info("detached from {}", ifname_);
  }
  remove_pins();
}

void Dataplane::release_keep_attached() {
  link_.reset();
  tc_.release();
  multiprog_attached_ = false;
}

}  // namespace sluice
