#pragma once
// The operator's /metrics as the bench reads it: Prometheus text parsed into one number per
// series, and sums over the series of one metric. Pure functions.

#include <map>
#include <string>

namespace ringleader::bench {

// Prometheus text → {"name{labels}": value}.
using Scrape = std::map<std::string, double>;

Scrape ParseMetrics(const std::string& text);

// Sum of every series of `name` (exactly that metric) whose labels contain `label_part`.
double Sum(const Scrape& scrape, const std::string& name, const std::string& label_part = "");

}  // namespace ringleader::bench
