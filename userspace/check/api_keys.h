// API keys, stored hashed: a key is shown once when it is made, and only its
// keyed BLAKE2b hash (libsodium crypto_generichash, keyed with a per-deployment
// pepper) is kept, in memory and in the keys file. Looking a key up hashes it
// and compares hashes in constant time; an unknown key leaves no trace.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

inline constexpr size_t kKeyHashBytes = 32;
inline constexpr size_t kPepperBytes = 32;
using KeyHash = std::array<unsigned char, kKeyHashBytes>;

struct ApiKeyRecord {
  std::string id;  // public handle: "k_" + 12 hex digits of the hash
  KeyHash hash{};
  std::string tier;
  uint64_t created = 0;  // unix seconds
};

// A credential that can never be a key (control characters, wrong alphabet,
// wrong length): the request is malformed, not merely unauthorised.
bool is_well_formed_key(std::string_view key);

class ApiKeyStore {
 public:
  // `pepper` must be kPepperBytes long; throws std::invalid_argument.
  explicit ApiKeyStore(std::string pepper);

  // Makes a new random key for `tier`; returns the key in clear (the only time
  // it exists) and records its hash.
  std::pair<std::string, ApiKeyRecord> add(const std::string& tier, uint64_t now_unix);
  std::optional<ApiKeyRecord> find(std::string_view key) const;
  std::optional<ApiKeyRecord> find_id(const std::string& id) const;
  bool revoke(const std::string& id);
  // Puts a record back (undoing a revoke that could not be saved).
  void insert(const ApiKeyRecord& record);
  bool set_tier(const std::string& id, const std::string& tier);
  std::vector<ApiKeyRecord> list() const;

  // The keys file: JSON with ids, hex hashes, tiers; written atomically (0600).
  void load(const std::string& path);
  void save(const std::string& path) const;

 private:
  KeyHash hash_of(std::string_view key) const;

  std::string pepper_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, ApiKeyRecord> by_hash_;  // key: the hash bytes
};

// Reads the pepper file, creating it (0600, random) when absent; throws
// std::system_error naming the file.
std::string load_or_create_pepper(const std::string& path);

}  // namespace sluice
