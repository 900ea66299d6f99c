// sluice-benchrx: the receiving side of the data-plane benchmark.
//
//   attach: attaches a receiver to an interface (the trivial XDP_DROP or
//           XDP_PASS program, or Sluice with a one-tier policy and the default admission
//           limits), prints "ready", then answers "stats" (counters) and
//           "bucket <address>" (Sluice: that source's bucket) lines on stdin
//           with one JSON line each until "quit" or end of input, and detaches. Everything is held
//           by this process: nothing is pinned, so nothing outlives it.
//   cost:   per-packet cost of a program from BPF_PROG_TEST_RUN with repeat
//           (no live frames, no device): the program alone, one frame reused.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench_drop.skel.h"
#include "counter_table.h"
#include "dataplane.h"
#include "error.h"
#include "fd.h"
#include "frame.h"
#include "generator.h"
#include "policy.h"

namespace {

struct SluiceOptions {
  uint64_t rate = 1000;  // packets/s per source; 0: unlimited
  uint64_t burst = 0;    // 0: one second's worth
  uint32_t v6_prefix = 64;
  uint32_t entries = SLUICE_DEFAULT_BUCKET_ENTRIES;
  bool test_clock = false;    // judge by a fixed clock: leaves out the kernel clock read
  bool coarse_clock = false;  // CLOCK_MONOTONIC_COARSE instead of the precise clock
  uint32_t key_entries = 0;   // key bindings and penalties written, for sources not flooding
  bool global = false;        // the tier is global (docs/kernel-global.md): admissions reported
  std::string global_remote;  // a source with the peers' total written, as a cluster keeps it
  std::string global_beat;    // "fresh": a daemon beats; "stale": the program is orphaned
};

// Key features on (docs/key-binding.md): `count` key-bound and `count` penalised
// IPv4 sources in 10.0.0.0/8, none of them a benchmark source (198.18.0.0/15,
// 2001:db8::/32): every benchmark packet pays the two lookups, in maps as a
// daemon with key_binding and escalation configured holds them, and misses.
void write_key_entries(sluice::Dataplane& dp, uint32_t count) {
  constexpr uint64_t kNever = ~0ULL;
  std::vector<sluice::BindingEntry> bindings;
  for (uint32_t i = 0; i < count; ++i) {
    sluice::BindingEntry entry{};
    entry.source.family = SLUICE_FAMILY_V4;
    entry.source.addr[0] = htonl((10U << 24) | (i * 2));
    entry.binding = {.key_id = 1000 + i % 64, .expires_ns = kNever, .tier = 0, .pad = 0};
    bindings.push_back(entry);
    sluice::PenaltyEntry penalty{};
    penalty.source.family = SLUICE_FAMILY_V4;
    penalty.source.addr[0] = htonl((10U << 24) | (i * 2 + 1));
    penalty.penalty = {.expires_ns = kNever, .dropped = 0};
    dp.write_penalty(penalty);
  }
  dp.write_bindings(bindings);
}

// The bucket key of `address` under the benchmark policy (IPv4 /32, IPv6 /v6_prefix).
struct sluice_source source_of(const std::string& address, uint32_t v6_prefix) {
  struct sluice_source source {};
  if (inet_pton(AF_INET, address.c_str(), &source.addr[0]) == 1) {
    source.family = SLUICE_FAMILY_V4;
    return source;
  }
  if (inet_pton(AF_INET6, address.c_str(), source.addr) != 1)
    throw std::invalid_argument("not an address: '" + address + "'");
  source.family = SLUICE_FAMILY_V6;
  for (uint32_t i = 0; i < 4; ++i) {
    const uint32_t bits = v6_prefix > i * 32 ? std::min(v6_prefix - i * 32, 32U) : 0;
    source.addr[i] &= htonl(bits == 0 ? 0 : ~0U << (32 - bits));
  }
  return source;
}

sluice::Dataplane load_sluice(const SluiceOptions& o) {
  auto dp = sluice::Dataplane::load(sluice::LoadOptions{
      .bucket_entries = o.entries, .test_clock = o.test_clock, .coarse_clock = o.coarse_clock});
  sluice::Policy policy;
  sluice::TierSpec tier;
  tier.name = "bench";
  tier.packets =
      sluice::RateLimit{.tokens = o.rate, .period_ns = SLUICE_NSEC_PER_SEC, .burst = o.burst};
  tier.global = o.global;
  policy.tiers.push_back(tier);
  policy.default_tier = "bench";
  policy.v6_prefix_len = o.v6_prefix;
  policy.coarse_clock = o.coarse_clock;
  sluice::TierSlots slots;
  dp.apply(sluice::compile_policy(policy, slots, sluice::datapath_cpus()));
  if (o.key_entries) write_key_entries(dp, o.key_entries);
  if (!o.global_remote.empty()) {
    // Everything the peers admitted is charged at the first packet; every
    // later one pays the two lookups and finds nothing new to charge, as a
    // source whose total has not moved since the last sync does.
    dp.write_global_remote(source_of(o.global_remote, o.v6_prefix), {.total = 1, .since_ns = 0});
  }
  // The daemon's heartbeat (docs/kernel-global.md, "An orphaned program"):
  // fresh for the whole run, or stale with the factor of five visible members,
  // so that every passing packet also charges four more tokens.
  if (o.global_beat == "fresh") {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const uint64_t now_ns = static_cast<uint64_t>(now.tv_sec) * SLUICE_NSEC_PER_SEC +
                            static_cast<uint64_t>(now.tv_nsec);
    dp.write_global_beat({now_ns, 3600 * SLUICE_NSEC_PER_SEC, 5, 0});
  } else if (o.global_beat == "stale") {
    dp.write_global_beat({SLUICE_GLOBAL_BEAT_STOPPED, 300'000'000, 5, 0});
  } else if (!o.global_beat.empty()) {
    throw std::invalid_argument("--global-beat: fresh or stale, not '" + o.global_beat + "'");
  }
  return dp;
}

struct DropSkelDeleter {
  void operator()(struct bench_drop* skel) const { bench_drop__destroy(skel); }
};
using DropSkel = std::unique_ptr<struct bench_drop, DropSkelDeleter>;

DropSkel load_drop() {
  DropSkel skel(bench_drop__open_and_load());
  if (!skel) sluice::throw_last_errno("load BPF program bench_drop");
  return skel;
}

std::string sluice_stats(const sluice::Dataplane& dp) {
  const auto c = dp.counters();
  auto total = [&](uint32_t counter) { return c.total(counter).packets; };
  auto total_of = [&](sluice::CounterClass wanted) {
    uint64_t sum = 0;
    for (const auto& counter : sluice::kCounterTable)
      if (counter.counter_class == wanted) sum += total(counter.index);
    return sum;
  };
  const uint64_t unadmitted_passed = total(SLUICE_CNT_PASSED_UNADMITTED);
  const uint64_t unadmitted_dropped = total(SLUICE_CNT_DROP_UNADMITTED);
  const uint64_t passed = total_of(sluice::CounterClass::kPass);
  const uint64_t dropped = total_of(sluice::CounterClass::kDrop);
  return fmt::format(
      "{{\"passed\": {}, \"dropped\": {}, \"new_sources\": {}, \"unadmitted_passed\": {}, "
      "\"unadmitted_dropped\": {}, \"contended\": {}, \"malformed\": {}, \"shadow\": {}}}",
      passed, dropped, total(SLUICE_CNT_NEW_SOURCE), unadmitted_passed, unadmitted_dropped,
      total(SLUICE_CNT_DROP_CONTENDED), total(SLUICE_CNT_MALFORMED),
      total_of(sluice::CounterClass::kShadow));
}

// "bucket <address>": whether the source has a bucket and what it counted.
std::string bucket_stats(const sluice::Dataplane& dp, const std::string& address,
                         uint32_t v6_prefix) {
  const auto bucket = dp.bucket_of(source_of(address, v6_prefix));
  if (!bucket) return "{\"exists\": false}";
  return fmt::format("{{\"exists\": true, \"passed\": {}, \"dropped\": {}}}", bucket->passed,
                     bucket->dropped);
}

// Serves "stats" and "bucket <address>" until "quit" or end of input.
void serve(const std::function<std::string()>& stats,
           const std::function<std::string(const std::string&)>& bucket) {
  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "quit") break;
    if (line == "stats")
      std::printf("%s\n", stats().c_str());
    else if (line.rfind("bucket ", 0) == 0)
      std::printf("%s\n", bucket(line.substr(7)).c_str());
    else
      std::printf("{\"error\": \"unknown command\"}\n");
    std::fflush(stdout);
  }
}

