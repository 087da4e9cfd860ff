#include "ringleader/runtime/app/launch_coordinator.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "ringleader/runtime/rendezvous/socket.h"

namespace ringleader::runtime {

namespace {

// Launchers are not ranks: the store does not report them as dead ranks.
constexpr int kLauncherStoreId = -1;
constexpr auto kPollEvery = std::chrono::milliseconds(10);

}  // namespace

int LauncherStorePort(int master_port) { return master_port < 65535 ? master_port + 1 : master_port - 1; }

StatusOr<std::unique_ptr<LaunchCoordinator>> LaunchCoordinator::Start(const CoordinatorOptions& options) {
  std::unique_ptr<LaunchCoordinator> c(new LaunchCoordinator());
  c->options_ = options;
  if (::pipe2(c->wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) return InternalError("pipe2 failed");
  std::string host = options.master_addr;
  c->port_ = options.port;
  if (options.worker_rank == 0) {
    ASSIGN_OR_RETURN(c->server_, TcpStoreServer::Serve(options.listen_fd, options.master_addr, options.port));
    c->port_ = c->server_->port();
    host = "127.0.0.1";
  }
  const Deadline deadline = DeadlineAfter(options.connect_timeout);
  ASSIGN_OR_RETURN(c->client_, TcpStoreClient::Connect(host, c->port_, kLauncherStoreId, deadline));
  ASSIGN_OR_RETURN(c->watcher_, TcpStoreClient::Connect(host, c->port_, kLauncherStoreId, deadline));
  return c;
}

LaunchCoordinator::~LaunchCoordinator() {
  StopWatch();
  client_.reset();
  watcher_.reset();
  if (server_) server_->Stop();
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

std::string LaunchCoordinator::Key(int generation, const std::string& name) const {
  return "launch/" + std::to_string(options_.attempt) + "/" + std::to_string(generation) + "/" + name;
}

void LaunchCoordinator::StopWatch() {
  stop_watch_.store(true);
  if (watch_thread_.joinable()) watch_thread_.join();
  stop_watch_.store(false);
  char drain[64];
  while (::read(wake_pipe_[0], drain, sizeof drain) > 0) {
  }
}

void LaunchCoordinator::Watch(int generation) {
  StopWatch();
  announced_.store(false);
  watch_thread_ = std::thread([this, key = Key(generation, "restart")] {
    while (!stop_watch_.load()) {
      // Short waits, so that StopWatch never blocks for long.
      auto value = watcher_->Get(key, DeadlineAfter(std::chrono::milliseconds(200)));
      if (value.ok()) {
        announced_.store(true);
      } else if (value.status().code() != StatusCode::kDeadlineExceeded) {
        store_lost_.store(true);
      } else {
        continue;
      }
      const char byte = 1;
      (void)!::write(wake_pipe_[1], &byte, 1);
      return;
    }
  });
}

Status LaunchCoordinator::Announce(int generation, const std::string& reason, bool permanent) {
  if (permanent) RETURN_IF_ERROR(client_->Set(Key(generation, "fail"), reason));
  // The first announcement's reason is the one every launcher reports.
  auto first = client_->Add(Key(generation, "announcers"), 1);
  if (!first.ok()) return first.status();
  if (*first == 1) RETURN_IF_ERROR(client_->Set(Key(generation, "reason"), reason));
  return client_->Set(Key(generation, "restart"), reason);
}

Status LaunchCoordinator::StoppedAndWait(int generation) {
  const std::string key = Key(generation, "stopped");
  auto arrived = client_->Add(key, 1);
  const Deadline deadline = DeadlineAfter(options_.barrier_timeout);
  const std::string done_key = "launch/" + std::to_string(options_.attempt) + "/done";
  while (arrived.ok() && *arrived < options_.num_workers) {
    // A launcher whose processes all succeeded has exited: its ranks cannot be restarted here,
    // so waiting for it would only delay the Pod-level restart.
    if (auto done = client_->Add(done_key, 0); done.ok() && *done > 0) {
      return AbortedError(std::to_string(*done) + " launcher(s) already finished successfully; their ranks cannot "
                          "be restarted in place");
    }
    if (Clock::now() >= deadline) {
      return DeadlineExceededError(std::to_string(*arrived) + " of " + std::to_string(options_.num_workers) +
                                   " launchers stopped their processes within " +
                                   std::to_string(options_.barrier_timeout.count() / 1000) +
                                   "s (a Pod or its node is gone?)");
    }
    std::this_thread::sleep_for(kPollEvery);
    arrived = client_->Add(key, 0);
  }
  return arrived.ok() ? Status::Ok() : arrived.status();
}

StatusOr<bool> LaunchCoordinator::Failed(int generation) {
  ASSIGN_OR_RETURN(auto present, client_->Check({Key(generation, "fail")}));
  return static_cast<bool>(present[0]);
}

std::string LaunchCoordinator::Reason(int generation) {
  auto reason = client_->Get(Key(generation, "reason"), DeadlineAfter(std::chrono::seconds(2)));
  return reason.ok() ? *reason : "a peer's launcher restarted its processes";
}

void LaunchCoordinator::Done(std::chrono::milliseconds linger) {
  StopWatch();
  const std::string prefix = "launch/" + std::to_string(options_.attempt) + "/";
  auto done = client_->Add(prefix + "done", 1);
  if (!server_ || !done.ok()) return;
  // Until every launcher finished or gave up (one that exits with a failure is not coming back).
  const Deadline deadline = DeadlineAfter(linger);
  auto gone = client_->Add(prefix + "gone", 0);
  while (done.ok() && gone.ok() && *done + *gone < options_.num_workers && Clock::now() < deadline) {
    std::this_thread::sleep_for(kPollEvery * 5);
    done = client_->Add(prefix + "done", 0);
    gone = client_->Add(prefix + "gone", 0);
  }
}

void LaunchCoordinator::Leave() {
  StopWatch();
  (void)client_->Add("launch/" + std::to_string(options_.attempt) + "/gone", 1);
}

}  // namespace ringleader::runtime
