#pragma once
// Inside the api module: the rows of `get` tables, one function per kind (printer_rows.cpp),
// for the columns and layout of printers.cpp.

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/manifest/json.h"

namespace ticketctl::api::rows {

using TimePoint = std::chrono::system_clock::time_point;
using Cells = std::vector<std::string>;

// A field by path; a missing or mistyped one reads as null (Go's zero value).
const Json& dig(const Json& v, std::initializer_list<std::string_view> path);

Cells pod_row(const Json& object, TimePoint now);
Cells deployment_row(const Json& object, TimePoint now);
Cells replicaset_row(const Json& object, TimePoint now);
Cells service_row(const Json& object, TimePoint now);
Cells ingress_row(const Json& object, TimePoint now);
Cells endpoints_row(const Json& object, TimePoint now);
Cells secret_row(const Json& object, TimePoint now);
Cells pvc_row(const Json& object, TimePoint now);
Cells configmap_row(const Json& object, TimePoint now);
Cells namespace_row(const Json& object, TimePoint now);
Cells node_row(const Json& object, TimePoint now);
Cells endpointslice_row(const Json& object, TimePoint now);
Cells event_row(const Json& object, TimePoint now);
Cells default_row(const Json& object, TimePoint now);

}  // namespace ticketctl::api::rows
