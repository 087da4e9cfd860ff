// The operator's command line: --flag=value and --flag value, with durations like "10s".
#include <cctype>
#include <string>
#include <vector>

#include "ringleader/operator/health_server.h"
#include "ringleader/operator/operator.h"

namespace ringleader::controller {

StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
    ++digits;
  }
  std::string unit = text.substr(digits);
  double value = 0;
  try {
    if (digits == 0) throw std::invalid_argument("no number");
    value = std::stod(text.substr(0, digits));
  } catch (...) {
    return InvalidArgumentError("duration \"" + text + "\": want a number with a unit (500ms, 10s, 2m, 1h)");
  }
  double ms = 0;
  if (unit == "ms") ms = value;
  else if (unit == "s" || unit.empty()) ms = value * 1000;
  else if (unit == "m") ms = value * 60000;
  else if (unit == "h") ms = value * 3600000;
  else return InvalidArgumentError("duration \"" + text + "\": unknown unit \"" + unit + "\" (ms, s, m, h)");
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::string OperatorUsage() {
  return R"(ringleader-operator: reconciles TrainingJobs (ringleader.dev/v1alpha1) into gangs of pods.

Flags:
  --kubeconfig PATH                 kubeconfig to use (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)
  --context NAME                    kubeconfig context (default: current-context)
  --namespace NS                    watch only NS; repeatable (default: all namespaces)
  --workers N                       concurrent reconciles (default 4)
  --qps Q, --burst B                client-side rate limit to the API server (default 100, 1500)
  --leader-elect=true|false         run leader election on a Lease (default true)
  --leader-election-namespace NS    the Lease's namespace (default: $POD_NAMESPACE or the service account's)
  --leader-election-id NAME         the Lease's name (default ringleader-operator)
  --metrics-addr HOST:PORT          serve /metrics, /healthz, /readyz (default 0.0.0.0:8080; "0" disables)
  --log-format text|json            log line format (default text)
  --log-level LEVEL                 trace|debug|info|warn|error (default info)
  --restart-backoff DURATION        delay before the second gang restart, doubled per restart after
                                    it (default 10s; the first restart starts at once)
  --restart-backoff-max DURATION    cap of the restart delay (default 5m)
  --admission-retry DURATION        how often a gang waiting for capacity is re-checked (default 5s)
  --backfill-window DURATION        how long younger gangs that fit may pass an older waiting one
                                    (default 10m; 0: strict FIFO)
  --pod-event-batch DURATION        pod events of one job within this window cost one reconcile
                                    (default 250ms; 0: one reconcile per event)
  --stuck-pod-margin DURATION       a pod Terminating on a lost node (NotReady, unreachable) is
                                    force-deleted this long after its grace period (default 15s)
  --help
)";
}

StatusOr<OperatorOptions> ParseOperatorFlags(const std::vector<std::string>& args) {
  OperatorOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (auto eq = flag.find('='); eq != std::string::npos && flag.rfind("--", 0) == 0) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    auto value = [&]() -> StatusOr<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) return InvalidArgumentError(flag + ": missing value");
      return args[++i];
    };
    auto integer = [&](int min, int max) -> StatusOr<int> {
      ASSIGN_OR_RETURN(std::string v, value());
      try {
        size_t used = 0;
        int n = std::stoi(v, &used);
        if (used == v.size() && n >= min && n <= max) return n;
      } catch (...) {
      }
      return InvalidArgumentError(flag + ": want an integer " + std::to_string(min) + ".." + std::to_string(max) +
                                  ", got \"" + v + "\"");
    };
    if (flag == "--help" || flag == "-h") {
      o.help = true;
    } else if (flag == "--kubeconfig") {
      ASSIGN_OR_RETURN(o.kubeconfig, value());
    } else if (flag == "--context") {
      ASSIGN_OR_RETURN(o.context, value());
    } else if (flag == "--namespace") {
      ASSIGN_OR_RETURN(std::string ns, value());
      if (ns.empty()) return InvalidArgumentError("--namespace: must not be empty");
      o.namespaces.push_back(ns);
    } else if (flag == "--workers") {
      ASSIGN_OR_RETURN(o.workers, integer(1, 256));
    } else if (flag == "--qps") {
      ASSIGN_OR_RETURN(std::string v, value());
      try {
        o.qps = std::stod(v);
      } catch (...) {
        return InvalidArgumentError("--qps: want a number, got \"" + v + "\"");
      }
    } else if (flag == "--burst") {
      ASSIGN_OR_RETURN(o.burst, integer(1, 100000));
    } else if (flag == "--leader-elect") {
      std::string v = inline_value.value_or("true");
      if (v != "true" && v != "false") return InvalidArgumentError("--leader-elect: want true or false, got \"" + v + "\"");
      o.leader_elect = v == "true";
    } else if (flag == "--leader-election-namespace") {
      ASSIGN_OR_RETURN(o.leader_election_namespace, value());
    } else if (flag == "--leader-election-id") {
      ASSIGN_OR_RETURN(o.leader_election_id, value());
    } else if (flag == "--metrics-addr") {
      ASSIGN_OR_RETURN(o.metrics_addr, value());
      if (o.metrics_addr == "0") o.metrics_addr.clear();
      if (!o.metrics_addr.empty()) {
        auto parsed = ParseHostPort(o.metrics_addr);
        if (!parsed.ok()) return InvalidArgumentError("--metrics-addr: " + parsed.status().message());
      }
    } else if (flag == "--log-format") {
      ASSIGN_OR_RETURN(o.log_format, value());
      if (o.log_format != "text" && o.log_format != "json") {
        return InvalidArgumentError("--log-format: want text or json, got \"" + o.log_format + "\"");
      }
    } else if (flag == "--log-level") {
      ASSIGN_OR_RETURN(o.log_level, value());
    } else if (flag == "--restart-backoff" || flag == "--restart-backoff-max" || flag == "--admission-retry" ||
               flag == "--backfill-window" || flag == "--pod-event-batch" || flag == "--stuck-pod-margin") {
      ASSIGN_OR_RETURN(std::string v, value());
      auto d = ParseDuration(v);
      if (!d.ok()) return InvalidArgumentError(flag + ": " + d.status().message());
      if (flag == "--restart-backoff") o.restart_backoff = *d;
      else if (flag == "--restart-backoff-max") o.restart_backoff_cap = *d;
      else if (flag == "--backfill-window") o.backfill_window = *d;
      else if (flag == "--pod-event-batch") o.pod_event_batch = *d;
      else if (flag == "--stuck-pod-margin") o.stuck_pod_margin = *d;
      else o.admission_retry = *d;
    } else {
      return InvalidArgumentError("unknown flag \"" + args[i] + "\" (see --help)");
    }
  }
  if (o.restart_backoff_cap < o.restart_backoff) {
    return InvalidArgumentError("--restart-backoff-max must be >= --restart-backoff");
  }
  return o;
}

}  // namespace ringleader::controller
