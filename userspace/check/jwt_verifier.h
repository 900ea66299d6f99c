// Bearer JWTs: the signature checked by libjwt with the one algorithm the
// deployment configured (HS256 with a shared secret, RS256 or ES256 with a
// public key), then exp, nbf, iss and aud with a small leeway. A token whose
// header names another algorithm ("none", or HS256 against an RSA public key)
// is refused before libjwt sees it, and again after.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace sluice {

struct JwtSettings {
  std::string algorithm;  // HS256, RS256 or ES256; "" disables JWTs
  std::string key;        // the shared secret, or a PEM public key
  std::string issuer;     // required "iss" when not empty
  std::string audience;   // required in "aud" when not empty
  std::string tier_claim = "tier";
  uint64_t leeway_s = 30;
  bool operator==(const JwtSettings&) const = default;
};

struct JwtClaims {
  std::string subject;
  std::string tier;  // "" when the token names none
};

struct JwtRefusal {
  std::string reason;
};

class JwtVerifier {
 public:
  // Throws std::invalid_argument for an unsupported algorithm or missing key.
  explicit JwtVerifier(JwtSettings settings);

  std::variant<JwtClaims, JwtRefusal> verify(std::string_view token, uint64_t now_unix) const;
  const JwtSettings& settings() const { return settings_; }

 private:
  JwtSettings settings_;
};

// The "alg" of a token's header, or nullopt when the header is not base64url
// JSON with a string "alg". Exposed for tests.
std::optional<std::string> jwt_header_algorithm(std::string_view token);

}  // namespace sluice
