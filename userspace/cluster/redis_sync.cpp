#include "redis_sync.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <ctime>
#include <fstream>
#include <random>

#include "monotonic_clock.h"

namespace sluice::cluster {
namespace {

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

timeval to_timeval(uint64_t ns) {
  return {static_cast<time_t>(ns / 1'000'000'000ULL),
          static_cast<suseconds_t>(ns % 1'000'000'000ULL / 1000)};
}

int64_t age_ms(uint64_t then_ns, uint64_t now_ns) {
  if (then_ns == 0) return -1;
  return static_cast<int64_t>((now_ns - then_ns) / 1'000'000);
}

std::string read_password(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the Redis password file " + path);
  std::string password;
  std::getline(in, password);
  return password;
}

// Two unsigned numbers separated by a space, as this file writes them.
bool parse_pair(const char* text, size_t length, uint64_t& first, uint64_t& second) {
  std::string s(text, length);
  size_t space = s.find(' ');
  if (space == std::string::npos) return false;
  try {
    size_t used = 0;
    first = std::stoull(s.substr(0, space), &used);
    if (used != space) return false;
    second = std::stoull(s.substr(space + 1), &used);
    return used == s.size() - space - 1;
  } catch (const std::exception&) {
    return false;
  }
}

using Reply = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

Reply next_reply(redisContext* context) {
  void* raw = nullptr;
  if (redisGetReply(context, &raw) != REDIS_OK) return {nullptr, freeReplyObject};
  return {static_cast<redisReply*>(raw), freeReplyObject};
}

void append(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  redisAppendCommandArgv(context, static_cast<int>(args.size()), argv.data(), lengths.data());
}

}  // namespace

void RedisSync::ContextDeleter::operator()(redisContext* context) const {
  redisFree(context);
}

RedisSync::RedisSync(ClusterSettings settings, Charge charge)
    : settings_(std::move(settings)), charge_(std::move(charge)) {
  // hiredis writes with write(2): a Redis that died mid-round must be an
  // error to fall back from, not SIGPIPE killing the process. sluiced ignores
  // it already; this keeps any other user of the class alive too.
  std::signal(SIGPIPE, SIG_IGN);
  self_ = settings_.node.empty() ? host_name() : settings_.node;
  prefix_ = "sluice:" + settings_.name + ":";
  ledger_.set_wall_clock_offset(wall_clock_offset_ns(monotonic_ns()));  // refreshed every round
  // A run's identity: a restarted host's totals start again from zero, and
  // the others must tell its new counters from the old (consumption.h).
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  boot_epoch_ =
      static_cast<uint64_t>(wall.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(wall.tv_nsec);
  // A host whose heartbeat has not moved for three probe intervals no longer
  // counts: its share goes to the others.
  dead_after_ns_ = 3 * settings_.probe_interval_ns;
  known_members_ = std::max(1u, settings_.hosts);
}

RedisSync::~RedisSync() {
  {
    std::lock_guard lock(wake_mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RedisSync::start() {
  thread_ = std::thread([this] { run(); });
}

void RedisSync::run() {
  std::unique_lock lock(wake_mutex_);
  while (!stop_) {
    lock.unlock();
    sync_once();
    lock.lock();
    wake_.wait_for(lock, std::chrono::nanoseconds(settings_.sync_interval_ns),
                   [this] { return stop_; });
  }
}

bool RedisSync::connect() {
  const timeval timeout = to_timeval(std::max<uint64_t>(settings_.sync_interval_ns, 50'000'000));
  redisContext* raw = settings_.redis.front() == '/'
                          ? redisConnectUnixWithTimeout(settings_.redis.c_str(), timeout)
                          : [&] {
                              size_t colon = settings_.redis.rfind(':');
                              std::string host = settings_.redis.substr(0, colon);
                              if (host.size() > 2 && host.front() == '[')
                                host = host.substr(1, host.size() - 2);
                              int port = std::stoi(settings_.redis.substr(colon + 1));
                              return redisConnectWithTimeout(host.c_str(), port, timeout);
                            }();
  context_.reset(raw);
  if (!context_ || context_->err) {
    mark_down(context_ ? context_->errstr : "out of memory");
    context_.reset();
    return false;
  }
  redisSetTimeout(context_.get(), timeout);
  if (!settings_.redis_password_file.empty()) {
    std::string password;
    try {
      password = read_password(settings_.redis_password_file);
    } catch (const std::runtime_error& e) {
      mark_down(e.what());
      context_.reset();
      return false;
    }
    append(context_.get(), {"AUTH", password});
    Reply reply = next_reply(context_.get());
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      mark_down(reply ? std::string("AUTH: ") + reply->str : context_->errstr);
      context_.reset();
      return false;
    }
  }
  return true;
}

void RedisSync::mark_down(const std::string& why) {
  ++sync_errors_;
  if (!settings_.fail_open) {
    // This host now enforces its share alone: what the others admit until
    // their totals are read again is rebased, not charged (consumption.h).
    std::lock_guard lock(mutex_);
    for (const auto& [host, member] : members_) ledger_.leave_share(host);
  }
  if (up_.exchange(false) || round_trips_ == 0)
    spdlog::warn("cluster {}: Redis at {} unreachable ({}); enforcing this host's share",
                 settings_.name, settings_.redis, why);
}

bool RedisSync::sync_once() {
  const uint64_t now = monotonic_ns();
  ledger_.set_wall_clock_offset(wall_clock_offset_ns(now));  // generations' clock (consumption.h)
  if (!context_ && !connect()) return false;
  if (!exchange(now)) {
    context_.reset();  // reconnect on the next round
    return false;
  }
  ++round_trips_;
  if (!up_.exchange(true))
    spdlog::info("cluster {}: Redis at {} reachable; sharing consumption", settings_.name,
                 settings_.redis);
  if (now >= next_expire_ns_) {
    ledger_.expire(now);
    next_expire_ns_ = now + 10'000'000'000ULL;
  }
  return true;
}

// Round trip 1 (one pipeline): replace this host's recent totals and bump its
// heartbeat in a transaction, and read every host's heartbeat. Round trip 2:
// read the recent totals of every live host but this one.
bool RedisSync::exchange(uint64_t now_ns) {
  redisContext* c = context_.get();
  const std::string members_key = prefix_ + "members";
  const std::string own_key = prefix_ + "recent:" + self_;
  // Totals stay in Redis a few intervals past this host's last write, so a
  // slow reader still sees them; a dead host's vanish by themselves.
  const uint64_t ttl_ms = std::max<uint64_t>(5 * settings_.sync_interval_ns / 1'000'000, 2000);

  append(c, {"MULTI"});
  append(c, {"DEL", own_key});
  const auto entries = ledger_.recent_totals(now_ns);
  if (!entries.empty()) {
    std::vector<std::string> hset{"HSET", own_key};
    for (const auto& entry : entries) {
      hset.push_back(entry.key);
      hset.push_back(std::to_string(entry.generation) + " " + std::to_string(entry.total));
    }
    append(c, hset);
    append(c, {"PEXPIRE", own_key, std::to_string(ttl_ms)});
  }
  append(c, {"HSET", members_key, self_,
             std::to_string(boot_epoch_) + " " + std::to_string(++heartbeat_)});
  append(c, {"EXEC"});
  append(c, {"HGETALL", members_key});

  const size_t queued = entries.empty() ? 3 : 5;  // DEL, [HSET, PEXPIRE,] HSET, EXEC
  for (size_t i = 0; i < 1 + queued; ++i) {
    Reply reply = next_reply(c);
    if (!reply) return mark_down(c->errstr), false;
    if (reply->type == REDIS_REPLY_ERROR) return mark_down(reply->str), false;
    if (i == queued && reply->type != REDIS_REPLY_ARRAY)
      return mark_down("the transaction was not applied"), false;
  }
  Reply members = next_reply(c);
  if (!members) return mark_down(c->errstr), false;
  if (members->type != REDIS_REPLY_ARRAY) return mark_down("HGETALL members: not a hash"), false;

  std::vector<std::pair<std::string, uint64_t>> live;  // other live hosts, boot epoch
  size_t alive_count = 1;                              // this host
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i + 1 < members->elements; i += 2) {
      const redisReply* name = members->element[i];
      const redisReply* value = members->element[i + 1];
      std::string host(name->str, name->len);
      uint64_t epoch = 0, beat = 0;
      if (host == self_ || !parse_pair(value->str, value->len, epoch, beat)) continue;
      Member& m = members_[host];
      if (m.boot_epoch != epoch || m.heartbeat != beat || m.changed_ns == 0) m.changed_ns = now_ns;
      m.boot_epoch = epoch;
      m.heartbeat = beat;
      m.alive = now_ns - m.changed_ns <= dead_after_ns_;
      if (m.alive) {
        ++alive_count;
        live.emplace_back(host, epoch);
      }
    }
    known_members_ = alive_count;
  }

  for (const auto& [host, epoch] : live) append(c, {"HGETALL", prefix_ + "recent:" + host});
  std::vector<ConsumptionDelta> deltas;
  for (const auto& [host, epoch] : live) {
    Reply totals = next_reply(c);
    if (!totals) return mark_down(c->errstr), false;
    if (totals->type != REDIS_REPLY_ARRAY) continue;
    std::vector<ConsumptionEntry> received;
    for (size_t i = 0; i + 1 < totals->elements; i += 2) {
      ConsumptionEntry entry;
      entry.key.assign(totals->element[i]->str, totals->element[i]->len);
      if (parse_pair(totals->element[i + 1]->str, totals->element[i + 1]->len, entry.generation,
                     entry.total))
        received.push_back(std::move(entry));
    }
    auto merged = ledger_.merge(host, epoch, received, now_ns);
    {
      std::lock_guard lock(mutex_);
      members_[host].synced_ns = now_ns;
    }
    deltas.insert(deltas.end(), merged.begin(), merged.end());
  }
  if (!deltas.empty()) {
    uint64_t total = 0;
    for (const auto& delta : deltas) total += delta.count;
    charged_ += total;
    charge_(deltas);
  }
  return true;
}

void RedisSync::record(const std::string& key, uint64_t count) {
  ledger_.record_local(key, monotonic_ns(), count);
}

double RedisSync::share() const {
  if (settings_.fail_open || up_) return 1.0;
  std::lock_guard lock(mutex_);
  return 1.0 / static_cast<double>(std::max<size_t>(1, known_members_));
}

size_t RedisSync::counted_members() const {
  std::lock_guard lock(mutex_);
  return std::max<size_t>(1, known_members_);
}

std::vector<PeerStatus> RedisSync::peers() const {
  const uint64_t now = monotonic_ns();
  std::vector<PeerStatus> out;
  out.push_back({self_, settings_.redis, MemberState::kAlive, boot_epoch_, true});
  std::lock_guard lock(mutex_);
  for (const auto& [name, member] : members_) {
    PeerStatus status{name, "via redis", member.alive ? MemberState::kAlive : MemberState::kDead,
                      member.boot_epoch, false};
    status.last_contact_ms = age_ms(member.changed_ns, now);
    status.sync_lag_ms = age_ms(member.synced_ns, now);
    out.push_back(std::move(status));
  }
  return out;
}

ClusterCounters RedisSync::counters() const {
  ClusterCounters c;
  c.sent = round_trips_;
  c.received = round_trips_;
  c.dropped_keys = ledger_.dropped_keys();
  c.charged = charged_;
  c.rebased = ledger_.absorbed();
  c.sync_errors = sync_errors_;
  c.degraded = !up_ && !settings_.fail_open;
  return c;
}

}  // namespace sluice::cluster
