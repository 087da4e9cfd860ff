#include "options.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "ringleader/common/split.h"

namespace ringleader::bench {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "operator_bench: %s\n", message.c_str());
  std::exit(1);
}

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: operator_bench [--workers N] [--qps Q] [--burst B] [--gang N] [--jobs N]\n"
               "  [--workers-per-job N] [--rss-pods N] [--repeat N] [--bare-threads N,M] [--no-none]\n"
               "  [--node-cpus C] [--timeout-seconds S] [--cases gang,jobs,bare,floor,rss,queue,recovery] [--queue-jobs 500] [--no-simulator] [--rss-simulator]\n"
               "  [--recovery-workers 64]\n"
               "  [--perf DIR]\n"
               "  [--operator PATH] [--apiserver PATH] [--crd PATH] [--operator-flag FLAG]... [--keep-logs]\n");
}

}  // namespace

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::optional<std::string> inline_value;
    if (size_t eq = flag.find('='); eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) Die(flag + ": missing value");
      return argv[++i];
    };
    auto positive = [&](int min) {
      std::string v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < min || n > 1000000) Die(flag + ": want an integer >= " + std::to_string(min) + ", got \"" + v + "\"");
      return static_cast<int>(n);
    };
    if (flag == "--workers") o.workers = positive(1);
    else if (flag == "--qps") o.qps = std::strtod(value().c_str(), nullptr);
    else if (flag == "--burst") o.burst = positive(1);
    else if (flag == "--gang") o.gang = positive(1);
    else if (flag == "--jobs") o.jobs = positive(1);
    else if (flag == "--workers-per-job") o.workers_per_job = positive(1);
    else if (flag == "--rss-pods") o.rss_pods = positive(1);
    else if (flag == "--queue-jobs") o.queue_jobs = positive(1);
    else if (flag == "--recovery-workers") o.recovery_workers = positive(4);
    else if (flag == "--repeat") o.repeat = positive(1);
    else if (flag == "--operator-flag") o.operator_flags.push_back(value());
    else if (flag == "--bare-threads") {
      o.bare_threads.clear();
      std::string list = value();
      for (const std::string& item : Split(list, ',')) {
        long n = std::strtol(item.c_str(), nullptr, 10);
        if (n < 1 || n > 1024) Die("--bare-threads: want a comma-separated list of 1..1024, got \"" + list + "\"");
        o.bare_threads.push_back(static_cast<int>(n));
      }
    }
    else if (flag == "--no-none") o.none_rows = false;
    else if (flag == "--node-cpus") o.node_cpus = value();
    else if (flag == "--timeout-seconds") o.timeout_seconds = positive(1);
    else if (flag == "--operator") o.operator_binary = value();
    else if (flag == "--apiserver") o.apiserver_binary = value();
    else if (flag == "--crd") o.crd = value();
    else if (flag == "--keep-logs") o.keep_logs = true;
    else if (flag == "--no-simulator") o.simulate_pods = false;
    else if (flag == "--rss-simulator") o.rss_simulator = true;
    else if (flag == "--cases") o.cases = value();
    else if (flag == "--perf") o.perf_dir = value();
    else if (flag == "--help" || flag == "-h") {
      Usage();
      std::exit(0);
    } else {
      Usage();
      Die("unknown flag " + flag);
    }
  }
  if (o.bare_threads.empty()) o.bare_threads = {o.workers, 4 * o.workers};
  return o;
}


}  // namespace ringleader::bench
