// sluicectl against a real sluiced in a namespace lab: every command and its
// --json, bad input, persistence across restarts, reload, permissions, and
// hostile clients on the socket.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon_lab.h"
#include "fd.h"
#include "sluice_layout.h"

namespace sluice::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kPolicy = R"(default_tier: std
tiers:
  std:
    packets: {rate: 200/s, burst: 50}
  gold:
    packets: 5000/s
    bytes: 10MB/s
prefixes:
  198.18.0.0/16: gold
deny:
  - 198.19.99.0/24
)";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (netns, XDP)";
    lab_ = std::make_unique<DaemonLab>("sdcli", 221);
    lab_->write_config(kPolicy);
    lab_->start();
  }
  DaemonLab& lab() { return *lab_; }

  json find(const json& rows, const char* key, const std::string& value) {
    for (const auto& row : rows)
      if (row[key] == value) return row;
    return json();
  }

  std::unique_ptr<DaemonLab> lab_;
};

TEST_F(CliTest, StatusReportsTheAttachedInterface) {
  json status = lab().ctl_json("status");
  EXPECT_EQ(status["protocol"], 1);
  EXPECT_EQ(status["default_tier"], "std");
  EXPECT_EQ(status["counts"]["tiers"], 2);
  ASSERT_EQ(status["interfaces"].size(), 1u);
  EXPECT_EQ(status["interfaces"][0]["name"], lab().lab().rx_if());
  EXPECT_EQ(status["interfaces"][0]["mode"], "native");
  EXPECT_EQ(status["interfaces"][0]["adopted"], false);
  EXPECT_EQ(status["interfaces"][0]["bucket_capacity"], 65536);
  CommandResult table = lab().ctl("status");
  EXPECT_EQ(table.exit_code, 0);
  const std::string row = table.out.substr(table.out.find(lab().lab().rx_if()));
  EXPECT_EQ(row.substr(0, row.find('\n')).find("native"), 11u) << table.out;
  EXPECT_TRUE(std::filesystem::exists(lab().pin_dir() + "/v" +
                                      std::to_string(SLUICE_LAYOUT_VERSION) + "/link"));

  json stats = lab().ctl_json("stats --iface " + lab().lab().rx_if());
  EXPECT_EQ(stats["interfaces"], json::array({lab().lab().rx_if()}));
  EXPECT_EQ(stats["tiers"].size(), 2u);
  CommandResult missing = lab().ctl("stats --iface nosuch0");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nosuch0 is not attached"), std::string::npos) << missing.err;
}

TEST_F(CliTest, TierCommands) {
  json tiers = lab().ctl_json("tier list")["tiers"];
  ASSERT_EQ(tiers.size(), 2u);
  EXPECT_EQ(tiers[0]["name"], "std");
  EXPECT_EQ(tiers[0]["default"], true);
  EXPECT_EQ(tiers[0]["packets"]["tokens"], 200);
  EXPECT_EQ(tiers[0]["packets"]["burst"], 50);
  EXPECT_EQ(tiers[1]["bytes"]["text"], "10MB/s");
  EXPECT_EQ(tiers[1]["prefixes"], 1);

  json created = lab().ctl_json("tier set silver --packets 6000/min --syn 20/s --shadow");
  EXPECT_EQ(created["created"], true);
  EXPECT_EQ(created["packets"]["period_ns"], 60'000'000'000ULL);
  json changed = lab().ctl_json("tier set silver --packets-burst 300 --no-shadow");
  EXPECT_EQ(changed["created"], false);
  EXPECT_EQ(changed["packets"]["tokens"], 6000) << "a limit not given keeps its value";
  EXPECT_EQ(changed["packets"]["burst"], 300);
  EXPECT_EQ(changed["syn"]["tokens"], 20);
  EXPECT_EQ(changed["shadow"], false);

  json silver = find(lab().ctl_json("tier list")["tiers"], "name", "silver");
  EXPECT_EQ(silver["origin"], "live");
  CommandResult table = lab().ctl("tier list");
  EXPECT_NE(table.out.find("6000/min burst 300"), std::string::npos) << table.out;

  EXPECT_EQ(silver["algorithm"], "token_bucket") << "the default";
  // The packets/s algorithm: set live, shown in the list and the table. A
  // burst given with a window is refused, nothing set; a kept one is dropped.
  CommandResult refused = lab().ctl("tier set silver --algorithm fixed_window --packets-burst 5");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("burst does not apply to fixed_window"), std::string::npos)
      << refused.err;
  EXPECT_EQ(find(lab().ctl_json("tier list")["tiers"], "name", "silver")["algorithm"],
            "token_bucket");
  json window = lab().ctl_json("tier set silver --packets 100/s --algorithm sliding_window");
  EXPECT_EQ(window["algorithm"], "sliding_window") << window.dump();
  EXPECT_EQ(window["packets"]["burst"], 0) << "the kept burst does not apply to a window";
  table = lab().ctl("tier list");
  EXPECT_NE(table.out.find("sliding_window"), std::string::npos) << table.out;
  EXPECT_NE(lab().ctl("tier set silver --algorithm token-bucket").err.find("unknown algorithm"),
            std::string::npos);

  EXPECT_EQ(lab().ctl("tier delete silver").exit_code, 0);
  EXPECT_TRUE(find(lab().ctl_json("tier list")["tiers"], "name", "silver").is_null());
}

