// Drives the real ringleader-worker binary: output contract, exit codes on a killed peer and
// on a rendezvous timeout, and `launch`.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>

#include "ringleader/runtime/app/exit_codes.h"
#include "ringleader/runtime/app/launcher.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "ringleader/runtime/rendezvous/socket.h"
#include "ringleader/runtime/app/worker_cli.h"
#include "subprocess.h"

namespace ringleader::runtime {
namespace {

using testing::Subprocess;
using testing::TempDir;
using testing::WaitUntil;
using namespace std::chrono_literals;

const std::string kWorker = RINGLEADER_WORKER_BINARY;

// Starts ranks `ranks` of a `world`-rank gang. The test binds the store socket (port 0) and
// rank 0 inherits it, so there is no port race.
class Gang {
 public:
  // Runs `command` + `flags` (by default the demo trainer) as each of `ranks`.
  Gang(int world, const std::vector<int>& ranks, const std::vector<std::string>& flags,
       const TempDir& dir, const std::vector<std::string>& command = {kWorker, "train"}) {
    int port = 0;
    auto listener = ListenTcp("127.0.0.1", 0, &port);
    EXPECT_TRUE(listener.ok());
    listener_ = std::move(*listener);
    for (int r : ranks) {
      std::vector<std::string> argv = command;
      argv.insert(argv.end(), flags.begin(), flags.end());
      std::vector<std::pair<std::string, std::string>> env = {
          {"RINGLEADER_NUM_WORKERS", std::to_string(world)},
          {"RINGLEADER_WORKER_RANK", std::to_string(r)},
          {"RINGLEADER_PROCS_PER_WORKER", "1"},
          {"RINGLEADER_MASTER_ADDR", "127.0.0.1"},
          {"RINGLEADER_MASTER_PORT", std::to_string(port)},
          {"RINGLEADER_ATTEMPT", "0"}};
      if (r == 0) env.emplace_back("RINGLEADER_STORE_FD", std::to_string(listener_.get()));
      procs_.push_back(std::make_unique<Subprocess>(argv, env, dir.path(), "rank" + std::to_string(r),
                                                    r == 0 ? listener_.get() : -1));
    }
    listener_.reset();  // only rank 0 keeps it
  }
  Subprocess& operator[](size_t i) { return *procs_[i]; }
  size_t size() const { return procs_.size(); }

