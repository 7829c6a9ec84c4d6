#pragma once
// Fatal: a failure that ends the command, thrown where returning a Result through every caller
// would only relay it. cli::run catches it once, prints "ticketctl: <message>" and exits 1.

#include <stdexcept>
#include <string>

namespace ticketctl {

struct Fatal : std::runtime_error {
  explicit Fatal(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace ticketctl
