#pragma once
// The ringleader-worker command line (`train`, `launch`), kept in the library so tests can
// drive it; src/cmd/ringleader-worker/main.cc only forwards argv. Returns the process exit
// code (see exit_codes.h).

#include <functional>
#include <memory>

#include "ringleader/runtime/app/progress_sink.h"
#include "ringleader/runtime/rendezvous/worker_env_parser.h"

namespace ringleader::runtime {

// Makes an extra progress sink for this process (e.g. the API reporter of src/progress, which
// the runtime library cannot depend on); may return nullptr. `train` calls it once, after
// reading the worker env, and tees its stdout lines into the returned sink.
using ProgressSinkFactory = std::function<std::unique_ptr<ProgressSink>(const WorkerEnv& env)>;

int WorkerMain(int argc, char** argv, const ProgressSinkFactory& extra_progress = nullptr);

}  // namespace ringleader::runtime
