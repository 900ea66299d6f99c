// The `rls:` section of Sluice's configuration file: where Envoy's rate-limit
// service listens and the envoyproxy/ratelimit files it serves.
//
//   rls:
//     listen: 127.0.0.1:8081
//     config: /etc/sluice/ratelimit.yaml   # or a list of files, one domain each
#pragma once

#include <string>
#include <vector>

#include "rls_config.h"

namespace sluice {

struct RlsSettings {
  bool enabled = false;  // an `rls:` section is present
  std::string listen = "127.0.0.1:8081";
  std::vector<std::string> config_files;
  std::vector<RlsDomain> domains;  // read and validated from config_files
  bool operator==(const RlsSettings&) const = default;
};

}  // namespace sluice
