#include "wire.h"

#include <cstring>
#include <stdexcept>

namespace sluice::cluster {
namespace {

constexpr std::array<uint8_t, 4> kMagic{'S', 'L', 'G', '1'};
constexpr size_t kMaxListLength = 255;  // updates or entries per body (u8 count)

enum class Type : uint8_t { kPing = 1, kAck = 2, kPingReq = 3, kSync = 4, kConsumption = 5 };

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t value) { out_.push_back(value); }
  void u16(uint16_t value) {
    u8(static_cast<uint8_t>(value >> 8));
    u8(static_cast<uint8_t>(value));
  }
  void u32(uint32_t value) {
    u16(static_cast<uint16_t>(value >> 16));
    u16(static_cast<uint16_t>(value));
  }
  void u64(uint64_t value) {
    u32(static_cast<uint32_t>(value >> 32));
    u32(static_cast<uint32_t>(value));
  }
  void bytes(std::span<const uint8_t> data) { out_.insert(out_.end(), data.begin(), data.end()); }
  void name(const std::string& text) {
    if (text.size() > kMaxNameLength) throw std::length_error("name '" + text + "' is too long");
    u8(static_cast<uint8_t>(text.size()));
    bytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }
  void address(const PeerAddress& address) {
    bytes(address.ip);
    u16(address.port);
  }
  void update(const MemberUpdate& update) {
    u8(static_cast<uint8_t>(update.state));
    name(update.name);
    u64(update.incarnation);
    address(update.address);
  }
  void updates(const std::vector<MemberUpdate>& list) {
    if (list.size() > kMaxListLength) throw std::length_error("too many member updates");
    u8(static_cast<uint8_t>(list.size()));
    for (const auto& item : list) update(item);
  }

 private:
  std::vector<uint8_t>& out_;
};

// Every read checks the remaining length first; a failed read poisons the
// reader, so a decoder can read a whole message and check ok() once.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  bool ok() const { return ok_; }
  bool at_end() const { return ok_ && position_ == data_.size(); }
  size_t position() const { return position_; }

  uint8_t u8() {
    if (!take(1)) return 0;
    return data_[position_ - 1];
  }
  uint16_t u16() { return static_cast<uint16_t>((u8() << 8) | u8()); }
  uint32_t u32() { return (static_cast<uint32_t>(u16()) << 16) | u16(); }
  uint64_t u64() { return (static_cast<uint64_t>(u32()) << 32) | u32(); }
  std::span<const uint8_t> bytes(size_t count) {
    if (!take(count)) return {};
    return data_.subspan(position_ - count, count);
  }
  std::string text(size_t count, size_t max) {
    if (count > max) ok_ = false;
    auto raw = bytes(ok_ ? count : 0);
    return ok_ ? std::string(raw.begin(), raw.end()) : std::string();
  }
  std::string name() {
    size_t length = u8();
    return text(length, kMaxNameLength);
  }
  PeerAddress address() {
    PeerAddress out;
    auto ip = bytes(16);
    if (ok_) std::memcpy(out.ip.data(), ip.data(), 16);
    out.port = u16();
    return out;
  }
  MemberUpdate update() {
    MemberUpdate out;
    uint8_t state = u8();
    if (state > static_cast<uint8_t>(MemberState::kLeft)) ok_ = false;
    out.state = static_cast<MemberState>(state);
    out.name = name();
    out.incarnation = u64();
    out.address = address();
    return out;
  }
  std::vector<MemberUpdate> updates() {
    std::vector<MemberUpdate> out;
    size_t count = u8();
    for (size_t i = 0; i < count && ok_; ++i) out.push_back(update());
    return out;
  }

 private:
  bool take(size_t count) {
    if (!ok_ || count > data_.size() - position_) {
      ok_ = false;
      return false;
    }
    position_ += count;
    return true;
  }
  std::span<const uint8_t> data_;
  size_t position_ = 0;
  bool ok_ = true;
};

struct BodyWriter {
  Writer& w;
  void operator()(const Ping& ping) const {
    w.u8(static_cast<uint8_t>(Type::kPing));
    w.u32(ping.probe);
    w.name(ping.target);
    w.updates(ping.updates);
  }
  void operator()(const Ack& ack) const {
    w.u8(static_cast<uint8_t>(Type::kAck));
    w.u32(ack.probe);
    w.updates(ack.updates);
  }
  void operator()(const PingReq& request) const {
    w.u8(static_cast<uint8_t>(Type::kPingReq));
    w.u32(request.probe);
    w.name(request.target);
    w.address(request.target_address);
  }
  void operator()(const Sync& sync) const {
    w.u8(static_cast<uint8_t>(Type::kSync));
    w.u8(sync.reply_wanted ? 1 : 0);
    w.updates(sync.members);
  }
  void operator()(const Consumption& consumption) const {
    w.u8(static_cast<uint8_t>(Type::kConsumption));
    if (consumption.entries.size() > kMaxListLength)
      throw std::length_error("too many consumption entries");
    w.u8(static_cast<uint8_t>(consumption.entries.size()));
    for (const auto& entry : consumption.entries) {
      if (entry.key.size() > kMaxKeyLength) throw std::length_error("consumption key too long");
      w.u16(static_cast<uint16_t>(entry.key.size()));
      w.bytes({reinterpret_cast<const uint8_t*>(entry.key.data()), entry.key.size()});
      w.u64(entry.generation);
      w.u64(entry.total);
    }
  }
};

