// The sample of docs/runtime.md, "Using the runtime from C++ training code", as a program
// that builds and runs (WorkerProcessTest.CppApiExample starts two ranks of it). Keep the
// two in sync.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/app/exit_codes.h"
#include "ringleader/runtime/collectives/gradient_averager.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"

namespace rl = ringleader::runtime;

int main() {
  // 1. Join the gang described by the environment the operator (or `launch`) injects.
  auto options = rl::RendezvousOptionsFromEnvironment();
  if (!options.ok()) {
    std::fprintf(stderr, "%s\n", options.status().ToString().c_str());
    return rl::kExitUsageError;
  }
  auto rendezvous = rl::Rendezvous::Join(*options);
  if (!rendezvous.ok()) {
    std::fprintf(stderr, "%s\n", rendezvous.status().ToString().c_str());
    return rendezvous.status().code() == ringleader::StatusCode::kInvalidArgument
               ? rl::kExitUsageError
               : rl::kExitRendezvousTimeout;
  }
  // 2. A communicator: auto = nccl when every rank has a GPU, else shm on one host, else tcp.
  auto comm = rl::CreateCommunicator(**rendezvous, rl::CommunicatorOptions{});
  auto fail = [&](const ringleader::Status& status) {
    std::fprintf(stderr, "rank %d: %s\n", (*rendezvous)->rank(), status.ToString().c_str());
    (*rendezvous)->Leave();  // exiting on purpose: the others blame the real culprit
    return rl::ExitCodeForFailure(status);
  };
  if (!comm.ok()) return fail(comm.status());

  // 3. Register gradient buffers once; average them every step.
  std::vector<float> weights(1000, 1.0f), grad_w(1000), bias(10, 0.0f), grad_b(10);
  rl::GradientAverager averager(**comm, rl::GradientAveragerOptions{});
  const int id_w = averager.Register(grad_w.data(), grad_w.size());
  const int id_b = averager.Register(grad_b.data(), grad_b.size());
  for (int step = 0; step < 3; ++step) {
    // Backward (here: rank r's gradient is r + 1), marking each gradient ready when final.
    std::fill(grad_b.begin(), grad_b.end(), static_cast<float>((*comm)->rank() + 1));
    averager.MarkReady(id_b);  // may start averaging while the rest of backward runs
    std::fill(grad_w.begin(), grad_w.end(), static_cast<float>((*comm)->rank() + 1));
    averager.MarkReady(id_w);
    if (auto status = averager.Wait(); !status.ok()) return fail(status);
    for (size_t i = 0; i < weights.size(); ++i) weights[i] -= 0.1f * grad_w[i];
    for (size_t i = 0; i < bias.size(); ++i) bias[i] -= 0.1f * grad_b[i];
  }
  std::printf("rank %d: averaged gradient %g, weight %g\n", (*comm)->rank(), grad_w[0], weights[0]);
  (*rendezvous)->Finish();
  return rl::kExitSuccess;
}
