#include "ringleader/runtime/rendezvous/rendezvous.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "ringleader/runtime/rendezvous/store.h"
#include "ringleader/runtime/rendezvous/tcp_store_client.h"
#include "ringleader/runtime/rendezvous/tcp_store_server.h"

namespace ringleader::runtime {
namespace {

TEST(RendezvousOptionsTest, FromEnvironment) {
  struct Case {
    std::string name;
    std::string rank;
    std::optional<std::string> store_fd;
    int want_fd;  // -2: want kInvalidArgument
  };
  const Case cases[] = {
      {"no socket: bind the port", "0", std::nullopt, -1},
      {"rank 0 serves the inherited socket", "0", "7", 7},
      {"other ranks ignore it", "1", "7", -1},
      {"not a number", "0", "seven", -2},
      {"negative", "0", "-3", -2},
  };
  for (const auto& c : cases) {
    std::map<std::string, std::string> vars = {{"RINGLEADER_NUM_WORKERS", "2"},
                                               {"RINGLEADER_WORKER_RANK", c.rank},
                                               {"RINGLEADER_MASTER_ADDR", "10.0.0.1"},
                                               {"RINGLEADER_MASTER_PORT", "29500"}};
    if (c.store_fd.has_value()) vars["RINGLEADER_STORE_FD"] = *c.store_fd;
    auto options = RendezvousOptionsFromEnvironment(
        [&](const std::string& name) -> std::optional<std::string> {
          auto it = vars.find(name);
          return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
        });
    if (c.want_fd == -2) {
      EXPECT_EQ(options.status().code(), StatusCode::kInvalidArgument) << c.name;
      continue;
    }
    ASSERT_TRUE(options.ok()) << c.name << ": " << options.status().ToString();
    EXPECT_EQ(options->store_listen_fd, c.want_fd) << c.name;
    EXPECT_EQ(options->env.rank, std::stoi(c.rank)) << c.name;
    EXPECT_EQ(options->env.master_port, 29500) << c.name;
  }
}

TEST(StoreTest, SetGetAddCheckAndDeadRanks) {
  int port = 0;
  auto listener = ListenTcp("127.0.0.1", 0, &port);
  ASSERT_TRUE(listener.ok());
  auto server = TcpStoreServer::Start(std::move(*listener));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto a = TcpStoreClient::Connect("127.0.0.1", port, 0, DeadlineAfter(std::chrono::seconds(5)));
  auto b = TcpStoreClient::Connect("127.0.0.1", port, 1, DeadlineAfter(std::chrono::seconds(5)));
  ASSERT_TRUE(a.ok() && b.ok());

  // A Get blocks until another client sets the key.
  std::thread setter([&] { ASSERT_TRUE((*b)->Set("k", "v").ok()); });
  auto got = (*a)->Get("k", DeadlineAfter(std::chrono::seconds(5)));
  setter.join();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "v");

  auto missing = (*a)->Get("nope", DeadlineAfter(std::chrono::milliseconds(50)));
  EXPECT_EQ(missing.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*(*a)->Add("n", 2), 2);
  EXPECT_EQ(*(*b)->Add("n", 3), 5);
  EXPECT_EQ(*(*a)->Check({"k", "nope", "n"}), (std::vector<bool>{true, false, true}));

  // Rank 1 vanishes without a goodbye: it is reported dead. A goodbye'd rank is not.
  b->reset();
  std::vector<int> dead;
  const Deadline deadline = DeadlineAfter(std::chrono::seconds(5));
  while (dead.empty() && Clock::now() < deadline) dead = *(*a)->DeadRanks(deadline);
  EXPECT_EQ(dead, std::vector<int>{1});
  auto c = TcpStoreClient::Connect("127.0.0.1", port, 2, DeadlineAfter(std::chrono::seconds(5)));
  ASSERT_TRUE((*c)->Goodbye().ok());
  c->reset();
  // Rank 2 said goodbye before closing (acknowledged), rank 3 did not: only 1 and 3 are dead.
  auto d = TcpStoreClient::Connect("127.0.0.1", port, 3, DeadlineAfter(std::chrono::seconds(5)));
  d->reset();
  while (dead.size() < 2 && Clock::now() < deadline) dead = *(*a)->DeadRanks(deadline);
  EXPECT_EQ(dead, (std::vector<int>{1, 3}));
}

TEST(RendezvousTest, TimeoutNamesTheMissingRanks) {
  int port = 0;
  auto listener = ListenTcp("127.0.0.1", 0, &port);
  ASSERT_TRUE(listener.ok());
  const int listen_fd = listener->release();
  // World of 4; ranks 1 and 3 never come.
  std::vector<Status> results(4);
  std::vector<std::thread> threads;
  for (int r : {0, 2}) {
    threads.emplace_back([&, r] {
      RendezvousOptions options;
      options.env.rank = r;
      options.env.world_size = 4;
      options.env.master_addr = "127.0.0.1";
      options.env.master_port = port;
      options.timeout = std::chrono::milliseconds(400);
      options.store_listen_fd = r == 0 ? listen_fd : -1;
      results[r] = Rendezvous::Join(options).status();
    });
  }
  for (auto& t : threads) t.join();
  for (int r : {0, 2}) {
    EXPECT_EQ(results[r].code(), StatusCode::kDeadlineExceeded) << results[r].ToString();
    EXPECT_NE(results[r].message().find("missing ranks 1, 3"), std::string::npos)
        << results[r].message();
  }
}

TEST(RendezvousTest, UnreachableStoreNamesRankZero) {
  int port = 0;
  auto listener = ListenTcp("127.0.0.1", 0, &port);  // bound, then closed: nobody listens
  ASSERT_TRUE(listener.ok());
  listener->reset();
  RendezvousOptions options;
  options.env.rank = 1;
  options.env.world_size = 2;
  options.env.master_addr = "127.0.0.1";
  options.env.master_port = port;
  options.timeout = std::chrono::milliseconds(300);
  auto status = Rendezvous::Join(options).status();
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(status.message().find("missing ranks 0"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace ringleader::runtime
