// The four algorithms of bpf/sluice_algorithms.h run in BPF (a test-only XDP
// program, tests/bpf/algorithms.bpf.c, through BPF_PROG_TEST_RUN with a clock
// the test sets) against the reference models and against the same header
// compiled into this C++ test.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference_algorithms.h"
#include "sluice_algorithms.h"
// The skeleton's .bss names struct sluice_algo: after the header.
#include "algorithms_test.skel.h"

namespace sluice::testing {
namespace {

constexpr uint64_t kSec = SLUICE_NSEC_PER_SEC;
constexpr uint64_t kMs = kSec / 1000;
constexpr uint64_t kEpoch = 5'000 * kSec;

// The loaded test program; one run is one spend.
class BpfAlgorithms {
 public:
  BpfAlgorithms() : skel_(algorithms_test__open_and_load(), &algorithms_test__destroy) {
    if (!skel_) throw std::runtime_error("cannot load algorithms_test.bpf.o");
  }

  void use(const struct sluice_algo& algo) { skel_->bss->test_algo = algo; }

  // Spends n at `now` for `key`: the program's XDP verdict.
  int spend(uint32_t key, uint64_t now, uint64_t n) {
    skel_->bss->test_key = key;
    skel_->bss->test_now_ns = now;
    skel_->bss->test_cost = n;
    std::vector<uint8_t> frame(64, 0);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = 64);
    int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.algorithms_spend), &opts);
    if (err) throw std::runtime_error("BPF_PROG_TEST_RUN failed: " + std::to_string(err));
    return static_cast<int>(opts.retval);
  }
  bool allows(uint32_t key, uint64_t now, uint64_t n = 1) {
    int verdict = spend(key, now, n);
    EXPECT_NE(verdict, XDP_ABORTED) << "one CPU cannot lose a CAS race";
    return verdict == XDP_PASS;
  }

 private:
  std::unique_ptr<algorithms_test, decltype(&algorithms_test__destroy)> skel_;
};

struct sluice_algo make(uint32_t algorithm, uint64_t tokens, uint64_t period, uint64_t burst = 0) {
  struct sluice_algo algo {};
  EXPECT_EQ(sluice_algo_make(&algo, algorithm, tokens, period, burst, SLUICE_SPEND_UNIT), 0);
  return algo;
}

const char* name_of(uint32_t algorithm) {
  static const char* names[] = {"token_bucket", "fixed_window", "sliding_window", "leaky_bucket"};
  return names[algorithm];
}

// Random arrivals: the program's verdicts equal the model's and the host's,
// request for request. Each trial uses a fresh key (a fresh LRU entry).
TEST(BpfAlgorithms, EachAlgorithmMatchesItsModelAndTheHostOnRandomArrivals) {
  BpfAlgorithms bpf;
  std::mt19937_64 rng(1128);
  const uint64_t tokens_choices[] = {1, 10, 100, 1000, 50'000};
  uint32_t key = 0;
  for (uint32_t algorithm = 0; algorithm < SLUICE_ALGO_COUNT; ++algorithm) {
    for (int trial = 0; trial < 12; ++trial) {
      uint64_t tokens = tokens_choices[rng() % 5];
      uint64_t period = rng() % 2 ? kSec : 60 * kSec;
      uint64_t burst = rng() % 2 ? 0 : 1 + rng() % 50;
      struct sluice_algo algo = make(algorithm, tokens, period, burst);
      bpf.use(algo);
      ++key;
      ReferenceBucket bucket(tokens, period, burst ? burst : tokens);
      ReferenceLeakyBucket leaky(tokens, period, burst ? burst : 1);
      ReferenceFixedWindow fixed(tokens, period);
      ReferenceSlidingWindow sliding(tokens, period);
      uint64_t host_state = 0;
      uint64_t now = kEpoch + rng() % period;
      uint64_t interval = period / tokens;
      int admitted = 0;
      for (int i = 0; i < 400; ++i) {
        now += rng() % (3 * interval + 1);
        uint64_t n = 1 + rng() % 3;
        bool model = algorithm == SLUICE_ALGO_TOKEN_BUCKET   ? bucket.spend(now, n)
                     : algorithm == SLUICE_ALGO_LEAKY_BUCKET ? leaky.spend(now, n)
                     : algorithm == SLUICE_ALGO_FIXED_WINDOW ? fixed.spend(now, n)
                                                             : sliding.spend(now, n);
        __u64 next = host_state;
        bool host = sluice_algo_spend(&algo, host_state, now, n, &next);
        if (host) host_state = next;
        bool kernel = bpf.allows(key, now, n);
        ASSERT_EQ(kernel, model) << name_of(algorithm) << " tokens=" << tokens
                                 << " period=" << period << " burst=" << burst << " step=" << i;
        ASSERT_EQ(kernel, host) << name_of(algorithm) << " step=" << i;
        admitted += kernel;
      }
      EXPECT_GT(admitted, 0);
    }
  }
}

// 10 requests 1 ms before a window boundary and 10 requests 1 ms after it,
// against 10/s: the fixed window admits all 20, the sliding window 10.
TEST(BpfAlgorithms, FixedWindowAdmitsTwiceTheLimitAcrossABoundarySlidingWindowDoesNot) {
  BpfAlgorithms bpf;
  const uint64_t boundary = kEpoch + 7 * kSec;
  int admitted[SLUICE_ALGO_COUNT] = {};
  for (uint32_t algorithm = 0; algorithm < SLUICE_ALGO_COUNT; ++algorithm) {
    bpf.use(make(algorithm, 10, kSec));
    for (int i = 0; i < 10; ++i) admitted[algorithm] += bpf.allows(100 + algorithm, boundary - kMs);
    for (int i = 0; i < 10; ++i) admitted[algorithm] += bpf.allows(100 + algorithm, boundary + kMs);
  }
  EXPECT_EQ(admitted[SLUICE_ALGO_FIXED_WINDOW], 20);
  EXPECT_EQ(admitted[SLUICE_ALGO_SLIDING_WINDOW], 10);
  EXPECT_EQ(admitted[SLUICE_ALGO_TOKEN_BUCKET], 10) << "the burst, and 2 ms refill no token";
  EXPECT_EQ(admitted[SLUICE_ALGO_LEAKY_BUCKET], 1) << "depth one: one request per 100 ms";
}

// Keys are independent: one key's exhausted window does not touch another's.
TEST(BpfAlgorithms, KeysHaveTheirOwnState) {
  BpfAlgorithms bpf;
  bpf.use(make(SLUICE_ALGO_SLIDING_WINDOW, 3, kSec));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bpf.allows(7, kEpoch));
  EXPECT_FALSE(bpf.allows(7, kEpoch));
  EXPECT_TRUE(bpf.allows(8, kEpoch));
}

}  // namespace
}  // namespace sluice::testing
