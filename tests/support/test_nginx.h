// A foreground nginx for a test, in a lab namespace: the shipped snippets
// (examples/nginx) asking the test's sluiced, one server on `listen` that
// includes sluice-auth.conf in front of a backend answering `backend_text`.
// Stops (SIGTERM, waited for) when destroyed.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "nginx_snippets.h"

namespace sluice::testing {

class TestNginx {
 public:
  TestNginx() = default;
  TestNginx(const TestNginx&) = delete;
  TestNginx& operator=(const TestNginx&) = delete;
  ~TestNginx() { stop(); }

  // Writes dir/nginx.conf (nginx's own files under dir/nginx) and starts nginx
  // in `netns`. `check_server`: the check upstream ("unix:/x/check.sock" or
  // "127.0.0.1:9465"); `backend_text`: nginx's `return 200` text, variables
  // allowed, without the trailing newline.
  void start(const std::string& dir, const std::string& netns, const std::string& listen,
             const std::string& check_server, const std::string& backend_text) {
    std::filesystem::create_directories(dir + "/nginx");
    // The shipped snippets include each other as sluice/*.conf, relative to
    // the directory of nginx.conf.
    copy_nginx_snippets(dir + "/sluice", check_server);
    std::ofstream(dir + "/nginx.conf")
        << "daemon off;\nmaster_process off;\npid " << dir << "/nginx/nginx.pid;\n"
        << "error_log " << dir << "/nginx/error.log info;\n"
        << "events { worker_connections 1024; }\nhttp {\n  access_log off;\n"
        << "  client_body_temp_path " << dir << "/nginx/body;\n"
        << "  proxy_temp_path " << dir << "/nginx/proxy;\n"
        << "  fastcgi_temp_path " << dir << "/nginx/fcgi;\n"
        << "  uwsgi_temp_path " << dir << "/nginx/uwsgi;\n"
        << "  scgi_temp_path " << dir << "/nginx/scgi;\n"
        << "  include sluice/sluice-upstream.conf;\n"
        << "  upstream api_backend { server 127.0.0.1:18081; }\n"
        << "  server {\n    listen 127.0.0.1:18081;\n"
        << "    location / { default_type text/plain; return 200 \"" << backend_text
        << "\\n\"; }\n  }\n"
        << "  server {\n    listen " << listen
        << ";\n    include sluice/sluice-auth.conf;\n  }\n}\n";
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const std::string log = dir + "/nginx/stderr.log";
      FILE* out = std::freopen(log.c_str(), "a", stderr);
      (void)out;
      ::execlp("ip", "ip", "netns", "exec", netns.c_str(), "nginx", "-c",
               (dir + "/nginx.conf").c_str(), "-p", (dir + "/nginx").c_str(), nullptr);
      ::_exit(127);
    }
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace sluice::testing
