// Endpoint patterns ("GET /users/*") and the path normalisation that runs
// before any pattern sees a path, so that no spelling of a URI can slip past
// the rule that names it: /users/%2e%2e/payments, //payments and /payments/.
// all reach the backend as /payments, so they are matched as /payments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Why a request target was refused.
struct PathRefusal {
  std::string reason;
};

// Normalises the path of a request target (query and fragment dropped):
// percent-encoded unreserved characters are decoded, other escapes kept in
// upper case; "//" collapses; "." and ".." segments are resolved; a trailing
// "/" is dropped. Refuses (returns the reason) an encoded '/' or '\' (%2F,
// %5C), a raw '\', control characters, a malformed escape, a ".." above the
// root, and anything not starting with '/'.
struct NormalizedPath {
  std::optional<std::string> path;
  PathRefusal refusal;
  explicit operator bool() const { return path.has_value(); }
};
NormalizedPath normalize_path(std::string_view target);

// One endpoint pattern: a method ("GET", or "*" for any) and a path of
// literal segments, "*" (exactly one segment) and a final "**" (any rest,
// also none). A HEAD request matches GET patterns: backends answer HEAD as GET.
class EndpointPattern {
 public:
  // Parses "GET /users/*"; throws std::invalid_argument naming the problem.
  static EndpointPattern parse(std::string_view text);

  // `path` must come from normalize_path; `method` as sent (upper case).
  bool matches(std::string_view method, std::string_view path) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string method_;
  std::vector<std::string> segments_;
};

}  // namespace sluice
