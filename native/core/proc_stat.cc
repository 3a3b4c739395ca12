// SPDX-License-Identifier: Apache-2.0
#include "proc_stat.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include "unique_fd.h"

namespace faultd::core {

std::optional<ProcStat> ParseProcStat(std::string_view text) noexcept {
  const size_t close_paren = text.rfind(')');
  if (close_paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close_paren + 1);
  // Fields after the name start at field 3 (state). Field 22 is the 20th of them.
  ProcStat stat;
  int field = 2;
  size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    if (pos >= rest.size()) break;
    size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view token = rest.substr(pos, end - pos);
    ++field;
    if (field == 3) {
      if (token.size() != 1) return std::nullopt;
      stat.state = token[0];
    } else if (field == 22) {
      if (token.back() == '\n') token.remove_suffix(1);
      const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), stat.start_ticks);
      if (ec != std::errc() || ptr != token.data() + token.size()) return std::nullopt;
      return stat;
    }
    pos = end;
  }
  return std::nullopt;
}

Result<ProcStat> ReadProcStat(pid_t pid, const char* proc_root) noexcept {
  std::array<char, 64> path{};
  std::snprintf(path.data(), path.size(), "%s/%d/stat", proc_root, static_cast<int>(pid));
  UniqueFd fd(::open(path.data(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path.data());
  std::array<char, 1024> buf{};
  ssize_t n = 0;
  do {
    n = ::read(fd.get(), buf.data(), buf.size() - 1);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError("read", path.data());
  const auto parsed = ParseProcStat(std::string_view(buf.data(), static_cast<size_t>(n)));
  if (!parsed) return SysError{EINVAL, "read", std::string("malformed ") + path.data()};
  return *parsed;
}

}  // namespace faultd::core
