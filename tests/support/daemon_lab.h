// A real sluiced in a namespace lab, for end-to-end tests: a veth pair
// (VethLab), a scratch directory with the config, socket and state file, the
// daemon attached to the rx side, and sluicectl to drive it. Everything is
// removed on destruction, also when a test fails: the daemon is stopped, the
// pins of the lab interface are removed (which detaches the program), the namespaces deleted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lab.h"

namespace sluice::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a shell command, capturing stdout and stderr separately.
CommandResult run_captured(const std::string& command);

class DaemonLab {
 public:
  DaemonLab(const std::string& name, int subnet);
  ~DaemonLab();
  DaemonLab(const DaemonLab&) = delete;
  DaemonLab& operator=(const DaemonLab&) = delete;

  VethLab& lab() { return lab_; }
  const std::string& dir() const { return dir_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& state_path() const { return state_path_; }
  std::string pin_dir() const;

  // Writes the config: the daemon settings of this lab (the rx interface
  // unless `attach` is false, socket, state file) followed by `policy_yaml`.
  void write_config(const std::string& policy_yaml, bool attach = true);
  void write_raw_config(const std::string& yaml);
  std::string config_text() const;
  // The sluiced executable the next start() runs (an upgrade test starts another build's).
  void use_binary(const std::string& path) { binary_ = path; }

  // Starts sluiced and waits until it answers `status`; throws with its log
  // when it exits or does not answer within `timeout`.
  void start(const std::vector<std::string>& extra_args = {},
             std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Starts sluiced expecting it to fail; returns its exit code.
  int start_expecting_exit(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends `signal` and waits for the exit; returns the exit code (or 128 + signal).
  int stop(int signal = 15);
  void kill9();
  void signal(int signal);
  bool running();
  pid_t pid() const { return pid_; }
  std::string log() const;

  // sluicectl with this lab's socket; `args` are shell words.
  CommandResult ctl(const std::string& args) const;
  // sluicectl ... --json; fails the test unless it exits 0 with valid JSON.
  nlohmann::json ctl_json(const std::string& args) const;

 private:
  pid_t spawn(const std::vector<std::string>& extra_args);
  int wait_exit(std::chrono::milliseconds timeout);

  VethLab lab_;
  std::string dir_, config_path_, socket_path_, state_path_, log_path_;
  std::string binary_ = SLUICED_BIN;
  pid_t pid_ = -1;
};

}  // namespace sluice::testing
