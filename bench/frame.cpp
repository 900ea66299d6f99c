#include "frame.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace sluice::bench {
namespace {

constexpr uint32_t kLabV4 = 0xc6120000;  // 198.18.0.0/15
constexpr uint32_t kLabV4Mask = 0xfffe0000;
constexpr uint32_t kLabV6 = 0x20010db8;  // 2001:db8::/32, first word

void fail(const std::string& message) {
  throw std::invalid_argument(message);
}

// Ones' complement sum of `len` bytes, folded, not inverted.
uint32_t sum16(const uint8_t* p, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

uint16_t finish(uint32_t sum) {
  uint16_t csum = static_cast<uint16_t>(~sum & 0xffff);
  return htons(csum == 0 ? 0xffff : csum);
}

size_t l4_header_len(L4 l4) {
  return l4 == L4::kUdp ? sizeof(udphdr) : sizeof(tcphdr);
}

// Writes the UDP or TCP SYN header at `l4` for `l4_len` bytes of segment;
// the checksum is left 0 for the caller.
void write_l4(uint8_t* l4, size_t l4_len, const FrameSpec& spec) {
  if (spec.l4 == L4::kUdp) {
    udphdr udp{};
    udp.source = htons(spec.src_port);
    udp.dest = htons(spec.dst_port);
    udp.len = htons(static_cast<uint16_t>(l4_len));
    std::memcpy(l4, &udp, sizeof(udp));
    return;
  }
  tcphdr tcp{};
  tcp.source = htons(spec.src_port);
  tcp.dest = htons(spec.dst_port);
  tcp.seq = htonl(1);
  tcp.doff = 5;
  tcp.syn = 1;
  tcp.window = htons(65535);
  std::memcpy(l4, &tcp, sizeof(tcp));
}

size_t l4_csum_offset(L4 l4) {
  return l4 == L4::kUdp ? offsetof(udphdr, check) : offsetof(tcphdr, check);
}

uint8_t l4_proto(L4 l4) {
  return l4 == L4::kUdp ? IPPROTO_UDP : IPPROTO_TCP;
}

// Resolves the default size (0) and checks an explicit one.
void check_size(FrameSpec& spec, size_t headers) {
  if (spec.size == 0) spec.size = std::max<size_t>(64, headers);
  if (spec.size < headers)
    fail("frame size " + std::to_string(spec.size) + " is below the " + std::to_string(headers) +
         " bytes of headers");
  if (spec.size > 1514) fail("frame size " + std::to_string(spec.size) + " exceeds 1514");
}

Frame build_v4(FrameSpec spec, const in_addr& src, const in_addr& dst) {
  const uint32_t base = ntohl(src.s_addr);
  const uint64_t last = static_cast<uint64_t>(base) + spec.sources - 1;
  if ((base & kLabV4Mask) != kLabV4 || (last & kLabV4Mask) != kLabV4)
    fail("sources " + spec.src + " + " + std::to_string(spec.sources) +
         " leave the lab range 198.18.0.0/15 (at most 131072 IPv4 sources)");
  if ((ntohl(dst.s_addr) & kLabV4Mask) != kLabV4)
    fail("destination " + spec.dst + " is outside 198.18.0.0/15");

  const size_t l3 = sizeof(ethhdr), l4 = l3 + sizeof(iphdr);
  check_size(spec, l4 + l4_header_len(spec.l4));
  Frame frame;
  frame.bytes.assign(spec.size, 0);
  uint8_t* p = frame.bytes.data();

  iphdr ip{};
  ip.version = 4;
  ip.ihl = 5;
  ip.tot_len = htons(static_cast<uint16_t>(spec.size - l3));
  ip.frag_off = htons(0x4000);  // DF
  ip.ttl = 64;
  ip.protocol = l4_proto(spec.l4);
  ip.saddr = src.s_addr;
  ip.daddr = dst.s_addr;
  std::memcpy(p + l3, &ip, sizeof(ip));
  const uint16_t ip_csum = finish(sum16(p + l3, sizeof(ip)));
  std::memcpy(p + l3 + offsetof(iphdr, check), &ip_csum, 2);

  const size_t l4_len = spec.size - l4;
  write_l4(p + l4, l4_len, spec);
  frame.layout.l3_csum_off = static_cast<uint32_t>(l3 + offsetof(iphdr, check));
  if (spec.l4 == L4::kTcpSyn) {
    // UDP over IPv4 goes without a checksum, as NICs that verify in hardware
    // would spare the receiver the work; TCP must carry one.
    uint8_t pseudo[12] = {};
    std::memcpy(pseudo, &ip.saddr, 4);
    std::memcpy(pseudo + 4, &ip.daddr, 4);
    pseudo[9] = ip.protocol;
    pseudo[10] = static_cast<uint8_t>(l4_len >> 8);
    pseudo[11] = static_cast<uint8_t>(l4_len);
    const uint16_t csum = finish(sum16(p + l4, l4_len, sum16(pseudo, sizeof(pseudo))));
    std::memcpy(p + l4 + l4_csum_offset(spec.l4), &csum, 2);
    frame.layout.l4_csum_off = static_cast<uint32_t>(l4 + l4_csum_offset(spec.l4));
  }
  frame.layout.word_off = static_cast<uint32_t>(l3 + offsetof(iphdr, saddr));
  frame.layout.word_base = base;
  return frame;
}

Frame build_v6(FrameSpec spec, const in6_addr& src, const in6_addr& dst) {
  auto word = [](const in6_addr& a, int i) {
    uint32_t w;
    std::memcpy(&w, a.s6_addr + 4 * i, 4);
    return ntohl(w);
  };
  if (word(src, 0) != kLabV6 || word(dst, 0) != kLabV6)
    fail("IPv6 source " + spec.src + " and destination " + spec.dst + " must lie in 2001:db8::/32");
  const int varied = spec.spread == Spread::kHost ? 3 : 1;
  const uint32_t base = word(src, varied);
  if (static_cast<uint64_t>(base) + spec.sources - 1 > 0xffffffffULL)
    fail("sources " + spec.src + " + " + std::to_string(spec.sources) +
         " overflow the varied word");

  const size_t l3 = sizeof(ethhdr), l4 = l3 + sizeof(ipv6hdr);
  check_size(spec, l4 + l4_header_len(spec.l4));
  Frame frame;
  frame.ipv6 = true;
  frame.bytes.assign(spec.size, 0);
  uint8_t* p = frame.bytes.data();
  const size_t l4_len = spec.size - l4;

  ipv6hdr ip6{};
  ip6.version = 6;
  ip6.payload_len = htons(static_cast<uint16_t>(l4_len));
  ip6.nexthdr = l4_proto(spec.l4);
  ip6.hop_limit = 64;
  ip6.saddr = src;
  ip6.daddr = dst;
  std::memcpy(p + l3, &ip6, sizeof(ip6));

  write_l4(p + l4, l4_len, spec);
  uint8_t pseudo[40] = {};
  std::memcpy(pseudo, &src, 16);
  std::memcpy(pseudo + 16, &dst, 16);
  pseudo[34] = static_cast<uint8_t>(l4_len >> 8);
  pseudo[35] = static_cast<uint8_t>(l4_len);
  pseudo[39] = ip6.nexthdr;
  const uint16_t csum = finish(sum16(p + l4, l4_len, sum16(pseudo, sizeof(pseudo))));
  std::memcpy(p + l4 + l4_csum_offset(spec.l4), &csum, 2);

  frame.layout.word_off = static_cast<uint32_t>(l3 + offsetof(ipv6hdr, saddr) + 4 * varied);
  frame.layout.word_base = base;
  frame.layout.l4_csum_off = static_cast<uint32_t>(l4 + l4_csum_offset(spec.l4));
  return frame;
}

}  // namespace

Mac parse_mac(const std::string& text) {
  Mac mac{};
  unsigned b[6];
  char tail;
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &tail) != 6)
    fail("not a MAC address: '" + text + "'");
  for (int i = 0; i < 6; ++i) {
    if (b[i] > 0xff) fail("not a MAC address: '" + text + "'");
    mac[i] = static_cast<uint8_t>(b[i]);
  }
  return mac;
}

