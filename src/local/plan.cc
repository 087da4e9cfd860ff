#include "ringleader/local/plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "ringleader/api/worker_env.h"

namespace ringleader::local {

namespace fs = std::filesystem;
using nlohmann::json;

bool IsExecutableFile(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> ResolveExecutable(const std::string& name, const std::string& path_list,
                                             const IsExecutableFn& is_executable) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    if (!is_executable(name)) return std::nullopt;
    std::error_code ec;
    fs::path absolute = fs::absolute(name, ec);
    return ec ? name : absolute.lexically_normal().string();
  }
  std::stringstream in(path_list);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty()) dir = ".";  // POSIX: an empty PATH entry means the current directory
    fs::path candidate = fs::path(dir) / name;
    if (is_executable(candidate)) return candidate.lexically_normal().string();
  }
  return std::nullopt;
}

std::vector<std::string> ProgramSearchDirs(const fs::path& self_exe) {
  std::vector<std::string> dirs;
  const fs::path own_dir = self_exe.parent_path();
  if (own_dir.empty()) return dirs;
  dirs.push_back(own_dir.string());
  // The build tree puts each program in <build>/src/cmd/<program>/.
  const fs::path cmd_dir = own_dir.parent_path();
  if (cmd_dir.filename() != "cmd" || cmd_dir.parent_path().filename() != "src") return dirs;
  std::error_code ec;
  std::vector<std::string> siblings;
  for (const auto& entry : fs::directory_iterator(cmd_dir, ec)) {
    std::error_code type_ec;
    if (entry.is_directory(type_ec) && entry.path() != own_dir) siblings.push_back(entry.path().string());
  }
  std::sort(siblings.begin(), siblings.end());
  dirs.insert(dirs.end(), siblings.begin(), siblings.end());
  return dirs;
}

std::string PrependToPath(const std::vector<std::string>& dirs, const std::string& path_list) {
  std::set<std::string> seen;
  std::string out;
  auto add = [&](const std::string& dir) {
    if (!seen.insert(dir).second) return;
    if (!out.empty()) out += ':';
    out += dir;
  };
  for (const std::string& dir : dirs) add(dir);
  std::stringstream in(path_list);
  std::string dir;
  while (std::getline(in, dir, ':')) add(dir);
  return out;
}

bool UnwrapLauncher(const api::TrainingJob& job, std::vector<std::string>* argv, std::vector<std::string>* notes) {
  if (argv->size() < 2 || fs::path((*argv)[0]).filename() != "ringleader-worker" || (*argv)[1] != "launch") {
    return false;
  }
  auto separator = std::find(argv->begin() + 2, argv->end(), "--");
  // Without `-- CMD` the launcher refuses to start, as it would in the pod: leave it be.
  if (separator == argv->end() || separator + 1 == argv->end()) return false;
  std::string dropped;
  for (auto it = argv->begin(); it != separator + 1; ++it) dropped += (dropped.empty() ? "" : " ") + *it;
  argv->erase(argv->begin(), separator + 1);
  notes->push_back("\"" + dropped + "\" is not run: local mode starts the " +
                   std::to_string(job.spec.processes_per_worker) +
                   " processes of each worker itself, with the launcher's per-rank env");
  return true;
}

