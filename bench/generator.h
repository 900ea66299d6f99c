// The live-frames packet generator: loads the pktgen XDP program with the
// layout of a template frame and runs it with BPF_PROG_TEST_RUN in
// BPF_F_TEST_XDP_LIVE_FRAMES mode on one interface, whose veth peer receives
// the frames.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "frame.h"

struct pktgen;

namespace sluice::bench {

struct RunLimits {
  uint64_t count = 0;        // stop after this many frames (0: no count limit)
  double duration_s = 0;     // stop after this long (0: no time limit)
  uint32_t batch_size = 64;  // frames per kernel batch (1..256)
};

struct RunResult {
  uint64_t sent = 0;   // frames the program ran on and handed to the device
  double seconds = 0;  // wall-clock time of the run
  double mpps() const { return seconds > 0 ? static_cast<double>(sent) / seconds / 1e6 : 0; }
};

class Generator {
 public:
  // Loads the program for `frame`. Throws std::system_error.
  explicit Generator(Frame frame);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Sends out of `ifname` (in the caller's network namespace) until a limit
  // is reached (at least one must be set). Runs on the calling CPU; the veth
  // peer's receive work runs there too, in softirq after each batch, so the
  // rate is that of sender and receiver together.
  RunResult run(const std::string& ifname, const RunLimits& limits);

  // The loaded program, e.g. to time it with BPF_PROG_TEST_RUN.
  int prog_fd() const;
  const Frame& frame() const { return frame_; }

 private:
  struct SkeletonDeleter {
    void operator()(struct pktgen* skel) const;
  };
  std::unique_ptr<struct pktgen, SkeletonDeleter> skel_;
  Frame frame_;
};

}  // namespace sluice::bench
