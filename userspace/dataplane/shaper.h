// The egress shaper of one interface: sluice_shaper.bpf.c as a clsact egress
// filter, which gives packets toward each shaped destination prefix an
// earliest departure time, and the fq qdisc that holds them until then
// (docs/tc.md). It leaves the interface as it found it: fq is installed only
// over the kernel's default root qdisc and removed again on detach.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cidr.h"
#include "fd.h"
#include "shape_rule.h"
#include "sluice_shaper.h"
#include "tc_hook.h"

struct sluice_shaper;

namespace sluice {

struct ShapeClassStats {
  uint64_t passed = 0, delayed = 0, dropped = 0, bytes = 0;
};

class Shaper {
 public:
  // validate_shape_rules (shape_rule.h); throws std::invalid_argument.
  static void validate(const std::vector<ShapeRule>& rules) { validate_shape_rules(rules); }
  // Loads the program with `rules` (checked by validate()); not attached.
  // With `test_clock`, it paces by set_test_clock() instead of the kernel clock.
  static Shaper load(const std::vector<ShapeRule>& rules, bool test_clock = false);
  // Installs fq as root qdisc of `ifname` unless it is there already, and
  // attaches the program at TC egress. An operator's own root qdisc (not fq)
  // is refused, not replaced. On failure nothing is left behind.
  void attach(const std::string& ifname);

  Shaper(Shaper&&) noexcept;
  Shaper& operator=(Shaper&&) noexcept;
  ~Shaper();

  // Replaces the rules in place; a class keeps its pacing state when its
  // rule's prefix stays at the same position.
  void update(const std::vector<ShapeRule>& rules);
  // Removes the filter, then fq if this Shaper installed it.
  void detach();

  const std::string& ifname() const { return ifname_; }
  int prog_fd() const;
  void set_test_clock(uint64_t now_ns);
  const std::vector<ShapeRule>& rules() const { return rules_; }
  // Per rule, in the order of rules().
  std::vector<ShapeClassStats> stats() const;
  // Whether attach() installed fq (and detach() will remove it).
  bool installed_fq() const { return installed_fq_; }

 private:
  Shaper() = default;
  void write_rules(const std::vector<ShapeRule>& rules);

  struct SkeletonDeleter {
    void operator()(struct sluice_shaper* skel) const;
  };
  std::unique_ptr<struct sluice_shaper, SkeletonDeleter> skel_;
  TcFilter filter_;
  std::string ifname_;
  int ifindex_ = 0;
  bool installed_fq_ = false;
  std::vector<ShapeRule> rules_;
};

}  // namespace sluice
