// A bare RlsService for clients written in other languages (the python3-grpcio
// test): serves the given envoyproxy/ratelimit files on 127.0.0.1, prints the
// port on stdout and stops when stdin closes.
#include <iostream>
#include <string>

#include "rls_service.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: rls_test_server ratelimit.yaml...\n";
    return 2;
  }
  try {
    sluice::RlsSettings settings;
    settings.enabled = true;
    settings.listen = "127.0.0.1:0";
    for (int i = 1; i < argc; ++i) settings.domains.push_back(sluice::load_ratelimit_file(argv[i]));
    sluice::RequestBuckets buckets;
    sluice::RlsService service(settings, buckets);
    std::cout << service.port() << std::endl;
    std::string line;
    while (std::getline(std::cin, line)) {
    }
  } catch (const std::exception& e) {
    std::cerr << "rls_test_server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