Frame build_frame(const FrameSpec& spec) {
  if (spec.sources == 0) fail("at least one source is needed");
  Frame frame;
  in_addr src4{}, dst4{};
  in6_addr src6{}, dst6{};
  if (inet_pton(AF_INET, spec.src.c_str(), &src4) == 1) {
    if (inet_pton(AF_INET, spec.dst.c_str(), &dst4) != 1)
      fail("destination '" + spec.dst + "' is not an IPv4 address like the source");
    frame = build_v4(spec, src4, dst4);
  } else if (inet_pton(AF_INET6, spec.src.c_str(), &src6) == 1) {
    if (inet_pton(AF_INET6, spec.dst.c_str(), &dst6) != 1)
      fail("destination '" + spec.dst + "' is not an IPv6 address like the source");
    frame = build_v6(spec, src6, dst6);
  } else {
    fail("source '" + spec.src + "' is not an IP address");
  }

  ethhdr eth{};
  std::memcpy(eth.h_dest, spec.dst_mac.data(), 6);
  std::memcpy(eth.h_source, spec.src_mac.data(), 6);
  eth.h_proto = htons(frame.ipv6 ? ETH_P_IPV6 : ETH_P_IP);
  std::memcpy(frame.bytes.data(), &eth, sizeof(eth));
  frame.layout.sources = spec.sources;
  frame.layout.random = spec.random ? 1 : 0;
  return frame;
}

}  // namespace sluice::bench
