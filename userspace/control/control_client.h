// The client end of the control socket, for sluicectl and tests: blocking,
// with a deadline, and errors that tell an operator what to do.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "control_protocol.h"

namespace sluice {

// The daemon could not be asked at all.
class ClientError : public std::runtime_error {
 public:
  enum class Kind { kUnreachable, kPermission, kTimeout, kProtocol };
  ClientError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// Sends one request and returns the daemon's response (which may be an
// error response); throws ClientError when no response could be had.
Response call_daemon(const std::string& socket_path, const std::string& command,
                     const nlohmann::json& args, std::chrono::milliseconds timeout);

}  // namespace sluice
