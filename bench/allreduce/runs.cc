#include "runs.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>

namespace ringleader::allreduce_bench {

std::vector<double> ReadCounters(const runtime::ShmCommunicator* shm) {
  std::vector<double> c(kNumCounters, 0.0);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  c[kVoluntarySwitches] = static_cast<double>(usage.ru_nvcsw);
  c[kInvoluntarySwitches] = static_cast<double>(usage.ru_nivcsw);
  c[kMinorFaults] = static_cast<double>(usage.ru_minflt);
  if (shm != nullptr) {
    const runtime::ShmStats& st = shm->stats();
    c[kBarrierWaitNs] = static_cast<double>(st.barrier_wait_ns);
    c[kSleeps] = static_cast<double>(st.sleeps);
    c[kWakes] = static_cast<double>(st.wakes);
    c[kSpinExits] = static_cast<double>(st.spin_exits);
    c[kBarriers] = static_cast<double>(st.barriers);
  }
  return c;
}

std::string FormatSample(const Sample& s) {
  char head[96];
  std::snprintf(head, sizeof(head), "%zu %.9g %d", s.bytes, s.seconds, s.ok ? 1 : 0);
  std::string line = head;
  for (double c : s.counters) {
    char field[32];
    std::snprintf(field, sizeof(field), " %.6g", c);
    line += field;
  }
  return line + "\n";
}

std::vector<Sample> ParseSamples(const std::string& text, const char* prefix) {
  std::vector<Sample> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (prefix != nullptr) {
      if (line.rfind(prefix, 0) != 0) continue;
      line = line.substr(std::strlen(prefix));
    }
    Sample s;
    int ok = 0, used = 0;
    if (std::sscanf(line.c_str(), "%zu %lf %d%n", &s.bytes, &s.seconds, &ok, &used) == 3) {
      s.ok = ok == 1;
      std::stringstream rest(line.substr(used));
      for (double c; rest >> c;) s.counters.push_back(c);
      out.push_back(s);
    }
  }
  return out;
}

const Sample* FindSample(const std::vector<Sample>& v, size_t bytes, bool only_ok) {
  for (const auto& s : v) {
    if (s.bytes == bytes) return only_ok && !s.ok ? nullptr : &s;
  }
  return nullptr;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status) == 0 ? "" : "exited with " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
  return out;
}

}  // namespace ringleader::allreduce_bench