TEST_F(CliTest, PrefixAllowDenyCommands) {
  EXPECT_EQ(lab().ctl("prefix add 2001:db8:221::/48 gold").exit_code, 0);
  json prefixes = lab().ctl_json("prefix list")["prefixes"];
  ASSERT_EQ(prefixes.size(), 2u);
  EXPECT_EQ(find(prefixes, "cidr", "2001:db8:221::/48")["origin"], "live");
  EXPECT_EQ(find(prefixes, "cidr", "198.18.0.0/16")["origin"], "file");
  EXPECT_EQ(lab().ctl("prefix add 198.18.0.0/16 std --replace").exit_code, 0);
  EXPECT_EQ(find(lab().ctl_json("prefix list")["prefixes"], "cidr", "198.18.0.0/16")["tier"],
            "std");
  EXPECT_EQ(lab().ctl("prefix remove 198.18.0.0/16").exit_code, 0);
  EXPECT_EQ(lab().ctl_json("prefix list")["prefixes"].size(), 1u);

  EXPECT_EQ(lab().ctl("allow add 198.18.221.0/24").exit_code, 0);
  EXPECT_EQ(lab().ctl_json("allow list")["allow"][0]["cidr"], "198.18.221.0/24");
  EXPECT_EQ(lab().ctl("allow remove 198.18.221.0/24").exit_code, 0);
  EXPECT_TRUE(lab().ctl_json("allow list")["allow"].empty());

  EXPECT_EQ(lab().ctl("deny add 198.18.221.77 --ttl 1h").exit_code, 0);
  json deny = lab().ctl_json("deny list")["deny"];
  ASSERT_EQ(deny.size(), 2u);
  json temporary = find(deny, "cidr", "198.18.221.77/32");
  EXPECT_GT(temporary["expires_in_s"].get<uint64_t>(), 3590u);
  EXPECT_LE(temporary["expires_in_s"].get<uint64_t>(), 3600u);
  EXPECT_FALSE(find(deny, "cidr", "198.19.99.0/24").contains("expires_in_s"));
  EXPECT_EQ(lab().ctl("deny remove 198.19.99.0/24").exit_code, 0);
  EXPECT_EQ(lab().ctl_json("deny list")["deny"].size(), 1u);
}

TEST_F(CliTest, BadInputIsRefusedClearlyAndChangesNothing) {
  const json before_tiers = lab().ctl_json("tier list");
  const json before_prefixes = lab().ctl_json("prefix list");
  const json before_deny = lab().ctl_json("deny list");
  struct Case {
    std::string args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"prefix add 198.18.300.0/24 gold", "'198.18.300.0/24' is not a valid CIDR"},
      {"prefix add 198.18.1.1/24 gold", "host bits are set (did you mean 198.18.1.0/24?)"},
      {"prefix add 198.18.1.0/24 platinum", "tier 'platinum' does not exist"},
      {"prefix add 198.18.0.0/16 gold", "already assigned to tier 'gold'"},
      {"prefix remove 10.0.0.0/8", "not assigned to any tier"},
      {"tier set std --packets -5/s", "must not be negative"},
      {"tier set std --packets 0/s", "rate of zero"},
      {"tier set std --packets 1000G/s", "supported maximum of 10^11 per second"},
      {"tier set std --bytes 10Mb/s", "unknown unit 'Mb'"},
      {"tier set std --packets 100/fortnight", "unknown period 'fortnight'"},
      {"tier set " + std::string(64, 'x') + " --packets 5/s", "longer than 63 characters"},
      {"tier set 'bad name' --packets 5/s", "may only contain letters"},
      {"tier delete gold", "still used by 1 prefix (198.18.0.0/16)"},
      {"tier delete std", "is the default tier"},
      {"tier delete nope", "tier 'nope' does not exist"},
      {"deny add 198.19.99.0/24", "already on the deny list"},
      {"deny add 198.18.5.0/24 --ttl soon", "expected a duration"},
      {"allow remove 198.18.5.0/24", "not on the allow list"},
      {"attach ../../etc", "Linux does not allow"},
      {"attach nosuch0", "no such interface"},
      {"detach nosuch0", "nosuch0 is not attached"},
  };
  for (const auto& c : cases) {
    CommandResult result = lab().ctl(c.args);
    EXPECT_EQ(result.exit_code, 1) << c.args << ": " << result.err;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << c.args << " said: " << result.err;
  }
  EXPECT_EQ(lab().ctl_json("tier list"), before_tiers);
  EXPECT_EQ(lab().ctl_json("prefix list"), before_prefixes);
  EXPECT_EQ(lab().ctl_json("deny list"), before_deny);
  EXPECT_EQ(lab().ctl_json("status")["interfaces"].size(), 1u);

  // Usage errors are not the daemon's refusals.
  EXPECT_EQ(lab().ctl("tier frobnicate").exit_code, 2);
  EXPECT_EQ(lab().ctl("attach").exit_code, 2);
  EXPECT_EQ(lab().ctl("top --interval 5").exit_code, 2);
}