void attach(const std::string& dev, const std::string& prog, const SluiceOptions& o) {
  if (prog == "sluice" || prog == "sluice-tc") {
    auto dp = load_sluice(o);
    dp.attach(dev, prog == "sluice" ? sluice::XdpMode::kNative : sluice::XdpMode::kTc);
    try {
      serve([&] { return sluice_stats(dp); },
            [&](const std::string& address) { return bucket_stats(dp, address, o.v6_prefix); });
    } catch (...) {
      dp.detach();
      throw;
    }
    dp.detach();
    return;
  }
  auto skel = load_drop();
  auto* program = prog == "pass" ? skel->progs.bench_pass : skel->progs.bench_drop;
  const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
  if (!ifindex) sluice::throw_last_errno("receiver interface " + dev);
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_DRV_MODE);
  sluice::Fd link(bpf_link_create(bpf_program__fd(program), ifindex, BPF_XDP, &opts));
  if (!link) sluice::throw_last_errno("attach bench_" + prog + " (native) to " + dev);
  serve([] { return std::string("{}"); }, [](const std::string&) { return std::string("{}"); });
  // Closing the link fd detaches the program.
}

// Average ns per run of `prog_fd` on `frame`, after a warm-up run.
double cost_ns(int prog_fd, const sluice::bench::Frame& frame, int repeat, uint32_t* retval) {
  auto run = [&](int times) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.bytes.data(),
                .data_size_in = static_cast<__u32>(frame.bytes.size()), .repeat = times);
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
      sluice::throw_last_errno("BPF_PROG_TEST_RUN (repeat)");
    *retval = opts.retval;
    return static_cast<double>(opts.duration);
  };
  run(std::min(repeat, 100000));
  return run(repeat);
}

