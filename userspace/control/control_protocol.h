// The control protocol between sluicectl (or any script) and sluiced: one JSON
// document per line over a unix stream socket, one request per connection.
//
//   request:  {"version": 1, "command": "tier.set", "args": {"name": "gold", ...}}
//   response: {"version": 1, "ok": true, "result": {...}}
//             {"version": 1, "ok": false, "error": {"code": "not_found", "message": "..."}}
//
// Versioning (docs/control-protocol.md): additive changes (new commands, new
// optional arguments, new result fields) keep the version; readers ignore
// fields they do not know. Anything else bumps kProtocolVersion, and the
// daemon answers requests of a version it does not speak with
// "unsupported_version" naming the versions it does.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice {

inline constexpr int kProtocolVersion = 1;
inline constexpr int kMinProtocolVersion = 1;
// A request is a small command; anything larger is refused unread.
inline constexpr size_t kMaxRequestBytes = 64 * 1024;
// Responses can list many sources or prefixes, but not without bound.
inline constexpr size_t kMaxResponseBytes = 64 * 1024 * 1024;
// A client has this long to send its whole request, and to read the answer.
inline constexpr std::chrono::milliseconds kRequestTimeout{2000};
inline constexpr std::chrono::milliseconds kResponseTimeout{5000};

// Error codes, stable strings that scripts can match.
namespace errc {
inline constexpr const char* kBadRequest = "bad_request";  // not JSON, wrong shape
inline constexpr const char* kUnsupportedVersion = "unsupported_version";
inline constexpr const char* kUnknownCommand = "unknown_command";
inline constexpr const char* kInvalidArgument = "invalid_argument";  // bad CIDR, rate, name
inline constexpr const char* kNotFound = "not_found";
inline constexpr const char* kConflict = "conflict";  // duplicate, tier in use
inline constexpr const char* kPermissionDenied = "permission_denied";
inline constexpr const char* kTooLarge = "too_large";
inline constexpr const char* kTimeout = "timeout";
inline constexpr const char* kBusy = "busy";
inline constexpr const char* kFailed = "failed";  // the system refused (e.g. attach failed)
inline constexpr const char* kInternal = "internal";
}  // namespace errc

// A request that cannot be served; `code` is one of errc.
class ControlError : public std::runtime_error {
 public:
  ControlError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

struct Request {
  int version = kProtocolVersion;
  std::string command;
  nlohmann::json args = nlohmann::json::object();
};

// Parses one request line; throws ControlError (bad_request, unsupported_version).
Request parse_request(std::string_view text);
std::string encode_request(const std::string& command, const nlohmann::json& args);

struct Response {
  bool ok = false;
  nlohmann::json result;
  std::string error_code;
  std::string error_message;
};

std::string encode_ok(const nlohmann::json& result);
std::string encode_error(const std::string& code, const std::string& message);
// Parses one response line; throws ControlError(bad_request) when it is not one.
Response parse_response(std::string_view text);

// Argument access for command handlers, with errors that name the argument.
std::string string_arg(const nlohmann::json& args, const char* name);
std::optional<std::string> optional_string_arg(const nlohmann::json& args, const char* name);
std::optional<bool> optional_bool_arg(const nlohmann::json& args, const char* name);
std::optional<uint64_t> optional_uint_arg(const nlohmann::json& args, const char* name);

}  // namespace sluice
