#pragma once
// Splitting text at one separator character: dotted JSON paths, API groups, URL paths and
// comma-separated flag values. The one splitter of the tree.
//
// Thread-safety: pure functions.

#include <string>
#include <string_view>
#include <vector>

namespace ringleader {

// Every part, empty ones included: "a..b" -> {"a", "", "b"}; "" -> {""}.
std::vector<std::string> Split(std::string_view text, char separator);
// Only the non-empty parts: "a,,b," -> {"a", "b"}; "" -> {}.
std::vector<std::string> SplitNonEmpty(std::string_view text, char separator);

}  // namespace ringleader
