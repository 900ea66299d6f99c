#include "algorithm.h"

#include <array>
#include <stdexcept>

#include "sluice_algorithms.h"

namespace sluice {
namespace {

// Indexed by SLUICE_ALGO_*.
constexpr std::array<std::string_view, SLUICE_ALGO_COUNT> kNames = {
    "token_bucket", "fixed_window", "sliding_window", "leaky_bucket"};
static_assert(SLUICE_ALGO_TOKEN_BUCKET == 0 && SLUICE_ALGO_FIXED_WINDOW == 1 &&
              SLUICE_ALGO_SLIDING_WINDOW == 2 && SLUICE_ALGO_LEAKY_BUCKET == 3);

}  // namespace

std::string_view algorithm_name(uint32_t algorithm) {
  return algorithm < kNames.size() ? kNames[algorithm] : "unknown";
}

uint32_t parse_algorithm(std::string_view name) {
  for (uint32_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return i;
  throw std::invalid_argument("unknown algorithm '" + std::string(name) +
                              "' (expected token_bucket, fixed_window, sliding_window or "
                              "leaky_bucket)");
}

}  // namespace sluice
