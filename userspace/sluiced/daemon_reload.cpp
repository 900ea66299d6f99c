// Reloading the configuration file: read and validated on a worker thread
// (a slow disk never stalls the event loop), then committed on the loop,
// with the check section's restart and its rollback when the commit fails.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "control_protocol.h"
#include "daemon.h"

namespace sluice {

void Daemon::reload(bool discard_live_changes, ReloadDone done) {
  if (reloading_)
    throw ControlError(errc::kConflict, "a reload is already running; try again when it is done");
  if (reload_worker_.joinable()) reload_worker_.join();  // the previous one, long finished
  reloading_ = true;
  reload_worker_ = std::thread([this, discard_live_changes, done = std::move(done)]() mutable {
    std::optional<Config> config;
    std::exception_ptr error;
    try {
      config = read_config();
    } catch (const ConfigError& e) {
      spdlog::error("reload refused, running configuration unchanged: {}", e.what());
      error = std::make_exception_ptr(ControlError(errc::kInvalidArgument, e.what()));
    } catch (const std::exception& e) {
      error = std::make_exception_ptr(ControlError(errc::kFailed, e.what()));
    }
    // A big file leaves freed pages in this thread's arena: give them back.
    ::malloc_trim(0);
    boost::asio::post(io_, [this, discard_live_changes, config = std::move(config), error,
                            done = std::move(done)]() mutable {
      reloading_ = false;
      if (!error && !stopped_) {
        try {
          finish_reload(std::move(*config), discard_live_changes);
        } catch (...) {
          error = std::current_exception();
        }
      }
      if (stopped_ && !error)
        error = std::make_exception_ptr(ControlError(errc::kFailed, "daemon is shutting down"));
      done(error);
    });
  });
}

void Daemon::finish_reload(Config config, bool discard_live_changes) {
  const LiveEdits edits = discard_live_changes ? LiveEdits{} : edits_;
  // The check section first: binding a moved listener can still fail, and it
  // is undone by configuring the running settings again, while the kernel's
  // commit cannot be undone once it succeeded. Either both change or neither.
  std::optional<CheckSettings> previous_check;
  std::unique_ptr<CheckService> started_check;
  try {
    if (config.check.enabled && check_) {
      previous_check = check_->settings();
      check_->configure(config.check);
    } else if (config.check.enabled) {
      started_check = start_check(config.check);
    }
  } catch (const std::exception& e) {
    std::string message = std::string("check: ") + e.what();
    spdlog::error("reload refused, running configuration unchanged: {}", message);
    throw ControlError(errc::kFailed, message);
  }
  auto undo_check = [&] {
    started_check.reset();
    if (!previous_check) return;
    try {
      check_->configure(*previous_check);
    } catch (const std::exception& e) {
      spdlog::critical("check: going back to the previous settings failed: {}", e.what());
    }
  };
  try {
    shapers_.apply(config.shape);
  } catch (const std::exception& e) {
    undo_check();
    std::string message = std::string("shape: ") + e.what();
    spdlog::error("reload refused, running configuration unchanged: {}", message);
    throw ControlError(errc::kFailed, message);
  }
  auto undo_shape = [&] {
    try {
      shapers_.apply(base_.shape);
    } catch (const std::exception& e) {
      spdlog::critical("shape: going back to the previous shapers failed: {}", e.what());
    }
  };
  try {
    commit(config, edits, false);
  } catch (const PolicyError& e) {
    undo_shape();
    undo_check();
    std::string message = std::string(
                              "the file is valid, but the live changes made with sluicectl "
                              "do not fit it: ") +
                          e.what() + " (undo that change, or reload with --discard-live-changes)";
    spdlog::error("reload refused, running configuration unchanged: {}", message);
    throw ControlError(errc::kConflict, message);
  } catch (const ControlError& e) {
    undo_shape();
    undo_check();
    spdlog::error("reload refused, running configuration unchanged: {}", e.what());
    throw;
  } catch (...) {
    undo_shape();
    undo_check();
    throw;
  }
  if (started_check) check_ = std::move(started_check);
  if (check_ && !config.check.enabled)
    // Sessions in flight still answer through it: stopping it waits for a restart.
    spdlog::warn("the check section is gone: the check API stops at the next start");
  set_log_level(config.settings.log_level);
  reconfigure_rls(config.rls);
  spdlog::info("reloaded {}{}", config.path, discard_live_changes ? " (live changes dropped)" : "");
}

}  // namespace sluice
