#pragma once
// Manifests in, validated objects and diagnostics out. Knows YAML and the schema tables,
// nothing about processes or the store. Stateless; any thread.

#include <iosfwd>
#include <string>
#include <vector>

#include "runtime/core/diagnostics.h"
#include "runtime/manifest/object.h"
#include "runtime/manifest/schema.h"

namespace ticketctl::manifest {

struct LoadOptions {
  bool recursive = false;                     // -R
  std::string default_namespace = "default";  // objects without metadata.namespace land here
  UnknownFields unknown_fields = UnknownFields::Error;
};

struct LoadResult {
  std::vector<Object> objects;  // only objects without errors; see diagnostics for the rest
  Diagnostics diagnostics;      // every error and warning of every file, in file order
  size_t files = 0;
  size_t documents = 0;
};

// Reads, parses and validates every manifest the -f arguments name, and checks that no object
// is defined twice. Objects are returned even when other documents have errors; callers that
// apply atomically must check diagnostics.has_errors() first.
LoadResult load_manifests(const std::vector<std::string>& paths, const LoadOptions& options,
                          std::istream& stdin_stream);

// The same for text already in memory (API request bodies, tests).
LoadResult load_text(std::string_view name, std::string_view text, const LoadOptions& options);

}  // namespace ticketctl::manifest
