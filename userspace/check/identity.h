// Who a request is, in the order: an API key header, else a bearer
// JWT, else the client address (from the proxy's header, believed only when
// the connection comes from a trusted proxy).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api_keys.h"
#include "check_policy.h"
#include "cidr.h"
#include "jwt_verifier.h"

namespace sluice {

// The question nginx asks, reduced to what the request layer needs.
struct CheckRequest {
  std::string method;                        // X-Original-Method
  std::string uri;                           // X-Original-URI
  std::optional<std::string> api_key;        // the key header, when sent
  std::optional<std::string> authorization;  // Authorization, when sent
  std::string real_ip;                       // X-Real-IP
  std::string forwarded_for;                 // X-Forwarded-For
  std::string peer;  // address of the connection; "" for a local unix socket
};

struct Identity {
  enum class Kind { kKey, kJwt, kAddress };
  Kind kind = Kind::kAddress;
  std::string client;   // bucket owner: "key:k_…", "jwt:<sub>", "addr:<ip>"
  std::string tier;     // "" for anonymous clients
  std::string key_id;   // for keys
  std::string address;  // the client's address ("" when not known; /64 for IPv6)
};

struct IdentityRefusal {
  int status = 401;  // 401: bad or missing credential; 400: malformed request
  std::string reason;
};

struct IdentitySources {
  const ApiKeyStore* keys = nullptr;
  const JwtVerifier* jwt = nullptr;  // nullptr: JWTs are not accepted
  const CompiledCheckPolicy* policy = nullptr;
  const std::vector<Cidr>* trusted_proxies = nullptr;
};

std::variant<Identity, IdentityRefusal> resolve_identity(const CheckRequest& request,
                                                         const IdentitySources& sources,
                                                         uint64_t now_unix);

// The client address a request carries: X-Real-IP (or the last X-Forwarded-For
// entry) when the connection comes from a trusted proxy or a unix socket, else
// the peer; 400 when there is none or it is not an address.
std::variant<std::string, IdentityRefusal> forwarded_address(const CheckRequest& request,
                                                             const std::vector<Cidr>& proxies);

// "198.18.0.1" as itself, IPv6 aggregated to its /64 ("2001:db8:1:2::/64"),
// IPv4-mapped IPv6 as IPv4; nullopt when not an address.
std::optional<std::string> client_address(std::string_view text);
bool cidr_contains(const Cidr& cidr, const Cidr& host);

}  // namespace sluice
