// Template frames for the packet generator and for BPF_PROG_TEST_RUN cost
// measurements: Ethernet + IPv4/IPv6 + UDP or TCP SYN, checksums filled in,
// plus the layout the generator's XDP program needs to vary the source.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "pktgen.h"

namespace sluice::bench {

enum class L4 { kUdp, kTcpSyn };

// Which 32-bit word of an IPv6 source varies: the low bits of the interface
// identifier (every source in one /64) or bits 32..63 (one /64 per source).
enum class Spread { kHost, kPrefix64 };

using Mac = std::array<uint8_t, 6>;

struct FrameSpec {
  L4 l4 = L4::kUdp;
  size_t size = 0;  // Ethernet frame length without FCS; 0: 64, or the headers if longer
  Mac src_mac{0x02, 0, 0, 0, 0, 1};
  Mac dst_mac{0x02, 0, 0, 0, 0, 2};
  std::string src = "198.18.0.1";  // source of index 0; the family follows from it
  std::string dst = "198.18.0.2";
  uint16_t src_port = 40000;
  uint16_t dst_port = 9;
  uint32_t sources = 1;  // distinct sources: index 0 .. sources - 1
  bool random = false;   // random source per frame instead of cycling
  Spread spread = Spread::kHost;
};

struct Frame {
  std::vector<uint8_t> bytes;
  struct pktgen_layout layout {};
  bool ipv6 = false;
};

// Builds the frame of source index 0 and its layout. Throws
// std::invalid_argument when an address is unparseable, when any generated
// source or the destination lies outside the lab ranges (198.18.0.0/15,
// 2001:db8::/32), or when the size cannot hold the headers.
Frame build_frame(const FrameSpec& spec);

// "02:00:00:00:00:01" -> bytes; throws std::invalid_argument.
Mac parse_mac(const std::string& text);

}  // namespace sluice::bench
