// What shadow limits would have refused, logged without letting a flood fill
// the log: the first refusal of a rule is logged at once, then at most one
// line per rule per interval carrying how many refusals it stands for.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace sluice {

class ShadowLog {
 public:
  explicit ShadowLog(uint64_t interval_ns) : interval_ns_(interval_ns) {}

  // A shadow limit `rule` would have refused `client` at `now_ns`.
  void note(const std::string& rule, const std::string& client, uint64_t now_ns);
  // Logs the refusals still held back whose interval is over (called
  // periodically, so that the end of a flood is logged too).
  void flush(uint64_t now_ns);
  void set_interval(uint64_t interval_ns);
  // Lines written since start (for tests and metrics).
  uint64_t lines() const;

 private:
  struct Rule {
    uint64_t held = 0;         // refusals since the last line
    std::string last_client;   // the latest of them
    uint64_t quiet_until = 0;  // no line before this
  };
  void write(const std::string& rule, Rule& state, uint64_t now_ns);

  uint64_t interval_ns_;
  mutable std::mutex mutex_;
  std::map<std::string, Rule> rules_;  // one per shadow rule: bounded by the policy
  uint64_t lines_ = 0;
};

}  // namespace sluice
