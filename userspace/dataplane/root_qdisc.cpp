#include "root_qdisc.h"

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "error.h"
#include "fd.h"

namespace sluice {
namespace {

// One request: a netlink header, a tcmsg and at most a TCA_KIND attribute.
struct QdiscRequest {
  nlmsghdr header;
  tcmsg tc;
  char attrs[64];
};

QdiscRequest request(uint16_t type, uint16_t flags, int ifindex) {
  QdiscRequest r{};
  r.header.nlmsg_len = NLMSG_LENGTH(sizeof(tcmsg));
  r.header.nlmsg_type = type;
  r.header.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  r.header.nlmsg_seq = 1;
  r.tc.tcm_family = AF_UNSPEC;
  r.tc.tcm_ifindex = ifindex;
  r.tc.tcm_parent = TC_H_ROOT;
  return r;
}

void add_kind(QdiscRequest& r, const char* kind) {
  auto* attr =
      reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&r) + NLMSG_ALIGN(r.header.nlmsg_len));
  attr->rta_type = TCA_KIND;
  attr->rta_len = static_cast<uint16_t>(RTA_LENGTH(std::strlen(kind) + 1));
  std::memcpy(RTA_DATA(attr), kind, std::strlen(kind) + 1);
  r.header.nlmsg_len = NLMSG_ALIGN(r.header.nlmsg_len) + RTA_ALIGN(attr->rta_len);
}

Fd netlink_socket() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) throw_last_errno("open an rtnetlink socket");
  return fd;
}

void send_request(const Fd& fd, const QdiscRequest& r, const std::string& what) {
  if (::send(fd.get(), &r, r.header.nlmsg_len, 0) < 0) throw_last_errno(what);
}

// Reads replies until the dump ends or the ACK arrives; `each` sees every
// RTM_NEWQDISC message. Throws the kernel's error.
template <typename Each>
void read_replies(const Fd& fd, const std::string& what, Each each) {
  std::vector<char> buffer(32 * 1024);
  for (;;) {
    ssize_t n = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
    if (n < 0) throw_last_errno(what);
    auto len = static_cast<uint32_t>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) return;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (err->error != 0) throw_errno(-err->error, what);
        return;  // the ACK
      }
      if (h->nlmsg_type == RTM_NEWQDISC) each(h);
    }
  }
}

void change(uint16_t type, uint16_t flags, int ifindex, const char* kind, const std::string& what) {
  Fd fd = netlink_socket();
  QdiscRequest r = request(type, static_cast<uint16_t>(NLM_F_ACK | flags), ifindex);
  if (kind) add_kind(r, kind);
  send_request(fd, r, what);
  read_replies(fd, what, [](const nlmsghdr*) {});
}

}  // namespace

RootQdisc root_qdisc_of(int ifindex) {
  const std::string what = "list the qdiscs of ifindex " + std::to_string(ifindex);
  Fd fd = netlink_socket();
  send_request(fd, request(RTM_GETQDISC, NLM_F_DUMP, ifindex), what);
  RootQdisc root;
  read_replies(fd, what, [&](const nlmsghdr* h) {
    const auto* tc = static_cast<const tcmsg*>(NLMSG_DATA(h));
    if (tc->tcm_ifindex != ifindex || tc->tcm_parent != TC_H_ROOT) return;
    root.handle = tc->tcm_handle;
    int attrs_len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*tc)));
    for (auto* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(tc) +
                                                   NLMSG_ALIGN(sizeof(*tc)));
         RTA_OK(a, attrs_len); a = RTA_NEXT(a, attrs_len))
      if (a->rta_type == TCA_KIND) root.kind = static_cast<const char*>(RTA_DATA(a));
  });
  return root;
}

void install_root_fq(int ifindex) {
  change(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, ifindex, "fq",
         "install fq as root qdisc of ifindex " + std::to_string(ifindex));
}

void delete_root_qdisc(int ifindex) {
  change(RTM_DELQDISC, 0, ifindex, nullptr,
         "delete the root qdisc of ifindex " + std::to_string(ifindex));
}

}  // namespace sluice
