#include "http_answer.h"

#include <cctype>
#include <sstream>

namespace sluice::testing {

std::string HttpAnswer::header(const std::string& lower_case_name) const {
  auto found = headers.find(lower_case_name);
  return found == headers.end() ? "" : found->second;
}

HttpAnswer parse_http_answer(const std::string& text) {
  HttpAnswer answer;
  size_t start = 0;
  // Skip to the last response head: each starts with "HTTP/".
  for (size_t next = text.find("\r\n\r\nHTTP/"); next != std::string::npos;
       next = text.find("\r\n\r\nHTTP/", start))
    start = next + 4;
  const auto head_end = text.find("\r\n\r\n", start);
  const std::string head = text.substr(start, head_end - start);
  answer.body = head_end == std::string::npos ? "" : text.substr(head_end + 4);
  std::istringstream lines(head);
  std::string line;
  std::getline(lines, line);
  const auto space = line.find(' ');
  if (line.rfind("HTTP/", 0) == 0 && space != std::string::npos && line.size() >= space + 4)
    answer.status = std::stoi(line.substr(space + 1, 3));
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t value = colon + 1;
    while (value < line.size() && line[value] == ' ') ++value;
    answer.headers[name] = line.substr(value);
  }
  return answer;
}

}  // namespace sluice::testing
