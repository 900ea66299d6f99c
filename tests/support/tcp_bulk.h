// A TCP bulk transfer between two namespaces: the sender writes as fast as
// the connection takes it, the receiver counts the bytes that arrive. Over
// veth the sender's TSO hands the receiving side GSO super-packets.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice::testing {

struct BulkReport {
  uint64_t bytes = 0;  // received by the far side's application
  double seconds = 0;  // over which they were received
  int mss = 0;         // the connection's maximum segment size (payload bytes)
};

// Sends from `src` in `tx_ns` to `dst`:`port` in `rx_ns` for `duration`.
BulkReport tcp_bulk(const std::string& tx_ns, const std::string& src, const std::string& rx_ns,
                    const std::string& dst, uint16_t port, std::chrono::milliseconds duration);

}  // namespace sluice::testing
