// SPDX-License-Identifier: Apache-2.0
// Reading the stressor's arguments (see options.h).
#include "options.h"

#include <sched.h>

namespace faultd::stressor {

std::string Cat(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (std::string_view part : parts) out.append(part);
  return out;
}

Arg SplitArg(std::string_view text) noexcept {
  Arg arg;
  arg.text = text;
  const size_t eq = text.find('=');
  arg.has_value = eq != std::string_view::npos;
  arg.key = arg.has_value ? text.substr(0, eq) : text;
  arg.value = arg.has_value ? text.substr(eq + 1) : std::string_view{};
  return arg;
}

std::string NotAnOption(std::string_view mode, const Arg& arg) {
  return Cat({"'", arg.text, "' is not an option of ", mode});
}

std::string TakeCpuList(const Arg& arg, std::vector<int>* out) {
  if (!arg.has_value) return Cat({arg.key, " needs a value (", arg.key, "=0,2,...)"});
  const std::string bad = Cat({arg.text, ": expected CPU numbers 0..", FormatNumber(CPU_SETSIZE - 1), " separated by commas"});
  std::string_view text = arg.value;
  if (text.empty()) return bad;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    int cpu = 0;
    if (!ParseNumber(text.substr(0, comma), &cpu) || cpu < 0 || cpu >= CPU_SETSIZE) return bad;
    out->push_back(cpu);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
  }
  return {};
}

std::string TakeFlag(const Arg& arg, bool* out) {
  if (arg.has_value) return Cat({arg.text, ": ", arg.key, " takes no value"});
  *out = true;
  return {};
}

std::string TakeText(const Arg& arg, std::string* out) {
  if (!arg.has_value) return Cat({arg.key, " needs a value (", arg.key, "=...)"});
  *out = arg.value;
  return {};
}

}  // namespace faultd::stressor
