#include "daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <csignal>
#include <ctime>
#include <set>

#include "bpffs.h"
#include "cluster_wiring.h"
#include "commands.h"
#include "control_protocol.h"
#include "daemon_metrics.h"
#include "state_file.h"

namespace sluice {
namespace {

uint64_t unix_now() {
  return static_cast<uint64_t>(std::time(nullptr));
}

}  // namespace

void set_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
}

Daemon::Daemon(boost::asio::io_context& io, DaemonOptions options)
    : io_(io),
      options_(std::move(options)),
      signals_(io, SIGTERM, SIGINT, SIGHUP),
      expiry_timer_(io),
      key_link_timer_(io),
      kernel_global_timer_(io),
      started_(std::chrono::steady_clock::now()) {}

Daemon::~Daemon() {
  kernel_global_poller_.stop();  // it uses the interfaces released below
  // Its result is posted to a loop that no longer runs: only wait for it.
  if (reload_worker_.joinable()) reload_worker_.join();
  // Reached without stop() only when start() or the loop threw: leave the
  // kernel as start() documents (its own attachments were rolled back).
  for (auto& [name, attached] : interfaces_) attached.dataplane.release_keep_attached();
}

std::chrono::steady_clock::duration Daemon::uptime() const {
  return std::chrono::steady_clock::now() - started_;
}

Config Daemon::read_config() const {
  Config config = load_config_file(options_.config_path);
  if (options_.socket_path) config.settings.control_socket = *options_.socket_path;
  if (options_.state_file) config.settings.state_file = *options_.state_file;
  if (options_.log_level) config.settings.log_level = *options_.log_level;
  return config;
}

void Daemon::start() {
  Config config = read_config();
  set_log_level(config.settings.log_level);
  spdlog::info("configuration {}: {} tiers, {} prefixes, {} interfaces", config.path,
               config.policy.tiers.size(), config.policy.prefixes.size(),
               config.settings.interfaces.size());

  LiveEdits edits;
  if (options_.discard_live_changes) {
    spdlog::warn("--discard-live-changes: ignoring {}", config.settings.state_file);
  } else if (auto state = load_state(config.settings.state_file)) {
    edits = state->edits;
    slots_.commit(state->tier_slots);
    if (!edits.empty()) spdlog::info("replaying live changes from {}", config.settings.state_file);
  }

  // The socket first: it refuses to start a second daemon before that one
  // could touch the interfaces. Requests wait until the loop runs.
  control_ = std::make_unique<ControlServer>(
      io_, config.settings.control_socket,
      [this](const Request& request, const PeerCredentials&, ControlServer::Reply reply) {
        handle_command(*this, request, std::move(reply));
      });
  if (!config.settings.metrics_listen.empty()) {
    // Enforcement matters more than its metrics: a listener that cannot bind
    // (port taken, loopback down in a namespace) is logged, not fatal.
    try {
      metrics_ = std::make_unique<MetricsService>(io_, config.settings.metrics_listen, [this] {
        return metrics_snapshot(*this, occupancy_);
      });
      spdlog::info("metrics on http://{}/metrics", config.settings.metrics_listen);
    } catch (const std::system_error& e) {
      spdlog::error("metrics disabled: {}", e.what());
    }
  }
  // nginx asks the check API about every request: a daemon that cannot serve
  // it (listener or keys file) does not start.
  if (config.check.enabled) check_ = start_check(config.check);
  if (config.rls.enabled) start_rls(config.rls);
  if (config.cluster.enabled) {
    kernel_global_ = std::make_unique<KernelGlobal>();
    cluster_ = start_cluster(config.cluster, check_.get(), kernel_global_.get());
  }
  ensure_bpffs("/sys/fs/bpf");
  // Shapers first: an interface that cannot be shaped (no fq in the kernel,
  // an operator's qdisc) fails the start before any interface is attached.
  shapers_.apply(config.shape);
  try {
    commit(config, edits, /*starting=*/true);
  } catch (const PolicyError& e) {
    shapers_.detach_all();
    throw std::runtime_error(
        "the live changes in " + config.settings.state_file + " do not fit " + config.path +
        " any more: " + e.what() +
        "; fix the file, or start once with --discard-live-changes to drop them");
  } catch (const ControlError& e) {
    shapers_.detach_all();
    throw std::runtime_error(e.what());
  } catch (...) {
    shapers_.detach_all();
    throw;
  }

  wait_for_signal();
  schedule_expiry();
  schedule_key_link_flush();
  if (cluster_) {
    // Off the loop: a poll of thousands of sources takes milliseconds, and
    // the loop answers the check API.
    kernel_global_poller_.start(kernel_global_period(), [this] { kernel_global_poll(); });
    schedule_kernel_global();
  }
  spdlog::info("sluiced ready: {} interface(s) enforcing", interfaces_.size());
}

