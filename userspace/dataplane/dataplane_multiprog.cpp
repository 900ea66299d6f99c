// The `multiprog` attach mode: Sluice as one program of libxdp's dispatcher,
// beside other XDP programs on the same interface (xdp-filter, Cilium, ...).
// libxdp loads a copy of the program as an extension (freplace) of its
// dispatcher, at the run priority asked for, chaining to the next program on
// XDP_PASS; the copy runs on this Dataplane's maps. libxdp pins the
// dispatcher's links under /sys/fs/bpf/xdp/, so the program keeps enforcing
// when sluiced exits, as with the direct link; Sluice pins its maps and the
// program (not a link) under pin_dir_of(). docs/attach-modes.md.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <filesystem>
#include <memory>

#include "dataplane.h"
#include "error.h"
#include "libbpf_log.h"
#include "sluice_xdp.skel.h"

namespace sluice {
namespace {

struct XdpProgramCloser {
  void operator()(struct xdp_program* prog) const { xdp_program__close(prog); }
};
struct XdpMultiprogCloser {
  void operator()(struct xdp_multiprog* mp) const { xdp_multiprog__close(mp); }
};
using XdpMultiprogPtr = std::unique_ptr<struct xdp_multiprog, XdpMultiprogCloser>;

[[noreturn]] void throw_libxdp(int err, const std::string& what) {
  char message[256] = {};
  libxdp_strerror(err, message, sizeof(message));
  throw std::system_error(err < 0 ? -err : err, std::generic_category(), what + ": " + message);
}

// The dispatcher on `ifindex`, or nullptr when none (or a legacy program) is attached.
XdpMultiprogPtr dispatcher_of(int ifindex) {
  struct xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp) || !mp) return nullptr;
  return XdpMultiprogPtr(mp);
}

// The program of id `id` among the dispatcher's, or nullptr.
struct xdp_program* find_program(const struct xdp_multiprog* mp, uint32_t id) {
  for (struct xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p;
       p = xdp_multiprog__next_prog(p, mp))
    if (xdp_program__id(p) == id) return p;
  return nullptr;
}

uint32_t prog_id_of(int prog_fd) {
  struct bpf_prog_info info {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) throw_last_errno("inspect program");
  return info.id;
}

Fd dup_fd(int fd, const std::string& what) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw_last_errno("dup fd of " + what);
  return Fd(copy);
}

}  // namespace

bool multiprog_supported() {
  return libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_EXT, nullptr) == 1;
}

