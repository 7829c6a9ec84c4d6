#include "runtime/api/protobuf.h"

#include <fmt/format.h>

#include <cstdint>

#include "runtime/api/protobuf_schema.h"
#include "runtime/core/limits.h"
#include "runtime/core/rfc3339.h"
#include "runtime/core/strings.h"
#include "runtime/manifest/json_input.h"

namespace ticketctl::api {
namespace {

using protobuf::FieldKind;
using protobuf::FieldSchema;
using protobuf::MessageSchema;

constexpr std::string_view kMagic{"k8s\0", 4};

enum WireType : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// One field as it is on the wire: a varint's value, or the bytes of a length-delimited field.
struct WireField {
  uint64_t number = 0;
  int wire = 0;
  uint64_t varint = 0;
  std::string_view bytes;
};

// A cursor over one message's bytes. Every read checks the bounds and reports failure; none
// throws, so a truncated or garbled body is an answer, not a crash.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ == data_.size(); }

  bool varint(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == data_.size()) return false;
      const auto byte = static_cast<uint8_t>(data_[pos_++]);
      out |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;  // more than 10 bytes
  }

  // The next field; false with `error` set when the input ends early or makes no sense.
  bool field(WireField& f, std::string& error) {
    uint64_t tag = 0;
    if (!varint(tag)) return fail(error, "a field tag is cut short");
    f.number = tag >> 3;
    f.wire = static_cast<int>(tag & 7);
    if (f.number == 0 || f.number > 536870911)
      return fail(error, fmt::format("field number {} is not valid", f.number));
    switch (f.wire) {
      case kVarint:
        if (!varint(f.varint)) return fail(error, cut_short(f.number));
        return true;
      case kFixed64:
      case kFixed32: {
        const size_t n = f.wire == kFixed64 ? 8 : 4;
        if (data_.size() - pos_ < n) return fail(error, cut_short(f.number));
        f.bytes = data_.substr(pos_, n);
        pos_ += n;
        return true;
      }
      case kLengthDelimited: {
        uint64_t length = 0;
        if (!varint(length) || length > data_.size() - pos_)
          return fail(error, cut_short(f.number));
        f.bytes = data_.substr(pos_, length);
        pos_ += length;
        return true;
      }
      default:  // groups (3, 4) are not used by Kubernetes; 6 and 7 do not exist
        return fail(error, fmt::format("field {} has wire type {}, which Kubernetes never sends",
                                       f.number, f.wire));
    }
  }

 private:
  static bool fail(std::string& error, std::string message) {
    error = std::move(message);
    return false;
  }
  static std::string cut_short(uint64_t number) {
    return fmt::format("field {} runs past its end", number);
  }

  std::string_view data_;
  size_t pos_ = 0;
};

std::string_view wire_name(int wire) {
  switch (wire) {
    case kVarint:
      return "varint";
    case kFixed64:
      return "64-bit";
    case kLengthDelimited:
      return "length-delimited";
    case kFixed32:
      return "32-bit";
  }
  return "unknown";
}

std::string child_path(const std::string& path, std::string_view json) {
  return path.empty() ? std::string(json) : fmt::format("{}.{}", path, json);
}

std::string at(const std::string& path) {
  return path.empty() ? std::string() : fmt::format(" (at {})", path);
}

// Walks a message against its schema, building the JSON object. A malformed input stops the
// walk; a field ticketctl has no schema for is remembered and skipped, so that a garbled body
// is still reported as garbled rather than as a field ticketctl cannot read.
class Decoder {
 public:
  std::string malformed;
  std::string unsupported;

  bool message(const MessageSchema& m, std::string_view data, Json& out, const std::string& path) {
    // The schemas nest a few levels; a message that would nest past the budget is not one of them.
    if (depth_ >= limits::kMaxNestingDepth)
      return fail(fmt::format("{}{} nests deeper than {} levels", m.name, at(path),
                              limits::kMaxNestingDepth));
    ++depth_;
    const bool ok = fields(m, data, out, path);
    --depth_;
    return ok;
  }

 private:
  size_t depth_ = 0;  // messages open in `message`

  bool fields(const MessageSchema& m, std::string_view data, Json& out, const std::string& path) {
    WireReader reader(data);
    std::string error;
    while (!reader.done()) {
      WireField f;
      if (!reader.field(f, error)) return fail(fmt::format("{} in {}{}", error, m.name, at(path)));
      const FieldSchema* schema = protobuf::find_field(m, static_cast<int>(f.number));
      if (!schema) {
        if (unsupported.empty())
          unsupported = fmt::format("ticketctl cannot read field {} of {}{} in protobuf", f.number,
                                    m.name, at(path));
        continue;
      }
      if (!field(m, *schema, f, out, path)) return false;
    }
    return true;
  }