 private:
  Fd listener_;
  std::vector<std::unique_ptr<Subprocess>> procs_;
};

TEST(WorkerProcessTest, TrainPrintsTheProgressContractAndIdenticalChecksums) {
  TempDir dir;
  Gang gang(4, {0, 1, 2, 3}, {"--steps", "200", "--log-every", "20"}, dir);
  const std::regex step_line(R"(step=\d+ total_steps=200 loss=[0-9.eE+-]+ samples_per_second=[0-9.eE+-]+)");
  const std::regex final_line(R"(final step=200 loss=[0-9.eE+-]+ checksum=[0-9a-f]{16})");
  std::string first_final;
  for (size_t r = 0; r < gang.size(); ++r) {
    ASSERT_EQ(gang[r].Wait(30s), 0) << gang[r].Stderr();
    std::stringstream out(gang[r].Stdout());
    std::vector<std::string> lines;
    for (std::string line; std::getline(out, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), 11u) << gang[r].Stdout();
    for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_TRUE(std::regex_match(lines[i], step_line)) << lines[i];
    EXPECT_TRUE(std::regex_match(lines.back(), final_line)) << lines.back();
    if (r == 0) first_final = lines.back();
    EXPECT_EQ(lines.back(), first_final) << "rank " << r;
  }
}

class PeerFailureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PeerFailureTest, KilledRankMakesTheOthersExitRetryableNamingIt) {
  TempDir dir;
  Gang gang(3, {0, 1, 2},
            {"--steps", "100000000", "--log-every", "1", "--backend", GetParam(),
             "--timeout-seconds", "20"},
            dir);
  ASSERT_TRUE(gang[1].WaitForOutput("step=", 20s)) << gang[1].Stderr();
  kill(gang[1].pid(), SIGKILL);
  for (size_t r : {0u, 2u}) {
    auto code = gang[r].Wait(15s);
    ASSERT_TRUE(code.has_value()) << "rank " << r << " did not exit";
    EXPECT_EQ(*code, kExitPeerFailed) << gang[r].Stderr();
    const std::string err = gang[r].Stderr();
    EXPECT_NE(err.find("peer rank 1 failed"), std::string::npos) << err;
    // One line, which also names the reporting rank.
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(err.rfind("ringleader-worker: rank " + std::to_string(r) + ":", 0), 0u) << err;
  }
}

TEST_P(PeerFailureTest, HungRankTimesOutNamingIt) {
  TempDir dir;
  Gang gang(3, {0, 1, 2},
            {"--steps", "100000000", "--log-every", "1", "--backend", GetParam(),
             "--timeout-seconds", "1"},
            dir);
  ASSERT_TRUE(gang[1].WaitForOutput("step=", 20s)) << gang[1].Stderr();
  kill(gang[1].pid(), SIGSTOP);
  for (size_t r : {0u, 2u}) {
    auto code = gang[r].Wait(15s);
    ASSERT_TRUE(code.has_value()) << "rank " << r << " did not exit";
    EXPECT_EQ(*code, kExitPeerFailed) << gang[r].Stderr();
    EXPECT_NE(gang[r].Stderr().find("peer rank 1 "), std::string::npos) << gang[r].Stderr();
  }
  kill(gang[1].pid(), SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(Backends, PeerFailureTest, ::testing::Values("tcp", "shm"));

TEST(WorkerProcessTest, RendezvousTimeoutExits176NamingMissingRanks) {
  TempDir dir;
  Gang gang(4, {0, 2}, {"--rendezvous-timeout-seconds", "1"}, dir);
  for (size_t i = 0; i < gang.size(); ++i) {
    auto code = gang[i].Wait(20s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, kExitRendezvousTimeout) << gang[i].Stderr();
    EXPECT_NE(gang[i].Stderr().find("missing ranks 1, 3"), std::string::npos) << gang[i].Stderr();
  }
}

TEST(WorkerProcessTest, ExitCodeForFailure) {
  struct Case {
    StatusCode code;
    int want;
  };
  const Case cases[] = {
      {StatusCode::kInvalidArgument, kExitUsageError},    // bad flag, shm across hosts
      {StatusCode::kAborted, kExitPeerFailed},            // a peer died mid-collective
      {StatusCode::kDeadlineExceeded, kExitPeerFailed},   // a peer hung
      {StatusCode::kUnavailable, kExitPeerFailed},        // connection lost
      {StatusCode::kInternal, kExitCommunicationFailed},  // shm_open, mmap, NCCL/CUDA setup
      {StatusCode::kResourceExhausted, kExitCommunicationFailed},
      {StatusCode::kPermissionDenied, kExitCommunicationFailed},
  };
  for (const auto& c : cases) {
    const int code = ExitCodeForFailure(Status(c.code, "x"));
    EXPECT_EQ(code, c.want) << StatusCodeName(c.code);
    // The operator's ExitCode policy: only configuration errors are permanent (1-127).
    EXPECT_EQ(code >= 128, c.code != StatusCode::kInvalidArgument) << StatusCodeName(c.code);
  }
}

// The test plays rank 0 and, before rank 1's real ring neighbour could, connects to rank 1's
// data port claiming to be rank 5: rank 1 must fail retryably (177), saying what it saw.
TEST(WorkerProcessTest, UnexpectedRingConnectionExitsRetryable) {
  TempDir dir;
  int port = 0;
  auto listener = ListenTcp("127.0.0.1", 0, &port);
  ASSERT_TRUE(listener.ok());
  Subprocess rank1(
      {kWorker, "train", "--backend", "tcp", "--steps", "5", "--timeout-seconds", "20"},
      {{"RINGLEADER_NUM_WORKERS", "2"},
       {"RINGLEADER_WORKER_RANK", "1"},
       {"RINGLEADER_PROCS_PER_WORKER", "1"},
       {"RINGLEADER_MASTER_ADDR", "127.0.0.1"},
       {"RINGLEADER_MASTER_PORT", std::to_string(port)},
       {"RINGLEADER_ATTEMPT", "0"}},
      dir.path(), "rank1");
  RendezvousOptions options;
  options.env.rank = 0;
  options.env.world_size = 2;
  options.env.master_addr = "127.0.0.1";
  options.env.master_port = port;
  options.timeout = 20s;
  options.store_listen_fd = listener->release();
  auto rendezvous = Rendezvous::Join(options);
  ASSERT_TRUE(rendezvous.ok()) << rendezvous.status().ToString();
  const PeerInfo& peer = (*rendezvous)->peers()[1];
  auto connection = ConnectTcp(peer.host, peer.data_port, DeadlineAfter(10s));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  const int32_t claimed_rank = 5;
  ASSERT_TRUE(
      SendAll(connection->get(), &claimed_rank, sizeof(claimed_rank), DeadlineAfter(10s)).ok());
  auto code = rank1.Wait(30s);
  ASSERT_TRUE(code.has_value()) << "rank 1 did not exit";
  EXPECT_EQ(*code, kExitCommunicationFailed) << rank1.Stderr();
  EXPECT_NE(rank1.Stderr().find("ring connection from rank 5, expected 0"), std::string::npos)
      << rank1.Stderr();
  (*rendezvous)->Leave();
}

// The docs' C++ sample: three ranks average r + 1 over r = 0..2, which is 2.
TEST(WorkerProcessTest, CppApiExample) {
  TempDir dir;
  Gang gang(3, {0, 1, 2}, {}, dir, {RINGLEADER_CPP_API_EXAMPLE});
  for (size_t r = 0; r < gang.size(); ++r) {
    ASSERT_EQ(gang[r].Wait(30s), 0) << gang[r].Stderr();
    EXPECT_EQ(gang[r].Stdout(),
              "rank " + std::to_string(r) + ": averaged gradient 2, weight 0.4\n");
  }
}

TEST(WorkerProcessTest, UsageErrorsExit2) {
  TempDir dir;
  const std::vector<std::vector<std::string>> cases = {
      {kWorker, "train", "--stepz", "3"},
      {kWorker, "train", "--steps", "-1"},
      {kWorker, "train", "--backend", "carrier-pigeon"},
      {kWorker, "train"},  // no environment
      {kWorker, "frobnicate"},
  };
  for (const auto& argv : cases) {
    Subprocess p(argv, {}, dir.path(), "usage");
    EXPECT_EQ(p.Wait(10s), kExitUsageError) << argv[2];
  }
}

TEST(LauncherTest, TwoPodsOfTwoProcessesTrainAsFourRanks) {
  TempDir dir;
  int port = 0;
  auto listener = ListenTcp("127.0.0.1", 0, &port);
  ASSERT_TRUE(listener.ok());
  std::vector<std::unique_ptr<Subprocess>> pods;
  for (int pod = 0; pod < 2; ++pod) {
    std::vector<std::pair<std::string, std::string>> env = {
        {"RINGLEADER_NUM_WORKERS", "2"},          {"RINGLEADER_WORKER_RANK", std::to_string(pod)},
        {"RINGLEADER_PROCS_PER_WORKER", "2"},     {"RINGLEADER_MASTER_ADDR", "127.0.0.1"},
        {"RINGLEADER_MASTER_PORT", std::to_string(port)}, {"RINGLEADER_ATTEMPT", "0"},
        // Worker 0's launcher serves the store on the socket the test bound.
        {"RINGLEADER_LAUNCHER_PORT", std::to_string(port)}};
    if (pod == 0) env.emplace_back("RINGLEADER_STORE_FD", std::to_string(listener->get()));
    pods.push_back(std::make_unique<Subprocess>(
        std::vector<std::string>{kWorker, "launch", "--", kWorker, "train", "--steps", "30", "--log-every", "30"},
        env, dir.path(), "pod" + std::to_string(pod), pod == 0 ? listener->get() : -1));
  }
  listener->reset();
  std::set<std::string> distinct_finals;
  int final_lines = 0;
  for (auto& pod : pods) {
    ASSERT_EQ(pod->Wait(30s), 0) << pod->Stderr();
    std::stringstream out(pod->Stdout());
    for (std::string line; std::getline(out, line);) {
      if (line.rfind("final ", 0) == 0) {
        distinct_finals.insert(line);
        ++final_lines;
      }
    }
  }
  // Four ranks (two per pod) finished, all with the same weights.
  EXPECT_EQ(final_lines, 4);
  EXPECT_EQ(distinct_finals.size(), 1u);
}

TEST(LauncherTest, LocalProcessEnvPolicy) {
  struct Case {
    std::string name;
    std::optional<std::string> parent;
    bool inherit;
    int local_rank;
    std::optional<std::string> want;
  };
  const Case cases[] = {
      {"unset: one GPU per local rank", std::nullopt, false, 2, "2"},
      {"list: l-th entry", "4,5,6,7", false, 1, "5"},
      {"short list: round robin", "3", false, 2, "3"},
      {"empty: no GPUs, untouched", "", false, 1, std::nullopt},
      {"-1: untouched", "-1", false, 1, std::nullopt},
      {"inherit policy", "0,1", true, 1, std::nullopt},
  };
  for (const auto& c : cases) {
    auto env = LocalProcessEnv(/*worker_rank=*/2, /*ppw=*/4, c.local_rank, c.parent, c.inherit);
    std::optional<std::string> cvd;
    std::map<std::string, std::string> m(env.begin(), env.end());
    if (m.count("CUDA_VISIBLE_DEVICES")) cvd = m["CUDA_VISIBLE_DEVICES"];
    EXPECT_EQ(cvd, c.want) << c.name;
    EXPECT_EQ(m["RANK"], std::to_string(8 + c.local_rank)) << c.name;
    EXPECT_EQ(m["RINGLEADER_RANK"], m["RANK"]);
    EXPECT_EQ(m["LOCAL_RANK"], std::to_string(c.local_rank));
    EXPECT_EQ(m["LOCAL_WORLD_SIZE"], "4");
  }
}

TEST(LauncherTest, StartsLocalRanksAndExitsWithTheFirstFailure) {
  TempDir dir;
  Subprocess ok({kWorker, "launch", "--", "sh", "-c", "echo rank=$RINGLEADER_RANK local=$LOCAL_RANK"},
                {{"RINGLEADER_WORKER_RANK", "1"}, {"RINGLEADER_PROCS_PER_WORKER", "3"}}, dir.path(), "ok");
  ASSERT_EQ(ok.Wait(10s), 0) << ok.Stderr();
  for (int l = 0; l < 3; ++l) {
    EXPECT_NE(ok.Stdout().find("rank=" + std::to_string(3 + l) + " local=" + std::to_string(l)),
              std::string::npos)
        << ok.Stdout();
  }
  // Local rank 1 fails with 7 while its sibling would sleep for a minute: the launcher stops
  // the sibling and exits 7.
  Subprocess failing({kWorker, "launch", "--nproc", "2", "--", "sh", "-c",
                      "if [ $LOCAL_RANK = 1 ]; then exit 7; fi; exec sleep 60"},
                     {}, dir.path(), "failing");
  EXPECT_EQ(failing.Wait(20s), 7) << failing.Stderr();
}

// Process-table helpers for the signal tests: /proc/<pid>/stat is "pid (comm) state ppid pgrp".
struct ProcStat {
  char state = '?';
  pid_t pgrp = 0;
};

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 1));
  ProcStat stat;
  pid_t ppid = 0;
  fields >> stat.state >> ppid >> stat.pgrp;
  return stat;
}

