// JWT checks against tokens signed here with libjwt and keys made by openssl:
// good tokens pass; alg none, a wrong algorithm for the key, expiry, nbf,
// issuer, audience and signature failures are each refused.
#include "jwt_verifier.h"

#include <gtest/gtest.h>
#include <jwt.h>
#include <sodium.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sluice {
namespace {

constexpr uint64_t kNow = 1'800'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef-hs256-secret";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct KeyPair {
  std::string private_pem, public_pem;
};

// Makes a key pair with the openssl command line, as an operator would.
KeyPair make_keys(const std::string& dir, const std::string& name, const std::string& options) {
  const std::string priv = dir + "/" + name + ".key", pub = dir + "/" + name + ".pub";
  std::string command = "openssl genpkey " + options + " -out " + priv +
                        " 2>/dev/null && openssl pkey -in " + priv + " -pubout -out " + pub +
                        " 2>/dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return {read_file(priv), read_file(pub)};
}

std::string sign(jwt_alg_t alg, const std::string& key, const nlohmann::json& claims) {
  jwt_t* jwt = nullptr;
  EXPECT_EQ(jwt_new(&jwt), 0);
  EXPECT_EQ(jwt_add_grants_json(jwt, claims.dump().c_str()), 0);
  EXPECT_EQ(jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size())),
            0);
  char* encoded = jwt_encode_str(jwt);
  std::string token = encoded ? encoded : "";
  free(encoded);
  jwt_free(jwt);
  return token;
}

