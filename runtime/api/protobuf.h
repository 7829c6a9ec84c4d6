#pragma once
// Kubernetes' protobuf request bodies, which kubectl sends for its imperative verbs (`create
// secret`, `create deployment`, `expose`, ...): the 4-byte magic "k8s\0", then a runtime.Unknown
// {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType} whose `raw`
// is the object's message. The object becomes the JSON object the JSON route would have
// received, so one validator serves both. The messages are data (protobuf_schema.h).
// Pure; any thread.

#include <string>
#include <string_view>

#include "runtime/manifest/json.h"

namespace ticketctl::api {

inline constexpr std::string_view kProtobufMediaType = "application/vnd.kubernetes.protobuf";

enum class ProtobufProblem {
  None,
  Unsupported,  // well formed, but a kind or field ticketctl has no schema for: 415
  Malformed,    // truncated or garbled: 400
};

struct ProtobufObject {
  Json object;  // {"apiVersion": ..., "kind": ..., "metadata": ...} when ok()
  ProtobufProblem problem = ProtobufProblem::None;
  std::string message;  // what is wrong, naming the message, field number and JSON path
  bool ok() const { return problem == ProtobufProblem::None; }
};

ProtobufObject decode_protobuf_object(std::string_view body);

}  // namespace ticketctl::api
