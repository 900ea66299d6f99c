// Attaching in TC mode: the object's `sluice_tc` entry, which runs the same
// judge as the XDP entry on the same maps, as a clsact ingress filter. Used
// where a driver has no native XDP: generic XDP would see one GRO
// super-packet where the wire carried many, TC counts the segments.
//
// A TC filter is no BPF link, so nothing is pinned for it: a restarted
// sluiced loads afresh and replaces the filter in place (same handle and
// priority), so the interface is never unguarded, but buckets start anew;
// tc_hook.cpp remembers whether sluiced added the clsact qdisc.
#include "dataplane.h"

namespace sluice {

void Dataplane::attach_tc(const std::string& ifname, int ifindex) {
  tc_ = TcFilter::attach(ifname, TcDirection::kIngress, tc_prog_fd());
  ifname_ = ifname;
  ifindex_ = ifindex;
}

}  // namespace sluice