StatusOr<LocalPlan> BuildLocalPlan(const api::TrainingJob& job, const std::string& path_list,
                                   const IsExecutableFn& is_executable) {
  const std::string base = "spec.template.spec.containers[0]";
  const json& pod_spec = job.spec.pod_template.contains("spec") ? job.spec.pod_template["spec"] : json();
  if (!pod_spec.is_object() || !pod_spec.contains("containers") || !pod_spec["containers"].is_array() ||
      pod_spec["containers"].empty() || !pod_spec["containers"][0].is_object()) {
    return InvalidArgumentError("spec.template.spec.containers: local mode needs at least one container");
  }
  const json& container = pod_spec["containers"][0];
  LocalPlan plan;
  plan.job = job;
  plan.path = path_list;

  auto strings = [&](const char* key, std::vector<std::string>* out) -> Status {
    if (!container.contains(key) || container[key].is_null()) return Status::Ok();
    if (!container[key].is_array()) return InvalidArgumentError(base + "." + key + ": must be a list of strings");
    for (const json& item : container[key]) {
      if (!item.is_string()) return InvalidArgumentError(base + "." + key + ": must be a list of strings");
      out->push_back(item.get<std::string>());
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(strings("command", &plan.argv));
  if (plan.argv.empty()) {
    // The image's ENTRYPOINT is unknown without a container runtime.
    return InvalidArgumentError(base +
                                ".command: local mode needs an explicit command (the image's "
                                "entrypoint is not available on the host)");
  }
  RETURN_IF_ERROR(strings("args", &plan.argv));
  UnwrapLauncher(job, &plan.argv, &plan.notes);
  auto executable = ResolveExecutable(plan.argv[0], path_list, is_executable);
  if (!executable.has_value()) {
    return InvalidArgumentError(base + ".command[0]: \"" + plan.argv[0] +
                                "\" is not an executable file on PATH (" + path_list + ")");
  }
  plan.executable = *executable;

  if (container.contains("image") && container["image"].is_string()) {
    plan.notes.push_back("image " + container["image"].get<std::string>() + " is not used: " +
                         plan.argv[0] + " runs on this machine as " + plan.executable);
  }
  if (container.contains("env") && container["env"].is_array()) {
    for (size_t i = 0; i < container["env"].size(); ++i) {
      const json& var = container["env"][i];
      if (!var.is_object() || !var.contains("name") || !var["name"].is_string()) continue;
      const std::string name = var["name"].get<std::string>();
      if (var.contains("valueFrom")) {
        plan.notes.push_back("env " + name + " (" + base + ".env[" + std::to_string(i) +
                             "]) uses valueFrom, which needs a cluster: skipped");
        continue;
      }
      std::string value;
      if (var.contains("value") && var["value"].is_string()) value = var["value"].get<std::string>();
      plan.container_env.emplace_back(name, value);
    }
  }
  if (pod_spec["containers"].size() > 1) {
    plan.notes.push_back("only the first container runs locally; " +
                         std::to_string(pod_spec["containers"].size() - 1) + " more ignored");
  }
  if (container.contains("envFrom")) plan.notes.push_back(base + ".envFrom needs a cluster: skipped");
  return plan;
}

std::vector<ProcessSpec> BuildAttemptProcesses(const LocalPlan& plan, int64_t attempt, int master_port,
                                               const std::vector<std::string>& parent_env) {
  // Name -> value with insertion order kept, so later layers override earlier ones.
  std::vector<std::pair<std::string, std::string>> base;
  std::map<std::string, size_t> index;
  auto set = [&](std::vector<std::pair<std::string, std::string>>& env, std::map<std::string, size_t>& idx,
                 const std::string& name, const std::string& value) {
    auto it = idx.find(name);
    if (it != idx.end()) {
      env[it->second].second = value;
    } else {
      idx[name] = env.size();
      env.emplace_back(name, value);
    }
  };
  std::vector<std::string> devices;  // the parent's CUDA_VISIBLE_DEVICES list
  for (const std::string& entry : parent_env) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    const std::string name = entry.substr(0, eq);
    const std::string value = entry.substr(eq + 1);
    if (name == "CUDA_VISIBLE_DEVICES") {
      std::stringstream in(value);
      for (std::string device; std::getline(in, device, ',');) {
        if (!device.empty()) devices.push_back(device);
      }
    }
    set(base, index, name, value);
  }
  set(base, index, "PATH", plan.path);
  for (const auto& [name, value] : plan.container_env) set(base, index, name, value);

  const api::TrainingJobSpec& spec = plan.job.spec;
  const int ppw = static_cast<int>(spec.processes_per_worker);
  std::vector<ProcessSpec> out;
  out.reserve(static_cast<size_t>(plan.total_processes()));
  for (int worker = 0; worker < static_cast<int>(spec.workers); ++worker) {
    auto worker_env = base;
    auto worker_index = index;
    for (const auto& [name, value] :
         api::BuildWorkerEnv(plan.job, {worker, attempt, "127.0.0.1", master_port})) {
      set(worker_env, worker_index, name, value);
    }
    for (int local = 0; local < ppw; ++local) {
      auto env = worker_env;
      auto env_index = worker_index;
      const int rank = worker * ppw + local;
      // What `ringleader-worker launch` sets for each local process (runtime/launcher.h).
      const std::string l = std::to_string(local);
      set(env, env_index, "LOCAL_RANK", l);
      set(env, env_index, "RINGLEADER_LOCAL_RANK", l);
      set(env, env_index, "RINGLEADER_RANK", std::to_string(rank));
      set(env, env_index, "RANK", std::to_string(rank));
      set(env, env_index, "LOCAL_WORLD_SIZE", std::to_string(ppw));
      // One machine, several GPUs listed: processes share them round-robin by global rank.
      // Unset or a single device: left alone (a CPU machine, or the user's choice).
      if (devices.size() > 1) set(env, env_index, "CUDA_VISIBLE_DEVICES", devices[rank % devices.size()]);
      ProcessSpec process;
      process.rank = rank;
      process.worker_rank = worker;
      process.local_rank = local;
      process.executable = plan.executable;
      process.argv = plan.argv;
      process.env.reserve(env.size());
      for (const auto& [name, value] : env) process.env.push_back(name + "=" + value);
      out.push_back(std::move(process));
    }
  }
  return out;
}

StatusOr<int> PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return UnavailableError("binding 127.0.0.1:0: " + error);
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

}  // namespace ringleader::local
