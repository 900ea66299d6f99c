#include "cluster_node.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <fstream>
#include <sstream>
#include <system_error>

#include "monotonic_clock.h"
#include "share.h"

namespace sluice::cluster {
namespace {

uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

MembershipConfig membership_config(const ClusterSettings& settings, const PeerAddress& address) {
  MembershipConfig config;
  config.self = settings.node.empty() ? host_name() : settings.node;
  config.address = address;
  config.probe_interval_ns = settings.probe_interval_ns;
  config.probe_timeout_ns = settings.probe_timeout_ns;
  config.indirect_probes = settings.indirect_probes;
  config.suspicion_mult = settings.suspicion_mult;
  config.forget_dead_after_ns = settings.forget_dead_after_ns;
  return config;
}

Fd bind_socket(const PeerAddress& address, bool v4) {
  Fd fd(::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw std::system_error(errno, std::generic_category(), "gossip socket");
  sockaddr_storage storage{};
  socklen_t length = address.to_sockaddr(storage, v4);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0)
    throw std::system_error(errno, std::generic_category(),
                            "binding the gossip socket to " + address.to_string());
  return fd;
}

int64_t age_ms(uint64_t then_ns, uint64_t now_ns) {
  if (then_ns == 0) return -1;
  return static_cast<int64_t>((now_ns - then_ns) / 1'000'000);
}

}  // namespace

std::string read_cluster_secret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cluster key file '" + path + "' cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.size() < 16)
    throw std::runtime_error("cluster key file '" + path + "' holds fewer than 16 bytes");
  return secret;
}

ClusterNode::ClusterNode(ClusterSettings settings, const ClusterKey& key, Charge charge)
    : settings_(std::move(settings)),
      key_(key),
      charge_(std::move(charge)),
      membership_(
          membership_config(settings_, PeerAddress::parse(settings_.bind)),
          [this](const PeerAddress& to, const Body& body) { send(to, body); }, monotonic_ns()) {
  const PeerAddress bind = PeerAddress::parse(settings_.bind);
  v4_socket_ = bind.is_v4();
  socket_ = bind_socket(bind, v4_socket_);
  boot_epoch_ = clock_ns(CLOCK_REALTIME);
  ledger_.set_wall_clock_offset(wall_clock_offset_ns(monotonic_ns()));  // refreshed in run()
  for (const auto& seed : settings_.seeds) seeds_.push_back(PeerAddress::parse(seed));
}

ClusterNode::~ClusterNode() {
  if (thread_.joinable()) {
    stop_ = true;
    thread_.join();
  }
  std::lock_guard lock(mutex_);
  membership_.leave();
}

void ClusterNode::start() {
  {
    std::lock_guard lock(mutex_);
    membership_.join(seeds_);
  }
  thread_ = std::thread([this] { run(); });
  spdlog::info("cluster '{}': node '{}' gossiping on {} with {} seed(s)", settings_.name,
               membership_.config().self, settings_.bind, seeds_.size());
}

void ClusterNode::send(const PeerAddress& to, const Body& body) {
  Envelope envelope{membership_.config().self, boot_epoch_, ++seq_};
  std::vector<uint8_t> datagram;
  try {
    datagram = seal(key_, envelope, encode_body(body));
  } catch (const std::length_error& e) {
    ++send_errors_;
    spdlog::warn("cluster: message not sent: {}", e.what());
    return;
  }
  sockaddr_storage storage{};
  socklen_t length = to.to_sockaddr(storage, v4_socket_);
  if (::sendto(socket_.get(), datagram.data(), datagram.size(), 0,
               reinterpret_cast<sockaddr*>(&storage), length) < 0)
    ++send_errors_;
  else
    ++sent_;
}

void ClusterNode::handle(std::span<const uint8_t> datagram, const PeerAddress& from,
                         uint64_t now_ns) {
  auto opened = open(key_, datagram);
  if (auto* error = std::get_if<OpenError>(&opened)) {
    (*error == OpenError::kForged ? forged_ : malformed_)++;
    return;
  }
  auto& message = std::get<Opened>(opened);
  // Decode before the replay window moves: a body that does not decode is
  // counted as malformed and leaves no trace.
  auto body = decode_body(message.body);
  if (!body) {
    ++malformed_;
    return;
  }
  const auto& envelope = message.envelope;
  std::vector<ConsumptionDelta> deltas;
  {
    std::lock_guard lock(mutex_);
    if (envelope.sender == membership_.config().self) return;  // our own echo
    if (replay_.accept(envelope.sender, envelope.boot_epoch, envelope.seq) !=
        ReplayVerdict::kFresh) {
      ++replayed_;
      return;
    }
    ++received_;
    if (const auto* consumption = std::get_if<Consumption>(&*body))
      deltas = ledger_.merge(envelope.sender, envelope.boot_epoch, consumption->entries, now_ns);
    else
      membership_.receive(envelope.sender, from, *body, now_ns);
  }
  if (!deltas.empty()) {
    for (const auto& delta : deltas) charged_ += delta.count;
    charge_(deltas);
  }
}