void Daemon::run() {
  io_.run();
}

void Daemon::stop() {
  if (stopped_) return;
  stopped_ = true;
  kernel_global_poller_.stop();  // before cluster_, which it reports to
  if (control_) control_->close();
  metrics_.reset();
  // The peers stop counting this host at once (its leave): so does the
  // program left attached, which falls back to the host's share.
  if (!options_.detach_on_exit) refresh_global_beat(/*stopping=*/true);
  cluster_.reset();  // announces the leave; before check_, whose buckets it charges
  rls_.reset();
  check_.reset();
  for (auto& [name, attached] : interfaces_) {
    try {
      // A limiter that stops must not open the gate for every abuser at once:
      // by default the pinned program keeps enforcing and the next daemon
      // adopts it. Removing it is `sluicectl detach` or --detach-on-exit.
      if (options_.detach_on_exit) {
        attached.dataplane.detach();
      } else {
        attached.dataplane.release_keep_attached();
        spdlog::info("{}: left attached and enforcing for the next sluiced", name);
      }
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", name, e.what());
    }
  }
  interfaces_.clear();
  shapers_.detach_all();
  signals_.cancel();
  expiry_timer_.cancel();
  key_link_timer_.cancel();
  kernel_global_timer_.cancel();
  io_.stop();
}

void Daemon::attach_interface(const InterfaceSpec& spec, const AttachSettings& how,
                              const LoadOptions& load, const CompiledPolicy& compiled,
                              const Dataplane* share_with,
                              std::map<std::string, AttachedInterface>& into) const {
  // At start, a pinned link means an earlier daemon died or was upgraded with
  // --keep-attached: take it over so that no bucket is reset. A live `attach`
  // adopts too: the lock makes sure the pins belong to no running daemon.
  InterfaceLock lock = InterfaceLock::acquire(spec.name);
  if (auto adopted = Dataplane::adopt(spec.name, load)) {
    if (adopted->multiprog() != (how.kind == AttachKind::kMultiprog))
      spdlog::warn(
          "{}: adopted the running program in {} mode, not the configured {}; "
          "`sluicectl detach` then `attach` to switch",
          spec.name, adopted->multiprog() ? "multiprog" : "direct", to_string(how.kind));
    into.emplace(spec.name,
                 AttachedInterface{std::move(*adopted), spec.mode, true, std::move(lock)});
    return;
  }
  // Shared maps already hold the policy of the interface they come from; the
  // commit switches them (once, for all interfaces on them) to the new one.
  Dataplane dataplane =
      share_with ? Dataplane::load_beside(*share_with, load) : Dataplane::load(load);
  // The policy goes in before the program is attached: attaching may take over
  // the link of a program that is enforcing now (another layout's, see
  // Dataplane::attach), and a freshly loaded program limits nothing.
  if (!share_with) dataplane.apply(compiled);
  if (how.kind == AttachKind::kMultiprog)
    dataplane.attach_multiprog(spec.name, spec.mode, how.priority);
  else
    dataplane.attach(spec.name, spec.mode);
  try {
    dataplane.pin();
  } catch (...) {
    dataplane.detach();
    throw;
  }
  into.emplace(spec.name,
               AttachedInterface{std::move(dataplane), spec.mode, false, std::move(lock)});
}

