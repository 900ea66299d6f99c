// Reading the YAML file's nodes with errors that name the file, the line and
// the field: scalars, booleans, bounded integers, mappings of known keys, and
// conversions whose std::invalid_argument becomes a ConfigError at the node.
// Shared by the main file's sections and the check: section.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "config_file.h"

namespace sluice {

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& field,
                         const std::string& message) const {
    int line = mark.is_null() ? 0 : mark.line + 1;
    int column = mark.is_null() ? 0 : mark.column + 1;
    throw ConfigError(file_, line, column, field, message);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& field,
                         const std::string& message) const {
    fail(node.Mark(), field, message);
  }

  std::string scalar(const YAML::Node& node, const std::string& field,
                     const std::string& expected) const {
    if (!node.IsScalar()) fail(node, field, "expected " + expected);
    return node.Scalar();
  }

  bool boolean(const YAML::Node& node, const std::string& field) const {
    std::string text = scalar(node, field, "true or false");
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail(node, field, "expected true or false, got '" + text + "'");
  }

  uint64_t integer(const YAML::Node& node, const std::string& field, uint64_t min,
                   uint64_t max) const {
    std::string expected = "a whole number in " + std::to_string(min) + ".." + std::to_string(max);
    std::string text = scalar(node, field, expected);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
      fail(node, field, "expected " + expected + ", got '" + text + "'");
    return value;
  }

  // A mapping whose keys are all in `allowed` (unless empty) and unique.
  void check_mapping(const YAML::Node& node, const std::string& field,
                     std::initializer_list<const char*> allowed,
                     const std::string& expected) const {
    if (!node.IsMap()) fail(node, field, "expected " + expected);
    std::set<std::string> seen;
    for (const auto& entry : node) {
      std::string key = scalar(entry.first, field, "a plain key");
      std::string where = field.empty() ? key : field + "." + key;
      if (!seen.insert(key).second) fail(entry.first, where, "is given twice");
      if (allowed.size() &&
          std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
        std::string names;
        for (const char* a : allowed) names += std::string(names.empty() ? "" : ", ") + a;
        fail(entry.first, where, "unknown field (expected one of: " + names + ")");
      }
    }
  }

  template <typename Fn>
  auto converting(const YAML::Node& node, const std::string& field, Fn&& fn) const {
    try {
      return fn();
    } catch (const std::invalid_argument& e) {
      fail(node, field, e.what());
    }
  }

  // A mapping of known, unique keys (the common case of check_mapping).
  void mapping(const YAML::Node& node, const std::string& field,
               std::initializer_list<const char*> allowed) const {
    check_mapping(node, field, allowed, "a mapping");
  }

  // The text of the file whose path `node` holds (keys, certificates).
  std::string file_contents(const YAML::Node& node, const std::string& field) const {
    std::string path = scalar(node, field, "a path");
    std::ifstream in(path);
    if (!in) fail(node, field, "cannot read '" + path + "'");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

}  // namespace sluice
