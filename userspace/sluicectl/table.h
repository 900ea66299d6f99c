// Plain-text tables for sluicectl's human output: left-aligned columns sized
// to their widest cell, numbers right-aligned.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace sluice::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// 1234567 -> "1234567"; large counts stay exact, operators compare them.
std::string count_text(uint64_t value);
// 1234.5 -> "1234.5"; rates with one decimal.
std::string rate_text(double value);

}  // namespace sluice::ctl