void Daemon::commit(const Config& base, const LiveEdits& edits, bool starting) {
  // The kernel global poll's thread waits (at most one poll) while interfaces
  // come and go and policies switch.
  std::lock_guard dataplanes_lock(dataplanes_mutex_);
  // 1. Validate everything before touching the kernel.
  const Policy policy = merge_policy(base.policy, edits);
  // Global tiers: this host's part of each (daemon_global.cpp).
  const CompiledPolicy compiled = compile_policy(localised(policy), slots_, datapath_cpus());
  const std::vector<InterfaceSpec> wanted = merge_interfaces(base.settings.interfaces, edits);
  auto is_wanted = [&](const std::string& name) {
    return std::any_of(wanted.begin(), wanted.end(),
                       [&](const InterfaceSpec& spec) { return spec.name == name; });
  };

  // 2. Attach what is new, 3. switch every wanted interface to the new policy,
  // 4. persist. Any failure undoes 2 and 3: the kernel and the state file stay
  // on the previous policy, and the caller hears what failed. Never an OK for
  // a policy that some interface does not run.
  std::map<std::string, AttachedInterface> added;
  std::vector<AttachedInterface*> switched;
  // With `maps.sharing: shared`, the maps a new interface joins: those of an
  // interface that stays (or was just added), never of one about to go.
  auto shared_maps = [&]() -> const Dataplane* {
    for (const auto& [name, attached] : interfaces_)
      if (is_wanted(name)) return &attached.dataplane;
    return added.empty() ? nullptr : &added.begin()->second.dataplane;
  };
  auto undo = [&] {
    for (AttachedInterface* attached : switched) {
      try {
        attached->dataplane.switch_back();
      } catch (const std::exception& e) {
        spdlog::critical("{}: switching back to the previous policy failed: {}",
                         attached->dataplane.ifname(), e.what());
      }
    }
    for (auto& [name, attached] : added) {
      try {
        if (attached.adopted)
          attached.dataplane.release_keep_attached();
        else
          attached.dataplane.detach();
      } catch (const std::exception& e) {
        spdlog::error("{}: {}", name, e.what());
      }
    }
  };
  // One apply per set of maps: interfaces sharing maps share the policy, and
  // a second switch of the same maps would leave nothing to switch back to.
  std::set<uint32_t> switched_maps;
  auto apply_to = [&](const std::string& name, AttachedInterface& attached) {
    if (!switched_maps.insert(attached.dataplane.maps_id()).second) return;
    try {
      attached.dataplane.apply(compiled);
    } catch (const std::system_error& e) {
      throw ControlError(errc::kFailed, name + ": applying the policy failed: " + e.what());
    }
    switched.push_back(&attached);
  };
  const char* kNothingChanged = "; every interface is back on the previous policy, nothing saved";
  try {
    for (const auto& spec : wanted) {
      if (interfaces_.count(spec.name)) {
        if (interfaces_.at(spec.name).requested_mode != spec.mode)
          spdlog::warn("{}: XDP mode change to {} takes effect after detach and attach", spec.name,
                       to_string(spec.mode));
        continue;
      }
      attach_interface(spec, base.settings.attach,
                       LoadOptions{.bucket_entries = base.settings.bucket_entries,
                                   .coarse_clock = policy.coarse_clock},
                       compiled, base.settings.share_maps ? shared_maps() : nullptr, added);
    }
    for (auto& [name, attached] : interfaces_)
      if (is_wanted(name)) apply_to(name, attached);
    // A freshly loaded program got the policy before it was attached.
    for (auto& [name, attached] : added)
      if (attached.adopted) apply_to(name, attached);
    persist(base.settings.state_file, {edits, compiled.tier_index}, starting);
  } catch (const ControlError& e) {
    undo();
    throw ControlError(e.code(), e.what() + std::string(kNothingChanged));
  } catch (const std::system_error& e) {
    undo();
    throw ControlError(errc::kFailed, e.what() + std::string(kNothingChanged));
  } catch (...) {
    undo();
    throw;
  }

  // 5. Detach what is no longer wanted.
  for (auto it = interfaces_.begin(); it != interfaces_.end();) {
    if (is_wanted(it->first)) {
      ++it;
      continue;
    }
    try {
      it->second.dataplane.detach();
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", it->first, e.what());
    }
    it = interfaces_.erase(it);
  }
  for (auto& [name, attached] : added) interfaces_.emplace(name, std::move(attached));

  if (!starting && base.settings.attach != base_.settings.attach)
    spdlog::warn(
        "attach changed to {} (priority {}): applies to interfaces attached from now on; "
        "detach and attach the others",
        to_string(base.settings.attach.kind), base.settings.attach.priority);
  if (!starting && base.settings.control_socket != base_.settings.control_socket)
    spdlog::warn("control.socket changed to {}: takes effect at the next start",
                 base.settings.control_socket);
  if (!starting && base.settings.metrics_listen != base_.settings.metrics_listen)
    spdlog::warn("metrics.listen changed to '{}': takes effect at the next start",
                 base.settings.metrics_listen);
  std::string socket = starting ? base.settings.control_socket : base_.settings.control_socket;
  std::string metrics = starting ? base.settings.metrics_listen : base_.settings.metrics_listen;
  base_ = base;
  base_.settings.control_socket = socket;
  base_.settings.metrics_listen = metrics;
  edits_ = edits;
  slots_.commit(compiled.tier_index);
  spdlog::info("policy applied: {} tiers, {} prefixes, {} allow, {} deny, {} interface(s)",
               policy.tiers.size(), policy.prefixes.size(), policy.allow.size(), policy.deny.size(),
               interfaces_.size());
  configure_key_link();
  // At once: an adopted program whose daemon died leaves its fallback now.
  refresh_global_beat(/*stopping=*/false);
}

