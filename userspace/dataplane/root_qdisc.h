// An interface's root qdisc, through rtnetlink: the egress shaper needs fq
// there to hold packets until the departure time its program sets.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

struct RootQdisc {
  std::string kind;     // "noqueue", "fq", "mq", ...
  uint32_t handle = 0;  // 0 for the default the kernel attached itself
  // A qdisc the kernel attached itself rather than one an operator added.
  bool is_default() const { return handle == 0; }
};

RootQdisc root_qdisc_of(int ifindex);
// `tc qdisc replace dev <ifindex> root fq`.
void install_root_fq(int ifindex);
// `tc qdisc del dev <ifindex> root`: the kernel puts its default back.
void delete_root_qdisc(int ifindex);

}  // namespace sluice
