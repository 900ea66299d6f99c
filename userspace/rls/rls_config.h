// envoyproxy/ratelimit's configuration file, as its users already write it:
//
//   domain: messaging
//   descriptors:
//     - key: message_type
//       value: marketing
//       descriptors:
//         - key: to_number
//           rate_limit: {unit: day, requests_per_unit: 5, name: marketing}
//     - key: to_number
//       rate_limit: {unit: day, requests_per_unit: 100}
//
// Every field of that format is read; what Sluice does not implement
// (detailed_metric, units longer than a day, unknown fields) is refused by
// name with the file and line, never ignored. docs/rls.md has the mapping.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice {

enum class RlsUnit { kSecond = 1, kMinute = 2, kHour = 3, kDay = 4 };  // values as Envoy's enum

uint64_t rls_unit_ns(RlsUnit unit);
const char* to_string(RlsUnit unit);

struct RlsRateLimit {
  bool unlimited = false;
  uint32_t requests_per_unit = 0;  // 0 with a unit: every request is over the limit
  RlsUnit unit = RlsUnit::kSecond;
  std::string name;                   // "" : none; what `replaces` refers to
  std::vector<std::string> replaces;  // names of limits this one replaces
  bool operator==(const RlsRateLimit&) const = default;
};

struct RlsDescriptor {
  std::string key;
  std::string value;  // "" : any value (each value its own bucket); "abc*": values starting abc
  std::optional<RlsRateLimit> rate_limit;
  bool shadow_mode = false;
  std::vector<RlsDescriptor> descriptors;  // nested: the request's next entry
  bool operator==(const RlsDescriptor&) const = default;
};

struct RlsDomain {
  std::string domain;
  std::string file;  // where it was read
  std::vector<RlsDescriptor> descriptors;
  bool operator==(const RlsDomain&) const = default;
};

// A file that is not a valid ratelimit configuration: where and which field.
class RlsConfigError : public std::runtime_error {
 public:
  RlsConfigError(std::string file, int line, int column, std::string field, std::string reason);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& field() const { return field_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_, field_, reason_;
  int line_, column_;
};

// Parses and validates one domain's YAML text; `file` names it in errors.
RlsDomain parse_ratelimit_config(const std::string& yaml_text, const std::string& file);
// Reads and validates a file; throws RlsConfigError (also when it cannot be read).
RlsDomain load_ratelimit_file(const std::string& path);

}  // namespace sluice
