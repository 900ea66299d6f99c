#include "cidr.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(Cidr, ParsesBothFamiliesAndBareAddresses) {
  auto v4 = Cidr::parse("198.18.0.0/15");
  EXPECT_TRUE(v4.is_v4());
  EXPECT_EQ(v4.prefix_len, 15u);
  EXPECT_EQ(v4.to_string(), "198.18.0.0/15");
  auto host = Cidr::parse("198.18.0.7");
  EXPECT_EQ(host.prefix_len, 32u);
  auto v6 = Cidr::parse("2001:db8::/32");
  EXPECT_FALSE(v6.is_v4());
  EXPECT_EQ(v6.to_string(), "2001:db8::/32");
  EXPECT_EQ(Cidr::parse("::/0").prefix_len, 0u);
}

TEST(Cidr, RejectsBadInputWithAClearMessage) {
  auto message = [](const char* text) {
    try {
      Cidr::parse(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("198.18.0.0/33").find("0..32"), std::string::npos);
  EXPECT_NE(message("2001:db8::/129").find("0..128"), std::string::npos);
  EXPECT_NE(message("198.18.0.1/24").find("did you mean 198.18.0.0/24"), std::string::npos);
  EXPECT_NE(message("300.1.1.1").find("not an IPv4 address"), std::string::npos);
  EXPECT_NE(message("2001:db8::g/64").find("not an IPv6 address"), std::string::npos);
  EXPECT_NE(message("10.0.0.0/").find("must be a number"), std::string::npos);
  EXPECT_NE(message("10.0.0.0/8x").find("must be a number"), std::string::npos);
  EXPECT_NE(message("/8").find("missing"), std::string::npos);
}

TEST(Cidr, LpmKeysKeepFamiliesApart) {
  auto v4 = Cidr::parse("0.0.0.0/0").lpm_key();
  auto v6 = Cidr::parse("::/0").lpm_key();
  EXPECT_EQ(v4.prefixlen, SLUICE_LPM_FAMILY_BITS);
  EXPECT_EQ(v4.family, SLUICE_LPM_FAMILY_V4);
  EXPECT_EQ(v6.family, SLUICE_LPM_FAMILY_V6);
  auto key = Cidr::parse("198.18.1.0/24").lpm_key();
  EXPECT_EQ(key.prefixlen, SLUICE_LPM_FAMILY_BITS + 24);
  EXPECT_EQ(key.addr[0], 198);
  EXPECT_EQ(key.addr[2], 1);
}

}  // namespace
}  // namespace sluice
