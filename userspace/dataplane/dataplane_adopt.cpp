// Adopting what an earlier daemon left pinned under
// /sys/fs/bpf/sluice/net<inode>/<ifname>/v<layout>/: its link and maps, and, when this build's
// program differs from the running one (another version or tag, another clock), replacing the
// program in place on the same maps, so that no packet passes unjudged and no bucket is reset.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "dataplane.h"
#include "error.h"
#include "libbpf_log.h"

namespace sluice {
namespace {

// The kernel's tag of a program (a hash of its instructions), in hex.
std::string tag_of(int prog_fd) {
  struct bpf_prog_info info {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) throw_last_errno("inspect program");
  static const char* kHex = "0123456789abcdef";
  std::string tag;
  for (uint8_t byte : info.tag) {
    tag += kHex[byte >> 4];
    tag += kHex[byte & 15];
  }
  return tag;
}

// The map called `name` among those the program uses (the kernel keeps 15
// characters of a map's name); invalid when it has none of that name.
Fd map_of_program(int prog_fd, const char* name) {
  uint32_t ids[32] = {};
  struct bpf_prog_info info {};
  uint32_t len = sizeof(info);
  info.nr_map_ids = 32;
  info.map_ids = reinterpret_cast<uint64_t>(ids);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    throw_last_errno("list the maps of the running program");
  for (uint32_t i = 0; i < std::min(info.nr_map_ids, 32U); ++i) {
    Fd fd(bpf_map_get_fd_by_id(ids[i]));
    struct bpf_map_info map {};
    uint32_t map_len = sizeof(map);
    if (fd && bpf_obj_get_info_by_fd(fd.get(), &map, &map_len) == 0 &&
        std::strncmp(map.name, name, BPF_OBJ_NAME_LEN - 1) == 0)
      return fd;
  }
  return Fd();
}

// Whether the link pinned at `path` is an XDP link attached to this
// namespace's `ifname`: pins of another interface, or of another namespace's
// interface of the same name, are not ours to move.
bool pinned_xdp_link_on(const std::string& path, const std::string& ifname) {
  Fd link(bpf_obj_get(path.c_str()));
  struct bpf_link_info info {};
  uint32_t len = sizeof(info);
  return link && bpf_obj_get_info_by_fd(link.get(), &info, &len) == 0 &&
         info.type == BPF_LINK_TYPE_XDP && info.xdp.ifindex != 0 &&
         info.xdp.ifindex == if_nametoindex(ifname.c_str());
}

// Pins that a build before namespace-keyed pin paths left under
// legacy_pin_dir_of(ifname) move to pin_dir_of(ifname) (bpffs can rename), so
// the upgrade keeps buckets like any restart. Only when their link is attached
// to this namespace's `ifname`: the old path did not say which namespace's
// interface it was, and another namespace's pins must stay where they are.
void move_legacy_pins(const std::string& ifname) {
  const std::string legacy = legacy_pin_dir_of(ifname);
  const std::string dir = pin_dir_of(ifname);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) || !std::filesystem::exists(legacy, ec)) return;
  if (std::filesystem::exists(legacy + "/link", ec)) {
    if (!pinned_xdp_link_on(legacy + "/link", ifname)) return;
  } else if (!std::filesystem::exists(legacy + "/prog", ec)) {
    return;
  }
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  if (!ec) std::filesystem::rename(legacy, dir, ec);
  if (ec) {
    spdlog::warn("{}: could not move pins {} to {}: {}", ifname, legacy, dir, ec.message());
    return;
  }
  ::rmdir(std::filesystem::path(legacy).parent_path().c_str());
  spdlog::info("{}: moved the pins of an earlier build from {} to {}", ifname, legacy, dir);
}

// The layout before this one, whose pins this build adopts all the same:
// layout 5 changed only the values of the global_* maps (bytes and SYNs
// became global, docs/kernel-global.md). Whoever bumps the layout next
// decides what of layout 5 can be adopted, and updates this.
constexpr int kAdoptableLayout = 4;
static_assert(SLUICE_LAYOUT_VERSION == 5, "review move_previous_layout_pins for the new layout");
constexpr const char* kChangedMaps[] = {"global_usage", "global_remote", "global_charged"};