// Gone, or a zombie that nobody reaped yet (it runs nothing).
bool ProcessGone(pid_t pid) {
  auto stat = ReadProcStat(pid);
  return !stat.has_value() || stat->state == 'Z' || stat->state == 'X';
}

// Live (non-zombie) processes in process group `pgrp`.
int LiveMembersOfGroup(pid_t pgrp) {
  int members = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto stat = ReadProcStat(std::stoi(name));
    if (stat.has_value() && stat->pgrp == pgrp && stat->state != 'Z' && stat->state != 'X')
      ++members;
  }
  return members;
}

pid_t ReadPid(const std::filesystem::path& path) {
  std::ifstream in(path);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Each local rank is a shell that starts a grandchild shell (which runs `sleep`s) and waits;
// both log the SIGTERM they get. SIGTERM to the launcher must reach every process of every
// rank's process group; the ranks exit 143, so the launcher does, and nothing is left.
TEST(LauncherTest, ForwardsSigtermToEachRanksProcessGroup) {
  TempDir dir;
  const std::filesystem::path script = dir.path() / "rank.sh";
  std::ofstream(script) << R"(d="$1"
trap 'echo "rank $LOCAL_RANK got TERM" >> "$d/log"; wait; exit 143' TERM
sh -c 'trap "echo \"grandchild $LOCAL_RANK got TERM\" >> \"$1/log\"; exit 0" TERM
echo $$ > "$1/grandchild-$LOCAL_RANK.tmp" && mv "$1/grandchild-$LOCAL_RANK.tmp" "$1/grandchild-$LOCAL_RANK"
while :; do sleep 1; done' grandchild "$d" &
echo $$ > "$d/rank-$LOCAL_RANK.tmp" && mv "$d/rank-$LOCAL_RANK.tmp" "$d/rank-$LOCAL_RANK"
wait
)";
  Subprocess launcher(
      {kWorker, "launch", "--nproc", "2", "--", "sh", script.string(), dir.path().string()}, {},
      dir.path(), "launcher");
  auto started = [&] {
    for (const char* kind : {"rank-", "grandchild-"}) {
      for (int l = 0; l < 2; ++l) {
        if (!std::filesystem::exists(dir.path() / (kind + std::to_string(l)))) return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(WaitUntil(started, 20s)) << launcher.Stderr();
  std::vector<pid_t> ranks, grandchildren;
  for (int l = 0; l < 2; ++l) {
    ranks.push_back(ReadPid(dir.path() / ("rank-" + std::to_string(l))));
    grandchildren.push_back(ReadPid(dir.path() / ("grandchild-" + std::to_string(l))));
    // Each rank leads its own process group, and its children are in it.
    auto rank_stat = ReadProcStat(ranks[l]);
    ASSERT_TRUE(rank_stat.has_value());
    EXPECT_EQ(rank_stat->pgrp, ranks[l]) << "local rank " << l;
    auto grandchild_stat = ReadProcStat(grandchildren[l]);
    ASSERT_TRUE(grandchild_stat.has_value());
    EXPECT_EQ(grandchild_stat->pgrp, ranks[l]) << "local rank " << l;
  }

  kill(launcher.pid(), SIGTERM);
  auto code = launcher.Wait(20s);
  ASSERT_TRUE(code.has_value()) << "the launcher did not exit";
  EXPECT_EQ(*code, 128 + SIGTERM) << launcher.Stderr();
  const std::string log = ReadText(dir.path() / "log");
  for (int l = 0; l < 2; ++l) {
    EXPECT_NE(log.find("rank " + std::to_string(l) + " got TERM"), std::string::npos) << log;
    EXPECT_NE(log.find("grandchild " + std::to_string(l) + " got TERM"), std::string::npos) << log;
    EXPECT_TRUE(WaitUntil([&] { return ProcessGone(grandchildren[l]); }, 10s))
        << "grandchild " << l;
    EXPECT_TRUE(WaitUntil([&] { return LiveMembersOfGroup(ranks[l]) == 0; }, 10s))
        << "group of rank " << l;
  }
}

// A sibling that ignores SIGTERM is SIGKILLed after the grace period, and at once with
// --grace-seconds 0 (which used to disarm the SIGKILL timer, so the launcher waited forever).
TEST(LauncherTest, KillsSiblingsThatIgnoreSigtermAfterTheGrace) {
  TempDir dir;
  for (const char* grace : {"0", "0.2"}) {
    const auto start = std::chrono::steady_clock::now();
    Subprocess failing(
        {kWorker, "launch", "--nproc", "2", "--grace-seconds", grace, "--", "sh", "-c",
         "trap '' TERM; if [ $LOCAL_RANK = 1 ]; then exit 7; fi; exec sleep 60"},
        {}, dir.path(), std::string("grace") + grace);
    EXPECT_EQ(failing.Wait(20s), 7) << "grace " << grace << ": " << failing.Stderr();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 20s) << "grace " << grace;
  }
}


// ---------------------------------------------------------------------------------------------
// In-place restarts and SIGTERM checkpoints, through the real binary.

// The launchers of a gang of `pods` Pods with `ppw` processes each, as the operator starts them
// (the test binds worker 0's launcher port and hands it the socket).
class LaunchedGang {
 public:
  LaunchedGang(int pods, int ppw, const std::vector<std::string>& launch_flags,
               const std::vector<std::string>& command, const TempDir& dir, const std::string& tag,
               const std::vector<std::pair<std::string, std::string>>& extra_env = {}) {
    int master_port = 0, launcher_port = 0;
    auto master = ListenTcp("127.0.0.1", 0, &master_port);  // reserved, so nothing else takes it
    auto listener = ListenTcp("127.0.0.1", 0, &launcher_port);
    EXPECT_TRUE(master.ok() && listener.ok());
    for (int pod = 0; pod < pods; ++pod) {
      std::vector<std::pair<std::string, std::string>> env = {
          {"RINGLEADER_NUM_WORKERS", std::to_string(pods)}, {"RINGLEADER_WORKER_RANK", std::to_string(pod)},
          {"RINGLEADER_PROCS_PER_WORKER", std::to_string(ppw)}, {"RINGLEADER_MASTER_ADDR", "127.0.0.1"},
          {"RINGLEADER_MASTER_PORT", std::to_string(master_port)}, {"RINGLEADER_ATTEMPT", "0"},
          {"RINGLEADER_LAUNCHER_PORT", std::to_string(launcher_port)}};
      env.insert(env.end(), extra_env.begin(), extra_env.end());
      if (pod == 0) env.emplace_back("RINGLEADER_STORE_FD", std::to_string(listener->get()));
      std::vector<std::string> argv = {kWorker, "launch"};
      argv.insert(argv.end(), launch_flags.begin(), launch_flags.end());
      argv.push_back("--");
      argv.insert(argv.end(), command.begin(), command.end());
      pods_.push_back(std::make_unique<Subprocess>(argv, env, dir.path(), tag + "-pod" + std::to_string(pod),
                                                   pod == 0 ? listener->get() : -1));
    }
  }
  Subprocess& operator[](size_t i) { return *pods_[i]; }
  size_t size() const { return pods_.size(); }
  // The "final ..." lines of every pod's output.
  std::vector<std::string> Finals() {
    std::vector<std::string> finals;
    for (auto& pod : pods_) {
      std::stringstream out(pod->Stdout());
      for (std::string line; std::getline(out, line);) {
        if (line.rfind("final ", 0) == 0) finals.push_back(line);
      }
    }
    return finals;
  }

 private:
  std::vector<std::unique_ptr<Subprocess>> pods_;
};

int CountOf(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

TEST(InPlaceRestartTest, KilledRankIsRestartedInPlaceAndTheGangEndsBitIdentical) {
  TempDir dir;
  const std::vector<std::string> train = {kWorker, "train", "--steps", "1500", "--log-every", "10",
                                          "--checkpoint-every", "50"};
  std::vector<std::string> uninterrupted_finals;
  {
    LaunchedGang gang(2, 2, {}, train, dir, "straight");
    for (size_t p = 0; p < gang.size(); ++p) ASSERT_EQ(gang[p].Wait(60s), 0) << gang[p].Stderr();
    uninterrupted_finals = gang.Finals();
  }
  ASSERT_EQ(uninterrupted_finals.size(), 4u);
  std::vector<std::string> with_dir = train;
  with_dir.insert(with_dir.end(), {"--checkpoint-dir", (dir.path() / "ckpt").string()});
  LaunchedGang gang(2, 2, {"--max-restarts", "2"}, with_dir, dir, "killed");
  ASSERT_TRUE(gang[1].WaitForOutput("step=200 ", 60s)) << gang[1].Stderr();
  const std::vector<pid_t> ranks = testing::ChildProcesses(gang[1].pid());
  ASSERT_EQ(ranks.size(), 2u);
  kill(ranks[1], SIGKILL);
  for (size_t p = 0; p < gang.size(); ++p) {
    ASSERT_EQ(gang[p].Wait(90s), 0) << "pod " << p << ": " << gang[p].Stderr();
    // Every launcher restarted its processes once, in place, and they resumed.
    EXPECT_EQ(CountOf(gang[p].Stderr(), "restarting the processes in place (restart 1 of 2)"), 1) << gang[p].Stderr();
    EXPECT_EQ(CountOf(gang[p].Stdout(), "resumed from step="), 2) << gang[p].Stdout();
  }
  const std::vector<std::string> finals = gang.Finals();
  ASSERT_EQ(finals.size(), 4u);
  for (const std::string& line : finals) EXPECT_EQ(line, uninterrupted_finals[0]);
}

TEST(InPlaceRestartTest, TheBoundFallsBackToAnExitWithTheFailure) {
  TempDir dir;
  LaunchedGang gang(1, 1, {"--max-restarts", "2"}, {"sh", "-c", "echo started; exit 175"}, dir, "bound");
  ASSERT_EQ(gang[0].Wait(30s), kExitPeerFailed) << gang[0].Stderr();
  EXPECT_EQ(CountOf(gang[0].Stdout(), "started"), 3);
  EXPECT_EQ(CountOf(gang[0].Stderr(), "restarting the processes in place"), 2) << gang[0].Stderr();
  EXPECT_NE(gang[0].Stderr().find("2 of 2 in-place restarts used"), std::string::npos) << gang[0].Stderr();
}

TEST(InPlaceRestartTest, APermanentExitCodeIsNotRetriedInPlace) {
  TempDir dir;
  LaunchedGang gang(1, 1, {}, {"sh", "-c", "echo started; exit 3"}, dir, "permanent",
                    {{"RINGLEADER_MAX_IN_PLACE_RESTARTS", "3"}, {"RINGLEADER_RESTART_POLICY", "ExitCode"}});
  ASSERT_EQ(gang[0].Wait(30s), 3) << gang[0].Stderr();
  EXPECT_EQ(CountOf(gang[0].Stdout(), "started"), 1);
  EXPECT_NE(gang[0].Stderr().find("restartPolicy ExitCode"), std::string::npos) << gang[0].Stderr();
}

TEST(InPlaceRestartTest, AStalledProcessIsRestartedInPlace) {
  TempDir dir;
  // The first generation prints one progress line and hangs; the second finishes.
  const std::string script =
      "if [ \"$RINGLEADER_IN_PLACE_RESTARTS\" = 0 ]; then echo 'step=1 total_steps=2 loss=1 "
      "samples_per_second=1'; sleep 60; fi; echo done";
  LaunchedGang gang(1, 1, {"--max-restarts", "1", "--progress-timeout-seconds", "1", "--grace-seconds", "1"},
                    {"sh", "-c", script}, dir, "stall");
  ASSERT_EQ(gang[0].Wait(30s), 0) << gang[0].Stderr();
  EXPECT_NE(gang[0].Stderr().find("no progress line for 1s"), std::string::npos) << gang[0].Stderr();
  EXPECT_NE(gang[0].Stdout().find("done"), std::string::npos);
}

// Worker 0's processes succeed and its launcher is done; worker 1's process then fails. Its
// ranks cannot come back in place, so worker 1's launcher gives up at once (not after the 60 s
// barrier) and worker 0's launcher stops waiting for it.
TEST(InPlaceRestartTest, APeerThatAlreadyFinishedEndsInPlaceRestartsAtOnce) {
  TempDir dir;
  LaunchedGang gang(2, 1, {"--max-restarts", "2"},
                    {"sh", "-c", "if [ \"$RINGLEADER_WORKER_RANK\" = 0 ]; then exit 0; fi; sleep 1; exit 175"}, dir,
                    "finished");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(gang[1].Wait(30s), kExitPeerFailed) << gang[1].Stderr();
  ASSERT_EQ(gang[0].Wait(30s), 0) << gang[0].Stderr();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_NE(gang[1].Stderr().find("already finished successfully"), std::string::npos) << gang[1].Stderr();
}

TEST(InPlaceRestartTest, SigtermCheckpointsAndExits143WithinTheGrace) {
  TempDir dir;
  const std::string ckpt = (dir.path() / "ckpt").string();
  LaunchedGang gang(1, 2, {"--grace-seconds", "10"},
                    {kWorker, "train", "--steps", "100000000", "--log-every", "10", "--checkpoint-every", "0",
                     "--checkpoint-dir", ckpt},
                    dir, "sigterm");
  ASSERT_TRUE(gang[0].WaitForOutput("step=50 ", 60s)) << gang[0].Stderr();
  const auto sent = std::chrono::steady_clock::now();
  kill(gang[0].pid(), SIGTERM);
  ASSERT_EQ(gang[0].Wait(10s), kExitStopped) << gang[0].Stderr();
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 10s);
  // Both ranks kept the same step (>= the last progress line seen), and nothing more.
  std::set<std::string> steps;
  for (const char* rank : {"rank-0", "rank-1"}) {
    int manifests = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(ckpt) / rank)) {
      const std::string name = entry.path().filename();
      if (name.size() > 9 && name.compare(name.size() - 9, 9, ".manifest") == 0) {
        ++manifests;
        steps.insert(name);
      }
    }
    EXPECT_EQ(manifests, 1) << rank;
  }
  EXPECT_EQ(steps.size(), 1u);
  EXPECT_GE(std::stoll(steps.begin()->substr(5, 12)), 50);
}

}  // namespace
}  // namespace ringleader::runtime
