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

#include "ringleader/api/worker_env_builder.h"
#include "ringleader/common/worker_contract.h"

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

namespace {

std::string BaseName(const std::string& path) { return fs::path(path).filename().string(); }

// Programs that start the processes of a node themselves, by argv[0]'s file name.
bool IsLauncherProgram(const std::string& name) {
  static const std::set<std::string> kLaunchers = {"torchrun", "mpirun", "mpiexec", "orterun", "srun",
                                                   "deepspeed", "horovodrun"};
  return kLaunchers.count(name) > 0;
}

// A shell's -c script mentions a launcher (the script may start it with its flags computed).
bool ScriptStartsLauncher(const std::string& script) {
  static const std::vector<std::string> kMentions = {
      "torchrun", "torch.distributed.run", "torch.distributed.launch", "ringleader-worker launch",
      "mpirun",   "mpiexec",               "srun",                     "deepspeed",
      "horovodrun", "accelerate launch"};
  for (const std::string& word : kMentions) {
    if (script.find(word) != std::string::npos) return true;
  }
  return false;
}

bool IsShell(const std::string& name) {
  return name == "sh" || name == "bash" || name == "dash" || name == "zsh" || name == "ash";
}

// argv without a leading `env [NAME=value...]`.
std::vector<std::string> WithoutEnvPrefix(const std::vector<std::string>& argv) {
  size_t i = 0;
  if (i < argv.size() && BaseName(argv[i]) == "env") {
    ++i;
    while (i < argv.size() && (argv[i].find('=') != std::string::npos || argv[i] == "-i" || argv[i] == "-")) ++i;
  }
  return {argv.begin() + static_cast<std::ptrdiff_t>(i), argv.end()};
}

std::vector<std::string> ContainerArgv(const api::TrainingJob& job) {
  std::vector<std::string> argv;
  const json& template_spec = job.spec.pod_template.contains("spec") ? job.spec.pod_template["spec"] : json();
  if (!template_spec.is_object() || !template_spec.contains("containers") || !template_spec["containers"].is_array() ||
      template_spec["containers"].empty() || !template_spec["containers"][0].is_object()) {
    return argv;
  }
  const json& container = template_spec["containers"][0];
  for (const char* key : {"command", "args"}) {
    if (!container.contains(key) || !container[key].is_array()) continue;
    for (const json& item : container[key]) {
      if (item.is_string()) argv.push_back(item.get<std::string>());
    }
  }
  if (!container.contains("command")) argv.clear();  // the image's entrypoint: unknown
  return argv;
}

}  // namespace

bool IsProcessLauncher(const std::vector<std::string>& original_argv) {
  const std::vector<std::string> argv = WithoutEnvPrefix(original_argv);
  if (argv.empty()) return false;
  const std::string program = BaseName(argv[0]);
  if (IsLauncherProgram(program)) return true;
  if (program == "ringleader-worker") return argv.size() > 1 && argv[1] == "launch";
  if (program == "accelerate") return argv.size() > 1 && argv[1] == "launch";
  if (program.rfind("python", 0) == 0) {
    for (size_t i = 1; i + 1 < argv.size(); ++i) {
      if (argv[i] != "-m") continue;
      const std::string& module = argv[i + 1];
      return module == "torch.distributed.run" || module == "torch.distributed.launch" ||
             module == "deepspeed.launcher.runner";
    }
    return false;
  }
  if (IsShell(program)) {
    for (size_t i = 1; i + 1 < argv.size(); ++i) {
      if (argv[i] == "-c") return ScriptStartsLauncher(argv[i + 1]);
    }
  }
  return false;
}