TEST_F(CliTest, EveryCommandHasHelpWithExamples) {
  for (const char* command : {"",           "status",        "tier",
                              "tier list",  "tier set",      "tier delete",
                              "prefix add", "prefix remove", "prefix list",
                              "allow add",  "allow remove",  "allow list",
                              "deny add",   "deny remove",   "deny list",
                              "stats",      "top",           "config validate",
                              "reload",     "attach",        "detach"}) {
    CommandResult help = run_captured(std::string(SLUICECTL_BIN) + " " + command + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.out.find("Example"), std::string::npos)
        << "sluicectl " << command << " --help:\n"
        << help.out;
  }
}

TEST_F(CliTest, LiveChangesSurviveARestart) {
  ASSERT_EQ(lab().ctl("tier set silver --packets 300/s").exit_code, 0);
  ASSERT_EQ(lab().ctl("prefix add 198.18.221.0/24 silver").exit_code, 0);
  ASSERT_EQ(lab().ctl("deny add 198.18.222.0/24 --ttl 1h").exit_code, 0);
  ASSERT_EQ(lab().ctl("allow add 2001:db8:221::/48").exit_code, 0);
  ASSERT_EQ(lab().ctl("deny remove 198.19.99.0/24").exit_code, 0);
  const json tiers = lab().ctl_json("tier list");
  const json prefixes = lab().ctl_json("prefix list");
  const json allow = lab().ctl_json("allow list");
  ASSERT_TRUE(std::filesystem::exists(lab().state_path()));

  EXPECT_EQ(lab().stop(SIGTERM), 0);
  EXPECT_TRUE(std::filesystem::exists(lab().pin_dir())) << "SIGTERM leaves the program enforcing";
  EXPECT_FALSE(std::filesystem::exists(lab().socket_path()));
  lab().start();
  EXPECT_EQ(lab().ctl_json("status")["interfaces"][0]["adopted"], true);
  EXPECT_EQ(lab().ctl_json("tier list"), tiers);
  EXPECT_EQ(lab().ctl_json("prefix list"), prefixes);
  EXPECT_EQ(lab().ctl_json("allow list"), allow);
  json deny = lab().ctl_json("deny list")["deny"];
  ASSERT_EQ(deny.size(), 1u) << deny.dump();
  EXPECT_EQ(deny[0]["cidr"], "198.18.222.0/24");
  EXPECT_GT(deny[0]["expires_in_s"].get<uint64_t>(), 3500u);
  EXPECT_EQ(lab().ctl_json("status")["live_changes"], true);

  // --discard-live-changes starts from the file alone.
  EXPECT_EQ(lab().stop(SIGTERM), 0);
  lab().start({"--discard-live-changes"});
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"].size(), 2u);
  EXPECT_EQ(lab().ctl_json("status")["live_changes"], false);
}

