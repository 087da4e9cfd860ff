// ringleader-worker: runs inside every worker Pod (`train`, `launch`). See docs/runtime.md.
#include "ringleader/runtime/worker_cli.h"

int main(int argc, char** argv) { return ringleader::runtime::WorkerMain(argc, argv); }
