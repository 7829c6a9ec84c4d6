#pragma once
// The field reference of docs/manifests.md, generated from the schema tables so the document
// cannot drift from what the validator accepts. Pure; any thread.

#include <string>

namespace ticketctl::manifest {

// Markdown: one table per kind, then one per named type (Container, PodSpec, ...).
std::string schema_reference_markdown();

}  // namespace ticketctl::manifest