TEST_F(CliTest, ReloadValidAndInvalidFiles) {
  // Valid: a new rate and a new prefix, by sluicectl reload.
  lab().write_config(R"(default_tier: std
tiers:
  std:
    packets: {rate: 400/s, burst: 50}
  gold:
    packets: 5000/s
    bytes: 10MB/s
prefixes:
  198.18.0.0/16: gold
  2001:db8:221::/48: std
)");
  CommandResult reload = lab().ctl("reload");
  ASSERT_EQ(reload.exit_code, 0) << reload.err;
  json tiers = lab().ctl_json("tier list")["tiers"];
  EXPECT_EQ(tiers[0]["packets"]["tokens"], 400);
  EXPECT_EQ(lab().ctl_json("prefix list")["prefixes"].size(), 2u);
  EXPECT_TRUE(lab().ctl_json("deny list")["deny"].empty());
  const uint64_t generation = lab().ctl_json("status")["interfaces"][0]["generation"];

  // Invalid: refused with file, line and field; nothing changes.
  lab().write_config("default_tier: std\ntiers:\n  std:\n    packets: 400 per second\n");
  CommandResult bad = lab().ctl("reload");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(lab().config_path() + ":"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find(":13:14: tiers.std.packets: '400 per second'"), std::string::npos)
      << bad.err;
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"], tiers);
  EXPECT_EQ(lab().ctl_json("status")["interfaces"][0]["generation"], generation);

  // SIGHUP with the invalid file: logged, the daemon keeps running unchanged.
  lab().signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(lab().running());
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"], tiers);
  EXPECT_NE(lab().log().find("reload refused, running configuration unchanged"), std::string::npos);

  // SIGHUP with a valid file applies it.
  lab().write_config("default_tier: std\ntiers:\n  std:\n    packets: 123/s\n");
  lab().signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"][0]["packets"]["tokens"], 123);
}

TEST_F(CliTest, ReloadKeepsLiveChangesOrRefusesWhenTheyNoLongerFit) {
  ASSERT_EQ(lab().ctl("prefix add 198.18.221.0/24 gold").exit_code, 0);
  // The new file drops tier gold, which the live prefix still uses.
  lab().write_config("default_tier: std\ntiers:\n  std:\n    packets: 100/s\n");
  CommandResult refused = lab().ctl("reload");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("live changes made with sluicectl do not fit"), std::string::npos)
      << refused.err;
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"].size(), 2u);
  CommandResult discarded = lab().ctl("reload --discard-live-changes");
  ASSERT_EQ(discarded.exit_code, 0) << discarded.err;
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"].size(), 1u);
  EXPECT_TRUE(lab().ctl_json("prefix list")["prefixes"].empty());
}

TEST_F(CliTest, ConfigValidate) {
  CommandResult good =
      run_captured(std::string(SLUICECTL_BIN) + " config validate " + lab().config_path());
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.out.find("is valid: 2 tiers, 1 prefixes, 1 interfaces"), std::string::npos)
      << good.out;
  const std::string bad_path = lab().dir() + "/bad.yaml";
  std::ofstream(bad_path) << "tiers:\n  std:\n    packets: 100/s\nprefixes:\n  10.0.0.0/8: gold\n";
  CommandResult bad = run_captured(std::string(SLUICECTL_BIN) + " config validate " + bad_path);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(
      bad.err.find(bad_path + ":5:15: prefixes.10.0.0.0/8: prefix 10.0.0.0/8: unknown tier 'gold'"),
      std::string::npos)
      << bad.err;
  CommandResult as_json =
      run_captured(std::string(SLUICECTL_BIN) + " config validate --json " + bad_path);
  json doc = json::parse(as_json.out);
  EXPECT_EQ(doc["valid"], false);
  EXPECT_EQ(doc["line"], 5);
  EXPECT_EQ(doc["field"], "prefixes.10.0.0.0/8");
}

TEST_F(CliTest, NonRootUsersAreRefused) {
  ::chmod(lab().dir().c_str(), 0755);  // let them reach the socket; its own mode must stop them
  ::chmod((lab().dir() + "/run").c_str(), 0755);
  CommandResult result =
      run_captured("setpriv --reuid=65534 --regid=65534 --clear-groups " +
                   std::string(SLUICECTL_BIN) + " --socket " + lab().socket_path() + " status");
  EXPECT_EQ(result.exit_code, 4) << result.out << result.err;
  EXPECT_NE(result.err.find("permission denied"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("root-only"), std::string::npos) << result.err;
}

TEST_F(CliTest, UnreachableDaemonHasItsOwnExitCode) {
  CommandResult result =
      run_captured(std::string(SLUICECTL_BIN) + " --socket " + lab().dir() + "/nobody.sock status");
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_NE(result.err.find("sluiced is not running"), std::string::npos) << result.err;
}

// Raw clients on the daemon's socket: every abuse gets an error or is cut
// off, and the daemon keeps answering others meanwhile.
std::string raw_exchange(const std::string& path, const std::string& request, bool close_write,
                         std::chrono::milliseconds wait = 5s) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0)
    return "connect failed";
  std::thread sender([&] {
    size_t done = 0;
    while (done < request.size()) {
      ssize_t n = ::send(fd.get(), request.data() + done, request.size() - done, MSG_NOSIGNAL);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    if (close_write) ::shutdown(fd.get(), SHUT_WR);
  });
  struct timeval tv {
    static_cast<time_t>(wait.count() / 1000), 0
  };
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd.get(), buffer, sizeof(buffer), 0)) > 0)
    reply.append(buffer, static_cast<size_t>(n));
  ::shutdown(fd.get(), SHUT_RDWR);
  sender.join();
  return reply;
}

