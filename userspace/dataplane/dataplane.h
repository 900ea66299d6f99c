// The kernel data plane of one interface: the Sluice XDP program, its maps, its
// attachment and its pins. RAII: destroying a Dataplane closes its fds; the
// program stays attached only while the link is pinned (see detach()).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fd.h"
#include "policy.h"
#include "sluice_layout.h"
#include "tc_hook.h"
#include "xdp_mode.h"

struct sluice_xdp;

namespace sluice {

// The CPUs the data path runs on, over which compile_policy splits per-host
// budgets (the admission meters are per CPU): the online CPUs, not the
// possible ones (a VM with hotplug headroom has many more of those, and each
// would shrink every online CPU's share).
uint32_t datapath_cpus();
// How many CPUs a kernel CPU list ("0-3,8,10-11") names; 0 when unreadable.
uint32_t count_cpu_list(std::string_view list);

struct LoadOptions {
  uint32_t bucket_entries = SLUICE_DEFAULT_BUCKET_ENTRIES;
  // Judge time by set_test_clock() instead of the kernel clock (tests only).
  bool test_clock = false;
  // Read CLOCK_MONOTONIC_COARSE instead of the precise clock (Policy::coarse_clock).
  bool coarse_clock = false;
};

// The program attached to an interface, as the daemon that loaded it
// recorded (the pinned `meta` map) and as the kernel tags it.
struct ProgramInfo {
  bool recorded = false;  // false: pins of a build before the metadata map
  uint32_t layout_version = 0;
  uint32_t version = 0;  // SLUICE_PROG_VERSION
  std::string tag;       // the kernel's tag, hex
  bool coarse_clock = false;
  uint32_t bucket_entries = 0;
  std::string describe() const;
};

// A load-time setting of the configuration that the running program does not
// have, and what it takes to apply it.
struct PendingSetting {
  std::string setting;  // "clock", "maps.buckets"
  std::string in_file;
  std::string running;
  std::string how;
};

// Counters summed over CPUs: [row][counter], row = tier index or SLUICE_TIER_NONE.
struct Counters {
  std::vector<std::array<struct sluice_counter, SLUICE_COUNTER_MAX>> rows;
  struct sluice_counter total(uint32_t counter) const;
  struct sluice_counter at(uint32_t row, uint32_t counter) const {
    return rows.at(row).at(counter);
  }
};

// A key-bound address and its binding (docs/key-binding.md).
struct BindingEntry {
  struct sluice_source source;
  struct sluice_key_binding binding;
};

// A penalised address (escalation, docs/key-binding.md).
struct PenaltyEntry {
  struct sluice_source source;
  struct sluice_penalty penalty;
};

struct SourceEntry {
  struct sluice_source source;
  struct sluice_bucket bucket;
};

// Where the pins of an interface live: /sys/fs/bpf/sluice/net<inode>/<ifname>/v<layout>/,
// keyed by the calling thread's network namespace (netns.h) and the interface.
std::string pin_dir_of(const std::string& ifname, const std::string& bpffs_root = "/sys/fs/bpf");
// Where builds before namespace-keyed pins put them: /sys/fs/bpf/sluice/<ifname>/v<layout>/.
// adopt() moves pins found there to pin_dir_of().
std::string legacy_pin_dir_of(const std::string& ifname,
                              const std::string& bpffs_root = "/sys/fs/bpf");

// Whether this kernel can run libxdp's dispatcher (it loads extension
// programs, BPF_PROG_TYPE_EXT); attach_multiprog() refuses otherwise.
bool multiprog_supported();

class Dataplane {
 public:
  // Opens and loads a fresh program and maps, with a permissive default policy
  // (one unlimited tier) in place; not attached.
  static Dataplane load(const LoadOptions& options = {});

  // Takes over the program, link and maps pinned for `ifname` by an earlier
  // daemon; std::nullopt when nothing is pinned there. Buckets keep their
  // state. When this build's program (loaded with `wanted`'s clock) differs
  // from the running one in version, tag or clock, it replaces it in place on
  // the same maps (bpf_link_update): no gap, no bucket reset. The bucket map
  // keeps its pinned size (pending_settings() reports a different one).
  static std::optional<Dataplane> adopt(const std::string& ifname, const LoadOptions& wanted = {});
  // Loads this build's program on `other`'s maps and admission meters instead
  // of fresh ones, not attached: attached to a second interface, a source
  // arriving over both spends from one budget (`maps.sharing: shared`,
  // docs/map-sharing.md). The policy is `other`'s: apply() to either switches both.
  static Dataplane load_beside(const Dataplane& other, const LoadOptions& options = {});
  // The kernel's id of this Dataplane's `active` map: equal for two Dataplanes
  // exactly when they share one set of maps (one policy, one set of buckets).
  uint32_t maps_id() const;

