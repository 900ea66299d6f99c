// A BPF program as a direct-action filter on an interface's clsact hook
// (TC ingress or egress), through libbpf's bpf_tc_* API. The clsact qdisc is
// created when the interface has none and removed again when the last filter
// sluiced put on it goes, so an interface is left as it was found. Whether
// sluiced added it is remembered across restarts in /run/sluice/clsact-added/.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace sluice {

enum class TcDirection { kIngress, kEgress };

class TcFilter {
 public:
  // Attaches `prog_fd` at `direction` of `ifname`, under a fixed handle and
  // priority per direction: a filter an earlier sluiced left there is
  // replaced in place (the hook is never without one).
  static TcFilter attach(const std::string& ifname, TcDirection direction, int prog_fd);

  TcFilter() = default;  // attached to nothing
  TcFilter(TcFilter&& other) noexcept;
  TcFilter& operator=(TcFilter&& other) noexcept;
  TcFilter(const TcFilter&) = delete;
  TcFilter& operator=(const TcFilter&) = delete;
  // Leaves the filter in place (see detach()).
  ~TcFilter() = default;

  // Removes the filter, then the clsact qdisc if this process created it and
  // no other filter of this process is on it.
  void detach();
  // Forgets the filter, which keeps running.
  void release() { ifindex_ = 0; }

  bool attached() const { return ifindex_ != 0; }
  // The id of the program the kernel runs in this filter now (0 when none).
  uint32_t running_prog_id() const;

 private:
  TcFilter(std::string ifname, int ifindex, TcDirection direction)
      : ifname_(std::move(ifname)), ifindex_(ifindex), direction_(direction) {}
  std::string ifname_;
  int ifindex_ = 0;
  TcDirection direction_ = TcDirection::kIngress;
};

}  // namespace sluice
