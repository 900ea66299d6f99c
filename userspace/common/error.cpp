#include "error.h"

namespace sluice {

void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

}  // namespace sluice
