// SPDX-License-Identifier: Apache-2.0
// The JSON lines a stressor prints (see events.h).
#include "events.h"

#include <cstdio>
#include <cstring>

namespace faultd::stressor {

std::string JsonEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
  }
  return out;
}

void EmitLine(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void EmitReady() { EmitLine(R"({"event":"ready"})"); }

void EmitError(const core::SysError& error) {
  const std::string_view reason = std::strerror(error.err);
  const std::string message = error.detail.empty() ? std::string(reason) : Cat({reason, " (", error.detail, ")"});
  std::printf("{\"event\":\"error\",\"errno\":%d,\"syscall\":\"%s\",\"message\":\"%s\"}\n", error.err, error.syscall,
              JsonEscape(message).c_str());
  std::fflush(stdout);
}

}  // namespace faultd::stressor
