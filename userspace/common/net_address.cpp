#include "net_address.h"

#include <boost/asio/ip/address.hpp>
#include <stdexcept>

namespace sluice {

boost::asio::ip::tcp::endpoint parse_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    throw std::invalid_argument("'" + text + "' is not host:port");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw std::invalid_argument("'" + text + "': the port must be a number");
  }
  if (port < 0 || port > 65535) throw std::invalid_argument("'" + text + "': port out of range");
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  if (ec) throw std::invalid_argument("'" + text + "': '" + host + "' is not an IP address");
  return {address, static_cast<uint16_t>(port)};
}

}  // namespace sluice
