// A plain HTTP/1.0 GET from inside a network namespace, for tests that scrape
// a daemon running in a lab.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::testing {

// GET `path` from 127.0.0.1:`port` inside `netns`; returns the whole response
// (status line, headers and body), or "" when nothing listens there.
std::string http_get(const std::string& netns, uint16_t port, const std::string& path);

// The body of a response http_get returned.
std::string http_body(const std::string& response);

}  // namespace sluice::testing
