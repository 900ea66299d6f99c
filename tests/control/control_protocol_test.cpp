// The wire format: what a request must look like, and how errors are spelled.
#include "control_protocol.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

std::string code_of(std::string_view text) {
  try {
    parse_request(text);
  } catch (const ControlError& e) {
    return e.code();
  }
  return "accepted";
}

TEST(ControlProtocol, RequestRoundTrip) {
  std::string line = encode_request("tier.set", {{"name", "gold"}, {"packets", "5/s"}});
  ASSERT_EQ(line.back(), '\n');
  Request request = parse_request(line);
  EXPECT_EQ(request.version, kProtocolVersion);
  EXPECT_EQ(request.command, "tier.set");
  EXPECT_EQ(request.args["packets"], "5/s");
  EXPECT_TRUE(parse_request(R"({"version":1,"command":"status"})").args.is_object());
}

TEST(ControlProtocol, RefusesMalformedRequests) {
  EXPECT_EQ(code_of("not json"), errc::kBadRequest);
  EXPECT_EQ(code_of("[1,2]"), errc::kBadRequest);
  EXPECT_EQ(code_of(R"({"command":"status"})"), errc::kBadRequest);
  EXPECT_EQ(code_of(R"({"version":"1","command":"status"})"), errc::kBadRequest);
  EXPECT_EQ(code_of(R"({"version":1})"), errc::kBadRequest);
  EXPECT_EQ(code_of(R"({"version":1,"command":""})"), errc::kBadRequest);
  EXPECT_EQ(code_of(R"({"version":1,"command":"status","args":[]})"), errc::kBadRequest);
  EXPECT_EQ(code_of(R"({"version":2,"command":"status"})"), errc::kUnsupportedVersion);
  EXPECT_EQ(code_of(R"({"version":0,"command":"status"})"), errc::kUnsupportedVersion);
  EXPECT_EQ(code_of("{\"version\":1,\"command\":\"st\xff\"}"), errc::kBadRequest);
}

TEST(ControlProtocol, ResponsesRoundTrip) {
  Response ok = parse_response(encode_ok({{"n", 3}}));
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.result["n"], 3);
  Response error = parse_response(encode_error(errc::kNotFound, "no such tier"));
  EXPECT_FALSE(error.ok);
  EXPECT_EQ(error.error_code, errc::kNotFound);
  EXPECT_EQ(error.error_message, "no such tier");
  EXPECT_THROW(parse_response("{}"), ControlError);
  // Invalid UTF-8 in a message is replaced, not thrown.
  EXPECT_NO_THROW(parse_response(encode_error(errc::kFailed, "bad \xff byte")));
}

TEST(ControlProtocol, ArgumentHelpersNameTheArgument) {
  nlohmann::json args = {{"name", 5}, {"ttl", "1m"}, {"n", -1}, {"flag", "yes"}};
  try {
    string_arg(args, "name");
    FAIL();
  } catch (const ControlError& e) {
    EXPECT_EQ(e.code(), errc::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'name'"), std::string::npos);
  }
  EXPECT_THROW(string_arg(args, "missing"), ControlError);
  EXPECT_EQ(optional_string_arg(args, "ttl"), "1m");
  EXPECT_FALSE(optional_string_arg(args, "missing"));
  EXPECT_THROW(optional_uint_arg(args, "n"), ControlError);
  EXPECT_THROW(optional_bool_arg(args, "flag"), ControlError);
}

}  // namespace
}  // namespace sluice