std::string error_code_of(const std::string& reply) {
  try {
    return json::parse(reply.substr(0, reply.find('\n')))["error"]["code"];
  } catch (...) {
    return "unparseable: " + reply;
  }
}

TEST_F(CliTest, HostileClientsOnTheSocket) {
  const std::string& path = lab().socket_path();
  EXPECT_EQ(error_code_of(raw_exchange(path, "this is not json\n", false)), "bad_request");
  EXPECT_EQ(error_code_of(raw_exchange(path, "{\"version\":1,\"command\":42}\n", false)),
            "bad_request");
  EXPECT_EQ(error_code_of(raw_exchange(path, "{\"version\":9,\"command\":\"status\"}\n", false)),
            "unsupported_version");
  EXPECT_EQ(
      error_code_of(raw_exchange(path, "{\"version\":1,\"command\":\"format_disk\"}\n", false)),
      "unknown_command");
  EXPECT_EQ(error_code_of(raw_exchange(
                path, "{\"version\":1,\"command\":\"tier.set\",\"args\":{\"name\":[1]}}\n", false)),
            "invalid_argument");
  EXPECT_EQ(error_code_of(raw_exchange(path, std::string(1 << 20, '{'), false)), "too_large");
  EXPECT_EQ(error_code_of(raw_exchange(path, std::string("\0\0\0\xff", 4) + "\n", false)),
            "bad_request");
  EXPECT_EQ(raw_exchange(path, "", true), "") << "a client that says nothing is simply closed";

  // A slow client is cut off after the request timeout, while others are served.
  std::string slow_reply;
  std::thread slow([&] { slow_reply = raw_exchange(path, "{\"version\":1,", false, 6s); });
  std::this_thread::sleep_for(200ms);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(lab().ctl("status").exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  slow.join();
  EXPECT_EQ(error_code_of(slow_reply), "timeout");

  ASSERT_TRUE(lab().running());
  EXPECT_EQ(lab().ctl_json("status")["counts"]["tiers"], 2);
}

TEST_F(CliTest, ASecondDaemonForTheSameInterfaceIsRefused) {
  // Same interface, its own socket and state file: without the interface lock
  // it would adopt the first daemon's pins and overwrite its policy.
  std::string second = lab().dir() + "/second.yaml";
  std::ofstream(second) << "interfaces: [" << lab().lab().rx_if()
                        << "]\ncontrol: {socket: " << lab().dir()
                        << "/second.sock}\nstate_file: " << lab().dir()
                        << "/second.json\nmetrics: {listen: \"127.0.0.1:9465\"}\n"
                        << "tiers:\n  other: {packets: 1/s}\n";
  CommandResult result = run_captured("timeout 10 " + std::string(SLUICED_BIN) + " --config " +
                                      second + " --netns " + lab().lab().rx_ns());
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find(lab().lab().rx_if() + " is managed by another sluiced (pid " +
                            std::to_string(lab().pid())),
            std::string::npos)
      << result.err;
  EXPECT_FALSE(std::filesystem::exists(lab().dir() + "/second.sock"));
  EXPECT_EQ(lab().ctl_json("tier list")["tiers"][0]["name"], "std")
      << "the first daemon's policy stands";
  EXPECT_EQ(lab().ctl_json("status")["interfaces"][0]["generation"], 1);
}

TEST(DaemonStart, InvalidConfigExitsNonZeroNamingTheLine) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  DaemonLab lab("sdbad", 222);
  lab.write_config(
      "default_tier: std\ntiers:\n  std:\n    packets: 100/s\nprefixes:\n  10.0.0.1/8: std\n");
  EXPECT_EQ(lab.start_expecting_exit(), 2);
  EXPECT_NE(
      lab.log().find(lab.config_path() + ":15:3: prefixes.10.0.0.1/8: '10.0.0.1/8' is not a valid "
                                         "CIDR: host bits are set (did you mean 10.0.0.0/8?)"),
      std::string::npos)
      << lab.log();
  EXPECT_FALSE(std::filesystem::exists(lab.pin_dir())) << "nothing attached";
}

}  // namespace
}  // namespace sluice::testing
