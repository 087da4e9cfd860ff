#pragma once
// The ringleader-worker command line (`train`, `launch`), kept in the library so tests can
// drive it; src/cmd/ringleader-worker/main.cc only forwards argv. Returns the process exit
// code (see exit_codes.h).

namespace ringleader::runtime {

int WorkerMain(int argc, char** argv);

}  // namespace ringleader::runtime
