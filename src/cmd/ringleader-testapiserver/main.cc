// ringleader-testapiserver: an in-memory Kubernetes API server for tests and benchmarks.
// Prints "ready" on stdout once it listens (after writing --kubeconfig-out), then serves
// until SIGINT/SIGTERM. All logic lives in ringleader_testing (TestApiServer).

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "ringleader/common/split.h"
#include "ringleader/testing/test_api_server.h"

namespace {

void Usage() {
  std::cerr << "usage: ringleader-testapiserver [--listen 127.0.0.1:PORT] [--kubeconfig-out FILE]\n"
               "  [--crd FILE]... [--simulate-pods] [--simulate-schedulers a,b] [--simulate-kueue]\n"
               "  [--nodes N] [--node-gpus G] [--node-cpus C] [--node-memory M]\n"
               "  [--pod-start-delay-ms MS] [--pod-stop-delay-ms MS] [--node-monitor-grace-period-ms MS]\n"
               "  [--watch-history N] [--bookmark-interval-ms MS] [--no-scheduling-gates]\n"
               "  [--tls-cert FILE --tls-key FILE] [--token TOKEN]\n"
               "\n"
               "  --tls-cert FILE, --tls-key FILE  serve HTTPS with this PEM certificate and key (both or\n"
               "      neither); the certificate should be self-signed: --kubeconfig-out trusts exactly it\n"
               "      (certificate-authority-data)\n"
               "  --node-monitor-grace-period-ms MS  how long a node killed through /testing/kill-node\n"
               "      looks Ready before it is marked Unknown and tainted unreachable (default 40000, as\n"
               "      kube-controller-manager's --node-monitor-grace-period)\n"
               "  --simulate-kueue  admit Kueue Workloads against ClusterQueue quotas, preempting lower\n"
               "      priorities, once Kueue's CRDs are registered (a stand-in for Kueue's scheduler)\n"
               "  --token TOKEN  require \"Authorization: Bearer TOKEN\" on every request (else 401\n"
               "      Unauthorized); --kubeconfig-out carries it. Without it any token is accepted\n";
}


// Fills `options` from the command line. Returns the exit code when the process should end
// here (2 on a bad flag, 0 after --help), nullopt to serve.
std::optional<int> ParseFlags(int argc, char** argv, ringleader::testapi::TestApiServerOptions* options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto next = [&]() -> std::string {
      if (!value.empty()) return value;
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << arg << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--listen") {
      std::string hp = next();
      size_t colon = hp.rfind(':');
      if (colon == std::string::npos) {
        std::cerr << "--listen wants HOST:PORT\n";
        return 2;
      }
      options->listen_host = hp.substr(0, colon);
      options->port = std::atoi(hp.c_str() + colon + 1);
    } else if (arg == "--kubeconfig-out") {
      options->kubeconfig_out = next();
    } else if (arg == "--crd") {
      options->crd_files.push_back(next());
    } else if (arg == "--simulate-pods") {
      options->simulate_pods = true;
    } else if (arg == "--simulate-kueue") {
      options->simulate_kueue = true;
    } else if (arg == "--simulate-schedulers") {
      options->simulate_schedulers = ringleader::SplitNonEmpty(next(), ',');
    } else if (arg == "--nodes") {
      options->nodes = std::atoi(next().c_str());
    } else if (arg == "--node-gpus") {
      options->node_gpus = std::atoi(next().c_str());
    } else if (arg == "--node-cpus") {
      options->node_cpus = next();
    } else if (arg == "--node-memory") {
      options->node_memory = next();
    } else if (arg == "--pod-start-delay-ms") {
      options->pod_start_delay = std::chrono::milliseconds(std::atoll(next().c_str()));
    } else if (arg == "--pod-stop-delay-ms") {
      options->pod_stop_delay = std::chrono::milliseconds(std::atoll(next().c_str()));
    } else if (arg == "--node-monitor-grace-period-ms") {
      options->node_monitor_grace_period = std::chrono::milliseconds(std::atoll(next().c_str()));
    } else if (arg == "--watch-history") {
      options->watch_history = static_cast<size_t>(std::atoll(next().c_str()));
    } else if (arg == "--no-scheduling-gates") {
      options->scheduling_gates = false;
    } else if (arg == "--bookmark-interval-ms") {
      options->bookmark_interval = std::chrono::milliseconds(std::atoll(next().c_str()));
    } else if (arg == "--tls-cert") {
      options->tls_cert_file = next();
    } else if (arg == "--tls-key") {
      options->tls_key_file = next();
    } else if (arg == "--token") {
      options->token = next();
      if (options->token.empty()) {
        std::cerr << "--token must not be empty\n";
        return 2;
      }
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      return 0;
    } else {
      std::cerr << "unknown flag " << arg << "\n";
      Usage();
      return 2;
    }
  }
  if (options->tls_cert_file.empty() != options->tls_key_file.empty()) {
    std::cerr << (options->tls_cert_file.empty() ? "--tls-key needs --tls-cert\n" : "--tls-cert needs --tls-key\n");
    Usage();
    return 2;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  ringleader::testapi::TestApiServerOptions options;
  if (std::optional<int> exit_code = ParseFlags(argc, argv, &options)) return *exit_code;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts
  std::signal(SIGPIPE, SIG_IGN);

  ringleader::testapi::TestApiServer server(options);
  ringleader::Status st = server.Start();
  if (!st.ok()) {
    std::cerr << "ringleader-testapiserver: " << st.ToString() << "\n";
    return 1;
  }
  std::cerr << "ringleader-testapiserver listening on " << server.url() << "\n";
  std::cout << "ready" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server.Stop();
  return 0;
}
