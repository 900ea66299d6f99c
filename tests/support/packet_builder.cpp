#include "packet_builder.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdexcept>

namespace sluice::testing {
namespace {

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

void put_addr(std::vector<uint8_t>& b, size_t at, int family, const std::string& text) {
  if (inet_pton(family, text.c_str(), &b[at]) != 1)
    throw std::invalid_argument("bad address in test packet: " + text);
}

}  // namespace

PacketBuilder& PacketBuilder::vlan(uint16_t tpid, uint16_t vid) {
  Layer l{Kind::kVlan, std::vector<uint8_t>(4), 0};
  put16(l.bytes, 0, vid);
  l.proto = 0;
  // The TPID goes into the previous layer's type field; remember it in bytes 2..3 meanwhile.
  layers_.push_back(l);
  layers_.back().bytes.push_back(static_cast<uint8_t>(tpid >> 8));
  layers_.back().bytes.push_back(static_cast<uint8_t>(tpid));
  return *this;
}

PacketBuilder& PacketBuilder::ethertype(uint16_t type) {
  Layer l{Kind::kEthertype, {}, 0};
  l.bytes = {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type)};
  layers_.push_back(l);
  return *this;
}

PacketBuilder& PacketBuilder::ipv4(const std::string& src, const std::string& dst) {
  Layer l{Kind::kIpv4, std::vector<uint8_t>(20), 0};
  l.bytes[0] = 0x45;
  l.bytes[8] = 64;
  put_addr(l.bytes, 12, AF_INET, src);
  put_addr(l.bytes, 16, AF_INET, dst);
  layers_.push_back(l);
  v6_ = false;
  return *this;
}

PacketBuilder& PacketBuilder::ipv4_options(size_t bytes) {
  auto& ip = layers_.back();
  if (ip.kind != Kind::kIpv4 || bytes % 4 || ip.bytes.size() + bytes > 60)
    throw std::invalid_argument("ipv4_options: follows ipv4(), multiple of 4, at most 40");
  ip.bytes.resize(ip.bytes.size() + bytes, 0x01);  // NOP options
  ip.bytes[0] = static_cast<uint8_t>(0x40 | (ip.bytes.size() / 4));
  return *this;
}

PacketBuilder& PacketBuilder::ipv4_fragment(uint16_t offset_units, bool more_fragments) {
  auto& ip = layers_.back();
  if (ip.kind != Kind::kIpv4) throw std::invalid_argument("ipv4_fragment follows ipv4()");
  put16(ip.bytes, 6,
        static_cast<uint16_t>((more_fragments ? 0x2000 : 0) | (offset_units & 0x1fff)));
  return *this;
}

PacketBuilder& PacketBuilder::ipv6(const std::string& src, const std::string& dst) {
  Layer l{Kind::kIpv6, std::vector<uint8_t>(40), 0};
  l.bytes[0] = 0x60;
  l.bytes[7] = 64;
  put_addr(l.bytes, 8, AF_INET6, src);
  put_addr(l.bytes, 24, AF_INET6, dst);
  layers_.push_back(l);
  v6_ = true;
  return *this;
}

PacketBuilder& PacketBuilder::ipv6_ext(uint8_t type, size_t len) {
  if (len < 8 || len % 8 || len > 2048) throw std::invalid_argument("ipv6_ext: len 8..2048, x8");
  Layer l{Kind::kIpv6Ext, std::vector<uint8_t>(len), type};
  l.bytes[1] = static_cast<uint8_t>(len / 8 - 1);
  layers_.push_back(l);
  return *this;
}

PacketBuilder& PacketBuilder::ipv6_fragment(uint16_t offset_units, bool more_fragments) {
  Layer l{Kind::kIpv6Frag, std::vector<uint8_t>(8), IPPROTO_FRAGMENT};
  put16(l.bytes, 2, static_cast<uint16_t>((offset_units << 3) | (more_fragments ? 1 : 0)));
  layers_.push_back(l);
  return *this;
}

std::vector<uint8_t> tcp_header(uint8_t flags, uint16_t sport, uint16_t dport) {
  std::vector<uint8_t> bytes(20);
  put16(bytes, 0, sport);
  put16(bytes, 2, dport);
  bytes[12] = 5 << 4;
  bytes[13] = flags;
  return bytes;
}

PacketBuilder& PacketBuilder::tcp(uint8_t flags, uint16_t sport, uint16_t dport) {
  return l4_bytes(IPPROTO_TCP, tcp_header(flags, sport, dport));
}

