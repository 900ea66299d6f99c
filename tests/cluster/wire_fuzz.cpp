// libFuzzer target for everything a datagram from the network reaches:
// open() (header parsing and authentication) with the raw input, then — so
// the fuzzer gets past the tag — the input sealed as a body with the cluster
// key and opened again, decode_body() on it, the replay window on its
// sequence number, and a re-encode that must decode to the same message.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "replay_window.h"
#include "wire.h"

using namespace sluice::cluster;

namespace {
const ClusterKey& key() {
  static const ClusterKey k = derive_cluster_key("fuzz", "fuzzing-secret-of-32-bytes-long!");
  return k;
}
ReplayGuard guard;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  (void)open(key(), input);

  if (auto body = decode_body(input)) {
    auto again = decode_body(encode_body(*body));
    if (!again || !(*again == *body)) std::abort();  // the codec must round-trip
  }
  if (size + 200 > kMaxDatagram) return 0;
  uint64_t seq = size >= 8 ? data[0] | (uint64_t{data[1]} << 8) | (uint64_t{data[7]} << 56) : size;
  auto datagram = seal(key(), {"fuzz-node", 1, seq}, input);
  auto opened = open(key(), datagram);
  auto* message = std::get_if<Opened>(&opened);
  if (!message || message->body.size() != size) std::abort();  // our own seal must open
  (void)guard.accept(message->envelope.sender, message->envelope.boot_epoch, seq);
  (void)decode_body(message->body);
  return 0;
}
