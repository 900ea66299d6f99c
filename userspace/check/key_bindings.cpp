#include "key_bindings.h"

namespace sluice {

uint64_t key_bucket_id(const std::string& client) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : client) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

void KeyBindings::sweep(uint64_t now_ns, std::vector<struct sluice_source>* deleted) {
  for (auto it = table_.begin(); it != table_.end();) {
    if (it->second.expires_ns > now_ns) {
      ++it;
      continue;
    }
    if (it->second.written_expires_ns) deleted->push_back(it->first);
    it = table_.erase(it);
  }
}

KeyBindings::Outcome KeyBindings::bind(const BindRequest& request, uint64_t now_ns) {
  const uint64_t expires = now_ns + ttl_ns_;
  auto it = table_.find(request.source);
  if (it != table_.end() && it->second.expires_ns <= now_ns) {
    // Expired: the address is free for whichever key comes next.
    if (it->second.written_expires_ns) expired_.push_back(it->first);
    table_.erase(it);
    it = table_.end();
  }
  if (it == table_.end()) {
    if (table_.size() >= capacity_) sweep(now_ns, &expired_);
    if (table_.size() >= capacity_) return Outcome::kFull;
    table_.emplace(request.source, Entry{request, expires, 0});
    return Outcome::kBound;
  }
  Entry& entry = it->second;
  if (entry.request.key_id == request.key_id) {
    if (entry.request.tier != request.tier) entry.written_expires_ns = 0;  // the key's tier moved
    entry.request = request;
    entry.expires_ns = expires;
    return Outcome::kRefreshed;
  }
  // Two keys, one address (NAT, a shared proxy): the higher tier wins; on a
  // tie the binding in place stays until it expires.
  if (request.rank <= entry.request.rank) return Outcome::kKept;
  entry = Entry{request, expires, 0};
  return Outcome::kReplaced;
}

KeyBindings::Batch KeyBindings::take_batch(uint64_t now_ns) {
  Batch batch;
  sweep(now_ns, &expired_);
  batch.deletes.swap(expired_);
  for (auto& [source, entry] : table_) {
    if (entry.written_expires_ns && entry.expires_ns - entry.written_expires_ns <= ttl_ns_ / 4)
      continue;
    entry.written_expires_ns = entry.expires_ns;
    batch.writes.emplace_back(source, sluice_key_binding{.key_id = entry.request.key_id,
                                                         .expires_ns = entry.expires_ns,
                                                         .tier = entry.request.tier,
                                                         .pad = 0});
  }
  return batch;
}

std::vector<std::pair<struct sluice_source, struct sluice_key_binding>> KeyBindings::all() const {
  std::vector<std::pair<struct sluice_source, struct sluice_key_binding>> out;
  for (const auto& [source, entry] : table_)
    if (entry.written_expires_ns)
      out.emplace_back(source, sluice_key_binding{.key_id = entry.request.key_id,
                                                  .expires_ns = entry.written_expires_ns,
                                                  .tier = entry.request.tier,
                                                  .pad = 0});
  return out;
}

}  // namespace sluice
