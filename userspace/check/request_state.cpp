#include "request_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "error.h"
#include "fd.h"

namespace sluice {
namespace {

// Version 02 adds each bucket's expiry (window algorithms' states are not
// TATs); version 01 files, all token buckets, are still read.
constexpr char kMagic[8] = {'S', 'L', 'R', 'Q', 'S', 'T', '0', '2'};
constexpr char kMagicV1[8] = {'S', 'L', 'R', 'Q', 'S', 'T', '0', '1'};
constexpr size_t kBootIdBytes = 36;
constexpr size_t kMaxKeyBytes = 4096;

void put_u64(std::string& out, uint64_t value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

class Cursor {
 public:
  Cursor(const std::string& data, const std::string& path) : data_(data), path_(path) {}
  std::string take(size_t n) {
    if (data_.size() - at_ < n) throw std::runtime_error("request state " + path_ + ": truncated");
    std::string out = data_.substr(at_, n);
    at_ += n;
    return out;
  }
  uint64_t u64() {
    uint64_t value = 0;
    std::memcpy(&value, take(sizeof(value)).data(), sizeof(value));
    return value;
  }
  bool done() const { return at_ == data_.size(); }

 private:
  const std::string& data_;
  const std::string& path_;
  size_t at_ = 0;
};

}  // namespace

std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  if (id.size() != kBootIdBytes) throw std::runtime_error("cannot read this boot's id");
  return id;
}

size_t save_request_state(const std::string& path, const RequestBuckets& buckets, uint64_t now_ns,
                          const std::string& boot_id) {
  const auto entries = buckets.entries(now_ns);
  std::string out(kMagic, sizeof(kMagic));
  out += boot_id.substr(0, kBootIdBytes);
  out.resize(sizeof(kMagic) + kBootIdBytes, '\0');
  put_u64(out, entries.size());
  for (const auto& entry : entries) {
    put_u64(out, entry.key.size());
    out += entry.key;
    put_u64(out, entry.tat);
    put_u64(out, entry.interval_fp);
    put_u64(out, entry.expires_ns);
  }
  const std::string temp = path + ".tmp";
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) throw_last_errno("create " + temp);
  for (size_t done = 0; done < out.size();) {
    ssize_t n = ::write(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) throw_last_errno("write " + temp);
    done += static_cast<size_t>(n);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) throw_last_errno("rename " + temp + " to " + path);
  return entries.size();
}

size_t load_request_state(const std::string& path, RequestBuckets& buckets,
                          const std::string& boot_id) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return 0;
    throw_last_errno("open " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::string data = text.str();
  Cursor cursor(data, path);
  const std::string magic = cursor.take(sizeof(kMagic));
  const bool v1 = magic == std::string(kMagicV1, sizeof(kMagicV1));
  if (!v1 && magic != std::string(kMagic, sizeof(kMagic)))
    throw std::runtime_error("request state " + path + ": not a request state file");
  if (cursor.take(kBootIdBytes) != boot_id.substr(0, kBootIdBytes)) return 0;  // another boot
  const uint64_t count = cursor.u64();
  std::vector<RequestBuckets::Entry> entries;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t length = cursor.u64();
    if (length == 0 || length > kMaxKeyBytes)
      throw std::runtime_error("request state " + path + ": malformed record");
    RequestBuckets::Entry entry;
    entry.key = cursor.take(length);
    entry.tat = cursor.u64();
    entry.interval_fp = cursor.u64();
    entry.expires_ns = v1 ? entry.tat : cursor.u64();
    entries.push_back(std::move(entry));
  }
  if (!cursor.done()) throw std::runtime_error("request state " + path + ": trailing bytes");
  return buckets.restore(entries);
}

}  // namespace sluice
