#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace ringleader::bench {

void PrintServerWrites(const char* label, const Measurement& m) {
  std::vector<std::pair<int, std::string>> writes;
  int total = 0;
  for (const auto& [what, count] : m.server_requests) {
    std::string verb = what.substr(0, what.find(' '));
    if (verb != "create" && verb != "update" && verb != "patch" && verb != "delete") continue;
    writes.push_back({count, what});
    total += count;
  }
  std::sort(writes.rbegin(), writes.rend());
  std::string detail;
  for (const auto& [count, what] : writes) detail += (detail.empty() ? "" : ", ") + what + " " + std::to_string(count);
  std::printf("# %-22s server writes %d = %.2f per pod (%s)\n", label, total, m.pods ? double(total) / m.pods : 0.0,
              detail.c_str());
}

void PrintBreakdown(const char* label, const Measurement& m) {
  PrintServerWrites(label, m);
  const Scrape& s = m.metrics;
  auto mean_ms = [&](const std::string& name, const std::string& labels) {
    double count = Sum(s, name + "_count", labels);
    return count > 0 ? 1000 * Sum(s, name + "_sum", labels) / count : 0.0;
  };
  std::printf("# %-22s operator cpu %.2f s, server cpu %.2f s over %.2f s wall; reconciles %.0f (mean %.1f ms); "
              "API create %.0f (mean %.2f ms), patch %.0f (%.2f ms), update %.0f (%.2f ms), list %.0f; "
              "non-2xx %.0f\n",
              label, m.operator_cpu, m.server_cpu, m.seconds, Sum(s, "ringleader_reconcile_total"),
              mean_ms("ringleader_reconcile_duration_seconds", ""),
              Sum(s, "ringleader_api_requests_total", "verb=\"create\""),
              mean_ms("ringleader_api_request_duration_seconds", "verb=\"create\""),
              Sum(s, "ringleader_api_requests_total", "verb=\"patch\""),
              mean_ms("ringleader_api_request_duration_seconds", "verb=\"patch\""),
              Sum(s, "ringleader_api_requests_total", "verb=\"update\""),
              mean_ms("ringleader_api_request_duration_seconds", "verb=\"update\""),
              Sum(s, "ringleader_api_requests_total", "verb=\"list\""),
              Sum(s, "ringleader_api_requests_total") - Sum(s, "ringleader_api_requests_total", "code=\"2"));
  for (const auto& [series, value] : s) {
    if (series.rfind("ringleader_api_requests_total{", 0) == 0 && series.find("code=\"2") == std::string::npos) {
      std::printf("#   %s %.0f\n", series.c_str() + std::strlen("ringleader_api_requests_total"), value);
    }
  }
  if (m.submit_seconds > 0) {
    std::printf("# %-22s the bench's TrainingJob creates took %.2f s of the %.2f s\n", label, m.submit_seconds, m.seconds);
  }
}

