// Beast's HTTP/1 parser, writing straight into a reused HttpRequest (internal
// to the http library): no field map is built and, once a connection's first
// request has sized the strings, a request of the same shape allocates nothing.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <string_view>

#include "http_server.h"

namespace sluice::http_detail {

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  // Fills `request` (method, target, version, headers with lower-case names,
  // body); its remote_address is left as it is. `request` outlives the parser.
  explicit RequestParser(HttpRequest& request) : request_(request) {}

  // The request asked for "Expect: 100-continue" (known once the head is parsed).
  bool expects_continue() const { return expects_continue_; }
  // 10 for HTTP/1.0, 11 for HTTP/1.1 (known once the request line is parsed).
  int version() const { return version_; }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view method, string_view target,
                       int version, error_code&) override {
    request_.method.assign(method.data(), method.size());
    request_.target.assign(target.data(), target.size());
    version_ = version;
    request_.version = version == 10 ? "HTTP/1.0" : "HTTP/1.1";
    request_.body.clear();
    fields_ = 0;
  }
  void on_response_impl(int, string_view, int, error_code&) override {}

  void on_field_impl(boost::beast::http::field field, string_view name, string_view value,
                     error_code&) override {
    auto& headers = request_.headers;
    if (fields_ == headers.size()) headers.emplace_back();
    auto& [lower_name, kept_value] = headers[fields_++];
    lower_name.resize(name.size());
    for (size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      lower_name[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
    kept_value.assign(value.data(), value.size());
    // curl and others wait (a second, for curl) for a 100 before they send a body.
    if (field == boost::beast::http::field::expect)
      expects_continue_ = boost::beast::iequals(value, "100-continue");
  }
  void on_header_impl(error_code&) override { request_.headers.resize(fields_); }

  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  size_t on_body_impl(string_view body, error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    return on_body_impl(body, ignored_);
  }
  void on_finish_impl(error_code&) override {}

  HttpRequest& request_;
  size_t fields_ = 0;
  int version_ = 0;
  bool expects_continue_ = false;
  error_code ignored_;
};

}  // namespace sluice::http_detail
