#pragma once
// Test helper: a Client that forwards every call to `inner`, except that calls of one verb
// ("get" or "create") block while the client is armed, until Release(), like a hung API
// server. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "ringleader/kube/client.h"
#include "ringleader/kube/rate_limiter.h"

namespace ringleader::kube::testing {

class BlockingClient : public Client {
 public:
  BlockingClient(Client& inner, std::string verb, bool armed = true)
      : inner_(inner), verb_(std::move(verb)), armed_(armed) {}

  // From now on, calls of the verb block until Release().
  void Arm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    released_ = false;
  }
  // Unblocks the blocked calls and lets later ones through.
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    armed_ = false;
    cv_.notify_all();
  }
  // Waits (10 s at most) until a call is blocked.
  bool WaitBlocked() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, Clock::now() + std::chrono::seconds(10),
                          [&] { return blocked_ > 0; });
  }
  int blocked() {
    std::lock_guard<std::mutex> lock(mu_);
    return blocked_;
  }

  StatusOr<Json> Get(const GroupVersionResource& gvr, const std::string& ns,
                      const std::string& name) override {
    MaybeBlock("get");
    return inner_.Get(gvr, ns, name);
  }
  StatusOr<Json> Create(const GroupVersionResource& gvr, const std::string& ns,
                         const Json& object, Answer answer = Answer::kObject) override {
    MaybeBlock("create");
    return inner_.Create(gvr, ns, object, answer);
  }
  StatusOr<Json> List(const GroupVersionResource& gvr, const std::string& ns,
                       const ListOptions& options) override {
    return inner_.List(gvr, ns, options);
  }
  StatusOr<Json> Update(const GroupVersionResource& gvr, const std::string& ns,
                         const Json& object) override {
    return inner_.Update(gvr, ns, object);
  }
  StatusOr<Json> UpdateStatus(const GroupVersionResource& gvr, const std::string& ns,
                               const Json& object, Answer answer = Answer::kObject) override {
    return inner_.UpdateStatus(gvr, ns, object, answer);
  }
  StatusOr<Json> Patch(const GroupVersionResource& gvr, const std::string& ns,
                        const std::string& name, PatchType type, const Json& patch,
                        const std::string& subresource = "", Answer answer = Answer::kObject) override {
    return inner_.Patch(gvr, ns, name, type, patch, subresource, answer);
  }
  StatusOr<Json> Delete(const GroupVersionResource& gvr, const std::string& ns,
                         const std::string& name, const DeleteOptions& options) override {
    return inner_.Delete(gvr, ns, name, options);
  }
  Status Watch(const GroupVersionResource& gvr, const std::string& ns, const WatchOptions& options,
               const WatchHandler& handler, std::stop_token stop) override {
    return inner_.Watch(gvr, ns, options, handler, stop);
  }

 private:
  void MaybeBlock(const char* verb) {
    std::unique_lock<std::mutex> lock(mu_);
    if (verb_ != verb || !armed_) return;
    ++blocked_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }

  Client& inner_;
  const std::string verb_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_;
  bool released_ = false;
  int blocked_ = 0;
};

}  // namespace ringleader::kube::testing
