#include "path_pattern.h"

#include <algorithm>
#include <stdexcept>

namespace sluice {
namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split_segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < path.size()) {
    size_t end = path.find('/', at);
    if (end == std::string_view::npos) end = path.size();
    if (end > at) out.push_back(path.substr(at, end - at));  // empty segments: "//" collapses
    at = end + 1;
  }
  return out;
}

NormalizedPath refuse(std::string reason) {
  return NormalizedPath{std::nullopt, {std::move(reason)}};
}

bool is_method_token(std::string_view method) {
  if (method.empty() || method.size() > 16) return false;
  for (char c : method)
    if (c < 'A' || c > 'Z') return false;
  return true;
}

}  // namespace

NormalizedPath normalize_path(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target.front() != '/') return refuse("the path must start with '/'");

  // 1. Decode what may be decoded; keep the rest as canonical escapes.
  std::string decoded;
  decoded.reserve(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(target[i]);
    if (c < 0x20 || c == 0x7f) return refuse("control character in the path");
    if (c == '\\') return refuse("backslash in the path");
    if (c != '%') {
      decoded += static_cast<char>(c);
      continue;
    }
    if (i + 2 >= target.size()) return refuse("truncated percent escape");
    int high = hex_value(target[i + 1]), low = hex_value(target[i + 2]);
    if (high < 0 || low < 0) return refuse("malformed percent escape");
    unsigned char byte = static_cast<unsigned char>(high * 16 + low);
    if (byte == '/' || byte == '\\') return refuse("encoded slash or backslash in the path");
    if (byte < 0x20 || byte == 0x7f) return refuse("encoded control character in the path");
    if (is_unreserved(byte)) {
      decoded += static_cast<char>(byte);
    } else {
      static const char* kHex = "0123456789ABCDEF";
      decoded += '%';
      decoded += kHex[byte >> 4];
      decoded += kHex[byte & 15];
    }
    i += 2;
  }

  // 2. Resolve dot segments on the decoded form (so %2e%2e is "..").
  std::vector<std::string_view> out;
  for (auto segment : split_segments(decoded)) {
    if (segment == ".") continue;
    if (segment == "..") {
      if (out.empty()) return refuse("'..' above the root");
      out.pop_back();
      continue;
    }
    out.push_back(segment);
  }
  // Built with append() into a reserved string: GCC 12 at -O3 reports a false
  // -Wrestrict (bug 105651) for `path = "/"` on a string grown by +=.
  size_t length = 0;
  for (auto segment : out) length += 1 + segment.size();
  std::string path;
  path.reserve(std::max<size_t>(length, 1));
  for (auto segment : out) path.append(1, '/').append(segment);
  if (out.empty()) path.append(1, '/');
  return NormalizedPath{path, {}};
}

EndpointPattern EndpointPattern::parse(std::string_view text) {
  EndpointPattern pattern;
  pattern.text_ = std::string(text);
  size_t space = text.find(' ');
  if (space == std::string_view::npos)
    throw std::invalid_argument("expected 'METHOD /path', e.g. 'GET /users/*', got '" +
                                std::string(text) + "'");
  std::string_view method = text.substr(0, space);
  std::string_view path = text.substr(space + 1);
  if (method != "*" && !is_method_token(method))
    throw std::invalid_argument("method '" + std::string(method) +
                                "' must be upper-case letters (GET, POST) or '*'");
  if (path.empty() || path.front() != '/')
    throw std::invalid_argument("path pattern '" + std::string(path) + "' must start with '/'");
  pattern.method_ = std::string(method);
  // Patterns are written in the normalised form they are matched against.
  for (auto segment : split_segments(path)) {
    if (segment == "." || segment == ".." || segment.find_first_of("%\\?# ") != std::string::npos)
      throw std::invalid_argument("path pattern '" + std::string(path) +
                                  "' must be a plain normalised path (no '.', '..', '%', '?', "
                                  "'#', '\\' or spaces)");
    if (segment.find('*') != std::string_view::npos && segment != "*" && segment != "**")
      throw std::invalid_argument("'*' must be a whole segment in '" + std::string(path) + "'");
    pattern.segments_.emplace_back(segment);
  }
  for (size_t i = 0; i + 1 < pattern.segments_.size(); ++i)
    if (pattern.segments_[i] == "**")
      throw std::invalid_argument("'**' may only end a pattern: '" + std::string(path) + "'");
  return pattern;
}

bool EndpointPattern::matches(std::string_view method, std::string_view path) const {
  if (method_ != "*" && method != method_ && !(method == "HEAD" && method_ == "GET")) return false;
  auto segments = split_segments(path);
  size_t i = 0;
  for (; i < segments_.size(); ++i) {
    if (segments_[i] == "**") return true;
    if (i >= segments.size()) return false;
    if (segments_[i] != "*" && segments_[i] != segments[i]) return false;
  }
  return i == segments.size();
}

}  // namespace sluice
