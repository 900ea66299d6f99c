#include "daemon_lab.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

CommandResult run_captured(const std::string& command) {
  char err_path[] = "/tmp/sluice-e2e-err-XXXXXX";
  int err_fd = ::mkstemp(err_path);
  if (err_fd < 0) throw std::runtime_error("mkstemp");
  ::close(err_fd);
  CommandResult result;
  std::string full = "(" + command + ") 2>" + err_path;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = read_file(err_path);
  ::unlink(err_path);
  return result;
}

DaemonLab::DaemonLab(const std::string& name, int subnet) : lab_(name, subnet) {
  dir_ = "/tmp/sluice-e2e-" + name;
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  config_path_ = dir_ + "/sluice.yaml";
  socket_path_ = dir_ + "/run/sluiced.sock";
  state_path_ = dir_ + "/lib/state.json";
  log_path_ = dir_ + "/sluiced.log";
  // Leftover pins of a crashed earlier run would be adopted: start clean.
  std::filesystem::remove_all(pin_dir());
}

DaemonLab::~DaemonLab() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (wait_exit(5s) < 0) {
      ::kill(pid_, SIGKILL);
      wait_exit(5s);
    }
  }
  // SIGTERM leaves the program enforcing: with the daemon gone the pinned link
  // is its last holder, so removing the pins detaches it.
  std::error_code ec;
  std::filesystem::remove_all(pin_dir(), ec);
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "---- sluiced log (%s) ----\n%s----\n", log_path_.c_str(), log().c_str());
  }
  std::filesystem::remove_all(dir_, ec);
}

std::string DaemonLab::pin_dir() const {
  // Pins are keyed by the daemon's namespace (netns.h): the rx namespace's inode.
  struct stat st {};
  if (::stat(("/run/netns/" + lab_.rx_ns()).c_str(), &st) != 0) return "/nonexistent";
  return "/sys/fs/bpf/sluice/net" + std::to_string(st.st_ino) + "/" + lab_.rx_if();
}

void DaemonLab::write_raw_config(const std::string& yaml) {
  std::ofstream(config_path_) << yaml;
}

std::string DaemonLab::config_text() const {
  return read_file(config_path_);
}

void DaemonLab::write_config(const std::string& policy_yaml, bool attach) {
  std::string yaml;
  yaml += attach ? "interfaces:\n  - name: " + lab_.rx_if() + "\n    mode: native\n"
                 : "interfaces: []\n";
  yaml += "control:\n  socket: " + socket_path_ + "\n";
  yaml += "state_file: " + state_path_ + "\n";
  yaml += "log_level: debug\n";
  yaml += "maps:\n  buckets: 65536\n";
  write_raw_config(yaml + policy_yaml);
}

pid_t DaemonLab::spawn(const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {binary_, "--config", config_path_, "--netns", lab_.rx_ns()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void DaemonLab::start(const std::vector<std::string>& extra_args,
                      std::chrono::milliseconds timeout) {
  if (pid_ > 0) throw std::logic_error("daemon already running");
  pid_ = spawn(extra_args);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("sluiced exited during start (status " + std::to_string(status) +
                               "):\n" + log());
    }
    if (::access(socket_path_.c_str(), F_OK) == 0 && ctl("status").exit_code == 0) return;
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("sluiced did not answer within the timeout:\n" + log());
}

int DaemonLab::start_expecting_exit(std::chrono::milliseconds timeout) {
  pid_ = spawn({});
  int code = wait_exit(timeout);
  if (code < 0) throw std::runtime_error("sluiced kept running:\n" + log());
  return code;
}

int DaemonLab::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (Clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

int DaemonLab::stop(int signal) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  return wait_exit(10s);
}

void DaemonLab::kill9() {
  stop(SIGKILL);
}

void DaemonLab::signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

bool DaemonLab::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string DaemonLab::log() const {
  return read_file(log_path_);
}

CommandResult DaemonLab::ctl(const std::string& args) const {
  return run_captured(std::string(SLUICECTL_BIN) + " --socket " + socket_path_ + " " + args);
}

nlohmann::json DaemonLab::ctl_json(const std::string& args) const {
  CommandResult result = ctl(args + " --json");
  EXPECT_EQ(result.exit_code, 0) << "sluicectl " << args << ": " << result.err;
  try {
    return nlohmann::json::parse(result.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "sluicectl " << args << " --json printed no JSON: " << e.what() << "\n"
                  << result.out;
    return nlohmann::json::object();
  }
}

}  // namespace sluice::testing
