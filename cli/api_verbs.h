#pragma once
// What the verbs that talk to the API share: kubectl's way of printing server errors.

#include <string>

#include "runtime/core/result.h"

namespace ticketctl::cli {

// "Error from server (NotFound): deployments.apps "x" not found"
std::string server_error(const Error& e);

// "?labelSelector=app%3Dposts&fieldSelector=..." for a list request; "" when both are empty.
std::string selector_query(const std::string& labels, const std::string& fields);

}  // namespace ticketctl::cli
