#include "libbpf_log.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace sluice {
namespace {

int print_to_spdlog(enum libbpf_print_level level, const char* format, va_list args) {
  char buffer[1024];
  int n = std::vsnprintf(buffer, sizeof(buffer), format, args);
  if (n <= 0) return 0;
  std::string line(buffer);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  switch (level) {
    case LIBBPF_WARN:
      spdlog::warn("libbpf: {}", line);
      break;
    case LIBBPF_INFO:
      spdlog::debug("libbpf: {}", line);
      break;
    case LIBBPF_DEBUG:
      spdlog::trace("libbpf: {}", line);
      break;
  }
  return n;
}

}  // namespace

void route_libbpf_logs_to_spdlog() {
  libbpf_set_print(print_to_spdlog);
}

}  // namespace sluice