  bool fail(std::string message) {
    if (malformed.empty()) malformed = std::move(message);
    return false;
  }

  static bool is_varint_kind(FieldKind k) {
    return k == FieldKind::Bool || k == FieldKind::Int32 || k == FieldKind::Int64;
  }

  // Stores a value: appended to a list, or set, or dropped when it is a zero value Go's
  // `omitempty` would not write.
  static void store(const FieldSchema& s, Json& out, Json value, bool zero) {
    if (s.repeated) {
      Json& list = out[std::string(s.json)];
      if (!list.is_array()) list = Json::array();
      list.push_back(std::move(value));
    } else if (zero && !s.keep_zero) {
      out.erase(std::string(s.json));
    } else {
      out[std::string(s.json)] = std::move(value);
    }
  }

  static Json scalar(FieldKind kind, uint64_t v) {
    if (kind == FieldKind::Bool) return v != 0;
    if (kind == FieldKind::Int32) return static_cast<int32_t>(v);
    return static_cast<int64_t>(v);
  }

  bool text(std::string_view bytes, const std::string& where, std::string& out) {
    if (!valid_utf8(bytes)) return fail(fmt::format("{} is not valid UTF-8", where));
    out = std::string(bytes);
    return true;
  }

  bool field(const MessageSchema& m, const FieldSchema& s, const WireField& f, Json& out,
             const std::string& path) {
    // "spec.replicas (field 1 of apps.v1.DeploymentSpec)"; an inline field has no name of its own.
    const std::string named = s.json.empty() ? path : child_path(path, s.json);
    const std::string where = fmt::format(
        "{} (field {} of {})", named.empty() ? std::string(m.name) : named, s.number, m.name);
    const bool packed = s.repeated && is_varint_kind(s.kind) && f.wire == kLengthDelimited;
    const int expected = is_varint_kind(s.kind) ? kVarint : kLengthDelimited;
    if (f.wire != expected && !packed)
      return fail(fmt::format("{} has wire type {}, expected {}", where, wire_name(f.wire),
                              wire_name(expected)));
    switch (s.kind) {
      case FieldKind::Bool:
      case FieldKind::Int32:
      case FieldKind::Int64: {
        if (!packed) {
          store(s, out, scalar(s.kind, f.varint), f.varint == 0);
          return true;
        }
        WireReader values(f.bytes);
        while (!values.done()) {
          uint64_t v = 0;
          if (!values.varint(v)) return fail(fmt::format("{} is cut short", where));
          store(s, out, scalar(s.kind, v), v == 0);
        }
        return true;
      }
      case FieldKind::String: {
        std::string value;
        if (!text(f.bytes, where, value)) return false;
        const bool zero = value.empty();
        store(s, out, std::move(value), zero);
        return true;
      }
      case FieldKind::Bytes:
        store(s, out, base64_encode(f.bytes), f.bytes.empty());
        return true;
      case FieldKind::Message:
      case FieldKind::Inline:
        return nested(s, f.bytes, out, path, where);
      case FieldKind::StringMap:
      case FieldKind::BytesMap:
      case FieldKind::QuantityMap:
        return map_entry(m, s, f.bytes, out, path, where);
      case FieldKind::Quantity: {
        Json value;
        if (!quantity(f.bytes, where, value)) return false;
        store(s, out, std::move(value), false);
        return true;
      }
      case FieldKind::Time: {
        Json value;
        if (!time(f.bytes, where, value)) return false;
        store(s, out, value, value.is_null());
        return true;
      }
      case FieldKind::IntOrString: {
        Json value;
        if (!int_or_string(f.bytes, where, value)) return false;
        store(s, out, std::move(value), false);
        return true;
      }
      case FieldKind::FieldsV1: {
        Json value;
        if (!fields_v1(f.bytes, where, value)) return false;
        store(s, out, std::move(value), false);
        return true;
      }
    }
    return fail(fmt::format("{} has a kind ticketctl does not know", where));
  }

