#include "jwt_sign.h"

#include <cstdlib>

namespace sluice::test {

std::string sign_jwt(jwt_alg_t alg, const std::string& key,
                     const std::function<void(jwt_t*)>& grants) {
  jwt_t* jwt = nullptr;
  if (jwt_new(&jwt) != 0) return "";
  grants(jwt);
  std::string token;
  if (jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(key.data()),
                  static_cast<int>(key.size())) == 0) {
    char* encoded = jwt_encode_str(jwt);
    token = encoded ? encoded : "";
    free(encoded);
  }
  jwt_free(jwt);
  return token;
}

}  // namespace sluice::test
