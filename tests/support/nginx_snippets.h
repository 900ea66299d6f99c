// The shipped nginx snippets (examples/nginx) copied for a test's own nginx,
// with sluice-upstream.conf's server line pointed at the test's sluiced
// (the shipped one names /run/sluice/check.sock, which tests do not own).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>

namespace sluice::testing {

// Copies examples/nginx into `to` and makes the check upstream `server`
// (for example "unix:/tmp/x/check.sock" or "127.0.0.1:9465").
inline void copy_nginx_snippets(const std::string& to, const std::string& server) {
  std::filesystem::create_directories(to);
  std::filesystem::copy(
      SLUICE_SOURCE_DIR "/examples/nginx", to,
      std::filesystem::copy_options::overwrite_existing | std::filesystem::copy_options::recursive);
  const std::string path = to + "/sluice-upstream.conf";
  std::ifstream in(path);
  const std::string shipped((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The first line that is a server directive (comments mention one too).
  const std::regex server_line(R"((^|\n)([ \t]*)server [^;\n]*;)");
  ASSERT_TRUE(std::regex_search(shipped, server_line)) << "no server line in " << path;
  std::ofstream(path) << std::regex_replace(shipped, server_line, "$1$2server " + server + ";",
                                            std::regex_constants::format_first_only);
}

}  // namespace sluice::testing