  Dataplane(Dataplane&&) noexcept;
  Dataplane& operator=(Dataplane&&) noexcept;
  ~Dataplane();

  // Attaches to `ifname` through a BPF link. kAuto tries native XDP and falls
  // back to TC ingress when the driver has no native support; kTc attaches the
  // same judge at TC ingress (a clsact filter, dataplane_tc.cpp). A program pinned by
  // a build of another layout version is replaced in place (bpf_link_update:
  // no moment unattached, in the mode it had) and its pins removed: its maps
  // cannot be adopted, and attaching beside it would fail with EBUSY.
  void attach(const std::string& ifname, XdpMode mode = XdpMode::kAuto);
  // Attaches through libxdp's multi-program dispatcher instead, beside other
  // XDP programs (xdp-filter, Cilium...): run at `priority` (lower runs
  // first) and pass to the next program on XDP_PASS. A fresh copy of the
  // program is loaded on this Dataplane's maps. dataplane_multiprog.cpp;
  // docs/attach-modes.md for how it differs from attach().
  void attach_multiprog(const std::string& ifname, XdpMode mode, uint32_t priority);
  bool multiprog() const { return multiprog_; }
  // Pins link and maps under pin_dir_of(ifname), mounting bpffs if needed.
  void pin();
  // Detaches the program from the interface and removes the pins.
  void detach();
  // Forgets the link without detaching: the pinned link keeps enforcing.
  void release_keep_attached();

  bool attached() const { return link_.valid() || tc_.attached() || multiprog_attached_; }
  const std::string& ifname() const { return ifname_; }
  // The mode the kernel reports for the attached program.
  XdpMode attached_mode() const;
  int prog_fd() const { return prog_fd_.get(); }
  // The loaded object's TC entry (the same judge on the same maps); owned by
  // the skeleton, so only of a loaded, not an adopted, Dataplane.
  int tc_prog_fd() const;
  ProgramInfo program() const;
  // Load-time settings of `wanted` that the running program does not have.
  std::vector<PendingSetting> pending_settings(const LoadOptions& wanted) const;
  // What adopting or attaching replaced ("" when nothing was): for status.
  const std::string& upgrade_note() const { return upgrade_note_; }

  // Writes `policy` into the inactive slot and switches to it: packets are
  // judged by the old or the new policy, never by a mix. Buckets are kept;
  // the counters of policy.fresh_slots are zeroed.
  void apply(const CompiledPolicy& policy);
  // Undoes the last successful apply(): switches back to the slot it left
  // untouched, which still holds the previous policy. A commit that cannot
  // reach every interface calls this on the ones it already switched.
  void switch_back();
  uint64_t generation() const;
  // The policy settings currently active (as read back from the maps).
  struct sluice_config active_config() const;
  struct sluice_tier active_tier(uint32_t index) const;

  Counters counters() const;
  // One counter summed over every tier row and CPU (cheaper than counters()).
  struct sluice_counter counter_total(uint32_t counter) const;
  std::vector<SourceEntry> sources() const;
  // Sources with a bucket now. Walks the map in batches (about 0.1 s per
  // million entries): callers cache it rather than ask per packet or request.
  uint64_t bucket_count() const;
  std::optional<struct sluice_bucket> bucket_of(const struct sluice_source& source) const;
  uint32_t bucket_capacity() const;

  // Key-bound addresses and penalties (dataplane_keys.cpp). Bindings are
  // written and deleted in one batch call each; the program only reads them.
  void write_bindings(const std::vector<BindingEntry>& entries);
  void delete_bindings(const std::vector<struct sluice_source>& sources);
  std::vector<BindingEntry> bindings() const;
  std::optional<struct sluice_key_binding> binding_of(const struct sluice_source& source) const;
  std::optional<struct sluice_key_bucket> key_bucket_of(uint64_t key_id) const;
  void write_penalty(const PenaltyEntry& entry);
  // False when the source had no penalty.
  bool delete_penalty(const struct sluice_source& source);
  std::vector<PenaltyEntry> penalties() const;
  // Whether the penalty or binding map holds an entry: the program looks them
  // up only then (SLUICE_CONFIG_F_KEY_MAPS, kept by the calls above and apply()).
  bool key_maps_hold_entries() const;

