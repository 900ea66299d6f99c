// Writing header fields and numbers into a preformatted header block
// (HttpResponse::fields) without temporaries: the check API answers every
// request nginx serves, so its headers are appended in place.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

// Appends the decimal digits of `n`.
inline void append_number(std::string& out, uint64_t n) {
  char digits[20];
  auto end = std::to_chars(digits, digits + sizeof(digits), n).ptr;
  out.append(digits, static_cast<size_t>(end - digits));
}

// Appends "name: value\r\n". The caller vouches that neither holds CR or LF.
inline void append_field(std::string& fields, std::string_view name, std::string_view value) {
  fields.append(name).append(": ").append(value).append("\r\n");
}

inline void append_field(std::string& fields, std::string_view name, uint64_t value) {
  fields.append(name).append(": ");
  append_number(fields, value);
  fields.append("\r\n");
}

// The lines of a header block as (name, value) pairs, for callers (and tests)
// that want the fields one by one.
inline std::vector<std::pair<std::string, std::string>> split_fields(std::string_view fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t at = 0; at < fields.size();) {
    const size_t colon = fields.find(": ", at), end = fields.find("\r\n", at);
    if (colon == std::string_view::npos || end == std::string_view::npos || colon > end) break;
    out.emplace_back(fields.substr(at, colon - at), fields.substr(colon + 2, end - colon - 2));
    at = end + 2;
  }
  return out;
}

}  // namespace sluice