  bool nested(const FieldSchema& s, std::string_view bytes, Json& out, const std::string& path,
              const std::string& where) {
    const MessageSchema* schema = protobuf::find_message(s.message);
    if (!schema) return fail(fmt::format("{}: no schema for {}", where, s.message));
    if (s.kind == FieldKind::Inline) return message(*schema, bytes, out, path);
    const std::string key(s.json);
    if (s.repeated) {
      Json& list = out[key];
      if (!list.is_array()) list = Json::array();
      Json element = Json::object();
      if (!message(*schema, bytes, element,
                   fmt::format("{}[{}]", child_path(path, key), list.size())))
        return false;
      list.push_back(std::move(element));
      return true;
    }
    // A message sent twice merges into one, as protobuf specifies.
    Json& element = out[key];
    if (!element.is_object()) element = Json::object();
    return message(*schema, bytes, element, child_path(path, key));
  }

  // One {1: key, 2: value} entry of a map field.
  bool map_entry(const MessageSchema& m, const FieldSchema& s, std::string_view bytes, Json& out,
                 const std::string& path, const std::string& where) {
    WireReader reader(bytes);
    std::string key, error;
    std::string_view value;
    while (!reader.done()) {
      WireField f;
      if (!reader.field(f, error)) return fail(fmt::format("{}: {} in a map entry", where, error));
      if ((f.number != 1 && f.number != 2) || f.wire != kLengthDelimited)
        return fail(fmt::format("{}: a map entry holds field {} with wire type {}", where, f.number,
                                wire_name(f.wire)));
      if (f.number == 1 && !text(f.bytes, "a key of " + where, key)) return false;
      if (f.number == 2) value = f.bytes;
    }
    Json& map = out[std::string(s.json)];
    if (!map.is_object()) map = Json::object();
    const std::string entry = fmt::format("{}[{}] (field {} of {})", child_path(path, s.json),
                                          quote(key), s.number, m.name);
    switch (s.kind) {
      case FieldKind::StringMap: {
        std::string v;
        if (!text(value, entry, v)) return false;
        map[key] = std::move(v);
        return true;
      }
      case FieldKind::BytesMap:
        map[key] = base64_encode(value);
        return true;
      default: {
        Json q;
        if (!quantity(value, entry, q)) return false;
        map[key] = std::move(q);
        return true;
      }
    }
  }

  // The fields of a small well-known message, each read by `take`.
  template <class Take>
  bool well_known(std::string_view bytes, const std::string& where, std::string_view type,
                  Take take) {
    WireReader reader(bytes);
    std::string error;
    while (!reader.done()) {
      WireField f;
      if (!reader.field(f, error)) return fail(fmt::format("{}: {} in its {}", where, error, type));
      if (!take(f))
        return fail(fmt::format("{}: its {} holds field {} with wire type {}", where, type,
                                f.number, wire_name(f.wire)));
    }
    return true;
  }

  // resource.Quantity {1: string}: "500m", "128Mi". Absent is Go's zero Quantity, "0".
  bool quantity(std::string_view bytes, const std::string& where, Json& out) {
    std::string_view text_bytes = "0";
    if (!well_known(bytes, where, "Quantity", [&](const WireField& f) {
          if (f.number != 1 || f.wire != kLengthDelimited) return false;
          text_bytes = f.bytes;
          return true;
        }))
      return false;
    std::string value;
    if (!text(text_bytes, where, value)) return false;
    out = std::move(value);
    return true;
  }

  // meta.v1.Time {1: seconds, 2: nanos}. Go marshals the zero time as an empty message and
  // writes it as null in JSON; JSON's second precision drops the nanoseconds.
  bool time(std::string_view bytes, const std::string& where, Json& out) {
    bool present = false;
    uint64_t seconds = 0;
    if (!well_known(bytes, where, "Time", [&](const WireField& f) {
          if ((f.number != 1 && f.number != 2) || f.wire != kVarint) return false;
          if (f.number == 1) seconds = f.varint;
          present = true;
          return true;
        }))
      return false;
    if (!present) {
      out = nullptr;
      return true;
    }
    const auto s = static_cast<int64_t>(seconds);
    // Go's Timestamp range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
    if (s < -62135596800 || s > 253402300799)
      return fail(fmt::format("{}: {} seconds is outside the years 1 to 9999", where, s));
    out = rfc3339::format_seconds(s);
    return true;
  }