  // Global tiers' maps (docs/kernel-global.md, dataplane_global.cpp). Pins of a
  // build before them have none: reads find nothing, writes do nothing.
  struct GlobalUsage {
    struct sluice_source source;
    struct sluice_global_count admitted {};  // of global tiers, summed over the CPUs
  };
  std::vector<GlobalUsage> global_usage() const;
  void forget_global_usage(const struct sluice_source& source);
  // What the peers admitted from `source`; its charged entry is created (0)
  // before its first total, so the program never charges a total twice.
  void write_global_remote(const struct sluice_source& source,
                           const struct sluice_global_remote& remote);
  void forget_global_remote(const struct sluice_source& source);
  // Forgets every remote total and charge (a daemon whose totals restart at 0).
  void clear_global_remote();
  // How much of the remote totals the program has charged (tests, status).
  std::optional<struct sluice_global_count> global_charged(
      const struct sluice_source& source) const;
  // The daemon's heartbeat (struct sluice_global_beat): a stale one makes the
  // program's global tiers fall back to the host's share. All zero: none.
  void write_global_beat(const struct sluice_global_beat& beat);
  std::optional<struct sluice_global_beat> global_beat() const;

  // Sets the clock the program judges by (load with test_clock only).
  void set_test_clock(uint64_t now_ns);

 private:
  // A pinned map added after layout 3 was first released (meta, global_*):
  // pins of an older build lack it, and are adopted all the same. Pins of
  // layout 4 lack the global_* maps too: their values changed with layout 5,
  // so they are unpinned before adoption (dataplane_adopt.cpp).
  bool pinned_later(const Fd* fd) const;
  // attach() in TC mode (dataplane_tc.cpp).
  void attach_tc(const std::string& ifname, int ifindex);
  // adopt() of pins left by attach_multiprog(): the program, not a link, is pinned.
  static std::optional<Dataplane> adopt_multiprog(const std::string& ifname);
  // Removes this program from the interface's dispatcher (dataplane_multiprog.cpp).
  void detach_multiprog();
  // See attach(); true when a link of another layout was taken over.
  bool take_over_other_layout(const std::string& ifname, int ifindex);
  // One fd per SLUICE_PINNED_MAPS entry, named after it.
  struct Maps {
#define SLUICE_MAP_FD(name) Fd name;
    SLUICE_PINNED_MAPS(SLUICE_MAP_FD)
#undef SLUICE_MAP_FD
    const Fd& prefix(uint32_t slot) const {
      return slot ? prefix_1 : prefix_0;
    }
    const Fd& access(uint32_t slot) const {
      return slot ? access_1 : access_0;
    }
  };

  Dataplane() = default;
  // Opens and loads the program; with `reuse`, on those maps (the valid fds)
  // and on `admission_fd` when >= 0, instead of fresh ones.
  static Dataplane load_with(const LoadOptions& options, const Maps* reuse, int admission_fd);
  // See adopt(): this adopted dataplane, or the one that replaced its program.
  Dataplane upgrade_in_place(const LoadOptions& wanted);
  // Writes the `meta` map for the program this Dataplane loaded.
  void record_program(bool coarse_clock);
  // SLUICE_PROG_VERSION of the program this Dataplane loaded.
  uint32_t loaded_version() const;
  std::vector<std::pair<const char*, Fd*>> pinned_objects();
  void remove_pins();
  void write_lpm_slot(int fd, const std::vector<LpmEntry>& entries);
  std::array<struct sluice_tier, SLUICE_MAX_TIERS> slot_tiers(uint32_t slot) const;
  void write_slot_tiers(uint32_t slot,
                        const std::array<struct sluice_tier, SLUICE_MAX_TIERS>& tiers);
  // Sets one tier's counters to zero on every CPU.
  void zero_counter_row(uint32_t row);
  // Sets or clears SLUICE_CONFIG_F_KEY_MAPS in both config slots.
  void set_key_maps_flag(bool on);

  struct SkeletonDeleter {
    void operator()(struct sluice_xdp* skel) const;
  };
  std::unique_ptr<struct sluice_xdp, SkeletonDeleter> skel_;
  Maps maps_;
  Fd prog_fd_;
  Fd link_;
  TcFilter tc_;  // attached in TC mode (then link_ is empty)
  std::string ifname_;
  std::string upgrade_note_;
  int ifindex_ = 0;
  // Attached through libxdp's dispatcher: no link of ours, the program is pinned.
  bool multiprog_ = false;
  bool multiprog_attached_ = false;
  std::chrono::steady_clock::time_point last_switch_{};
};

}  // namespace sluice
