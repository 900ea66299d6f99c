// The names of the four rate-limit algorithms of bpf/sluice_algorithms.h, as
// configuration files and sluicectl spell them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policy.h"

namespace sluice {

// "token_bucket", "fixed_window", "sliding_window", "leaky_bucket".
std::string_view algorithm_name(uint32_t algorithm);

// SLUICE_ALGO_* for a name; throws std::invalid_argument listing the names.
uint32_t parse_algorithm(std::string_view name);

// What keeps `limit` from running under `algorithm`, as the end of an error
// message ("burst does not apply to fixed_window ..."), or "" when it can run.
// Window algorithms count whole requests per period and have no burst, and
// count at most SLUICE_*_WINDOW_LIMIT_MAX per window. Shared by the request
// layer's rules and the kernel tiers so that both refuse the same things alike.
std::string algorithm_limit_problem(const RateLimit& limit, uint32_t algorithm);

// Fixed and sliding window: the algorithms whose state is a window's count.
bool is_window_algorithm(uint32_t algorithm);

}  // namespace sluice
