#pragma once
// The store and the one lock that guards it. The control plane's threads (API workers, the
// controller loop, the kubelet, the dashboard, the readiness gate) reach the store only through
// `lock()`, whose handle holds the lock for as long as it lives: there is no way from a
// `Shared` to the store that skips the lock, so a forgotten lock does not compile.
//
//   {
//     store::Shared::Locked s = shared.lock();
//     store::Store::Transaction tx = s->transaction();  // nests inside the lock's scope
//     s->create(...);
//     tx.commit();
//   }  // the lock is released here, after the transaction ended
//
// One plain mutex: a measurement has not asked for a reader/writer lock (reads are served from
// memory and are short). Code that runs while the caller holds the lock takes `store::Store&`
// and must not keep it past that scope.

#include <memory>
#include <mutex>
#include <utility>

#include "runtime/store/store.h"

namespace ticketctl::store {

class Shared {
 public:
  explicit Shared(std::unique_ptr<Store> store) : store_(std::move(store)) {}
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  // The store with its lock held; move-only, the lock goes with the handle.
  class Locked {
   public:
    Locked(Locked&& other) noexcept
        : lock_(std::move(other.lock_)), store_(std::exchange(other.store_, nullptr)) {}
    Locked& operator=(Locked&&) = delete;
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;
    ~Locked() = default;

    Store* operator->() const { return store_; }
    Store& operator*() const { return *store_; }

   private:
    friend class Shared;
    Locked(std::mutex& mu, Store& store) : lock_(mu), store_(&store) {}
    std::unique_lock<std::mutex> lock_;
    Store* store_;
  };

  // Blocks until no other handle is alive.
  [[nodiscard]] Locked lock() { return Locked(mu_, *store_); }

 private:
  std::mutex mu_;
  std::unique_ptr<Store> store_;
};

}  // namespace ticketctl::store
