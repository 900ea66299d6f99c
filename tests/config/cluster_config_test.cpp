// The `cluster:` section's sync: redis: what it reads, and each mistake named
// by its field (a gossip setting under redis, a redis setting under gossip,
// no address, a bad one).
#include <gtest/gtest.h>

#include "config_file.h"

namespace sluice {
namespace {

const std::string kTier = "tiers:\n  a:\n    packets: 10/s\n";

TEST(ClusterConfig, ReadsARedisSync) {
  Config config = parse_config(kTier + R"(cluster:
  name: edge
  node: gw1
  sync: redis
  redis: /run/redis/redis.sock
  hosts: 5
  sync_interval: 200ms
)",
                               "ok.yaml");
  EXPECT_TRUE(config.cluster.enabled);
  EXPECT_EQ(config.cluster.sync, cluster::SyncMode::kRedis);
  EXPECT_EQ(config.cluster.redis, "/run/redis/redis.sock");
  EXPECT_EQ(config.cluster.hosts, 5U);
  EXPECT_EQ(config.cluster.sync_interval_ns, 200'000'000U);
  EXPECT_EQ(
      parse_config(kTier + "cluster: {name: edge, sync: redis, redis: 127.0.0.1:6379}\n", "ok.yaml")
          .cluster.redis,
      "127.0.0.1:6379");
}

struct BadCluster {
  const char* name;
  std::string section;
  std::string field;
  std::string fragment;
};

class ClusterConfigErrors : public ::testing::TestWithParam<BadCluster> {};

TEST_P(ClusterConfigErrors, NameTheField) {
  const BadCluster& c = GetParam();
  try {
    parse_config(kTier + "cluster:\n" + c.section, "bad.yaml");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), c.field) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.fragment), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Redis, ClusterConfigErrors,
    ::testing::Values(
        BadCluster{"unknown_sync", "  name: e\n  sync: raft\n", "cluster.sync",
                   "expected gossip or redis, got 'raft'"},
        BadCluster{"no_address", "  name: e\n  sync: redis\n", "cluster.redis", "is required"},
        BadCluster{"bad_address", "  name: e\n  sync: redis\n  redis: localhost\n", "cluster.redis",
                   ""},
        BadCluster{"seeds_under_redis",
                   "  name: e\n  sync: redis\n  redis: /r.sock\n  seeds: [198.18.0.1:7946]\n",
                   "cluster.seeds", "applies to sync: gossip only"},
        BadCluster{"key_under_redis",
                   "  name: e\n  sync: redis\n  redis: /r.sock\n  key_file: /k\n",
                   "cluster.key_file", "applies to sync: gossip only"},
        BadCluster{"redis_under_gossip", "  name: e\n  key_file: /k\n  redis: /r.sock\n",
                   "cluster.redis", "applies to sync: redis only"},
        BadCluster{"hosts_zero", "  name: e\n  sync: redis\n  redis: /r.sock\n  hosts: 0\n",
                   "cluster.hosts", ""},
        BadCluster{"relative_password",
                   "  name: e\n  sync: redis\n  redis: /r.sock\n  redis_password_file: pw\n",
                   "cluster.redis_password_file", "expected an absolute path"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sluice
