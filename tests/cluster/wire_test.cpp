#include "wire.h"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

const ClusterKey kKey = derive_cluster_key("lab", "0123456789abcdef-secret");

MemberUpdate update(const std::string& name, MemberState state, uint64_t incarnation) {
  return {state, name, incarnation, PeerAddress::parse("198.18.0.2:7946")};
}

TEST(Wire, EveryBodyTypeRoundTrips) {
  const std::vector<Body> bodies = {
      Ping{7, "node-b", {update("node-c", MemberState::kSuspect, 3)}},
      Ack{7, {update("node-d", MemberState::kDead, 9), update("node-e", MemberState::kLeft, 1)}},
      PingReq{8, "node-c", PeerAddress::parse("[2001:db8::3]:7000")},
      Sync{true, {update("node-a", MemberState::kAlive, 0)}},
      Consumption{{{"key:abc\x1fw:minute", 17, 4200},
                   {"198.18.0.9\x1f"
                    "e:users",
                    18, 1}}},
  };
  for (const auto& body : bodies) {
    auto decoded = decode_body(encode_body(body));
    ASSERT_TRUE(decoded.has_value()) << body.index();
    EXPECT_EQ(*decoded, body);
  }
}

TEST(Wire, TruncatedOrPaddedBodiesDecodeToNothing) {
  auto bytes = encode_body(Ping{1, "node-b", {update("node-c", MemberState::kAlive, 1)}});
  for (size_t length = 0; length < bytes.size(); ++length)
    EXPECT_FALSE(decode_body({bytes.data(), length}).has_value()) << length;
  bytes.push_back(0);
  EXPECT_FALSE(decode_body(bytes).has_value());
}

TEST(Wire, UnknownTypeStateAndOversizedNamesAreRefused) {
  EXPECT_FALSE(decode_body(std::vector<uint8_t>{0x09, 0, 0, 0, 1}).has_value());
  auto ack = encode_body(Ack{1, {update("n", MemberState::kAlive, 1)}});
  ack[6] = 7;  // the update's state byte
  EXPECT_FALSE(decode_body(ack).has_value());
  std::vector<uint8_t> long_name = {1, 0, 0, 0, 1, 65};  // a Ping whose target has 65 bytes
  long_name.resize(6 + 65, 'x');
  long_name.push_back(0);  // no updates
  EXPECT_FALSE(decode_body(long_name).has_value());
}

TEST(Wire, SealedMessageOpensWithTheSameKeyOnly) {
  Envelope envelope{"node-a", 1700000000000000000ULL, 42};
  auto body = encode_body(Ack{5, {}});
  auto datagram = seal(kKey, envelope, body);
  EXPECT_LE(datagram.size(), kMaxDatagram);

  auto opened = open(kKey, datagram);
  ASSERT_TRUE(std::holds_alternative<Opened>(opened));
  EXPECT_EQ(std::get<Opened>(opened).envelope, envelope);
  EXPECT_EQ(std::get<Opened>(opened).body, body);

  auto other_secret = derive_cluster_key("lab", "another-secret-of-16");
  auto other_cluster = derive_cluster_key("prod", "0123456789abcdef-secret");
  EXPECT_EQ(std::get<OpenError>(open(other_secret, datagram)), OpenError::kForged);
  EXPECT_EQ(std::get<OpenError>(open(other_cluster, datagram)), OpenError::kForged);
}

TEST(Wire, AnyFlippedBitIsRejected) {
  auto datagram = seal(kKey, {"node-a", 1, 2}, encode_body(Ping{1, "node-b", {}}));
  for (size_t i = 0; i < datagram.size(); ++i) {
    auto corrupted = datagram;
    corrupted[i] ^= 0x01;
    EXPECT_TRUE(std::holds_alternative<OpenError>(open(kKey, corrupted))) << "byte " << i;
  }
}

TEST(Wire, BodiesLargerThanADatagramAreNotSealed) {
  std::vector<uint8_t> body(body_budget("node-a") + 1, 0);
  EXPECT_THROW(seal(kKey, {"node-a", 1, 1}, body), std::length_error);
  body.pop_back();
  EXPECT_EQ(seal(kKey, {"node-a", 1, 1}, body).size(), kMaxDatagram);
}

TEST(PeerAddress, ParsesAndPrintsBothFamilies) {
  EXPECT_EQ(PeerAddress::parse("198.18.0.1:7946").to_string(), "198.18.0.1:7946");
  EXPECT_EQ(PeerAddress::parse("[2001:db8::1]:7946").to_string(), "[2001:db8::1]:7946");
  EXPECT_THROW(PeerAddress::parse("198.18.0.1"), std::invalid_argument);
  EXPECT_THROW(PeerAddress::parse("gossip.example:7946"), std::invalid_argument);
  EXPECT_THROW(PeerAddress::parse("198.18.0.1:70000"), std::invalid_argument);
}

}  // namespace
}  // namespace sluice::cluster
