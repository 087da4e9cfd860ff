#pragma once
// Starting a program as a child process: the one place that spawns (the launcher's local
// processes, `ringleader run`'s process groups, the tests' and benches' children).
//
// Contract: Spawn returns once the program has been executed, or an error naming the program
// (it could not be executed, an output file could not be opened, ...). It uses posix_spawn when
// that can express the options; a parent-death signal, inherited descriptors and a working
// directory need fork+exec, where only async-signal-safe calls run between the two and a failed
// exec is reported through a close-on-exec pipe. Handlers the caller installed are never run in
// the child: every signal stays blocked until the child has reset them to their defaults.
// Thread safety: Spawn may be called from several threads at once; descriptors it creates are
// close-on-exec, so a concurrent spawn does not leak them into another child.

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ringleader/common/status.h"

namespace ringleader::subprocess {

// Where one of the child's standard streams goes.
struct Redirect {
  enum class Kind {
    kInherit,   // the parent's stream
    kDevNull,   // /dev/null
    kFile,      // `path`, created 0644, truncated or appended to
    kPipe,      // a pipe whose read end the caller gets (SpawnedProcess::*_fd)
    kToStdout,  // stderr only: wherever stdout goes (one pipe or file for both)
  };
  Kind kind = Kind::kInherit;
  std::string path;
  bool append = false;

  static Redirect Inherit() { return {}; }
  static Redirect DevNull() { return {Kind::kDevNull, {}, false}; }
  static Redirect File(std::string path, bool append = false) { return {Kind::kFile, std::move(path), append}; }
  static Redirect Pipe() { return {Kind::kPipe, {}, false}; }
  static Redirect ToStdout() { return {Kind::kToStdout, {}, false}; }
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] names the program unless `program` is set
  std::string program;            // the file to execute; empty: argv[0]
  bool search_path = true;        // look the program up in PATH when it holds no '/'

  // The child's environment: the parent's, with `env` set on top (a name in both takes the
  // value here), or only `env` when replace_env.
  std::vector<std::pair<std::string, std::string>> env;
  bool replace_env = false;

  std::string working_dir;  // empty: the parent's

  Redirect stdin_from = Redirect::Inherit();  // kInherit or kDevNull
  Redirect stdout_to = Redirect::Inherit();
  Redirect stderr_to = Redirect::Inherit();

  bool new_process_group = false;  // the child leads a new group (kill(-pid) reaches its children)
  bool new_session = false;        // setsid: a new session and group, no controlling terminal
  int parent_death_signal = 0;     // sent to the child when the parent dies (Linux prctl); 0: none
  // Descriptors the child inherits under the same number (their close-on-exec is cleared in the
  // child only), e.g. a listening socket passed as RINGLEADER_STORE_FD.
  std::vector<int> keep_fds;
  // The child's signal mask; default: the calling thread's at Spawn. A caller that blocks
  // signals around Spawn (to act on one only after recording the child) passes its old mask.
  std::optional<sigset_t> signal_mask;
  // Signals set to their default disposition in the child even when the parent ignores them
  // (signals the parent catches are always reset).
  std::vector<int> default_signals;
};

// A started child. The pipe read ends (close-on-exec, blocking) belong to the caller; -1 where
// that stream was not a pipe.
struct SpawnedProcess {
  pid_t pid = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

StatusOr<SpawnedProcess> Spawn(const SpawnOptions& options);

// The shell's exit code of a waitpid status: the exit status, or 128 + signal when killed.
int ExitCodeOf(int wait_status);

// Waits for `pid` up to `timeout`, polling: its exit code (ExitCodeOf), or nullopt when it is
// still running at the deadline (it is then left running and unreaped).
std::optional<int> WaitFor(pid_t pid, std::chrono::milliseconds timeout);

// SIGKILLs `pid` (its whole group when `group`) and reaps it.
void KillAndReap(pid_t pid, bool group = false);

}  // namespace ringleader::subprocess