std::string base64url(const std::string& text) {
  std::string out(sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                    text.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

nlohmann::json good_claims() {
  return {{"sub", "alice"}, {"tier", "pro"},     {"iss", "https://auth.example"},
          {"aud", "api"},   {"exp", kNow + 600}, {"nbf", kNow - 10}};
}

class JwtVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir = std::filesystem::temp_directory_path() / ("sluice-jwt-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    rsa = make_keys(dir, "rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
    ec = make_keys(dir, "ec", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
    other_rsa = make_keys(dir, "rsa2", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir); }

  static JwtVerifier verifier(const std::string& alg, const std::string& key) {
    return JwtVerifier(JwtSettings{alg, key, "https://auth.example", "api", "tier", 30});
  }
  static std::string refusal(const JwtVerifier& v, const std::string& token) {
    auto result = v.verify(token, kNow);
    if (auto* r = std::get_if<JwtRefusal>(&result)) return r->reason;
    return "<accepted>";
  }

  static inline std::filesystem::path dir;
  static inline KeyPair rsa, ec, other_rsa;
};

TEST_F(JwtVerifierTest, AcceptsGoodTokensOfEachAlgorithm) {
  struct Case {
    const char* alg;
    jwt_alg_t id;
    std::string sign_key, verify_key;
  };
  for (const auto& c : {Case{"HS256", JWT_ALG_HS256, kSecret, kSecret},
                        Case{"RS256", JWT_ALG_RS256, rsa.private_pem, rsa.public_pem},
                        Case{"ES256", JWT_ALG_ES256, ec.private_pem, ec.public_pem}}) {
    auto result = verifier(c.alg, c.verify_key).verify(sign(c.id, c.sign_key, good_claims()), kNow);
    ASSERT_TRUE(std::holds_alternative<JwtClaims>(result))
        << c.alg << ": " << std::get<JwtRefusal>(result).reason;
    EXPECT_EQ(std::get<JwtClaims>(result).subject, "alice");
    EXPECT_EQ(std::get<JwtClaims>(result).tier, "pro");
  }
}

TEST_F(JwtVerifierTest, RefusesAlgNone) {
  auto v = verifier("HS256", kSecret);
  std::string token =
      base64url(R"({"alg":"none","typ":"JWT"})") + "." + base64url(good_claims().dump()) + ".";
  EXPECT_EQ(refusal(v, token), "algorithm 'none' is not accepted (expected HS256)");
  // Also without the trailing dot some libraries accept.
  EXPECT_NE(refusal(v, token.substr(0, token.size() - 1)), "<accepted>");
}

TEST_F(JwtVerifierTest, RefusesHs256SignedWithThePublicKeyOfAnRs256Deployment) {
  // The classic confusion attack: the RSA public key used as an HMAC secret.
  std::string forged = sign(JWT_ALG_HS256, rsa.public_pem, good_claims());
  ASSERT_FALSE(forged.empty());
  EXPECT_EQ(refusal(verifier("RS256", rsa.public_pem), forged),
            "algorithm 'HS256' is not accepted (expected RS256)");
  // And an ES256 token against an RS256 key.
  EXPECT_NE(refusal(verifier("RS256", rsa.public_pem),
                    sign(JWT_ALG_ES256, ec.private_pem, good_claims())),
            "<accepted>");
}

TEST_F(JwtVerifierTest, RefusesBadSignatures) {
  EXPECT_EQ(refusal(verifier("RS256", rsa.public_pem),
                    sign(JWT_ALG_RS256, other_rsa.private_pem, good_claims())),
            "signature does not verify");
  EXPECT_EQ(
      refusal(verifier("HS256", kSecret), sign(JWT_ALG_HS256, kSecret + "-not", good_claims())),
      "signature does not verify");
  // A payload swapped under a valid signature.
  std::string token = sign(JWT_ALG_HS256, kSecret, good_claims());
  auto claims = good_claims();
  claims["tier"] = "enterprise";
  auto first = token.find('.'), second = token.rfind('.');
  std::string tampered =
      token.substr(0, first + 1) + base64url(claims.dump()) + token.substr(second);
  EXPECT_EQ(refusal(verifier("HS256", kSecret), tampered), "signature does not verify");
}

TEST_F(JwtVerifierTest, ChecksTimesWithLeeway) {
  auto v = verifier("HS256", kSecret);
  auto claims = good_claims();
  claims["exp"] = kNow - 31;
  EXPECT_EQ(refusal(v, sign(JWT_ALG_HS256, kSecret, claims)), "token has expired");
  claims["exp"] = kNow - 29;  // within the 30 s leeway
  EXPECT_EQ(refusal(v, sign(JWT_ALG_HS256, kSecret, claims)), "<accepted>");
  claims = good_claims();
  claims["nbf"] = kNow + 31;
  EXPECT_EQ(refusal(v, sign(JWT_ALG_HS256, kSecret, claims)), "token is not valid yet (nbf)");
  claims["nbf"] = kNow + 29;
  EXPECT_EQ(refusal(v, sign(JWT_ALG_HS256, kSecret, claims)), "<accepted>");
  claims = good_claims();
  claims.erase("exp");
  EXPECT_EQ(refusal(v, sign(JWT_ALG_HS256, kSecret, claims)), "token has no exp");
}

TEST_F(JwtVerifierTest, ChecksIssuerAudienceAndSubject) {
  auto v = verifier("HS256", kSecret);
  auto claims = good_claims();
  claims["aud"] = "other-api";
  EXPECT_EQ(refusal(v, sign(JWT_ALG_HS256, kSecret, claims)), "wrong audience");
  claims["aud"] = nlohmann::json::array({"other", "api"});
  EXPECT_EQ(refusal(v, sign(JWT_ALG_HS256, kSecret, claims)), "<accepted>");
  claims = good_claims();
  claims["iss"] = "https://evil.example";
  EXPECT_EQ(refusal(v, sign(JWT_ALG_HS256, kSecret, claims)), "wrong issuer");
  claims = good_claims();
  claims.erase("sub");
  EXPECT_EQ(refusal(v, sign(JWT_ALG_HS256, kSecret, claims)), "token has no usable sub");
}

TEST_F(JwtVerifierTest, RefusesGarbage) {
  auto v = verifier("HS256", kSecret);
  for (const char* token : {"", "abc", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.e30"})
    EXPECT_NE(refusal(v, token), "<accepted>") << token;
  EXPECT_NE(refusal(v, std::string(9000, 'a')), "<accepted>");
}

TEST_F(JwtVerifierTest, RefusesUnusableSettings) {
  EXPECT_THROW(verifier("none", kSecret), std::invalid_argument);
  EXPECT_THROW(verifier("HS512", kSecret), std::invalid_argument);
  EXPECT_THROW(verifier("HS256", "short"), std::invalid_argument);
  EXPECT_THROW(verifier("RS256", kSecret), std::invalid_argument);
}

}  // namespace
}  // namespace sluice