std::optional<Body> read_body(Reader& r) {
  switch (static_cast<Type>(r.u8())) {
    case Type::kPing: {
      Ping ping;
      ping.probe = r.u32();
      ping.target = r.name();
      ping.updates = r.updates();
      return ping;
    }
    case Type::kAck: {
      Ack ack;
      ack.probe = r.u32();
      ack.updates = r.updates();
      return ack;
    }
    case Type::kPingReq: {
      PingReq request;
      request.probe = r.u32();
      request.target = r.name();
      request.target_address = r.address();
      return request;
    }
    case Type::kSync: {
      Sync sync;
      uint8_t flag = r.u8();
      if (flag > 1) return std::nullopt;
      sync.reply_wanted = flag == 1;
      sync.members = r.updates();
      return sync;
    }
    case Type::kConsumption: {
      Consumption consumption;
      size_t count = r.u8();
      for (size_t i = 0; i < count && r.ok(); ++i) {
        ConsumptionEntry entry;
        size_t length = r.u16();
        entry.key = r.text(length, kMaxKeyLength);
        entry.generation = r.u64();
        entry.total = r.u64();
        consumption.entries.push_back(std::move(entry));
      }
      return consumption;
    }
  }
  return std::nullopt;
}

size_t header_size(const std::string& sender) {
  return kMagic.size() + 1 + sender.size() + 8 + 8 + kNonceBytes;
}

}  // namespace

const char* to_string(MemberState state) {
  switch (state) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
    case MemberState::kLeft:
      return "left";
  }
  return "unknown";
}

ClusterKey derive_cluster_key(const std::string& cluster_name, const std::string& secret) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  std::array<uint8_t, crypto_generichash_KEYBYTES_MAX> secret_hash{};
  crypto_generichash(secret_hash.data(), secret_hash.size(),
                     reinterpret_cast<const uint8_t*>(secret.data()), secret.size(), nullptr, 0);
  std::string context = "sluice gossip v1";
  context += '\0';
  context += cluster_name;
  ClusterKey key{};
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const uint8_t*>(context.data()),
                     context.size(), secret_hash.data(), secret_hash.size());
  sodium_memzero(secret_hash.data(), secret_hash.size());
  return key;
}

size_t encoded_size(const MemberUpdate& update) {
  return 1 + 1 + update.name.size() + 8 + 16 + 2;
}

size_t encoded_size(const ConsumptionEntry& entry) {
  return 2 + entry.key.size() + 8 + 8;
}

size_t body_budget(const std::string& sender) {
  return kMaxDatagram - header_size(sender) - kTagBytes;
}

std::vector<uint8_t> encode_body(const Body& body) {
  std::vector<uint8_t> out;
  Writer writer(out);
  std::visit(BodyWriter{writer}, body);
  return out;
}

std::optional<Body> decode_body(std::span<const uint8_t> bytes) {
  Reader reader(bytes);
  auto body = read_body(reader);
  if (!body || !reader.at_end()) return std::nullopt;
  return body;
}

std::vector<uint8_t> seal(const ClusterKey& key, const Envelope& envelope,
                          std::span<const uint8_t> body) {
  if (header_size(envelope.sender) + body.size() + kTagBytes > kMaxDatagram)
    throw std::length_error("gossip message exceeds one datagram");
  std::vector<uint8_t> out;
  out.reserve(kMaxDatagram);
  Writer writer(out);
  writer.bytes(kMagic);
  writer.name(envelope.sender);
  writer.u64(envelope.boot_epoch);
  writer.u64(envelope.seq);
  std::array<uint8_t, kNonceBytes> nonce{};
  randombytes_buf(nonce.data(), nonce.size());
  writer.bytes(nonce);
  const size_t header_length = out.size();
  out.resize(header_length + body.size() + kTagBytes);
  unsigned long long cipher_length = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + header_length, &cipher_length,
                                             body.data(), body.size(), out.data(), header_length,
                                             nullptr, nonce.data(), key.data());
  out.resize(header_length + cipher_length);
  return out;
}

std::variant<Opened, OpenError> open(const ClusterKey& key, std::span<const uint8_t> datagram) {
  if (datagram.size() > kMaxDatagram) return OpenError::kMalformed;
  Reader reader(datagram);
  auto magic = reader.bytes(kMagic.size());
  if (!reader.ok() || !std::equal(magic.begin(), magic.end(), kMagic.begin()))
    return OpenError::kMalformed;
  Opened opened;
  opened.envelope.sender = reader.name();
  opened.envelope.boot_epoch = reader.u64();
  opened.envelope.seq = reader.u64();
  auto nonce = reader.bytes(kNonceBytes);
  if (!reader.ok() || opened.envelope.sender.empty()) return OpenError::kMalformed;
  const size_t header_length = reader.position();
  const auto cipher = datagram.subspan(header_length);
  if (cipher.size() < kTagBytes) return OpenError::kMalformed;
  opened.body.resize(cipher.size() - kTagBytes);
  unsigned long long plain_length = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(opened.body.data(), &plain_length, nullptr,
                                                 cipher.data(), cipher.size(), datagram.data(),
                                                 header_length, nonce.data(), key.data()) != 0)
    return OpenError::kForged;
  opened.body.resize(plain_length);
  return opened;
}

}  // namespace sluice::cluster
