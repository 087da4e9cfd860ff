#include "machine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace ringleader::allreduce_bench {

double MemcpyBandwidth() {
  const size_t bytes = 64u << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  std::memcpy(dst.data(), src.data(), bytes);  // fault pages in
  double best = 1e9;
  for (int i = 0; i < 10; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return static_cast<double>(bytes) / best / 1e9;
}

std::string LoadAverage() {
  char buf[128] = {0};
  const int fd = open("/proc/loadavg", O_RDONLY);
  if (fd < 0) return "?";
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  // "0.52 0.58 0.59 1/467 12345": the three averages.
  size_t end = 0;
  for (int field = 0; field < 3 && end != std::string::npos; ++field) end = text.find(' ', end + 1);
  return text.substr(0, end);
}

BusyLoops::BusyLoops(int count) {
  std::fflush(nullptr);
  for (int i = 0; i < count; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      for (;;) asm volatile("");  // the asm keeps the loop (and the core busy)
    }
    if (pid > 0) pids_.push_back(pid);
  }
}

BusyLoops::~BusyLoops() {
  for (pid_t pid : pids_) kill(pid, SIGKILL);
  for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
}

}  // namespace ringleader::allreduce_bench
