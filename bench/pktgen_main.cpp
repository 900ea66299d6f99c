// sluice-pktgen: sends generated frames out of a veth at the highest rate the
// machine allows, with BPF_PROG_TEST_RUN in live-frames mode. See generator.h.
#include <sched.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <system_error>

#include "frame.h"
#include "generator.h"

namespace {

using sluice::bench::FrameSpec;

sluice::bench::Mac mac_of(const std::string& ifname) {
  std::ifstream in("/sys/class/net/" + ifname + "/address");
  std::string text;
  if (!(in >> text)) throw std::invalid_argument("cannot read the MAC address of " + ifname);
  return sluice::bench::parse_mac(text);
}

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    throw std::system_error(errno, std::generic_category(), "pin to CPU " + std::to_string(cpu));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Sends UDP or TCP SYN frames out of a veth (its peer receives them) with "
      "BPF_PROG_TEST_RUN live frames, at the highest rate the machine allows."};
  std::string dev, dst_mac, src_mac, proto = "udp", spread = "host";
  FrameSpec spec;
  sluice::bench::RunLimits limits;
  int cpu = -1;
  bool json = false;
  app.add_option("--dev", dev, "sending interface (the veth end in this namespace)")->required();
  app.add_option("--src", spec.src, "source address of index 0 (IPv4 or IPv6)")
      ->capture_default_str();
  app.add_option("--dst", spec.dst, "destination address")->capture_default_str();
  app.add_option("--dst-mac", dst_mac, "destination MAC (the peer's, for the stack to accept)");
  app.add_option("--src-mac", src_mac, "source MAC (default: the device's)");
  app.add_option("--sources", spec.sources, "distinct source addresses")->capture_default_str();
  app.add_flag("--random", spec.random, "random source per frame instead of cycling");
  app.add_option("--spread", spread, "IPv6: vary sources within one /64 (host) or one /64 each")
      ->check(CLI::IsMember({"host", "prefix64"}))
      ->capture_default_str();
  app.add_option("--proto", proto, "udp or syn (TCP SYN)")
      ->check(CLI::IsMember({"udp", "syn"}))
      ->capture_default_str();
  app.add_option("--size", spec.size,
                 "frame size in bytes, without FCS (default: 64 or the headers)");
  app.add_option("--dport", spec.dst_port, "destination port")->capture_default_str();
  app.add_option("--count", limits.count, "frames to send");
  app.add_option("--duration", limits.duration_s, "seconds to send");
  app.add_option("--batch", limits.batch_size, "frames per kernel batch (1..256)")
      ->capture_default_str();
  app.add_option("--cpu", cpu, "pin to this CPU");
  app.add_flag("--json", json, "print one JSON object instead of text");
  CLI11_PARSE(app, argc, argv);

  try {
    if (limits.count == 0 && limits.duration_s <= 0) limits.count = 1'000'000;
    spec.l4 = proto == "udp" ? sluice::bench::L4::kUdp : sluice::bench::L4::kTcpSyn;
    spec.spread =
        spread == "host" ? sluice::bench::Spread::kHost : sluice::bench::Spread::kPrefix64;
    spec.src_mac = src_mac.empty() ? mac_of(dev) : sluice::bench::parse_mac(src_mac);
    if (!dst_mac.empty()) spec.dst_mac = sluice::bench::parse_mac(dst_mac);
    if (cpu >= 0) pin_to_cpu(cpu);

    sluice::bench::Generator generator(sluice::bench::build_frame(spec));
    const auto result = generator.run(dev, limits);
    if (json)
      std::printf("{\"sent\": %llu, \"seconds\": %.6f, \"mpps\": %.4f}\n",
                  static_cast<unsigned long long>(result.sent), result.seconds, result.mpps());
    else
      std::printf("sent %llu packets in %.3f s: %.3f Mpps, %.1f ns/packet\n",
                  static_cast<unsigned long long>(result.sent), result.seconds, result.mpps(),
                  result.sent ? result.seconds * 1e9 / static_cast<double>(result.sent) : 0.0);
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