std::optional<std::string> ProcessesPerWorkerWarning(const api::TrainingJob& job) {
  const int64_t ppw = job.spec.processes_per_worker;
  if (ppw <= 1) return std::nullopt;
  const std::vector<std::string> argv = ContainerArgv(job);
  if (argv.empty() || IsProcessLauncher(argv)) return std::nullopt;
  // A shell script may start the processes in ways no one can see from here.
  const std::vector<std::string> program = WithoutEnvPrefix(argv);
  if (!program.empty() && IsShell(BaseName(program[0]))) return std::nullopt;
  std::string command = argv[0];
  if (argv.size() > 1) command += " " + argv[1];
  return "spec.processesPerWorker is " + std::to_string(ppw) + " but the command (" + command +
         ") is not a launcher: the container command runs once per worker (in a Pod and in " +
         "`ringleader run`), so only 1 process per worker runs unless the program starts the other " +
         std::to_string(ppw - 1) + " itself; start it with `ringleader-worker launch -- ...` or torchrun";
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

void MapCheckpointDir(const std::string& run_dir, LocalPlan* plan) {
  const std::string& in_container = plan->job.spec.checkpoint_dir;
  if (in_container.empty()) return;
  std::error_code ec;
  fs::path local = fs::absolute(fs::path(run_dir) / "checkpoints", ec);
  if (ec) local = fs::path(run_dir) / "checkpoints";
  plan->checkpoint_dir = local.lexically_normal().string();
  plan->notes.push_back("spec.checkpointDir " + in_container + " is " + *plan->checkpoint_dir +
                        " on this machine (RINGLEADER_CHECKPOINT_DIR): a gang restart resumes from it");
}

std::vector<ProcessSpec> BuildAttemptProcesses(const LocalPlan& plan, int64_t attempt, const AttemptPorts& ports,
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
  out.reserve(static_cast<size_t>(plan.workers()));
  for (int worker = 0; worker < static_cast<int>(spec.workers); ++worker) {
    auto env = base;
    auto env_index = index;
    api::WorkerEnvParams params;
    params.worker_rank = worker;
    params.attempt = attempt;
    params.master_addr = "127.0.0.1";
    params.master_port = ports.master;
    params.checkpoint_dir = plan.checkpoint_dir;
    for (const auto& [name, value] : api::BuildWorkerEnv(plan.job, params)) set(env, env_index, name, value);
    // The launchers' store would default to MASTER_PORT + 1, which another program on this
    // machine may hold; a port picked with the master port cannot collide with it.
    set(env, env_index, contract::kEnvLauncherPort, std::to_string(ports.launcher));
    // Several GPUs listed: each worker gets the devices its processes would use if the
    // machine's devices were dealt out in rank order (worker w: ranks w*ppw .. w*ppw+ppw-1,
    // device rank mod k), like a Pod that was given its own GPUs. Unset or a single device:
    // left alone (a CPU machine, or the user's choice).
    if (devices.size() > 1) {
      std::vector<std::string> share;
      for (int local = 0; local < ppw; ++local) {
        const std::string& device = devices[static_cast<size_t>(worker * ppw + local) % devices.size()];
        if (std::find(share.begin(), share.end(), device) == share.end()) share.push_back(device);
      }
      std::string list;
      for (const std::string& device : share) list += (list.empty() ? "" : ",") + device;
      set(env, env_index, "CUDA_VISIBLE_DEVICES", list);
    }
    ProcessSpec process;
    process.worker_rank = worker;
    process.executable = plan.executable;
    process.argv = plan.argv;
    process.env.reserve(env.size());
    for (const auto& [name, value] : env) process.env.push_back(name + "=" + value);
    out.push_back(std::move(process));
  }
  return out;
}

StatusOr<std::vector<int>> PickFreePorts(int count) {
  std::vector<int> fds;
  std::vector<int> ports;
  auto close_all = [&] {
    for (int fd : fds) ::close(fd);
  };
  for (int i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const std::string error = std::strerror(errno);
      close_all();
      return UnavailableError("socket: " + error);
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      const std::string error = std::strerror(errno);
      close_all();
      return UnavailableError("binding 127.0.0.1:0: " + error);
    }
    ports.push_back(static_cast<int>(ntohs(addr.sin_port)));
  }
  close_all();  // all bound at once: the ports differ from each other
  return ports;
}

}  // namespace ringleader::local