  // intstr.IntOrString {1: type (0 int, 1 string), 2: intVal, 3: strVal}.
  bool int_or_string(std::string_view bytes, const std::string& where, Json& out) {
    uint64_t type = 0;
    uint64_t int_val = 0;
    std::string_view str_val;
    if (!well_known(bytes, where, "IntOrString", [&](const WireField& f) {
          if (f.number == 1 && f.wire == kVarint)
            type = f.varint;
          else if (f.number == 2 && f.wire == kVarint)
            int_val = f.varint;
          else if (f.number == 3 && f.wire == kLengthDelimited)
            str_val = f.bytes;
          else
            return false;
          return true;
        }))
      return false;
    if (type == 0) {
      out = static_cast<int32_t>(int_val);
      return true;
    }
    if (type != 1)
      return fail(fmt::format("{}: IntOrString type {} is neither 0 nor 1", where, type));
    std::string value;
    if (!text(str_val, where, value)) return false;
    out = std::move(value);
    return true;
  }

  // meta.v1.FieldsV1 {1: raw JSON}.
  bool fields_v1(std::string_view bytes, const std::string& where, Json& out) {
    std::string_view raw;
    if (!well_known(bytes, where, "FieldsV1", [&](const WireField& f) {
          if (f.number != 1 || f.wire != kLengthDelimited) return false;
          raw = f.bytes;
          return true;
        }))
      return false;
    Result<Json> parsed = parse_json(raw);
    if (!parsed.ok()) return fail(fmt::format("{}: {}", where, parsed.error().message));
    out = std::move(parsed.value());
    return true;
  }
};

ProtobufObject malformed(std::string message) {
  return {Json(), ProtobufProblem::Malformed,
          fmt::format("the protobuf body is malformed: {}", message)};
}

}  // namespace

ProtobufObject decode_protobuf_object(std::string_view body) {
  if (!body.starts_with(kMagic))
    return malformed("it does not start with Kubernetes' protobuf prefix \"k8s\\x00\"");
  WireReader envelope(body.substr(kMagic.size()));
  std::string api_version, kind, content_encoding, content_type, error;
  std::string_view raw;
  bool has_raw = false;
  while (!envelope.done()) {
    WireField f;
    if (!envelope.field(f, error)) return malformed(error + " in runtime.Unknown");
    if (f.number < 1 || f.number > 4 || f.wire != kLengthDelimited)
      return malformed(fmt::format("runtime.Unknown holds field {} with wire type {}", f.number,
                                   wire_name(f.wire)));
    if (f.number == 1) {
      WireReader type_meta(f.bytes);
      while (!type_meta.done()) {
        WireField t;
        if (!type_meta.field(t, error)) return malformed(error + " in runtime.TypeMeta");
        if ((t.number != 1 && t.number != 2) || t.wire != kLengthDelimited)
          return malformed(fmt::format("runtime.TypeMeta holds field {} with wire type {}",
                                       t.number, wire_name(t.wire)));
        (t.number == 1 ? api_version : kind) = std::string(t.bytes);
      }
    } else if (f.number == 2) {
      raw = f.bytes;
      has_raw = true;
    } else {
      (f.number == 3 ? content_encoding : content_type) = std::string(f.bytes);
    }
  }
  if (!valid_utf8(api_version) || !valid_utf8(kind))
    return malformed("its apiVersion or kind is not valid UTF-8");
  if (api_version.empty() || kind.empty())
    return malformed("runtime.Unknown names no apiVersion and kind");
  if (!has_raw) return malformed("runtime.Unknown carries no object (its field 2)");
  if (!content_encoding.empty())
    return {Json(), ProtobufProblem::Unsupported,
            fmt::format("ticketctl cannot read a protobuf body with content encoding {}",
                        quote(content_encoding))};
  if (!content_type.empty() && content_type != kProtobufMediaType)
    return {Json(), ProtobufProblem::Unsupported,
            fmt::format("ticketctl cannot read an object of content type {} inside protobuf",
                        quote(content_type))};
  const std::string_view name = protobuf::message_for_kind(api_version, kind);
  const MessageSchema* schema = name.empty() ? nullptr : protobuf::find_message(name);
  if (!schema)
    return {Json(), ProtobufProblem::Unsupported,
            fmt::format("ticketctl cannot read a {} {} in protobuf", api_version, kind)};
  Json object = {{"apiVersion", api_version}, {"kind", kind}};
  Decoder decoder;
  if (!decoder.message(*schema, raw, object, "")) return malformed(decoder.malformed);
  if (!decoder.unsupported.empty())
    return {Json(), ProtobufProblem::Unsupported, decoder.unsupported};
  return {std::move(object), ProtobufProblem::None, ""};
}

}  // namespace ticketctl::api
