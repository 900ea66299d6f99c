#include "daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <ctime>

#include "bpffs.h"
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
      started_(std::chrono::steady_clock::now()) {}

Daemon::~Daemon() {
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
  if (config.check.enabled) check_ = std::make_unique<CheckService>(io_, config.check);
  ensure_bpffs("/sys/fs/bpf");
  try {
    commit(config, edits, /*starting=*/true);
  } catch (const PolicyError& e) {
    throw std::runtime_error(
        "the live changes in " + config.settings.state_file + " do not fit " + config.path +
        " any more: " + e.what() +
        "; fix the file, or start once with --discard-live-changes to drop them");
  } catch (const ControlError& e) {
    throw std::runtime_error(e.what());
  }

  wait_for_signal();
  schedule_expiry();
  spdlog::info("sluiced ready: {} interface(s) enforcing", interfaces_.size());
}

void Daemon::run() {
  io_.run();
}

void Daemon::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (control_) control_->close();
  metrics_.reset();
  check_.reset();
  for (auto& [name, attached] : interfaces_) {
    try {
      if (options_.keep_attached) {
        attached.dataplane.release_keep_attached();
        spdlog::info("{}: left attached and pinned (--keep-attached)", name);
      } else {
        attached.dataplane.detach();
      }
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", name, e.what());
    }
  }
  interfaces_.clear();
  signals_.cancel();
  expiry_timer_.cancel();
  io_.stop();
}

void Daemon::attach_interface(const InterfaceSpec& spec, const LoadOptions& load,
                              std::map<std::string, AttachedInterface>& into) const {
  // At start, a pinned link means an earlier daemon died or was upgraded with
  // --keep-attached: take it over so that no bucket is reset. A live `attach`
  // adopts too: the lock makes sure the pins belong to no running daemon.
  InterfaceLock lock = InterfaceLock::acquire(spec.name);
  if (auto adopted = Dataplane::adopt(spec.name)) {
    into.emplace(spec.name,
                 AttachedInterface{std::move(*adopted), spec.mode, true, std::move(lock)});
    return;
  }
  Dataplane dataplane = Dataplane::load(load);
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
  // 1. Validate everything before touching the kernel.
  const Policy policy = merge_policy(base.policy, edits);
  const CompiledPolicy compiled = compile_policy(policy, slots_, datapath_cpus());
  const std::vector<InterfaceSpec> wanted = merge_interfaces(base.settings.interfaces, edits);

  // 2. Attach what is new; a failure rolls back what this call attached.
  std::map<std::string, AttachedInterface> added;
  auto roll_back = [&] {
    for (auto& [name, attached] : added) {
      if (attached.adopted)
        attached.dataplane.release_keep_attached();
      else
        attached.dataplane.detach();
    }
  };
  try {
    for (const auto& spec : wanted) {
      if (interfaces_.count(spec.name)) {
        if (interfaces_.at(spec.name).requested_mode != spec.mode)
          spdlog::warn("{}: XDP mode change to {} takes effect after detach and attach", spec.name,
                       to_string(spec.mode));
        continue;
      }
      attach_interface(spec,
                       LoadOptions{.bucket_entries = base.settings.bucket_entries,
                                   .coarse_clock = policy.coarse_clock},
                       added);
    }
    for (auto& [name, attached] : added) attached.dataplane.apply(compiled);
    // 3. Persist before the switch: a crash after this point replays the new state.
    save_state(base.settings.state_file, {edits, compiled.tier_index});
  } catch (const std::system_error& e) {
    roll_back();
    throw ControlError(errc::kFailed, e.what());
  } catch (...) {
    roll_back();
    throw;
  }

  // 4. Switch every data plane to the new generation (buckets are kept).
  for (auto& [name, attached] : interfaces_) {
    try {
      attached.dataplane.apply(compiled);
    } catch (const std::exception& e) {
      spdlog::error("{}: applying the policy failed: {}", name, e.what());
    }
  }
  // 5. Detach what is no longer wanted.
  for (auto it = interfaces_.begin(); it != interfaces_.end();) {
    bool keep = std::any_of(wanted.begin(), wanted.end(),
                            [&](const InterfaceSpec& spec) { return spec.name == it->first; });
    if (keep) {
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
}

void Daemon::update(const LiveEdits& edits) {
  try {
    commit(base_, edits, false);
  } catch (const PolicyError& e) {
    throw ControlError(errc::kInvalidArgument, e.what());
  }
}

void Daemon::reload(bool discard_live_changes) {
  Config config;
  try {
    config = read_config();
  } catch (const ConfigError& e) {
    spdlog::error("reload refused, running configuration unchanged: {}", e.what());
    throw ControlError(errc::kInvalidArgument, e.what());
  }
  const LiveEdits edits = discard_live_changes ? LiveEdits{} : edits_;
  try {
    commit(config, edits, false);
  } catch (const PolicyError& e) {
    std::string message = std::string(
                              "the file is valid, but the live changes made with sluicectl "
                              "do not fit it: ") +
                          e.what() + " (undo that change, or reload with --discard-live-changes)";
    spdlog::error("reload refused, running configuration unchanged: {}", message);
    throw ControlError(errc::kConflict, message);
  }
  set_log_level(config.settings.log_level);
  if (check_) check_->configure(config.check);  // validated with the file
  spdlog::info("reloaded {}{}", config.path, discard_live_changes ? " (live changes dropped)" : "");
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
      reload(false);
    } catch (const std::exception&) {
      // reload() has logged why; the running configuration stays.
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
