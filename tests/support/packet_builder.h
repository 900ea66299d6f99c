// Crafts Ethernet frames for BPF_PROG_TEST_RUN: VLAN tags, IPv4 (options,
// fragments), IPv6 (extension headers, fragments), TCP/UDP/ICMP/ICMPv6.
// Lengths are filled in; checksums are not (XDP does not verify them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::testing {

inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpRst = 0x04;

// The 20 bytes of a TCP header without options, as tcp() builds it.
std::vector<uint8_t> tcp_header(uint8_t flags, uint16_t sport = 40000, uint16_t dport = 80);

class PacketBuilder {
 public:
  PacketBuilder& vlan(uint16_t tpid, uint16_t vid);  // tpid 0x8100 or 0x88a8
  PacketBuilder& ethertype(uint16_t type);           // a non-IP frame (ARP...)
  PacketBuilder& ipv4(const std::string& src, const std::string& dst = "198.18.0.2");
  PacketBuilder& ipv4_options(size_t bytes);  // multiple of 4, up to 40
  PacketBuilder& ipv4_fragment(uint16_t offset_units, bool more_fragments);
  PacketBuilder& ipv6(const std::string& src, const std::string& dst = "2001:db8::2");
  // Hop-by-hop (0), routing (43) or destination options (60); len multiple of 8.
  PacketBuilder& ipv6_ext(uint8_t type, size_t len = 8);
  PacketBuilder& ipv6_fragment(uint16_t offset_units, bool more_fragments);
  PacketBuilder& tcp(uint8_t flags, uint16_t sport = 40000, uint16_t dport = 80);
  PacketBuilder& udp(uint16_t sport = 40000, uint16_t dport = 53);
  PacketBuilder& icmp();                         // ICMP echo (IPv4) / ICMPv6 echo (IPv6)
  PacketBuilder& l4_protocol(uint8_t protocol);  // an L4 protocol we do not parse
  PacketBuilder& payload(size_t bytes);
  // An L4 layer of exactly these bytes (a slice of a header, say) announced as `protocol`.
  PacketBuilder& l4_bytes(uint8_t protocol, const std::vector<uint8_t>& bytes);
  // Bytes after the IP datagram, outside its length: link-layer padding.
  PacketBuilder& trailer(const std::vector<uint8_t>& bytes);

  std::vector<uint8_t> build() const;
  // Offsets at which one header ends and the next begins (for truncation tests).
  std::vector<size_t> header_boundaries() const;

 private:
  enum class Kind { kVlan, kEthertype, kIpv4, kIpv6, kIpv6Ext, kIpv6Frag, kL4, kPayload, kTrailer };
  struct Layer {
    Kind kind;
    std::vector<uint8_t> bytes;
    uint8_t proto = 0;  // protocol number this layer announces to the previous one
  };
  std::vector<Layer> layers_;
  bool v6_ = false;
};

}  // namespace sluice::testing
