#pragma once
// The Kubernetes messages ticketctl reads in protobuf, as data: message name -> field number ->
// JSON name and kind. Every number comes from Kubernetes' generated.proto files (k8s.io/api
// core/v1, apps/v1 and networking/v1; k8s.io/apimachinery pkg/apis/meta/v1, pkg/util/intstr,
// pkg/api/resource).
// A field that is not listed is refused by number, never dropped. Immutable; any thread.

#include <span>
#include <string_view>

namespace ticketctl::api::protobuf {

enum class FieldKind {
  String,
  Bytes,  // base64 in JSON, as Go's encoding/json writes []byte
  Bool,
  Int32,
  Int64,
  Message,      // a nested object
  Inline,       // a Go embedded struct: its fields land in the enclosing JSON object
  StringMap,    // map<string, string>: repeated {1: key, 2: value}
  BytesMap,     // map<string, bytes>
  QuantityMap,  // map<string, resource.Quantity>
  Quantity,     // resource.Quantity {1: string} -> "500m"
  Time,         // meta.v1.Time {1: seconds, 2: nanos} -> RFC 3339; an empty one is null
  IntOrString,  // intstr.IntOrString {1: type, 2: intVal, 3: strVal} -> 8080 or "http"
  FieldsV1,     // meta.v1.FieldsV1 {1: raw JSON}
};

struct FieldSchema {
  int number = 0;
  std::string_view json;
  FieldKind kind = FieldKind::String;
  std::string_view message{};  // Message and Inline: the nested message's name
  bool repeated = false;
  // A Go pointer field: a 0, false or "" that is present was set on purpose (replicas: 0) and
  // stays. Other zero scalars are dropped, as Go's `omitempty` drops them from JSON.
  bool keep_zero = false;
};

struct MessageSchema {
  std::string_view name;  // "core.v1.PodSpec"
  std::span<const FieldSchema> fields;
};

const MessageSchema* find_message(std::string_view name);
const FieldSchema* find_field(const MessageSchema& message, int number);

// The message of a top-level object ("apps/v1", "Deployment" -> "apps.v1.Deployment"), or empty
// when ticketctl cannot read that kind in protobuf.
std::string_view message_for_kind(std::string_view api_version, std::string_view kind);

}  // namespace ticketctl::api::protobuf
