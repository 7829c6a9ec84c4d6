#pragma once
// metav1.LabelSelector in one place: whether one selects a set of labels, and its text as
// kubectl, HPA and `?labelSelector=` read it. Used by the manifest checks, the controllers, the
// API's printers and Scale subresource, and the CLI. Pure; any thread.

#include <optional>
#include <string>

#include "runtime/manifest/json.h"

namespace ticketctl::manifest {

// Whether `labels` has every key of `match_labels` with the same string value: a Service's
// selector, a LabelSelector's matchLabels, a template's labels. An absent map selects all.
bool labels_match(const Json& match_labels, const Json& labels);

// A LabelSelector (matchLabels and matchExpressions, all of which must hold) against `labels`:
// In (the label is one of the values), NotIn (absent, or none of them), Exists, DoesNotExist.
// Absent fields select everything; an unknown operator, or In/NotIn without values, selects
// nothing, as the API server would have refused it.
bool label_selector_matches(const Json& selector, const Json& labels);

// metav1.LabelSelectorAsSelector(selector).String(): "app=posts,tier in (api,web),!canary",
// requirements sorted by key (stable) and each In/NotIn's values sorted; "" both for an absent
// selector and an empty one; nullopt when the selector is invalid (an unknown operator, In/NotIn
// without values, Exists/DoesNotExist with some).
std::optional<std::string> label_selector_string(const Json& selector);

}  // namespace ticketctl::manifest
