// ringleader-worker: runs inside every worker Pod (`train`, `launch`). See docs/runtime.md.
#include "ringleader/runtime/app/worker_cli.h"

#ifdef RINGLEADER_HAVE_PROGRESS
#include "ringleader/progress/api_progress_sink.h"
#endif

int main(int argc, char** argv) {
#ifdef RINGLEADER_HAVE_PROGRESS
  return ringleader::runtime::WorkerMain(argc, argv, ringleader::progress::MakeApiProgressSinkFromEnvironment);
#else
  // Runtime-only build (no Kubernetes client): progress goes to stdout only.
  return ringleader::runtime::WorkerMain(argc, argv);
#endif
}
