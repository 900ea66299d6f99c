// Listen addresses as operators write them in the YAML file: "host:port" with
// a literal IP address ("127.0.0.1:9464", "[::1]:9464").
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

namespace sluice {

// Parses "host:port"; throws std::invalid_argument saying what is wrong.
boost::asio::ip::tcp::endpoint parse_listen_address(const std::string& text);

}  // namespace sluice
