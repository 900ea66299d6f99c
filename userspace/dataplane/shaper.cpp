#include "shaper.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "error.h"
#include "libbpf_log.h"
#include "root_qdisc.h"
#include "sluice_shaper.skel.h"

namespace sluice {

void Shaper::SkeletonDeleter::operator()(struct sluice_shaper* skel) const {
  sluice_shaper__destroy(skel);
}

Shaper::Shaper(Shaper&&) noexcept = default;
Shaper& Shaper::operator=(Shaper&&) noexcept = default;
Shaper::~Shaper() = default;

void Shaper::write_rules(const std::vector<ShapeRule>& rules) {
  int classes = bpf_map__fd(skel_->maps.sluice_shape_classes);
  int prefixes = bpf_map__fd(skel_->maps.sluice_shape_prefixes);
  // Classes first (a prefix never points at an unset class), then prefixes;
  // the prefixes of rules that went are deleted last.
  for (uint32_t i = 0; i < rules.size(); ++i) {
    struct sluice_shape_class c {};
    bpf_map_lookup_elem(classes, &i, &c);
    bool same = i < rules_.size() && rules_[i].to == rules[i].to;
    if (!same) c = {};  // another destination: fresh pacing and counters
    c.rate_bytes = rules[i].rate_bytes;
    c.horizon_ns = rules[i].horizon_ns;
    if (bpf_map_update_elem(classes, &i, &c, BPF_ANY) != 0)
      throw_last_errno("write shaping class " + std::to_string(i));
  }
  for (uint32_t i = 0; i < rules.size(); ++i) {
    struct sluice_lpm_key key = rules[i].to.lpm_key();
    if (bpf_map_update_elem(prefixes, &key, &i, BPF_ANY) != 0)
      throw_last_errno("write shaping prefix " + rules[i].to.to_string());
  }
  for (const ShapeRule& old : rules_) {
    bool kept = false;
    for (const ShapeRule& rule : rules) kept = kept || rule.to == old.to;
    struct sluice_lpm_key key = old.to.lpm_key();
    if (!kept) bpf_map_delete_elem(prefixes, &key);
  }
  for (auto i = static_cast<uint32_t>(rules.size()); i < rules_.size(); ++i) {
    struct sluice_shape_class unused {};
    bpf_map_update_elem(classes, &i, &unused, BPF_ANY);
  }
  rules_ = rules;
}

Shaper Shaper::load(const std::vector<ShapeRule>& rules, bool test_clock) {
  validate(rules);
  route_libbpf_logs_to_spdlog();
  Shaper s;
  s.skel_.reset(sluice_shaper__open());
  if (!s.skel_) throw_last_errno("open BPF object sluice_shaper");
  s.skel_->rodata->sluice_shaper_test_clock = test_clock ? 1 : 0;
  check_libbpf(sluice_shaper__load(s.skel_.get()), "load BPF program sluice_shaper");
  s.write_rules(rules);
  return s;
}

int Shaper::prog_fd() const {
  return bpf_program__fd(skel_->progs.sluice_shaper);
}

void Shaper::set_test_clock(uint64_t now_ns) {
  skel_->bss->sluice_shaper_now_ns = now_ns;
}

void Shaper::attach(const std::string& ifname) {
  if (filter_.attached()) throw_errno(EALREADY, "shape egress of " + ifname + ": already attached");
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (!ifindex) throw_last_errno("shape egress of " + ifname + ": no such interface");
  const RootQdisc root = root_qdisc_of(ifindex);
  bool installed = false;
  if (root.kind != "fq") {
    if (!root.is_default())
      throw_errno(EBUSY, "shape egress of " + ifname + ": its root qdisc is " + root.kind +
                             ", added by someone else; the shaper needs fq there and does not "
                             "replace another qdisc");
    try {
      install_root_fq(ifindex);
    } catch (const std::system_error& e) {
      if (e.code().value() != ENOENT) throw;
      throw_errno(ENOENT, "shape egress of " + ifname +
                              ": this kernel has no fq qdisc (CONFIG_NET_SCH_FQ), which holds "
                              "packets until the departure time the shaper sets");
    }
    installed = true;
    spdlog::info("{}: installed fq as root qdisc (was the default {})", ifname, root.kind);
  }
  try {
    filter_ = TcFilter::attach(ifname, TcDirection::kEgress, prog_fd());
  } catch (...) {
    if (installed) delete_root_qdisc(ifindex);
    throw;
  }
  ifname_ = ifname;
  ifindex_ = ifindex;
  installed_fq_ = installed;
  spdlog::info("{}: shaping egress toward {} prefixes", ifname, rules_.size());
}

void Shaper::update(const std::vector<ShapeRule>& rules) {
  validate(rules);
  write_rules(rules);
}

void Shaper::detach() {
  filter_.detach();
  if (installed_fq_) {
    delete_root_qdisc(ifindex_);
    installed_fq_ = false;
    spdlog::info("{}: removed the fq qdisc it installed", ifname_);
  }
}

std::vector<ShapeClassStats> Shaper::stats() const {
  std::vector<ShapeClassStats> out;
  int classes = bpf_map__fd(skel_->maps.sluice_shape_classes);
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    struct sluice_shape_class c {};
    if (bpf_map_lookup_elem(classes, &i, &c) != 0)
      throw_last_errno("read shaping class " + std::to_string(i));
    out.push_back({c.passed, c.delayed, c.dropped, c.bytes});
  }
  return out;
}

}  // namespace sluice
