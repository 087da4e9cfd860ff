#include "metrics_scrape.h"

#include <cstdlib>

namespace ringleader::bench {

Scrape ParseMetrics(const std::string& text) {
  Scrape out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

double Sum(const Scrape& scrape, const std::string& name, const std::string& label_part) {
  double total = 0;
  for (const auto& [series, value] : scrape) {
    if (series.compare(0, name.size(), name) != 0) continue;
    if (series.size() > name.size() && series[name.size()] != '{') continue;
    if (!label_part.empty() && series.find(label_part) == std::string::npos) continue;
    total += value;
  }
  return total;
}

}  // namespace ringleader::bench