// Size of a loaded program as the verifier and the JIT left it, as JSON fields.
std::string size_of(int prog_fd) {
  struct bpf_prog_info info {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    sluice::throw_last_errno("read program info");
  return fmt::format("\"xlated_insns\": {}, \"jited_bytes\": {}, \"verified_insns\": {}",
                     info.xlated_prog_len / sizeof(struct bpf_insn), info.jited_prog_len,
                     info.verified_insns);
}

void cost(const std::string& prog, const sluice::bench::FrameSpec& spec, const SluiceOptions& o,
          int repeat) {
  const auto frame = sluice::bench::build_frame(spec);
  uint32_t retval = 0;
  double ns = 0;
  std::string extra = "{}", size;
  if (prog == "sluice") {
    auto dp = load_sluice(o);
    ns = cost_ns(dp.prog_fd(), frame, repeat, &retval);
    extra = sluice_stats(dp);
    size = size_of(dp.prog_fd());
  } else if (prog == "pktgen") {
    sluice::bench::Generator generator(frame);
    ns = cost_ns(generator.prog_fd(), frame, repeat, &retval);
    size = size_of(generator.prog_fd());
  } else {
    auto skel = load_drop();
    ns = cost_ns(bpf_program__fd(skel->progs.bench_drop), frame, repeat, &retval);
    size = size_of(bpf_program__fd(skel->progs.bench_drop));
  }
  std::printf("{\"prog\": \"%s\", \"ns_per_packet\": %.2f, \"retval\": %u, %s, \"counters\": %s}\n",
              prog.c_str(), ns, retval, size.c_str(), extra.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Receivers and program cost for the Sluice data-plane benchmark."};
  app.require_subcommand(1);
  SluiceOptions sluice_options;
  auto add_sluice_options = [&](CLI::App* cmd) {
    cmd->add_option("--rate", sluice_options.rate, "Sluice: packets/s per source (0: unlimited)")
        ->capture_default_str();
    cmd->add_option("--burst", sluice_options.burst, "Sluice: burst in packets (0: one second)");
    cmd->add_option("--v6-prefix", sluice_options.v6_prefix, "Sluice: IPv6 aggregation prefix")
        ->capture_default_str();
    cmd->add_flag("--coarse-clock", sluice_options.coarse_clock,
                  "Sluice: read CLOCK_MONOTONIC_COARSE instead of the precise clock");
    cmd->add_option("--entries", sluice_options.entries, "Sluice: bucket map entries")
        ->capture_default_str();
    cmd->add_option("--key-entries", sluice_options.key_entries,
                    "Sluice: key bindings and penalties (each) for sources outside the "
                    "benchmark's, as with key_binding/escalation configured");
    cmd->add_flag("--global", sluice_options.global,
                  "Sluice: the tier is global: admitted packets are reported for the cluster");
    cmd->add_option("--global-remote", sluice_options.global_remote,
                    "Sluice (with --global): a source with the peers' total written, so its "
                    "packets look the total up to charge it back");
    cmd->add_option("--global-beat", sluice_options.global_beat,
                    "Sluice (with --global): the daemon's heartbeat, fresh (a daemon runs) or "
                    "stale (the program is orphaned and charges 5 tokens a packet)");
  };

  std::string dev, prog = "drop";
  auto* attach_cmd = app.add_subcommand("attach", "attach a receiver and serve its counters");
  attach_cmd->add_option("--dev", dev, "receiving interface")->required();
  attach_cmd
      ->add_option("--prog", prog,
                   "drop, pass (trivial programs), sluice (XDP) or sluice-tc (TC ingress)")
      ->check(CLI::IsMember({"drop", "pass", "sluice", "sluice-tc"}))
      ->required();
  add_sluice_options(attach_cmd);

  sluice::bench::FrameSpec spec;
  std::string proto = "udp";
  int repeat = 10'000'000;
  auto* cost_cmd = app.add_subcommand("cost", "per-packet cost with BPF_PROG_TEST_RUN repeat");
  cost_cmd->add_option("--prog", prog, "drop, sluice or pktgen")
      ->check(CLI::IsMember({"drop", "sluice", "pktgen"}))
      ->required();
  cost_cmd->add_option("--src", spec.src, "source address")->capture_default_str();
  cost_cmd->add_option("--dst", spec.dst, "destination address")->capture_default_str();
  cost_cmd->add_option("--proto", proto, "udp or syn")
      ->check(CLI::IsMember({"udp", "syn"}))
      ->capture_default_str();
  cost_cmd->add_option("--size", spec.size, "frame size (default: 64 or the headers)");
  cost_cmd->add_option("--repeat", repeat, "runs to average over")->capture_default_str();
  add_sluice_options(cost_cmd);
  cost_cmd->add_flag("--test-clock", sluice_options.test_clock,
                     "Sluice: fixed test clock instead of bpf_ktime_get_ns (profiling)");
  CLI11_PARSE(app, argc, argv);
  // stdout carries the "ready" / stats protocol: logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("sluice-benchrx"));

  try {
    if (*attach_cmd) {
      attach(dev, prog, sluice_options);
    } else {
      spec.l4 = proto == "udp" ? sluice::bench::L4::kUdp : sluice::bench::L4::kTcpSyn;
      cost(prog, spec, sluice_options, repeat);
    }
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
