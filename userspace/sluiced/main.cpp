// sluiced: loads the Sluice XDP program onto the configured interfaces, keeps
// the policy in the kernel maps, and serves sluicectl on a unix socket.
// Foreground, logs to stderr: systemd or a container runtime supervises it.
#include <fcntl.h>
#include <sched.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstring>

#include "config_file.h"
#include "daemon.h"
#include "fd.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadConfig = 2;

// --netns: run inside a named network namespace (as `ip netns add` creates
// them), without `ip netns exec`'s private /sys, so that pins land in the
// host's bpffs and survive the daemon.
void enter_netns(const std::string& name) {
  std::string path = "/run/netns/" + name;
  sluice::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw std::system_error(errno, std::generic_category(), "open " + path);
  if (::setns(fd.get(), CLONE_NEWNET) != 0)
    throw std::system_error(errno, std::generic_category(), "enter network namespace " + name);
}

// The soft limit on open files up to the hard one: the check API holds a
// session per nginx keep-alive connection (and sheds idle ones past its
// limit), which the usual soft limit of 1024 would cut short.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
    spdlog::warn("cannot raise the open files limit: {}", std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  auto logger = spdlog::stderr_color_mt("sluiced");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);

  CLI::App app{"sluiced: the Sluice rate-limiting daemon (XDP token buckets per source)"};
  app.footer(R"(Examples:
  sluiced --config /etc/sluice/sluice.yaml
  sluiced --config sluice.yaml --check          # validate and exit
  sluiced --config sluice.yaml --detach-on-exit # SIGTERM removes the program too

Signals: SIGHUP reloads the configuration file. SIGTERM/SIGINT exit and leave
the program attached and enforcing, as after kill -9: the next start adopts it
without resetting any bucket (stop and restart for an upgrade never open the
gate). To remove it: `sluicectl detach IFACE` first, or --detach-on-exit.)");
  sluice::DaemonOptions options;
  options.config_path = "/etc/sluice/sluice.yaml";
  bool check_only = false;
  std::string netns, socket, state_file, log_level;
  app.add_option("-c,--config", options.config_path, "configuration file")->capture_default_str();
  app.add_flag("--check", check_only, "validate the configuration file and exit");
  auto* detach_flag = app.add_flag("--detach-on-exit", options.detach_on_exit,
                                   "on SIGTERM/SIGINT also detach the program and remove its pins");
  bool keep_attached = false;  // the default since SIGTERM stopped detaching
  app.add_flag("--keep-attached", keep_attached,
               "on SIGTERM/SIGINT leave the program enforcing (the default; kept for old unit "
               "files)")
      ->excludes(detach_flag);
  app.add_flag("--discard-live-changes", options.discard_live_changes,
               "start from the configuration file alone, dropping changes made with sluicectl");
  app.add_option("--socket", socket, "control socket (overrides control.socket)");
  app.add_option("--state-file", state_file, "state file (overrides state_file)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error (overrides log_level)");
  app.add_option("--netns", netns, "run inside the network namespace /run/netns/NAME");
  app.set_version_flag("--version", PROJECT_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitBadConfig;
  }
  if (!socket.empty()) options.socket_path = socket;
  if (!state_file.empty()) options.state_file = state_file;
  if (!log_level.empty()) {
    try {
      sluice::check_log_level(log_level);
    } catch (const std::invalid_argument& e) {
      spdlog::error("--log-level: {}", e.what());
      return kExitBadConfig;
    }
    options.log_level = log_level;
    sluice::set_log_level(log_level);
  }

  try {
    if (check_only) {
      auto config = sluice::load_config_file(options.config_path);
      spdlog::info("{} is valid: {} tiers, {} prefixes, {} interfaces", options.config_path,
                   config.policy.tiers.size(), config.policy.prefixes.size(),
                   config.settings.interfaces.size());
      return 0;
    }
    // A client that hangs up mid-answer must not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    raise_open_files_limit();
    if (!netns.empty()) enter_netns(netns);
    // One thread runs the loop (the HTTP server relies on it): hint 1 lets
    // Asio skip waking other threads; posts from worker threads stay safe.
    boost::asio::io_context io(1);
    sluice::Daemon daemon(io, options);
    daemon.start();
    daemon.run();
    spdlog::info("sluiced stopped");
    return 0;
  } catch (const sluice::ConfigError& e) {
    spdlog::error("invalid configuration: {}", e.what());
    return kExitBadConfig;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitFailure;
  }
}
