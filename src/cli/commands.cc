#include "ringleader/cli/commands.h"

#include "ringleader/api/codec.h"
#include "ringleader/api/validation.h"
#include "ringleader/api/yaml_loader.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/local/plan.h"

namespace ringleader::cli {

using nlohmann::json;

namespace {

std::string DocumentLabel(const std::string& file, size_t index, size_t count, const json& doc) {
  std::string label = file;
  if (count > 1) label += " (document " + std::to_string(index + 1) + ")";
  if (doc.is_object() && doc.contains("metadata") && doc["metadata"].is_object() &&
      doc["metadata"].contains("name") && doc["metadata"]["name"].is_string()) {
    label += " " + doc["metadata"]["name"].get<std::string>();
  }
  return label;
}

bool ParseInt(const std::string& text, int64_t* out) {
  try {
    size_t used = 0;
    *out = std::stoll(text, &used);
    return used == text.size();
  } catch (...) {
    return false;
  }
}

}  // namespace

int RunValidate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "usage: ringleader validate FILE...\n";
    return 2;
  }
  int exit_code = 0;
  for (const std::string& file : args) {
    auto docs = api::LoadYamlFile(file);
    if (!docs.ok()) {
      err << docs.status().message() << "\n";
      exit_code = 2;
      continue;
    }
    if (docs->empty()) {
      err << file << ": no documents\n";
      exit_code = std::max(exit_code, 1);
    }
    for (size_t i = 0; i < docs->size(); ++i) {
      const json& doc = (*docs)[i];
      std::vector<api::FieldError> errors;
      const api::TrainingJob job = api::ParseTrainingJob(doc, &errors);
      std::string label = DocumentLabel(file, i, docs->size(), doc);
      if (errors.empty()) {
        out << label << ": valid\n";
        // Valid but probably not what was meant: the same rule holds in a Pod and locally.
        if (auto warning = local::ProcessesPerWorkerWarning(job); warning.has_value()) {
          out << "  warning: " << *warning << "\n";
        }
        continue;
      }
      exit_code = std::max(exit_code, 1);
      out << label << ": " << errors.size() << (errors.size() == 1 ? " problem\n" : " problems\n");
      for (const auto& e : errors) out << "  " << e.ToString() << "\n";
    }
  }
  return exit_code;
}

int RunRender(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string file;
  int64_t attempt = 0;
  std::string namespace_override;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--attempt" || args[i] == "--namespace" || args[i] == "-n") && i + 1 < args.size()) {
      if (args[i] == "--attempt") {
        if (!ParseInt(args[i + 1], &attempt) || attempt < 0) {
          err << "--attempt: must be a non-negative integer, got \"" << args[i + 1] << "\"\n";
          return 2;
        }
      } else {
        namespace_override = args[i + 1];
      }
      ++i;
    } else if (!args[i].empty() && args[i][0] == '-') {
      err << "unknown flag " << args[i] << "\nusage: ringleader render FILE [--attempt N] [--namespace NS]\n";
      return 2;
    } else if (file.empty()) {
      file = args[i];
    } else {
      err << "render takes one file, got a second: " << args[i] << "\n";
      return 2;
    }
  }
  if (file.empty()) {
    err << "usage: ringleader render FILE [--attempt N] [--namespace NS]\n";
    return 2;
  }
  auto docs = api::LoadYamlFile(file);
  if (!docs.ok()) {
    err << docs.status().message() << "\n";
    return 2;
  }
  std::vector<json> children;
  for (size_t i = 0; i < docs->size(); ++i) {
    json doc = (*docs)[i];
    if (!namespace_override.empty() && doc.is_object()) doc["metadata"]["namespace"] = namespace_override;
    auto job = api::ParseTrainingJob(doc);
    if (!job.ok()) {
      // Render nothing rather than half a set: a bad document means no gang at all.
      err << DocumentLabel(file, i, docs->size(), doc) << ": " << job.status().message() << "\n";
      return 1;
    }
    for (json& child : controller::BuildAllChildren(*job, attempt)) children.push_back(std::move(child));
  }
  out << api::ToYamlDocuments(children);
  return 0;
}

}  // namespace ringleader::cli
