#include "config_limits.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "sluice_layout.h"

namespace sluice {
namespace {

struct Limit {
  const char* key;
  bool is_map;
  uint64_t max;
  const char* message;
};

// The top-level collections that go into bounded kernel maps. Each message
// matches the one compile_policy gives for the same excess.
const Limit kLimits[] = {
    {"tiers", true, SLUICE_MAX_TIERS, "too many tiers: at most " /* n */},
    {"prefixes", true, SLUICE_MAX_PREFIX_ENTRIES, "too many prefixes: at most "},
    {"allow", false, SLUICE_MAX_LIST_ENTRIES, "too many entries: at most "},
    {"deny", false, SLUICE_MAX_LIST_ENTRIES, "too many entries: at most "},
};

struct Breach {
  LimitBreach what;
};

class LimitScanner : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, ""); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, ""); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    node(mark, value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    open(mark, false);
  }
  void OnSequenceEnd() override { stack_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    open(mark, true);
  }
  void OnMapEnd() override { stack_.pop_back(); }

 private:
  struct Frame {
    bool is_map = false;
    bool at_key = true;  // in a map: the next node is a key
    std::string key;     // in a map: the last key seen
    uint64_t entries = 0;
    const Limit* limit = nullptr;
  };

  // Counts a node in its parent; returns the top-level key it is the value
  // of, or "" when it is anything else.
  std::string node(const YAML::Mark& mark, const std::string& scalar) {
    if (stack_.empty()) return "";
    Frame& parent = stack_.back();
    const bool is_entry = !parent.is_map || parent.at_key;
    if (is_entry && parent.limit && ++parent.entries > parent.limit->max)
      throw Breach{
          {mark, parent.limit->key,
           parent.limit->message + std::to_string(parent.limit->max) +
               (parent.limit->key == std::string("tiers") ? " can exist" : " are allowed")}};
    if (!parent.is_map) return "";
    std::string value_of;
    if (parent.at_key) {
      parent.key = scalar;
    } else if (stack_.size() == 1) {
      value_of = parent.key;
    }
    parent.at_key = !parent.at_key;
    return value_of;
  }

  void open(const YAML::Mark& mark, bool is_map) {
    const std::string key = node(mark, "");
    Frame frame;
    frame.is_map = is_map;
    for (const auto& limit : kLimits)
      if (key == limit.key && is_map == limit.is_map) frame.limit = &limit;
    stack_.push_back(frame);
  }

  std::vector<Frame> stack_;
};

}  // namespace

std::optional<LimitBreach> find_limit_breach(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  LimitScanner scanner;
  try {
    parser.HandleNextDocument(scanner);
  } catch (const Breach& breach) {
    return breach.what;
  }
  return std::nullopt;
}

int line_of_offset(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 +
         static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
}

}  // namespace sluice
