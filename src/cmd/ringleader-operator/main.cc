// ringleader-operator: see include/ringleader/operator/operator.h.
#include <csignal>
#include <iostream>
#include <stop_token>
#include <thread>

#include "ringleader/operator/operator.h"

int main(int argc, char** argv) {
  using namespace ringleader::controller;
  auto options = ParseOperatorFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::cerr << "ringleader-operator: " << options.status().message() << "\n";
    return 2;
  }
  if (options->help) {
    std::cout << OperatorUsage();
    return 0;
  }
  if (auto s = ConfigureLogging(options->log_format, options->log_level); !s.ok()) {
    std::cerr << "ringleader-operator: " << s.message() << "\n";
    return 2;
  }
  // SIGTERM/SIGINT are taken by a thread (sigwait) and turned into a stop request, so
  // shutdown runs as ordinary code rather than in a signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::stop_source stop;
  std::thread([&stop, signals] {
    int received = 0;
    sigwait(&signals, &received);
    stop.request_stop();
  }).detach();
  return RunOperator(*options, stop.get_token());
}
