#include "control_protocol.h"

namespace sluice {
namespace {

using nlohmann::json;

json parse_json(std::string_view text, const char* what) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw ControlError(errc::kBadRequest, std::string(what) + " is not valid JSON: " + e.what());
  }
}

[[noreturn]] void bad_argument(const char* name, const std::string& expected) {
  throw ControlError(errc::kInvalidArgument,
                     "argument '" + std::string(name) + "' must be " + expected);
}

}  // namespace

Request parse_request(std::string_view text) {
  json doc = parse_json(text, "request");
  if (!doc.is_object()) throw ControlError(errc::kBadRequest, "request must be a JSON object");
  Request request;
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer())
    throw ControlError(errc::kBadRequest, "request needs an integer \"version\"");
  request.version = version->get<int>();
  if (request.version < kMinProtocolVersion || request.version > kProtocolVersion)
    throw ControlError(errc::kUnsupportedVersion,
                       "protocol version " + std::to_string(request.version) +
                           " is not supported; this daemon speaks versions " +
                           std::to_string(kMinProtocolVersion) + ".." +
                           std::to_string(kProtocolVersion));
  auto command = doc.find("command");
  if (command == doc.end() || !command->is_string() || command->get<std::string>().empty())
    throw ControlError(errc::kBadRequest, "request needs a string \"command\"");
  request.command = command->get<std::string>();
  auto args = doc.find("args");
  if (args != doc.end()) {
    if (!args->is_object()) throw ControlError(errc::kBadRequest, "\"args\" must be an object");
    request.args = *args;
  }
  return request;
}

std::string encode_request(const std::string& command, const json& args) {
  return json{{"version", kProtocolVersion}, {"command", command}, {"args", args}}.dump() + "\n";
}

std::string encode_ok(const json& result) {
  // Replace invalid UTF-8 (e.g. an interface name with odd bytes) instead of throwing.
  return json{{"version", kProtocolVersion}, {"ok", true}, {"result", result}}.dump(
             -1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

std::string encode_error(const std::string& code, const std::string& message) {
  return json{{"version", kProtocolVersion},
              {"ok", false},
              {"error", {{"code", code}, {"message", message}}}}
             .dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

Response parse_response(std::string_view text) {
  json doc = parse_json(text, "response");
  Response response;
  if (!doc.is_object() || !doc.contains("ok") || !doc["ok"].is_boolean())
    throw ControlError(errc::kBadRequest, "response is not a sluiced response");
  response.ok = doc["ok"].get<bool>();
  if (response.ok) {
    response.result = doc.value("result", json::object());
  } else {
    const json error = doc.value("error", json::object());
    response.error_code = error.value("code", std::string(errc::kInternal));
    response.error_message = error.value("message", std::string("(no message)"));
  }
  return response;
}

std::string string_arg(const json& args, const char* name) {
  auto value = optional_string_arg(args, name);
  if (!value)
    throw ControlError(errc::kInvalidArgument, "argument '" + std::string(name) + "' is required");
  return *value;
}

std::optional<std::string> optional_string_arg(const json& args, const char* name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) bad_argument(name, "a string");
  return it->get<std::string>();
}

std::optional<bool> optional_bool_arg(const json& args, const char* name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) bad_argument(name, "true or false");
  return it->get<bool>();
}

std::optional<uint64_t> optional_uint_arg(const json& args, const char* name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_unsigned()) bad_argument(name, "a non-negative integer");
  return it->get<uint64_t>();
}

}  // namespace sluice
