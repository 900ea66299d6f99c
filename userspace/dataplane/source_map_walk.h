// Walking a BPF hash map keyed by struct sluice_source in batches
// (bpf_map_lookup_batch): the bucket map, the key bindings, the penalties.
#pragma once

#include <bpf/bpf.h>

#include <cerrno>
#include <string>
#include <vector>

#include "error.h"
#include "sluice_layout.h"

namespace sluice {

// Calls visit(keys, values, count) once per batch; throws naming `what`.
template <typename Value, typename Visit>
void walk_source_map(int fd, const std::string& what, Visit visit, uint32_t batch = 8192) {
  std::vector<struct sluice_source> keys(batch);
  std::vector<Value> values(batch);
  struct sluice_source in_batch {
  }, out_batch{};
  for (bool first = true;; first = false) {
    uint32_t count = batch;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int rc = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data(),
                                  values.data(), &count, &opts);
    int err = rc < 0 ? errno : 0;
    if (rc < 0 && err != ENOENT) throw_errno(err, "read " + what);
    visit(keys, values, count);
    if (err == ENOENT) return;  // that was the last batch
    in_batch = out_batch;
  }
}

}  // namespace sluice