// Pins of kAdoptableLayout move to this layout's directory when their link is
// attached to this namespace's `ifname`, without the maps whose values changed:
// adoption then finds those missing, as in a build before them
// (pinned_later), and the replacing program creates and pins them afresh. So
// the upgrade keeps buckets, lists and counters; what the global maps held is
// cheap to lose (a starting daemon clears the peers' totals anyway, and the
// counts of this host's admissions restart at zero). Pins of older layouts,
// or of a dispatcher (multiprog), are left to attach(), which takes them over
// with fresh maps.
void move_previous_layout_pins(const std::string& ifname) {
  const std::string dir = pin_dir_of(ifname);
  const std::string previous =
      std::filesystem::path(dir).parent_path().string() + "/v" + std::to_string(kAdoptableLayout);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) || !std::filesystem::exists(previous + "/link", ec) ||
      !pinned_xdp_link_on(previous + "/link", ifname))
    return;
  // Unpinned before the move: a directory of this layout never holds them.
  for (const char* name : kChangedMaps) {
    const std::string path = previous + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("{}: could not unpin {}: {}; the pins of layout {} are taken over afresh",
                   ifname, path, std::strerror(errno), kAdoptableLayout);
      return;
    }
  }
  std::filesystem::rename(previous, dir, ec);
  if (ec) {
    spdlog::warn("{}: could not move pins {} to {}: {}", ifname, previous, dir, ec.message());
    return;
  }
  spdlog::info("{}: adopting the pins of layout {} ({}) without their global maps", ifname,
               kAdoptableLayout, previous);
}

}  // namespace

Dataplane Dataplane::load_beside(const Dataplane& other, const LoadOptions& options) {
  Fd admission = map_of_program(other.prog_fd_.get(), "sluice_admission");
  Dataplane dp = load_with(options, &other.maps_, admission.get());
  dp.record_program(options.coarse_clock);
  return dp;
}

std::string ProgramInfo::describe() const {
  if (!recorded) return "a program of a build before version records (tag " + tag + ")";
  return "program version " + std::to_string(version) + " (tag " + tag + ", " +
         (coarse_clock ? "coarse" : "precise") + " clock)";
}

ProgramInfo Dataplane::program() const {
  ProgramInfo out;
  out.tag = tag_of(prog_fd_.get());
  out.bucket_entries = bucket_capacity();
  uint32_t zero = 0;
  struct sluice_meta meta {};
  if (maps_.meta && bpf_map_lookup_elem(maps_.meta.get(), &zero, &meta) == 0 &&
      meta.layout_version != 0) {
    out.recorded = true;
    out.layout_version = meta.layout_version;
    out.version = meta.prog_version;
    out.coarse_clock = meta.coarse_clock != 0;
  }
  return out;
}

std::vector<PendingSetting> Dataplane::pending_settings(const LoadOptions& wanted) const {
  std::vector<PendingSetting> pending;
  const ProgramInfo running = program();
  auto clock = [](bool coarse) { return std::string(coarse ? "coarse" : "precise"); };
  if (running.recorded && running.coarse_clock != wanted.coarse_clock)
    pending.push_back({"clock", clock(wanted.coarse_clock), clock(running.coarse_clock),
                       "restart sluiced: it replaces the program in place, buckets kept"});
  if (running.bucket_entries != wanted.bucket_entries)
    pending.push_back({"maps.buckets", std::to_string(wanted.bucket_entries),
                       std::to_string(running.bucket_entries),
                       "needs a new bucket map: `sluicectl detach " + ifname_ +
                           "` then `sluicectl attach " + ifname_ +
                           "` (every source starts with a fresh burst)"});
  return pending;
}

