#include "jwt_verifier.h"

#include <jwt.h>
#include <sodium.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace sluice {
namespace {

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

struct CharFree {
  void operator()(char* p) const { free(p); }
};

constexpr size_t kMaxTokenBytes = 8192;

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out(text.size(), '\0');
  size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return std::nullopt;
  out.resize(length);
  return out;
}

// Claims as JSON: libjwt 1.10 returns numbers and arrays only through this.
std::optional<nlohmann::json> claim(jwt_t* jwt, const char* name) {
  std::unique_ptr<char, CharFree> text(jwt_get_grants_json(jwt, name));
  if (!text) return std::nullopt;
  try {
    return nlohmann::json::parse(text.get());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<std::string> jwt_header_algorithm(std::string_view token) {
  auto dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto header = base64url_decode(token.substr(0, dot));
  if (!header) return std::nullopt;
  try {
    auto doc = nlohmann::json::parse(*header);
    if (!doc.is_object() || !doc.contains("alg") || !doc["alg"].is_string()) return std::nullopt;
    return doc["alg"].get<std::string>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

JwtVerifier::JwtVerifier(JwtSettings settings) : settings_(std::move(settings)) {
  const auto& alg = settings_.algorithm;
  if (alg != "HS256" && alg != "RS256" && alg != "ES256")
    throw std::invalid_argument("jwt algorithm '" + alg + "' is not one of HS256, RS256, ES256");
  if (settings_.key.empty()) throw std::invalid_argument("jwt: the key is empty");
  if (alg == "HS256" && settings_.key.size() < 32)
    throw std::invalid_argument("jwt: an HS256 secret must be at least 32 bytes");
  if (alg != "HS256" && settings_.key.find("-----BEGIN PUBLIC KEY-----") == std::string::npos)
    throw std::invalid_argument("jwt: " + alg + " needs a PEM public key (BEGIN PUBLIC KEY)");
}

std::variant<JwtClaims, JwtRefusal> JwtVerifier::verify(std::string_view token,
                                                        uint64_t now_unix) const {
  if (token.empty() || token.size() > kMaxTokenBytes)
    return JwtRefusal{"token is empty or longer than " + std::to_string(kMaxTokenBytes) + " bytes"};
  auto alg = jwt_header_algorithm(token);
  if (!alg) return JwtRefusal{"token header is malformed"};
  if (*alg != settings_.algorithm)
    return JwtRefusal{"algorithm '" + *alg + "' is not accepted (expected " + settings_.algorithm +
                      ")"};

  jwt_t* raw = nullptr;
  const std::string text(token);
  int rc =
      jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(settings_.key.data()),
                 static_cast<int>(settings_.key.size()));
  JwtPtr jwt(raw);
  if (rc != 0 || !jwt) return JwtRefusal{"signature does not verify"};
  if (jwt_get_alg(jwt.get()) != jwt_str_alg(settings_.algorithm.c_str()))
    return JwtRefusal{"algorithm is not accepted"};

  const uint64_t leeway = settings_.leeway_s;
  auto exp = claim(jwt.get(), "exp");
  if (!exp || !exp->is_number()) return JwtRefusal{"token has no exp"};
  if (exp->get<double>() + static_cast<double>(leeway) <= static_cast<double>(now_unix))
    return JwtRefusal{"token has expired"};
  if (auto nbf = claim(jwt.get(), "nbf")) {
    if (!nbf->is_number()) return JwtRefusal{"nbf is not a number"};
    if (nbf->get<double>() > static_cast<double>(now_unix + leeway))
      return JwtRefusal{"token is not valid yet (nbf)"};
  }
  if (!settings_.issuer.empty()) {
    auto iss = claim(jwt.get(), "iss");
    if (!iss || !iss->is_string() || iss->get<std::string>() != settings_.issuer)
      return JwtRefusal{"wrong issuer"};
  }
  if (!settings_.audience.empty()) {
    auto aud = claim(jwt.get(), "aud");
    bool ok = false;
    if (aud && aud->is_string()) ok = aud->get<std::string>() == settings_.audience;
    if (aud && aud->is_array())
      for (const auto& item : *aud)
        if (item.is_string() && item.get<std::string>() == settings_.audience) ok = true;
    if (!ok) return JwtRefusal{"wrong audience"};
  }
  auto sub = claim(jwt.get(), "sub");
  if (!sub || !sub->is_string() || sub->get<std::string>().empty() ||
      sub->get<std::string>().size() > 256)
    return JwtRefusal{"token has no usable sub"};
  JwtClaims claims{sub->get<std::string>(), ""};
  if (auto tier = claim(jwt.get(), settings_.tier_claim.c_str())) {
    if (!tier->is_string())
      return JwtRefusal{"claim '" + settings_.tier_claim + "' is not a string"};
    claims.tier = tier->get<std::string>();
  }
  return claims;
}

}  // namespace sluice
