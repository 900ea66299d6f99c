// The request buckets across a daemon restart: a snapshot file of the buckets
// that hold consumption, written atomically. TATs are CLOCK_MONOTONIC, which
// is only meaningful within one boot, so the file records the boot id and a
// file from another boot is ignored (every bucket starts full, as after any
// reboot). Binary and versioned: magic, boot id, count, then the records.
#pragma once

#include <cstdint>
#include <string>

#include "request_buckets.h"

namespace sluice {

// This boot's id (/proc/sys/kernel/random/boot_id).
std::string current_boot_id();

// Writes the buckets that hold consumption; throws std::system_error naming the file.
size_t save_request_state(const std::string& path, const RequestBuckets& buckets, uint64_t now_ns,
                          const std::string& boot_id);

// Restores a snapshot into `buckets`; returns the number of buckets restored
// (0 when there is no file, or it is from another boot). Throws
// std::runtime_error naming the file when it is damaged.
size_t load_request_state(const std::string& path, RequestBuckets& buckets,
                          const std::string& boot_id);

}  // namespace sluice
