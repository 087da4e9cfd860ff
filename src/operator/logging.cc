// The operator's logging: spdlog's default logger as text or JSON lines on stderr.
#include <unistd.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "ringleader/operator/operator.h"

namespace ringleader::controller {

using Json = nlohmann::json;

namespace {

// JSON log lines need the message escaped; spdlog's pattern language cannot do that itself.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string text(msg.payload.data(), msg.payload.size());
    std::string quoted = Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

}  // namespace

Status ConfigureLogging(const std::string& format, const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidArgumentError("--log-level: want trace|debug|info|warn|error|off, got \"" + level + "\"");
  }
  auto logger = spdlog::stderr_logger_mt("ringleader-operator-" + std::to_string(getpid()));
  if (format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"ringleader-operator","msg":%*})");
    logger->set_formatter(std::move(formatter));
  } else if (format == "text") {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ %v");
  } else {
    return InvalidArgumentError("--log-format: want text or json, got \"" + format + "\"");
  }
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace ringleader::controller