void ClusterNode::receive_all(uint64_t now_ns) {
  std::array<uint8_t, kMaxDatagram + 1> buffer{};
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_length = sizeof(from);
    ssize_t n = ::recvfrom(socket_.get(), buffer.data(), buffer.size(), 0,
                           reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n < 0) return;  // EAGAIN: drained
    handle({buffer.data(), static_cast<size_t>(n)}, PeerAddress::from_sockaddr(from), now_ns);
  }
}

void ClusterNode::send_consumption(uint64_t now_ns) {
  // Totals are absolute, so every peer gets the same datagrams and a lost one
  // is repaired by the next round. An empty message still tells the peer how
  // fresh our totals are (its sync lag).
  const auto entries = ledger_.recent_totals(now_ns);
  std::vector<Consumption> messages(1);
  const size_t budget = body_budget(membership_.config().self) - 2;
  size_t used = 0;
  for (const auto& entry : entries) {
    size_t size = encoded_size(entry);
    if (size > budget) continue;
    if (used + size > budget || messages.back().entries.size() == 255) {
      messages.emplace_back();
      used = 0;
    }
    messages.back().entries.push_back(entry);
    used += size;
  }
  std::vector<MemberInfo> peers;
  {
    std::lock_guard lock(mutex_);
    peers = membership_.reachable_peers();
  }
  for (const auto& peer : peers)
    for (const auto& message : messages) send(peer.address, message);
}

void ClusterNode::run() {
  uint64_t next_sync = monotonic_ns();
  uint64_t next_expire = next_sync + 10'000'000'000ULL;
  while (!stop_) {
    pollfd fd{socket_.get(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    uint64_t now = monotonic_ns();
    receive_all(now);
    {
      std::lock_guard lock(mutex_);
      // The wall clock: the members' shared clock for the probe schedule
      // (membership.h) and what generations are stamped with (consumption.h).
      const int64_t wall_offset = wall_clock_offset_ns(now);
      membership_.set_fleet_clock_offset(wall_offset);
      ledger_.set_wall_clock_offset(wall_offset);
      membership_.tick(now);
    }
    update_share(now);
    if (now >= next_sync) {
      send_consumption(now);
      next_sync = now + settings_.sync_interval_ns;
    }
    if (now >= next_expire) {
      ledger_.expire(now);
      next_expire = now + 10'000'000'000ULL;
    }
  }
}

void ClusterNode::record(const std::string& key, uint64_t count) {
  if (!ledger_.record_local(key, monotonic_ns(), count)) return;
}

double ClusterNode::share() const {
  return settings_.fail_open ? 1.0 : share_.load(std::memory_order_relaxed);
}

size_t ClusterNode::counted_members() const {
  return counted_.load(std::memory_order_relaxed);
}

void ClusterNode::update_share(uint64_t now_ns) {
  std::vector<MemberInfo> members;
  size_t counted = 1;
  {
    std::lock_guard lock(mutex_);
    members = membership_.members();
    counted = membership_.counted_count();
  }
  std::vector<std::string> left_out;
  const size_t in_sync = members_in_sync(
      members, [this](const std::string& peer) { return ledger_.last_heard_ns(peer); }, now_ns,
      sync_timeout_ns(settings_.sync_interval_ns), &left_out);
  // Decided here, where the share is, so that only a peer the share really
  // left out is rebased (not one whose totals this thread was too slow to read).
  // Fail-open keeps the whole limit: nobody is left out, everything is charged.
  if (!settings_.fail_open)
    for (const auto& peer : left_out) ledger_.leave_share(peer);
  share_.store(partition_share(in_sync, counted), std::memory_order_relaxed);
  counted_.store(counted, std::memory_order_relaxed);
}

std::vector<PeerStatus> ClusterNode::peers() const {
  const uint64_t now = monotonic_ns();
  std::vector<MemberInfo> members;
  {
    std::lock_guard lock(mutex_);
    members = membership_.members();
  }
  std::vector<PeerStatus> out;
  for (const auto& member : members) {
    PeerStatus status{member.name, member.address.to_string(), member.state, member.incarnation,
                      member.self};
    status.state_age_ms = age_ms(member.state_since_ns, now);
    if (!member.self) {
      status.last_contact_ms = age_ms(member.last_contact_ns, now);
      status.sync_lag_ms = age_ms(ledger_.last_heard_ns(member.name), now);
    }
    out.push_back(std::move(status));
  }
  return out;
}

ClusterCounters ClusterNode::counters() const {
  ClusterCounters c{
      sent_,   received_, malformed_, forged_, replayed_, send_errors_, ledger_.dropped_keys(),
      charged_};
  c.rebased = ledger_.absorbed();
  return c;
}

}  // namespace sluice::cluster
