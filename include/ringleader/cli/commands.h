#pragma once
// The `ringleader` command-line tool's subcommands. Each takes its arguments (after the
// subcommand name) and output streams, and returns the process exit code, so tests can run
// them in-process.

#include <ostream>
#include <string>
#include <vector>

namespace ringleader::cli {

// `ringleader validate FILE...`: every problem of every TrainingJob, or "<name>: valid".
// Exit 0 when all are valid, 1 when any is invalid, 2 on usage errors or unreadable files.
int RunValidate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// `ringleader render FILE [--attempt N] [--namespace NS]`: the Service, PodGroup and Pods the
// operator will create, as multi-document YAML.
int RunRender(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// `ringleader run FILE [--workers N] [--run-dir DIR] [--backoff-base-ms M] [--grace-seconds S]
// [--no-tty]`: runs the TrainingJob on this machine (local mode, docs/local-mode.md). Exit 0 on
// success, 1 when the job failed, 2 on usage errors or an invalid job, 130/143 when stopped by
// SIGINT/SIGTERM. Installs SIGINT/SIGTERM/SIGHUP handlers while it runs.
int RunRun(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ringleader::cli