PacketBuilder& PacketBuilder::l4_bytes(uint8_t protocol, const std::vector<uint8_t>& bytes) {
  layers_.push_back(Layer{Kind::kL4, bytes, protocol});
  return *this;
}

PacketBuilder& PacketBuilder::trailer(const std::vector<uint8_t>& bytes) {
  layers_.push_back(Layer{Kind::kTrailer, bytes, 0});
  return *this;
}

PacketBuilder& PacketBuilder::udp(uint16_t sport, uint16_t dport) {
  Layer l{Kind::kL4, std::vector<uint8_t>(8), IPPROTO_UDP};
  put16(l.bytes, 0, sport);
  put16(l.bytes, 2, dport);
  layers_.push_back(l);
  return *this;
}

PacketBuilder& PacketBuilder::icmp() {
  Layer l{Kind::kL4, std::vector<uint8_t>(8),
          v6_ ? static_cast<uint8_t>(IPPROTO_ICMPV6) : static_cast<uint8_t>(IPPROTO_ICMP)};
  l.bytes[0] = v6_ ? 128 : 8;  // echo request
  layers_.push_back(l);
  return *this;
}

PacketBuilder& PacketBuilder::l4_protocol(uint8_t protocol) {
  layers_.push_back(Layer{Kind::kL4, {}, protocol});
  return *this;
}

PacketBuilder& PacketBuilder::payload(size_t bytes) {
  layers_.push_back(Layer{Kind::kPayload, std::vector<uint8_t>(bytes, 0xab), 0});
  return *this;
}

std::vector<uint8_t> PacketBuilder::build() const {
  std::vector<uint8_t> frame(14, 0);
  // Destination 02:00:00:00:00:02, source 02:00:00:00:00:01.
  frame[0] = 0x02, frame[5] = 0x02, frame[6] = 0x02, frame[11] = 0x01;
  size_t type_at = 12;  // where the next ethertype goes
  size_t ip_at = 0, next_header_at = 0, datagram_end = 0;
  bool ip_is_v6 = false, have_ip = false;

  for (const auto& layer : layers_) {
    size_t at = frame.size();
    switch (layer.kind) {
      case Kind::kVlan:
        frame[type_at] = layer.bytes[4];
        frame[type_at + 1] = layer.bytes[5];
        frame.insert(frame.end(), layer.bytes.begin(), layer.bytes.begin() + 4);
        type_at = at + 2;
        break;
      case Kind::kEthertype:
        frame[type_at] = layer.bytes[0];
        frame[type_at + 1] = layer.bytes[1];
        break;
      case Kind::kIpv4:
      case Kind::kIpv6:
        put16(frame, type_at, layer.kind == Kind::kIpv4 ? 0x0800 : 0x86dd);
        frame.insert(frame.end(), layer.bytes.begin(), layer.bytes.end());
        ip_at = at;
        ip_is_v6 = layer.kind == Kind::kIpv6;
        have_ip = true;
        next_header_at = ip_is_v6 ? at + 6 : at + 9;
        break;
      case Kind::kIpv6Ext:
      case Kind::kIpv6Frag:
        frame[next_header_at] = layer.proto;
        frame.insert(frame.end(), layer.bytes.begin(), layer.bytes.end());
        next_header_at = at;  // byte 0 of an extension header is its next header
        break;
      case Kind::kL4:
        if (have_ip) frame[next_header_at] = layer.proto;
        frame.insert(frame.end(), layer.bytes.begin(), layer.bytes.end());
        break;
      case Kind::kPayload:
        frame.insert(frame.end(), layer.bytes.begin(), layer.bytes.end());
        break;
      case Kind::kTrailer:
        if (!datagram_end) datagram_end = at;
        frame.insert(frame.end(), layer.bytes.begin(), layer.bytes.end());
        break;
    }
  }
  if (!datagram_end) datagram_end = frame.size();
  if (have_ip) {
    if (ip_is_v6) {
      put16(frame, ip_at + 4, static_cast<uint16_t>(datagram_end - ip_at - 40));
    } else {
      put16(frame, ip_at + 2, static_cast<uint16_t>(datagram_end - ip_at));
    }
  }
  return frame;
}

std::vector<size_t> PacketBuilder::header_boundaries() const {
  std::vector<size_t> out{14};
  size_t at = 14;
  for (const auto& layer : layers_) {
    if (layer.kind == Kind::kEthertype) continue;
    size_t len = layer.kind == Kind::kVlan ? 4 : layer.bytes.size();
    if (layer.kind == Kind::kPayload || layer.kind == Kind::kTrailer) break;
    at += len;
    out.push_back(at);
  }
  return out;
}

}  // namespace sluice::testing
