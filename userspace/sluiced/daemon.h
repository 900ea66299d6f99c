// sluiced's core: owns the data planes of the configured interfaces, the
// effective policy (configuration file + live edits), the control socket and
// the signal handling, all on one Boost.Asio event loop. Later services (HTTP
// check API, metrics, gossip) join the same io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "check_service.h"
#include "cluster_node.h"
#include "config_file.h"
#include "control_server.h"
#include "dataplane.h"
#include "global_tiers.h"
#include "interface_lock.h"
#include "kernel_global.h"
#include "key_link.h"
#include "live_edits.h"
#include "metrics_service.h"
#include "periodic_thread.h"
#include "policy.h"
#include "rls_service.h"
#include "shapers.h"
#include "state_file.h"

namespace sluice {

struct DaemonOptions {
  std::string config_path;
  // On SIGTERM/SIGINT, detach and unpin instead of leaving the program enforcing.
  bool detach_on_exit = false;
  bool discard_live_changes = false;  // start from the file alone, dropping the state file
  std::optional<std::string> socket_path;
  std::optional<std::string> state_file;
  std::optional<std::string> log_level;
};

struct AttachedInterface {
  Dataplane dataplane;
  XdpMode requested_mode = XdpMode::kAuto;
  bool adopted = false;  // taken over from pins of an earlier daemon
  InterfaceLock lock;    // held while this daemon manages the interface
};

class Daemon {
 public:
  Daemon(boost::asio::io_context& io, DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads the configuration and the state file, adopts or attaches every
  // interface, applies the policy and opens the control socket. Throws
  // (ConfigError, std::system_error, std::runtime_error) leaving nothing
  // half-done: interfaces attached by this call are detached again.
  void start();
  // Runs the event loop until SIGTERM/SIGINT (or stop()).
  void run();
  // Leaves every program enforcing (or detaches, see DaemonOptions) and stops the loop.
  void stop();

  // Replaces the live edits: validates, applies to every interface, then
  // persists; or throws ControlError saying what failed, with every interface
  // back on the previous policy and the state file untouched.
  void update(const LiveEdits& edits);
  // Re-reads the configuration file. Reading and validating run on a worker
  // thread, so that a big file never stalls the loop that serves status and
  // metrics; the commit then runs on the loop, and `done` is called there with
  // nullptr or the error (a ControlError): an invalid file, or live edits that
  // no longer fit it, change nothing. One reload at a time: another one while
  // it runs is refused with ControlError(conflict), thrown from this call.
  using ReloadDone = std::function<void(std::exception_ptr)>;
  void reload(bool discard_live_changes, ReloadDone done);

  const Config& base() const { return base_; }
  const LiveEdits& edits() const { return edits_; }
  Policy effective_policy() const { return merge_policy(base_.policy, edits_); }
  const TierSlots& tier_slots() const { return slots_; }
  const std::map<std::string, AttachedInterface>& interfaces() const { return interfaces_; }
  const std::string& state_file() const { return base_.settings.state_file; }
  const std::string& socket_path() const { return base_.settings.control_socket; }
  std::chrono::steady_clock::duration uptime() const;
  boost::asio::io_context& io() { return io_; }
  // The /metrics listener's port, 0 when metrics are off.
  uint16_t metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  // The request layer's check API, nullptr without a `check:` section.
  CheckService* check_service() { return check_.get(); }
  const CheckService* check_service() const { return check_.get(); }
  // Envoy's rate-limit service, nullptr without an `rls:` section.
  RlsService* rls_service() { return rls_.get(); }
  // The consumption sync (gossip or Redis), nullptr without a `cluster:` section.
  const cluster::GlobalSync* cluster() const { return cluster_.get(); }
  std::string cluster_metrics() const;
  // Global kernel tiers' counters and overshoot bounds ("" without a cluster).
  std::string kernel_global_metrics() const;
  const Shapers& shapers() const { return shapers_; }
  // Envoy's rate-limit service's answers as Prometheus text ("" without an `rls:` section).
  std::string rls_metrics() const;
  // Key-bound addresses and penalties (key_link.h, daemon_services.cpp).
  KeyLink& key_link() { return key_link_; }
  const KeyLink& key_link() const { return key_link_; }
  // The data planes of every attached interface, for the key link's writes.
  std::vector<Dataplane*> dataplanes();

 private:
  Config read_config() const;
  // The core of start/update/reload: see update().
  void commit(const Config& base, const LiveEdits& edits, bool starting);
  // save_state for commit(): a failure is a ControlError, or at start a warning.
  void persist(const std::string& path, const PersistedState& state, bool starting) const;
  void attach_interface(const InterfaceSpec& spec, const AttachSettings& how,
                        const LoadOptions& load, const CompiledPolicy& compiled,
                        const Dataplane* share_with,
                        std::map<std::string, AttachedInterface>& into) const;
  // The second half of reload(), on the loop: commits what the worker read.
  void finish_reload(Config config, bool discard_live_changes);
  // Starts the check API (a `check:` section), wired to the data planes.
  std::unique_ptr<CheckService> start_check(const CheckSettings& settings);
  void start_rls(const RlsSettings& settings);
  // Applies a reloaded `rls:` section (daemon_services.cpp).
  void reconfigure_rls(const RlsSettings& settings);
  void on_signal(const boost::system::error_code& ec, int signal);
  void wait_for_signal();
  void schedule_expiry();
  // The key link follows the committed configuration; flushed every 100 ms.
  void configure_key_link();
  void schedule_key_link_flush();
  // Global kernel tiers (daemon_global.cpp): the cluster's view now, the
  // policy localised by it (recorded in global_view_), the poll timer.
  GlobalTierView global_view() const;
  Policy localised(const Policy& policy);
  std::chrono::nanoseconds kernel_global_period() const;
  void schedule_kernel_global();
  void kernel_global_tick();
  void kernel_global_poll();
  double kernel_sync_delay_s() const;
  // Writes the program's heartbeat (struct sluice_global_beat): fresh with
  // this view's orphan factor while global tiers run in a cluster, stale at
  // once when `stopping` leaves the program attached, all zero otherwise.
  void refresh_global_beat(bool stopping);

  boost::asio::io_context& io_;
  DaemonOptions options_;
  Config base_;
  LiveEdits edits_;
  TierSlots slots_;
  std::map<std::string, AttachedInterface> interfaces_;
  std::unique_ptr<ControlServer> control_;
  OccupancyCache occupancy_;
  std::unique_ptr<MetricsService> metrics_;
  KeyLink key_link_;  // before check_: the checker reports its answers to it
  std::unique_ptr<CheckService> check_;
  // The RLS spends from the check's buckets; these only without a `check:` section.
  std::unique_ptr<RequestBuckets> rls_buckets_;
  std::unique_ptr<RlsService> rls_;  // declared after what it spends from
  // Before cluster_, which charges it from its thread.
  std::unique_ptr<KernelGlobal> kernel_global_;
  std::unique_ptr<cluster::GlobalSync> cluster_;  // after check_: it charges check_'s buckets
  GlobalTierView global_view_;  // what the committed policy's global tiers are localised by
  bool global_tiers_ = false;   // the committed policy has some
  bool beating_ = true;         // the last beat written was not all zero (or none yet)
  Shapers shapers_;             // the `shape:` section's egress shapers
  boost::asio::signal_set signals_;
  boost::asio::steady_timer expiry_timer_;
  boost::asio::steady_timer key_link_timer_;
  boost::asio::steady_timer kernel_global_timer_;
  std::chrono::steady_clock::time_point started_;
  bool stopped_ = false;
  std::thread reload_worker_;  // reads and validates a file for reload()
  bool reloading_ = false;     // a reload is between reload() and its `done`
  // Held by the kernel global poll's thread while it reads and writes the
  // dataplanes' global maps, and by the loop while it changes the dataplanes
  // (commit: interfaces attached, detached, policies switched).
  std::mutex dataplanes_mutex_;
  // Last: stopped before anything it uses goes away.
  PeriodicThread kernel_global_poller_;
};

// Maps a spdlog level name (validated by check_log_level) and sets it.
void set_log_level(const std::string& level);

}  // namespace sluice
