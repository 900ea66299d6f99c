#include "api_keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "error.h"
#include "fd.h"

namespace sluice {
namespace {

constexpr size_t kKeyRandomBytes = 24;
constexpr const char* kKeyPrefix = "sk_";

void ensure_sodium() {
  static const int ready = sodium_init();
  if (ready < 0) throw std::runtime_error("libsodium could not be initialised");
}

std::string to_hex(const unsigned char* bytes, size_t length) {
  std::string out(length * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, length);
  out.pop_back();
  return out;
}

std::string hash_key(const KeyHash& hash) {
  return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

void write_file_atomically(const std::string& path, const std::string& content) {
  std::string temp = path + ".tmp";
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) throw_last_errno("create " + temp);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) throw_last_errno("write " + temp);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) throw_last_errno("fsync " + temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) throw_last_errno("rename " + temp + " to " + path);
}

}  // namespace

bool is_well_formed_key(std::string_view key) {
  if (key.size() < 16 || key.size() > 128) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

ApiKeyStore::ApiKeyStore(std::string pepper) : pepper_(std::move(pepper)) {
  ensure_sodium();
  if (pepper_.size() != kPepperBytes)
    throw std::invalid_argument("the key pepper must be " + std::to_string(kPepperBytes) +
                                " bytes");
}

KeyHash ApiKeyStore::hash_of(std::string_view key) const {
  KeyHash out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(key.data()),
                     key.size(), reinterpret_cast<const unsigned char*>(pepper_.data()),
                     pepper_.size());
  return out;
}

std::pair<std::string, ApiKeyRecord> ApiKeyStore::add(const std::string& tier, uint64_t now_unix) {
  unsigned char random[kKeyRandomBytes];
  randombytes_buf(random, sizeof(random));
  char
      encoded[sodium_base64_ENCODED_LEN(kKeyRandomBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(encoded, sizeof(encoded), random, sizeof(random),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(random, sizeof(random));
  std::string key = std::string(kKeyPrefix) + encoded;
  ApiKeyRecord record;
  record.hash = hash_of(key);
  record.id = "k_" + to_hex(record.hash.data(), 6);
  record.tier = tier;
  record.created = now_unix;
  std::unique_lock lock(mutex_);
  by_hash_[hash_key(record.hash)] = record;
  return {key, record};
}

std::optional<ApiKeyRecord> ApiKeyStore::find(std::string_view key) const {
  if (!is_well_formed_key(key)) return std::nullopt;
  KeyHash hash = hash_of(key);
  std::shared_lock lock(mutex_);
  // The map is searched by a keyed hash an attacker cannot predict, so its
  // comparisons leak nothing; the final check is constant time anyway.
  auto it = by_hash_.find(hash_key(hash));
  if (it == by_hash_.end()) return std::nullopt;
  if (sodium_memcmp(it->second.hash.data(), hash.data(), hash.size()) != 0) return std::nullopt;
  return it->second;
}

std::optional<ApiKeyRecord> ApiKeyStore::find_id(const std::string& id) const {
  std::shared_lock lock(mutex_);
  for (const auto& [hash, record] : by_hash_)
    if (record.id == id) return record;
  return std::nullopt;
}

bool ApiKeyStore::revoke(const std::string& id) {
  std::unique_lock lock(mutex_);
  for (auto it = by_hash_.begin(); it != by_hash_.end(); ++it) {
    if (it->second.id != id) continue;
    by_hash_.erase(it);
    return true;
  }
  return false;
}

void ApiKeyStore::insert(const ApiKeyRecord& record) {
  std::unique_lock lock(mutex_);
  by_hash_[hash_key(record.hash)] = record;
}

bool ApiKeyStore::set_tier(const std::string& id, const std::string& tier) {
  std::unique_lock lock(mutex_);
  for (auto& [hash, record] : by_hash_) {
    if (record.id != id) continue;
    record.tier = tier;
    return true;
  }
  return false;
}

std::vector<ApiKeyRecord> ApiKeyStore::list() const {
  std::shared_lock lock(mutex_);
  std::vector<ApiKeyRecord> out;
  for (const auto& [hash, record] : by_hash_) out.push_back(record);
  std::sort(out.begin(), out.end(),
            [](const ApiKeyRecord& a, const ApiKeyRecord& b) { return a.id < b.id; });
  return out;
}

void ApiKeyStore::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return;  // no keys yet
    throw_last_errno("open " + path);
  }
  std::map<std::string, ApiKeyRecord> loaded;
  try {
    nlohmann::json doc = nlohmann::json::parse(in);
    for (const auto& row : doc.at("keys")) {
      ApiKeyRecord record;
      record.id = row.at("id").get<std::string>();
      record.tier = row.at("tier").get<std::string>();
      record.created = row.at("created").get<uint64_t>();
      std::string hex = row.at("hash").get<std::string>();
      size_t length = 0;
      if (hex.size() != kKeyHashBytes * 2 ||
          sodium_hex2bin(record.hash.data(), record.hash.size(), hex.data(), hex.size(), nullptr,
                         &length, nullptr) != 0 ||
          length != kKeyHashBytes)
        throw std::invalid_argument("key " + record.id + ": malformed hash");
      loaded[hash_key(record.hash)] = record;
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("keys file " + path + ": " + e.what());
  }
  std::unique_lock lock(mutex_);
  by_hash_ = std::move(loaded);
}

void ApiKeyStore::save(const std::string& path) const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& record : list())
    rows.push_back({{"id", record.id},
                    {"hash", to_hex(record.hash.data(), record.hash.size())},
                    {"tier", record.tier},
                    {"created", record.created}});
  write_file_atomically(path, nlohmann::json{{"version", 1}, {"keys", rows}}.dump(1) + "\n");
}

std::string load_or_create_pepper(const std::string& path) {
  ensure_sodium();
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd && errno == ENOENT) {
    std::string pepper(kPepperBytes, '\0');
    randombytes_buf(pepper.data(), pepper.size());
    Fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out) throw_last_errno("create the key pepper " + path);
    if (::write(out.get(), pepper.data(), pepper.size()) != static_cast<ssize_t>(pepper.size()) ||
        ::fsync(out.get()) != 0)
      throw_last_errno("write the key pepper " + path);
    return pepper;
  }
  if (!fd) throw_last_errno("open the key pepper " + path);
  std::string pepper(kPepperBytes + 1, '\0');
  ssize_t n = ::read(fd.get(), pepper.data(), pepper.size());
  if (n < 0) throw_last_errno("read the key pepper " + path);
  if (static_cast<size_t>(n) != kPepperBytes)
    throw std::system_error(
        EINVAL, std::generic_category(),
        "the key pepper " + path + " must hold exactly " + std::to_string(kPepperBytes) + " bytes");
  pepper.resize(kPepperBytes);
  return pepper;
}

}  // namespace sluice