void Dataplane::attach_multiprog(const std::string& ifname, XdpMode mode, uint32_t priority) {
  if (attached()) throw_errno(EALREADY, "attach to " + ifname + ": already attached to " + ifname_);
  if (!skel_) throw_errno(EINVAL, "attach to " + ifname + ": this program was adopted, not loaded");
  if (mode == XdpMode::kTc)
    throw_errno(EINVAL, "attach to " + ifname +
                            ": mode tc is a clsact filter, not XDP; libxdp's dispatcher is for "
                            "XDP modes (use attach: direct with mode tc)");
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (!ifindex) throw_last_errno("attach to " + ifname + ": no such interface");
  route_libbpf_logs_to_spdlog();
  // The dispatcher runs each program as an extension (BPF_PROG_TYPE_EXT).
  // Without it libxdp quietly falls back to attaching the program alone,
  // which would take the interface while claiming to share it: refuse.
  if (!multiprog_supported())
    throw_errno(EOPNOTSUPP, "attach to " + ifname +
                                " through libxdp's dispatcher: this kernel does not load "
                                "extension (freplace) programs; use attach: direct");

  // A copy of the program, with the same load-time settings, on our maps:
  // libxdp loads it itself, as an extension of its dispatcher.
  std::unique_ptr<struct sluice_xdp, SkeletonDeleter> copy(sluice_xdp__open());
  if (!copy) throw_last_errno("open BPF object sluice_xdp");
  check_libbpf(bpf_map__set_max_entries(copy->maps.sluice_buckets, bucket_capacity()),
               "size bucket map");
  copy->rodata->sluice_use_test_clock = skel_->rodata->sluice_use_test_clock;
  copy->rodata->sluice_coarse_clock = skel_->rodata->sluice_coarse_clock;
#define SLUICE_REUSE_MAP(name) \
  check_libbpf(bpf_map__reuse_fd(copy->maps.sluice_##name, maps_.name.get()), "reuse map " #name);
  SLUICE_PINNED_MAPS(SLUICE_REUSE_MAP)
#undef SLUICE_REUSE_MAP
  check_libbpf(
      bpf_map__reuse_fd(copy->maps.sluice_admission, bpf_map__fd(skel_->maps.sluice_admission)),
      "reuse map admission");

  std::unique_ptr<struct xdp_program, XdpProgramCloser> prog(
      xdp_program__from_bpf_obj(copy->obj, "xdp"));
  if (int err = static_cast<int>(libxdp_get_error(prog.get()))) {
    prog.release();
    throw_libxdp(err, "prepare sluice_xdp for libxdp");
  }
  if (int err = xdp_program__set_run_prio(prog.get(), priority))
    throw_libxdp(err, "set run priority " + std::to_string(priority));
  if (int err = xdp_program__set_chain_call_enabled(prog.get(), XDP_PASS, true))
    throw_libxdp(err, "chain on XDP_PASS");

  int err = xdp_program__attach(prog.get(), ifindex,
                                mode == XdpMode::kGeneric ? XDP_MODE_SKB : XDP_MODE_NATIVE, 0);
  if (err && mode == XdpMode::kAuto && (err == -EOPNOTSUPP || err == -EINVAL)) {
    spdlog::info("{}: no native XDP support for the dispatcher, falling back to generic", ifname);
    err = xdp_program__attach(prog.get(), ifindex, XDP_MODE_SKB, 0);
  }
  if (err) {
    std::string hint =
        err == -EBUSY || err == -EEXIST
            ? " (a program attached without libxdp's dispatcher, or in another mode, holds it)"
            : "";
    throw_libxdp(err, "attach XDP through libxdp's dispatcher (" + std::string(to_string(mode)) +
                          ", priority " + std::to_string(priority) + ") to " + ifname + hint);
  }
  XdpMultiprogPtr dispatcher = dispatcher_of(ifindex);
  if (!dispatcher || xdp_multiprog__is_legacy(dispatcher.get())) {
    // libxdp attached the program alone after all: take it off again.
    xdp_program__detach(prog.get(), ifindex, XDP_MODE_UNSPEC, 0);
    throw_errno(EOPNOTSUPP, "attach to " + ifname + ": libxdp attached without its dispatcher");
  }
  prog_fd_ = dup_fd(xdp_program__fd(prog.get()), "program sluice_xdp");
  ifname_ = ifname;
  ifindex_ = ifindex;
  multiprog_ = true;
  multiprog_attached_ = true;
  record_program(skel_->rodata->sluice_coarse_clock != 0);
  spdlog::info("attached to {} through libxdp's dispatcher in {} mode, priority {}", ifname,
               to_string(attached_mode()), priority);
}

void Dataplane::detach_multiprog() {
  XdpMultiprogPtr mp = dispatcher_of(ifindex_);
  struct xdp_program* ours = mp ? find_program(mp.get(), prog_id_of(prog_fd_.get())) : nullptr;
  if (ours) {
    if (int err = xdp_program__detach(ours, ifindex_, xdp_multiprog__attach_mode(mp.get()), 0))
      throw_libxdp(err, "detach XDP from " + ifname_ + "'s dispatcher");
    spdlog::info("detached from {}'s dispatcher", ifname_);
  }
  multiprog_attached_ = false;
}

std::optional<Dataplane> Dataplane::adopt_multiprog(const std::string& ifname) {
  const std::string dir = pin_dir_of(ifname);
  Dataplane dp;
  dp.ifname_ = ifname;
  dp.multiprog_ = true;
  for (auto& [file, fd] : dp.pinned_objects()) {
    std::string path = dir + "/" + file;
    int raw = bpf_obj_get(path.c_str());
    if (raw < 0 && errno == ENOENT && dp.pinned_later(fd)) continue;
    if (raw < 0) throw_last_errno("open pinned " + path);
    fd->reset(raw);
  }
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  XdpMultiprogPtr mp = ifindex ? dispatcher_of(ifindex) : nullptr;
  if (!mp || !find_program(mp.get(), prog_id_of(dp.prog_fd_.get()))) {
    // The interface or the dispatcher went away, or someone removed our
    // program from it: the pins are stale.
    spdlog::warn(
        "{}: pinned program is no longer in the interface's dispatcher; discarding stale "
        "pins",
        ifname);
    dp.remove_pins();
    return std::nullopt;
  }
  dp.ifindex_ = ifindex;
  dp.multiprog_attached_ = true;
  // No in-place replacement here: an extension's link cannot take another
  // program, and attaching a second copy would judge packets twice until the
  // first is removed. The running program keeps enforcing on its maps.
  dp.upgrade_note_ = "multiprog: kept the running " + dp.program().describe() +
                     " (this mode does not replace a program in place; detach and attach to "
                     "load this build's)";
  spdlog::info("adopted the program in {}'s dispatcher (generation {}); {}", ifname,
               dp.generation(), dp.upgrade_note_);
  return dp;
}

}  // namespace sluice
