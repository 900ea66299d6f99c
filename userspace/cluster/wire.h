// The gossip wire format: one UDP datagram per message, at most
// kMaxDatagram bytes, authenticated and encrypted with the cluster key.
//
//   header (plain, authenticated as associated data):
//     magic "SLG1" | sender length u8 | sender | boot epoch u64 | sequence u64 | nonce (24)
//   ciphertext: XChaCha20-Poly1305 of the body, 16-byte tag appended
//   body: type u8, then the fields of that type (see wire.cpp)
//
// All integers are big-endian. The codec is written by hand (docs/cluster.md
// says why): every read is bounds-checked and a malformed body yields no
// message, never an exception or a partial one.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "peer_address.h"

namespace sluice::cluster {

// Fits a 1500-byte MTU with IPv6 and UDP headers to spare.
constexpr size_t kMaxDatagram = 1400;
constexpr size_t kMaxNameLength = 64;  // node and cluster names
constexpr size_t kMaxKeyLength = 512;  // a consumption key (client + limit)
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

enum class MemberState : uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3 };
const char* to_string(MemberState state);

// What one node believes about another; SWIM's piggybacked gossip.
struct MemberUpdate {
  MemberState state = MemberState::kAlive;
  std::string name;
  uint64_t incarnation = 0;
  PeerAddress address;
  bool operator==(const MemberUpdate&) const = default;
};

// Direct probe of `target`; answered with an Ack carrying the same probe number.
struct Ping {
  uint32_t probe = 0;
  std::string target;
  std::vector<MemberUpdate> updates;
  bool operator==(const Ping&) const = default;
};
struct Ack {
  uint32_t probe = 0;
  std::vector<MemberUpdate> updates;
  bool operator==(const Ack&) const = default;
};
// "Ping `target` for me": the receiver pings it and forwards the Ack.
struct PingReq {
  uint32_t probe = 0;
  std::string target;
  PeerAddress target_address;
  bool operator==(const PingReq&) const = default;
};
// Full state exchange (join and periodic anti-entropy).
struct Sync {
  bool reply_wanted = false;
  std::vector<MemberUpdate> members;
  bool operator==(const Sync&) const = default;
};
// The sender's absolute admitted totals for global limits (a G-counter slice).
struct ConsumptionEntry {
  std::string key;
  uint64_t generation = 0;  // when the sender started this counter (consumption.h)
  uint64_t total = 0;
  bool operator==(const ConsumptionEntry&) const = default;
};
struct Consumption {
  std::vector<ConsumptionEntry> entries;
  bool operator==(const Consumption&) const = default;
};

using Body = std::variant<Ping, Ack, PingReq, Sync, Consumption>;

// Who sent a datagram: its node name, the epoch of its current run (unix ns
// at start; a restart gets a higher one) and a per-run sequence number.
struct Envelope {
  std::string sender;
  uint64_t boot_epoch = 0;
  uint64_t seq = 0;
  bool operator==(const Envelope&) const = default;
};

using ClusterKey = std::array<uint8_t, crypto_aead_xchacha20poly1305_ietf_KEYBYTES>;

// BLAKE2b of the cluster name keyed by (a hash of) the secret: nodes of
// another cluster, or with another secret, cannot read or forge messages.
ClusterKey derive_cluster_key(const std::string& cluster_name, const std::string& secret);

// Encoded sizes, for filling a datagram up to its budget.
size_t encoded_size(const MemberUpdate& update);
size_t encoded_size(const ConsumptionEntry& entry);
// Room for a body in one datagram from `sender`.
size_t body_budget(const std::string& sender);

std::vector<uint8_t> encode_body(const Body& body);
// nullopt for anything malformed: truncated, trailing bytes, bad enum,
// oversized name or list.
std::optional<Body> decode_body(std::span<const uint8_t> bytes);

// Header + ciphertext. Throws std::length_error if it would exceed kMaxDatagram.
std::vector<uint8_t> seal(const ClusterKey& key, const Envelope& envelope,
                          std::span<const uint8_t> body);

enum class OpenError { kMalformed, kForged };
struct Opened {
  Envelope envelope;
  std::vector<uint8_t> body;
};
std::variant<Opened, OpenError> open(const ClusterKey& key, std::span<const uint8_t> datagram);

}  // namespace sluice::cluster
