#include "ringleader/runtime/rendezvous/worker_env_parser.h"

#include <gtest/gtest.h>

#include <map>

namespace ringleader::runtime {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup Lookup(const Env& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

Env Operator(int workers, int ppw, int worker_rank) {
  return {{"RINGLEADER_JOB_NAME", "mnist"},
          {"RINGLEADER_NAMESPACE", "team"},
          {"RINGLEADER_NUM_WORKERS", std::to_string(workers)},
          {"RINGLEADER_PROCS_PER_WORKER", std::to_string(ppw)},
          {"RINGLEADER_WORKER_RANK", std::to_string(worker_rank)},
          {"RINGLEADER_MASTER_ADDR", "mnist-worker-0.mnist.team.svc"},
          {"RINGLEADER_MASTER_PORT", "29500"},
          {"RINGLEADER_ATTEMPT", "2"},
          {"WORLD_SIZE", std::to_string(workers * ppw)},
          {"RANK", std::to_string(worker_rank * ppw)}};
}

TEST(WorkerEnvTest, ResolvesRanks) {
  struct Case {
    std::string name;
    Env env;
    int rank, world, local_rank, worker_rank;
  };
  Env launched = Operator(3, 4, 2);
  launched["RINGLEADER_RANK"] = "10";
  launched["RINGLEADER_LOCAL_RANK"] = "2";
  launched["RANK"] = "10";
  const Case cases[] = {
      {"one process per pod uses the worker rank", Operator(4, 1, 3), 3, 4, 0, 3},
      {"launcher sets the global rank", launched, 10, 12, 2, 2},
      {"pytorch-only env",
       {{"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "1234"}, {"WORLD_SIZE", "8"}, {"RANK", "5"},
        {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"}},
       5, 8, 1, 2},
  };
  for (const auto& c : cases) {
    auto env = ParseWorkerEnv(Lookup(c.env));
    ASSERT_TRUE(env.ok()) << c.name << ": " << env.status().ToString();
    EXPECT_EQ(env->rank, c.rank) << c.name;
    EXPECT_EQ(env->world_size, c.world) << c.name;
    EXPECT_EQ(env->local_rank, c.local_rank) << c.name;
    EXPECT_EQ(env->worker_rank, c.worker_rank) << c.name;
  }
  auto env = ParseWorkerEnv(Lookup(Operator(4, 1, 3)));
  EXPECT_EQ(env->master_addr, "mnist-worker-0.mnist.team.svc");
  EXPECT_EQ(env->master_port, 29500);
  EXPECT_EQ(env->attempt, 2);
  EXPECT_EQ(env->job_name, "mnist");
}

TEST(WorkerEnvTest, RejectsBadEnvNamingTheVariable) {
  struct Case {
    std::string name;
    Env env;
    std::string variable;
  };
  Env bad_port = Operator(2, 1, 0);
  bad_port["RINGLEADER_MASTER_PORT"] = "http";
  Env rank_too_big = Operator(2, 1, 2);
  Env no_launcher = Operator(2, 4, 1);
  Env mismatch = Operator(2, 2, 1);
  mismatch["RINGLEADER_RANK"] = "1";
  mismatch["RINGLEADER_LOCAL_RANK"] = "1";
  const Case cases[] = {
      {"port not a number", bad_port, "RINGLEADER_MASTER_PORT"},
      {"worker rank out of range", rank_too_big, "RINGLEADER_WORKER_RANK"},
      {"ppw > 1 without launcher", no_launcher, "RINGLEADER_RANK"},
      {"rank inconsistent", mismatch, "RINGLEADER_RANK"},
      {"nothing set", {}, "RINGLEADER_NUM_WORKERS"},
      {"pytorch rank >= world", {{"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}, {"WORLD_SIZE", "2"}, {"RANK", "2"}}, "RANK"},
  };
  for (const auto& c : cases) {
    auto env = ParseWorkerEnv(Lookup(c.env));
    ASSERT_FALSE(env.ok()) << c.name;
    EXPECT_EQ(env.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(env.status().message().find(c.variable), std::string::npos)
        << c.name << ": " << env.status().message();
  }
}

}  // namespace
}  // namespace ringleader::runtime
