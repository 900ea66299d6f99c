// An HTTP answer as `curl -s -i` prints it, for tests that talk to a real
// nginx through curl (HTTP/1.1 or HTTP/2 status lines).
#pragma once

#include <map>
#include <string>

namespace sluice::testing {

struct HttpAnswer {
  int status = 0;                              // 0: no answer at all
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The header's value, or "" when absent.
  std::string header(const std::string& lower_case_name) const;
};

// Parses curl -i output; with several responses (a redirect followed, an
// interim 100), the last one.
HttpAnswer parse_http_answer(const std::string& text);

}  // namespace sluice::testing
