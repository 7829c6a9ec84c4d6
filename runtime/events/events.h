#pragma once
// Recording a core/v1 Event about an object, as controllers and the kubelet do. The caller holds
// the store's lock.

#include <string>
#include <string_view>

#include "runtime/manifest/json.h"
#include "runtime/store/store.h"

namespace ticketctl::events {

// `type` is "Normal" or "Warning"; `component` names the reporter ("deployment-controller").
void record_event(store::Store& store, const Json& object, std::string_view type,
                  std::string_view reason, std::string message, std::string_view component);

}  // namespace ticketctl::events
