#include "generator.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <net/if.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "error.h"
#include "libbpf_log.h"
#include "pktgen.skel.h"

namespace sluice::bench {
namespace {

// Frames per BPF_PROG_TEST_RUN call: short enough to stop on time (a call at
// several Mpps lasts ~0.1 s), long enough that the per-call page pool setup
// does not show.
constexpr uint64_t kFramesPerCall = 1 << 19;
constexpr uint32_t kMaxBatch = 256;  // TEST_XDP_MAX_BATCH in the kernel

}  // namespace

void Generator::SkeletonDeleter::operator()(struct pktgen* skel) const {
  pktgen__destroy(skel);
}

Generator::~Generator() = default;

Generator::Generator(Frame frame) : frame_(std::move(frame)) {
  route_libbpf_logs_to_spdlog();
  skel_.reset(pktgen__open());
  if (!skel_) throw_last_errno("open BPF object pktgen");
  // The skeleton declares the knob const volatile; it is writable until load.
  std::memcpy(const_cast<struct pktgen_layout*>(&skel_->rodata->pktgen_layout), &frame_.layout,
              sizeof(frame_.layout));
  check_libbpf(pktgen__load(skel_.get()), "load BPF program pktgen_xdp");
}

int Generator::prog_fd() const {
  return bpf_program__fd(skel_->progs.pktgen_xdp);
}

RunResult Generator::run(const std::string& ifname, const RunLimits& limits) {
  const int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (!ifindex) throw_last_errno("generator interface " + ifname);
  if (limits.count == 0 && limits.duration_s <= 0)
    throw_errno(EINVAL, "generator run needs a packet count or a duration");
  if (limits.batch_size == 0 || limits.batch_size > kMaxBatch)
    throw_errno(EINVAL, "batch size must be 1.." + std::to_string(kMaxBatch));

  struct xdp_md ctx {};
  ctx.data_end = static_cast<__u32>(frame_.bytes.size());
  ctx.ingress_ifindex = static_cast<__u32>(ifindex);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(limits.duration_s));
  RunResult result;
  while (true) {
    uint64_t chunk = kFramesPerCall;
    if (limits.count) chunk = std::min(chunk, limits.count - result.sent);
    if (chunk == 0) break;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame_.bytes.data(),
                .data_size_in = static_cast<__u32>(frame_.bytes.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(chunk),
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = limits.batch_size);
    if (bpf_prog_test_run_opts(prog_fd(), &opts) != 0)
      throw_last_errno("BPF_PROG_TEST_RUN (live frames) on " + ifname);
    result.sent += chunk;
    if (limits.duration_s > 0 && Clock::now() >= deadline) break;
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace sluice::bench
