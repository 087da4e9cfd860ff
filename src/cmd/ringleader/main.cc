// `ringleader`: validate, render and (local mode) run TrainingJobs.
#include <iostream>
#include <string>
#include <vector>

#include "ringleader/cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: ringleader <command> [args]\n"
    "\n"
    "commands:\n"
    "  validate FILE...                     check TrainingJobs; prints every problem or \"valid\"\n"
    "  render FILE [--attempt N] [-n NS]    print the Service, PodGroup and Pods the operator creates\n"
    "  run FILE [--workers N] [--no-tty]    run the job on this machine (local mode)\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "validate") return ringleader::cli::RunValidate(args, std::cout, std::cerr);
  if (command == "render") return ringleader::cli::RunRender(args, std::cout, std::cerr);
  if (command == "run") return ringleader::cli::RunRun(args, std::cout, std::cerr);
  std::cerr << "unknown command \"" << command << "\"\n" << kUsage;
  return 2;
}
