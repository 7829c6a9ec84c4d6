#pragma once
// Budgets for untrusted input: every parser of manifests, API bodies and patches stays inside
// these, so no input can exhaust memory or the stack of the control plane. The numbers are the
// Kubernetes API server's where it has one (docs/limits.md lists them with their sources).

#include <cstddef>

namespace ticketctl::limits {

// Deepest nesting of objects and arrays in any YAML or JSON input, and in any object the API
// builds from one (patch results). Kubernetes objects nest a dozen levels. yaml-cpp refuses 500
// levels itself, with no more than "bad file" to say; this limit comes first, with a message.
inline constexpr std::size_t kMaxNestingDepth = 400;

// The API server's limit on a request body (3 MiB); larger bodies get 413 before they are read.
inline constexpr std::size_t kMaxRequestBodyBytes = 3 * 1024 * 1024;

// The largest object the store keeps: etcd's default request limit (--max-request-bytes, 1.5 MiB),
// which is what refuses such objects on a cluster.
inline constexpr std::size_t kMaxObjectBytes = 1536 * 1024;

// The data of one ConfigMap or Secret (api.MaxSecretSize: 1 MiB).
inline constexpr std::size_t kMaxConfigDataBytes = 1024 * 1024;

// All annotations of one object, keys and values (TotalAnnotationSizeLimitB: 256 KiB).
inline constexpr std::size_t kMaxAnnotationBytes = 256 * 1024;

// Operations in one JSON patch (the API server's maxJSONPatchOperations).
inline constexpr std::size_t kMaxJsonPatchOperations = 10000;

// A manifest file (or stdin) larger than this is not read: the largest valid object is 1.5 MiB,
// so this leaves room for many objects per file while bounding what `validate -f /dev/zero` reads.
inline constexpr std::size_t kMaxManifestFileBytes = 64 * 1024 * 1024;

// YAML alias expansion, as the API server's YAML decoder (go-yaml) bounds it: once more than
// 100 nodes come from aliases and more than 1000 from the whole document, the share of nodes
// that come from aliases may not pass 99% for documents up to 400,000 nodes, falling linearly to
// 10% at 4,000,000 nodes. A "billion laughs" document fails within its first few thousand nodes.
inline constexpr std::size_t kAliasMinAliased = 100;
inline constexpr std::size_t kAliasMinDecoded = 1000;
inline constexpr std::size_t kAliasRatioLowNodes = 400000;
inline constexpr std::size_t kAliasRatioHighNodes = 4000000;

// The share of `decoded` nodes that may come from alias expansion (see above).
inline double allowed_alias_ratio(std::size_t decoded) {
  if (decoded <= kAliasRatioLowNodes) return 0.99;
  if (decoded >= kAliasRatioHighNodes) return 0.10;
  return 0.99 - 0.89 * static_cast<double>(decoded - kAliasRatioLowNodes) /
                    static_cast<double>(kAliasRatioHighNodes - kAliasRatioLowNodes);
}

}  // namespace ticketctl::limits
