// The names of the four rate-limit algorithms of bpf/sluice_algorithms.h, as
// configuration files and sluicectl spell them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// "token_bucket", "fixed_window", "sliding_window", "leaky_bucket".
std::string_view algorithm_name(uint32_t algorithm);

// SLUICE_ALGO_* for a name; throws std::invalid_argument listing the names.
uint32_t parse_algorithm(std::string_view name);

}  // namespace sluice
