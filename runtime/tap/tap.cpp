#include "runtime/tap/tap.h"

#include <algorithm>
#include <iterator>
#include <strings.h>

#include "runtime/manifest/names.h"

namespace ticketctl::tap {

namespace {

struct KindWord {
  std::string_view word;
  Target::Kind kind;
};

constexpr KindWord kKindWords[] = {
    {"svc", Target::Kind::Service},        {"service", Target::Kind::Service},
    {"services", Target::Kind::Service},   {"deploy", Target::Kind::Deployment},
    {"deployment", Target::Kind::Deployment}, {"deployments", Target::Kind::Deployment},
    {"po", Target::Kind::Pod},             {"pod", Target::Kind::Pod},
    {"pods", Target::Kind::Pod},
};

std::string qualified(const Target& t) { return t.ns + "/" + t.name; }

bool secret_header(std::string_view name) {
  for (const char* s : {"authorization", "proxy-authorization", "cookie", "set-cookie"}) {
    if (name.size() == std::char_traits<char>::length(s) &&
        strncasecmp(name.data(), s, name.size()) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<Target> parse_target(std::string_view text, std::string_view ns) {
  if (text.empty() || text == "all") return Target{Target::Kind::All, "", ""};
  if (text == "ingress" || text == "ing") return Target{Target::Kind::Ingress, "", ""};
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return Error{ErrorCode::Invalid,
                 "tap target \"" + std::string(text) +
                     "\": expected all, ingress, svc/NAME, deploy/NAME or pod/NAME"};
  }
  const std::string_view word = text.substr(0, slash);
  const std::string_view name = text.substr(slash + 1);
  const auto it = std::find_if(std::begin(kKindWords), std::end(kKindWords),
                               [&](const KindWord& k) { return k.word == word; });
  if (it == std::end(kKindWords)) {
    return Error{ErrorCode::Invalid, "tap target \"" + std::string(text) + "\": unknown kind \"" +
                                         std::string(word) +
                                         "\" (expected all, ingress, svc, deploy or pod)"};
  }
  const manifest::Invalid bad = it->kind == Target::Kind::Pod
                                    ? manifest::check_dns1123_subdomain(name)
                                    : manifest::check_dns1123_label(name);
  if (bad) {
    return Error{ErrorCode::Invalid,
                 "tap target \"" + std::string(text) + "\": invalid name: " + *bad};
  }
  if (const manifest::Invalid bad_ns = manifest::check_dns1123_label(ns)) {
    return Error{ErrorCode::Invalid, "namespace \"" + std::string(ns) + "\": " + *bad_ns};
  }
  return Target{it->kind, std::string(ns), std::string(name)};
}

std::string to_string(const Target& t) {
  switch (t.kind) {
    case Target::Kind::All: return "all";
    case Target::Kind::Ingress: return "ingress";
    case Target::Kind::Service: return "svc/" + qualified(t);
    case Target::Kind::Deployment: return "deploy/" + qualified(t);
    case Target::Kind::Pod: return "pod/" + qualified(t);
  }
  return "ingress";
}

bool matches(const Target& t, const Exchange& e) {
  switch (t.kind) {
    case Target::Kind::All: return true;
    case Target::Kind::Ingress: return e.via == Exchange::Via::Ingress;
    case Target::Kind::Service: return e.destination.service == qualified(t);
    case Target::Kind::Deployment: {
      const std::string w = qualified(t);
      return e.destination.workload == w || e.source.workload == w;
    }
    case Target::Kind::Pod: {
      const std::string p = qualified(t);
      return e.destination.pod == p || e.source.pod == p;
    }
  }
  return false;
}

void mask_secrets(Exchange& e) {
  for (Headers* hs : {&e.request_headers, &e.response_headers}) {
    for (auto& [name, value] : *hs) {
      if (secret_header(name)) value = "***";
    }
  }
}

Hub::Hub(size_t queue_limit) : queue_limit_(std::max<size_t>(queue_limit, 1)) {}

Hub::~Hub() {
  // Subscriptions outliving the hub must not call back into it.
  std::lock_guard lock(mu_);
  for (Subscription* s : subs_) {
    std::lock_guard sl(s->mu_);
    s->hub_ = nullptr;
    s->closed_ = true;
    s->cv_.notify_all();
  }
}

void Hub::publish(Exchange e) {
  if (!active()) return;
  std::lock_guard lock(mu_);
  if (closed_) return;
  e.seq = next_seq_++;
  const bool any_bodies = !e.request_body.empty() || !e.response_body.empty();
  for (Subscription* s : subs_) {
    if (!matches(s->target_, e)) continue;
    std::lock_guard sl(s->mu_);
    if (s->queue_.size() >= queue_limit_) {
      s->queue_.pop_front();
      ++s->dropped_;
    }
    Exchange copy = e;
    if (any_bodies && !s->bodies_) {
      copy.request_body.clear();
      copy.response_body.clear();
    }
    if (copy.request_body.size() > kBodyLimit) copy.request_body.resize(kBodyLimit);
    if (copy.response_body.size() > kBodyLimit) copy.response_body.resize(kBodyLimit);
    s->queue_.push_back(std::move(copy));
    s->cv_.notify_one();
  }
}

std::shared_ptr<Hub::Subscription> Hub::subscribe(Target target, bool bodies) {
  std::shared_ptr<Subscription> s(new Subscription(this, std::move(target), bodies));
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      s->closed_ = true;
      s->hub_ = nullptr;
      return s;
    }
    changed = std::none_of(subs_.begin(), subs_.end(),
                           [&](const Subscription* o) { return o->target_ == s->target_; });
    subs_.push_back(s.get());
    subscribers_.fetch_add(1, std::memory_order_relaxed);
    if (bodies) body_subscribers_.fetch_add(1, std::memory_order_relaxed);
  }
  if (changed) notify_targets_changed();
  return s;
}

void Hub::remove(Subscription* s) {
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    const auto it = std::find(subs_.begin(), subs_.end(), s);
    if (it == subs_.end()) return;
    subs_.erase(it);
    subscribers_.fetch_sub(1, std::memory_order_relaxed);
    if (s->bodies_) body_subscribers_.fetch_sub(1, std::memory_order_relaxed);
    changed = std::none_of(subs_.begin(), subs_.end(),
                           [&](const Subscription* o) { return o->target_ == s->target_; });
  }
  if (changed) notify_targets_changed();
}

std::vector<Target> Hub::targets() const {
  std::lock_guard lock(mu_);
  std::vector<Target> out;
  for (const Subscription* s : subs_) {
    if (std::find(out.begin(), out.end(), s->target_) == out.end()) out.push_back(s->target_);
  }
  return out;
}

size_t Hub::subscriptions() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

uint64_t Hub::published() const {
  std::lock_guard lock(mu_);
  return next_seq_ - 1;
}

void Hub::on_targets_changed(std::function<void()> f) {
  std::lock_guard lock(mu_);
  on_targets_changed_ = std::make_shared<std::function<void()>>(std::move(f));
}

void Hub::notify_targets_changed() {
  std::shared_ptr<std::function<void()>> f;
  {
    std::lock_guard lock(mu_);
    f = on_targets_changed_;
  }
  if (f && *f) (*f)();
}

void Hub::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (Subscription* s : subs_) {
    std::lock_guard sl(s->mu_);
    s->closed_ = true;
    s->cv_.notify_all();
  }
}

Hub::Subscription::~Subscription() {
  // hub_ is cleared (under mu_) only by the hub's destructor, which the owner orders after
  // every reader (the control plane stops its servers first).
  Hub* hub = nullptr;
  {
    std::lock_guard sl(mu_);
    hub = hub_;
  }
  if (hub != nullptr) hub->remove(this);
}

std::vector<Exchange> Hub::Subscription::wait(std::chrono::milliseconds timeout) {
  std::unique_lock sl(mu_);
  cv_.wait_for(sl, timeout, [&] { return !queue_.empty() || closed_; });
  std::vector<Exchange> out(std::make_move_iterator(queue_.begin()),
                            std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

uint64_t Hub::Subscription::dropped() const {
  std::lock_guard sl(mu_);
  return dropped_;
}

bool Hub::Subscription::closed() const {
  std::lock_guard sl(mu_);
  return closed_;
}

}  // namespace ticketctl::tap
