#include "command.h"

#include <iostream>

#include "control_client.h"

namespace sluice::ctl {

using nlohmann::json;

json ask(const Globals& globals, const std::string& command, const json& args,
         std::chrono::milliseconds extra) {
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(globals.timeout_s * 1000)) + extra;
  Response response;
  try {
    response = call_daemon(globals.socket, command, args, timeout);
  } catch (const ClientError& e) {
    throw Failure(e.kind() == ClientError::Kind::kPermission ? kExitPermission : kExitUnreachable,
                  e.what());
  }
  if (!response.ok) {
    int code = response.error_code == errc::kPermissionDenied ? kExitPermission
               : response.error_code == errc::kInternal ||
                       response.error_code == errc::kBadRequest ||
                       response.error_code == errc::kUnsupportedVersion
                   ? kExitUnreachable
                   : kExitRefused;
    throw Failure(code, response.error_message + " [" + response.error_code + "]");
  }
  return response.result;
}

int ask_and_show(const Globals& globals, const std::string& command, const json& args,
                 const Show& show, std::chrono::milliseconds extra) {
  json result = ask(globals, command, args, extra);
  if (globals.json_output)
    std::cout << result.dump(2) << "\n";
  else if (show)
    show(result, std::cout);
  return kExitOk;
}

Show said(std::string text) {
  return [text = std::move(text)](const json&, std::ostream& out) { out << text << "\n"; };
}

}  // namespace sluice::ctl
