// The `check:` section of the configuration file: where the check API
// listens, how credentials arrive, where keys are kept, and the limits.
#pragma once

#include <string>

#include "checker.h"

namespace sluice {

struct CheckSettings {
  bool enabled = false;                   // a `check:` section is present
  std::string listen = "127.0.0.1:9465";  // loopback host:port for nginx auth_request; "": none
  // A unix socket path as well (nginx: proxy_pass http://unix:/path:/v1/check);
  // "": none. At least one of the two listens.
  std::string socket;
  std::string key_header = "x-api-key";  // lower case, as HttpRequest keeps names
  std::string keys_file = "/var/lib/sluice/keys.json";
  std::string pepper_file = "/var/lib/sluice/key-pepper";
  // The request buckets across restarts (request_state.h); saved every second.
  std::string state_file = "/var/lib/sluice/request-state.bin";
  CheckerConfig checker;
  bool operator==(const CheckSettings&) const = default;
};

}  // namespace sluice