namespace {

const char* Verdict(bool met) { return met ? "met" : "NOT met"; }

// The table of cases (ratio: pods/s over the bare client's, the ceiling), then the memory and
// queue lines.
void PrintTable(const Options& options, Results& r, double ceiling) {
  std::printf("\n%-44s %6s %9s %16s %9s %8s %8s %7s\n", "case", "pods", "seconds", "(min..max)", "pods/s",
              "op cpu", "srv cpu", "ratio");
  auto row = [&](const std::string& label, const Measurement& m, const std::string& spread, bool ratio) {
    char ratio_text[16] = "-";
    if (ratio && ceiling > 0) std::snprintf(ratio_text, sizeof(ratio_text), "%.2f", m.PodsPerSecond() / ceiling);
    std::printf("%-44s %6d %9.3f %16s %9.0f %8.2f %8.2f %7s\n", label.c_str(), m.pods, m.seconds, spread.c_str(),
                m.PodsPerSecond(), m.operator_cpu, m.server_cpu, ratio_text);
  };
  for (const auto& [s, m] : r.gang) {
    row("1 job x " + std::to_string(options.gang) + ", " + s + ": create -> last pod", m, r.gang_spread[s], false);
  }
  for (const auto& [s, m] : r.jobs) {
    row(std::to_string(options.jobs) + " jobs x " + std::to_string(options.workers_per_job) + ", " + s +
            ": operator",
        m, r.jobs_spread[s], true);
  }
  for (const BareRun& run : r.bare_runs) {
    bool fastest = run.m.PodsPerSecond() == r.bare->PodsPerSecond();
    row("bare HttpClient, " + std::to_string(run.threads) + " threads" + (fastest ? " (ceiling)" : ""), run.m,
        run.spread, true);
  }
  if (r.floor_writes) {
    std::string threads = std::to_string(r.floor_threads) + " threads";
    row("floor: required writes only, " + threads, *r.floor_writes, r.floor_writes_spread, true);
    row("floor: required writes + caches, " + threads, *r.floor_watch, r.floor_watch_spread, true);
  }
  if (r.rss) {
    row(std::to_string(r.rss->jobs) + " jobs x " + std::to_string(options.workers_per_job) + ", Builtin (rss run, 1x)",
        r.rss->creation, "-", false);
    std::printf("\n%-44s %9s %9s\n", "operator memory", "VmRSS MB", "VmHWM MB");
    std::printf("%-44s %9.1f %9.1f\n", ("idle: synced, " + std::to_string(r.rss->nodes) + " nodes, no jobs").c_str(),
                r.rss->idle.rss_mb, r.rss->idle.peak_mb);
    std::printf("%-44s %9.1f %9.1f\n",
                (std::to_string(options.rss_pods) + " pods cached (" + std::to_string(r.rss->jobs) + " jobs, quiet)")
                    .c_str(),
                r.rss->loaded.rss_mb, r.rss->loaded.peak_mb);
    std::printf("%-44s %9.1f %9.1f\n",
                ("restarted with them (quiet after " + std::to_string(static_cast<int>(std::lround(r.rss->restart_seconds))) +
                 " s)")
                    .c_str(),
                r.rss->restarted.rss_mb, r.rss->restarted.peak_mb);
    if (!r.rss->quiet) std::printf("# warning: the operator was not quiet when the loaded RSS was read\n");
    if (!r.rss->restarted_quiet) std::printf("# warning: the restarted operator was not quiet when its RSS was read\n");
  }
  if (r.queue) {
    std::printf("\n%d gangs of %d waiting for capacity (%d nodes): operator CPU %.1f%% of a core over %.1f s, "
                "%.0f reconciles (%.0f us CPU each)\n",
                options.queue_jobs, options.workers_per_job, r.queue->nodes, 100 * r.queue->operator_cpu / r.queue->seconds,
                r.queue->seconds, r.queue->reconciles,
                r.queue->reconciles > 0 ? 1e6 * r.queue->operator_cpu / r.queue->reconciles : 0.0);
  }

  if (r.recovery_pod) {
    std::string gang_label = std::to_string(options.recovery_workers) + "-worker gang";
    row(gang_label + ": worker exit 137 -> next attempt Running", *r.recovery_pod, r.recovery_pod_spread, false);
    row(gang_label + ": node dies -> next attempt Running", *r.recovery_node, r.recovery_node_spread, false);
    row("1 job x " + std::to_string(options.gang) + ", Builtin, default --qps/--burst", *r.gang_default_flags,
        r.gang_default_spread, false);
  }
}

// Per-case breakdowns and what the columns mean.
void PrintNotes(Results& r) {
  std::printf("\n");
  for (const auto& [s, m] : r.gang) PrintBreakdown(("gang " + s).c_str(), m);
  for (const auto& [s, m] : r.jobs) PrintBreakdown(("jobs " + s).c_str(), m);
  if (r.bare) {
    std::printf("# %-22s client (this process) cpu %.2f s, server cpu %.2f s over %.2f s wall\n", "bare client",
                r.bare->operator_cpu, r.bare->server_cpu, r.bare->seconds);
    PrintServerWrites("bare client", *r.bare);
  }
  std::printf("# op cpu / srv cpu: CPU seconds of the operator (bare row: this process, i.e. the client) and of the\n"
              "# API server during the measured interval; ratio: pods/s / the bare client's pods/s\n");
  if (r.floor_writes) {
    std::printf("# floor: per job the TrainingJob, Service, pods, 1 status write and 1 Event from a scripted client;\n"
                "# its ratio is the most any operator that must make those writes can reach here\n");
    PrintServerWrites("floor", *r.floor_writes);
  }
  if (r.rss) PrintBreakdown("rss run (creation)", r.rss->creation);
}

// The issues' targets and the RESULT lines.
void PrintTargets(const Options& options, Results& r, double ceiling) {
  std::printf("\n# targets (issue 4), Builtin:");
  if (r.jobs.count("Builtin") && r.bare) {
    double ratio = r.jobs["Builtin"].PodsPerSecond() / ceiling;
    std::printf(" ratio >= 0.8 %s;", Verdict(ratio >= 0.8));
  }
  if (r.jobs.count("Builtin")) std::printf(" >= 500 pods/s %s;", Verdict(r.jobs["Builtin"].PodsPerSecond() >= 500));
  if (r.floor_writes && r.bare) {
    std::printf(" (the floor reaches %.2f with the required writes alone, %.2f with the caches too);",
                r.floor_writes->PodsPerSecond() / ceiling, r.floor_watch->PodsPerSecond() / ceiling);
  }
  if (r.rss) {
    std::printf(" RSS idle <= 20 MB %s; RSS at 10k pods <= 80 MB %s%s", Verdict(r.rss->idle.rss_mb <= 20),
                Verdict(std::max(r.rss->loaded.rss_mb, r.rss->restarted.rss_mb) <= 80),
                options.rss_pods == 10000 ? "" : (" (measured at " + std::to_string(options.rss_pods) + " pods)").c_str());
  }
  std::printf("\n");
  if (r.gang.count("Builtin")) std::printf("RESULT gang512_seconds=%.3f\n", r.gang["Builtin"].seconds);
  if (r.jobs.count("Builtin")) std::printf("RESULT pods_per_second=%.0f\n", r.jobs["Builtin"].PodsPerSecond());
  if (r.jobs.count("Builtin") && r.bare) {
    std::printf("RESULT ratio_vs_bare_client=%.2f\n", r.jobs["Builtin"].PodsPerSecond() / ceiling);
  }
  if (r.recovery_pod) {
    std::printf("# targets (issue 14): restarts <= 2 s %s (pod failure), %s (node loss); %d pods with default flags "
                "<= 1.5 s %s\n",
                Verdict(r.recovery_pod->seconds <= 2), Verdict(r.recovery_node->seconds <= 2), options.gang,
                Verdict(r.gang_default_flags->seconds <= 1.5));
    std::printf("RESULT restart_seconds_pod_failure=%.3f\n", r.recovery_pod->seconds);
    std::printf("RESULT restart_seconds_node_loss=%.3f\n", r.recovery_node->seconds);
    std::printf("RESULT gang512_default_flags_seconds=%.3f\n", r.gang_default_flags->seconds);
  }
  if (r.rss) {
    std::printf("RESULT rss_idle_mb=%.1f\n", r.rss->idle.rss_mb);
    // The larger of the two states an operator with 10k pods is in: grown into it, or restarted.
    std::printf("RESULT rss_10k_pods_mb=%.1f\n", std::max(r.rss->loaded.rss_mb, r.rss->restarted.rss_mb));
  }
}

}  // namespace

void PrintReport(const Options& options, Results& r) {
  const double ceiling = r.bare ? r.bare->PodsPerSecond() : 0;
  PrintTable(options, r, ceiling);
  PrintNotes(r);
  PrintTargets(options, r, ceiling);
}

}  // namespace ringleader::bench