void Daemon::persist(const std::string& path, const PersistedState& state, bool starting) const {
  try {
    save_state(path, state);
  } catch (const std::system_error& e) {
    // At start the kernel must enforce even so: the file's policy (and the
    // state that was read) is what runs, and only live changes wait for a
    // writable state file. Later, a change that a restart would lose is refused.
    if (!starting)
      throw ControlError(errc::kFailed, std::string("cannot save the state file: ") + e.what() +
                                            " (is its directory full or read-only?)");
    spdlog::warn(
        "cannot save the state file: {}; enforcing anyway, but live changes and reloads are "
        "refused until it can be written",
        e.what());
  }
}

void Daemon::update(const LiveEdits& edits) {
  try {
    commit(base_, edits, false);
  } catch (const PolicyError& e) {
    throw ControlError(errc::kInvalidArgument, e.what());
  }
}

void Daemon::wait_for_signal() {
  signals_.async_wait(
      [this](const boost::system::error_code& ec, int signal) { on_signal(ec, signal); });
}

void Daemon::on_signal(const boost::system::error_code& ec, int signal) {
  if (ec) return;
  if (signal == SIGHUP) {
    spdlog::info("SIGHUP: reloading {}", options_.config_path);
    try {
      // Its outcome is logged by reload(); the running configuration stays on failure.
      reload(false, [](std::exception_ptr) {});
    } catch (const std::exception& e) {
      spdlog::warn("SIGHUP ignored: {}", e.what());
    }
    wait_for_signal();
    return;
  }
  spdlog::info("{}: shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  stop();
}

void Daemon::schedule_expiry() {
  // Deny entries with a TTL: checked once a second, which is the TTL's resolution.
  expiry_timer_.expires_after(std::chrono::seconds(1));
  expiry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    std::vector<Cidr> expired;
    LiveEdits next = PolicyEditor(base_, edits_).expire_denies(unix_now(), &expired);
    if (!expired.empty()) {
      try {
        update(next);
        for (const auto& cidr : expired) spdlog::info("deny {} expired", cidr.to_string());
      } catch (const std::exception& e) {
        spdlog::error("expiring deny entries failed (retrying): {}", e.what());
      }
    }
    schedule_expiry();
  });
}

}  // namespace sluice