std::optional<Dataplane> Dataplane::adopt(const std::string& ifname, const LoadOptions& wanted) {
  route_libbpf_logs_to_spdlog();
  move_legacy_pins(ifname);
  move_previous_layout_pins(ifname);
  const std::string dir = pin_dir_of(ifname);
  if (!std::filesystem::exists(dir + "/link"))
    return std::filesystem::exists(dir + "/prog") ? adopt_multiprog(ifname) : std::nullopt;

  Dataplane dp;
  dp.ifname_ = ifname;
  for (auto& [file, fd] : dp.pinned_objects()) {
    std::string path = dir + "/" + file;
    int raw = bpf_obj_get(path.c_str());
    // Builds before the metadata and global maps pinned everything else of this layout.
    if (raw < 0 && errno == ENOENT && dp.pinned_later(fd)) continue;
    if (raw < 0) throw_last_errno("open pinned " + path);
    fd->reset(raw);
  }

  struct bpf_link_info info {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(dp.link_.get(), &info, &len) != 0)
    throw_last_errno("inspect pinned link " + dir + "/link");
  if (info.type != BPF_LINK_TYPE_XDP) throw_errno(EINVAL, dir + "/link is not an XDP link");
  if (info.xdp.ifindex == 0) {
    // The interface went away (or was detached behind our back): the pins are stale.
    spdlog::warn("{}: pinned link is no longer attached; discarding stale pins", ifname);
    dp.link_.reset();
    dp.remove_pins();
    return std::nullopt;
  }
  int current = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (current != static_cast<int>(info.xdp.ifindex))
    throw_errno(ENODEV, "pinned link of " + ifname + " is attached to ifindex " +
                            std::to_string(info.xdp.ifindex) + ", not to " + ifname);
  dp.ifindex_ = current;
  int prog = bpf_prog_get_fd_by_id(info.prog_id);
  if (prog < 0) throw_last_errno("open program of pinned link " + dir + "/link");
  dp.prog_fd_.reset(prog);
  spdlog::info("adopted the program attached to {} (generation {})", ifname, dp.generation());
  return dp.upgrade_in_place(wanted);
}

Dataplane Dataplane::upgrade_in_place(const LoadOptions& wanted) {
  const ProgramInfo running = program();
  std::optional<Dataplane> next;
  try {
    // This build's program on the pinned maps (the bucket map keeps its size)
    // and on the running program's admission meters: nothing starts afresh.
    Fd admission = map_of_program(prog_fd_.get(), "sluice_admission");
    next = load_with(wanted, &maps_, admission.get());
    // A map missing from the pins (a build before it, or one whose layout
    // changed it: move_previous_layout_pins) is the replacing program's own:
    // the program is replaced even when it is this build's, so that the
    // daemon holds every map the running program uses.
    bool all_pinned = true;
    for (auto& [file, fd] : pinned_objects()) all_pinned = all_pinned && fd->valid();
    if (all_pinned && running.recorded && running.tag == tag_of(next->prog_fd_.get()) &&
        running.version == next->loaded_version() && running.coarse_clock == wanted.coarse_clock) {
      spdlog::info("{}: runs {}, the same as this build's", ifname_, running.describe());
      return std::move(*this);
    }
    // BPF_F_REPLACE: only if the link still runs the program inspected above.
    LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = BPF_F_REPLACE,
                .old_prog_fd = static_cast<uint32_t>(prog_fd_.get()));
    if (bpf_link_update(link_.get(), next->prog_fd_.get(), &opts) != 0)
      throw_last_errno("replace the program on " + ifname_ + " in place");
  } catch (const std::system_error& e) {
    // The running program keeps enforcing on its maps: better than no daemon.
    upgrade_note_ = "kept " + running.describe() + ": this build's program could not replace it (" +
                    e.what() + ")";
    spdlog::error("{}: {}", ifname_, upgrade_note_);
    return std::move(*this);
  }
  next->link_ = std::move(link_);
  next->ifname_ = ifname_;
  next->ifindex_ = ifindex_;
  next->record_program(wanted.coarse_clock);
  // Pins of a build before the metadata or global maps: pin the new program's.
  auto mine = pinned_objects();
  auto theirs = next->pinned_objects();
  for (size_t i = 0; i < mine.size() && i < theirs.size(); ++i) {
    if (*mine[i].second || !pinned_later(mine[i].second) || !*theirs[i].second) continue;
    const std::string path = pin_dir_of(ifname_) + "/" + mine[i].first;
    if (bpf_obj_pin(theirs[i].second->get(), path.c_str()) != 0)
      spdlog::warn("{}: could not pin {}: {}", ifname_, path, std::strerror(errno));
  }
  next->upgrade_note_ = "replaced " + running.describe() + " with " + next->program().describe() +
                        " in place; buckets, lists and counters kept";
  spdlog::info("{}: {}", ifname_, next->upgrade_note_);
  return std::move(*next);
}

}  // namespace sluice
