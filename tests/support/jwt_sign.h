// Signs JSON Web Tokens for tests with libjwt (the daemon only verifies them).
#pragma once

#include <jwt.h>

#include <functional>
#include <string>

namespace sluice::test {

// A token signed with `alg` and `key` (a secret, or a PEM private key) whose
// claims `grants` adds; "" when libjwt refuses.
std::string sign_jwt(jwt_alg_t alg, const std::string& key,
                     const std::function<void(jwt_t*)>& grants);

}  // namespace sluice::test
