// The daemon's egress shapers (the `shape:` section): one Shaper per
// interface, brought in line with the configuration at start and reload and
// removed at exit. Unlike the ingress limiter, a shaper does not outlive the
// daemon: it smooths traffic rather than guards, and an interface is left as
// it was found (fq removed, when sluiced installed it).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shape_rule.h"
#include "shaper.h"

namespace sluice {

class Shapers {
 public:
  Shapers() = default;
  Shapers(const Shapers&) = delete;
  Shapers& operator=(const Shapers&) = delete;
  ~Shapers() { detach_all(); }

  // Makes the shapers match `specs`: new interfaces are shaped, changed rules
  // rewritten in place, interfaces no longer listed released. When shaping a
  // new interface fails, what this call attached is detached again and the
  // error thrown; interfaces already shaped keep their rules.
  void apply(const std::vector<ShapeSpec>& specs);
  void detach_all();
  const std::map<std::string, Shaper>& shapers() const { return shapers_; }
  // For `status`: per interface, whether fq was installed, and per rule its
  // prefix, rate, horizon and counters.
  nlohmann::json status() const;

 private:
  std::map<std::string, Shaper> shapers_;
};

}  // namespace sluice
