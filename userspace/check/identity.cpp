#include "identity.h"

#include <boost/asio/ip/address.hpp>

namespace sluice {
namespace {

bool has_control_character(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::variant<Identity, IdentityRefusal> tiered(Identity identity, const std::string& tier,
                                               const CompiledCheckPolicy& policy) {
  identity.tier = tier.empty() ? policy.default_tier : tier;
  if (identity.tier.empty() || !policy.has_tier(identity.tier))
    return IdentityRefusal{401, "credential names tier '" + identity.tier +
                                    "', which has no request limits configured"};
  return identity;
}

// The peer as a host prefix, IPv4-mapped IPv6 as IPv4.
std::optional<Cidr> host_cidr(std::string_view text) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(trim(text)), ec);
  if (ec) return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  try {
    return Cidr::parse(address.to_string());
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

}  // namespace

bool cidr_contains(const Cidr& cidr, const Cidr& host) {
  if (cidr.family != host.family) return false;
  uint32_t bits = cidr.prefix_len;
  for (size_t i = 0; bits > 0; ++i, bits = bits >= 8 ? bits - 8 : 0) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((cidr.addr[i] & mask) != (host.addr[i] & mask)) return false;
  }
  return true;
}

std::optional<std::string> client_address(std::string_view text) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(trim(text)), ec);
  if (ec) return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  if (address.is_v4()) return address.to_string();
  auto bytes = address.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);  // /64, as the kernel layer aggregates
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

std::variant<std::string, IdentityRefusal> forwarded_address(const CheckRequest& request,
                                                             const std::vector<Cidr>& proxies) {
  // Anonymous: the address the proxy saw, if the proxy is one we trust.
  bool trusted = request.peer.empty();  // a unix socket: only local processes reach it
  if (!trusted) {
    auto peer = host_cidr(request.peer);
    if (!peer) return IdentityRefusal{400, "unknown peer address"};
    for (const auto& cidr : proxies)
      if (cidr_contains(cidr, *peer)) trusted = true;
  }
  std::string_view claimed = request.real_ip;
  if (claimed.empty() && !request.forwarded_for.empty()) {
    // The trusted proxy appends the address it saw: the last entry.
    std::string_view list = request.forwarded_for;
    auto comma = list.rfind(',');
    claimed = comma == std::string_view::npos ? list : list.substr(comma + 1);
  }
  std::string_view source = trusted && !claimed.empty() ? claimed : std::string_view(request.peer);
  if (source.empty()) return IdentityRefusal{400, "no client address (X-Real-IP) was forwarded"};
  auto address = client_address(source);
  if (!address) return IdentityRefusal{400, "the client address is not an IP address"};
  return *address;
}

namespace {
// A credential's client address, when the request carries one we can believe
// ("" otherwise): informative only (the usage API's kernel layer), never a bucket key.
std::string known_address(const CheckRequest& request, const std::vector<Cidr>& proxies) {
  auto address = forwarded_address(request, proxies);
  auto* text = std::get_if<std::string>(&address);
  return text ? *text : "";
}
}  // namespace

std::variant<Identity, IdentityRefusal> resolve_identity(const CheckRequest& request,
                                                         const IdentitySources& sources,
                                                         uint64_t now_unix) {
  const CompiledCheckPolicy& policy = *sources.policy;
  if (request.api_key) {
    const std::string& key = *request.api_key;
    if (has_control_character(key)) return IdentityRefusal{400, "control character in the API key"};
    if (!is_well_formed_key(key)) return IdentityRefusal{401, "malformed API key"};
    auto record = sources.keys->find(key);
    if (!record) return IdentityRefusal{401, "unknown or revoked API key"};
    Identity identity{Identity::Kind::kKey, "key:" + record->id, "", record->id,
                      known_address(request, *sources.trusted_proxies)};
    return tiered(identity, record->tier, policy);
  }
  if (request.authorization) {
    std::string_view value = trim(*request.authorization);
    if (has_control_character(value))
      return IdentityRefusal{400, "control character in Authorization"};
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() <= kBearer.size() || value.substr(0, kBearer.size()) != kBearer)
      return IdentityRefusal{401, "Authorization must be a Bearer token"};
    if (!sources.jwt) return IdentityRefusal{401, "bearer tokens are not accepted here"};
    auto result = sources.jwt->verify(trim(value.substr(kBearer.size())), now_unix);
    if (auto* refusal = std::get_if<JwtRefusal>(&result))
      return IdentityRefusal{401, "bearer token refused: " + refusal->reason};
    const auto& claims = std::get<JwtClaims>(result);
    if (has_control_character(claims.subject))
      return IdentityRefusal{401, "bearer token refused: control character in sub"};
    Identity identity{Identity::Kind::kJwt, "jwt:" + claims.subject, "", "",
                      known_address(request, *sources.trusted_proxies)};
    return tiered(identity, claims.tier, policy);
  }
  if (policy.require_credential) return IdentityRefusal{401, "a credential is required"};

  auto address = forwarded_address(request, *sources.trusted_proxies);
  if (auto* refusal = std::get_if<IdentityRefusal>(&address)) return *refusal;
  const std::string& client = std::get<std::string>(address);
  return Identity{Identity::Kind::kAddress, "addr:" + client, "", "", client};
}

}  // namespace sluice
