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

bool is_window_algorithm(uint32_t algorithm) {
  return algorithm == SLUICE_ALGO_FIXED_WINDOW || algorithm == SLUICE_ALGO_SLIDING_WINDOW;
}

std::string algorithm_limit_problem(const RateLimit& limit, uint32_t algorithm) {
  if (algorithm >= SLUICE_ALGO_COUNT) return "unknown algorithm";
  const std::string name(algorithm_name(algorithm));
  if (is_window_algorithm(algorithm) && limit.burst)
    return "burst does not apply to " + name + " (it admits the rate per period)";
  struct sluice_algo algo {};
  if (sluice_algo_make(&algo, algorithm, limit.tokens, limit.period_ns, limit.burst,
                       SLUICE_SPEND_UNIT) != 0)
    return std::to_string(limit.tokens) + " per period is more than " + name +
           " can count (at most " +
           std::to_string(algorithm == SLUICE_ALGO_SLIDING_WINDOW ? SLUICE_SLIDING_WINDOW_LIMIT_MAX
                                                                  : SLUICE_FIXED_WINDOW_LIMIT_MAX) +
           ")";
  return "";
}

}  // namespace sluice
