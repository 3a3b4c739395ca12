// SPDX-License-Identifier: Apache-2.0
// Reading the stressor's arguments: splitting `--key=value`, taking a value into a mode's
// options struct, and the messages for a bad value or a value out of range. Every message
// names the option, so a usage error says exactly what to fix.
#pragma once

#include <charconv>
#include <initializer_list>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace faultd::stressor {

/// The parts, concatenated (one allocation; also avoids GCC 12's false -Wrestrict on `"..." + std::string`).
std::string Cat(std::initializer_list<std::string_view> parts);

/// One command-line argument after the mode: `--key=value`, a flag `--key`, or a positional word.
struct Arg {
  std::string_view text;   ///< as given
  std::string_view key;    ///< `--key` (the whole text for a flag or a positional word)
  std::string_view value;  ///< after the first '='; empty without one
  bool has_value = false;  ///< there was an '='

  [[nodiscard]] bool positional() const noexcept { return !text.starts_with("--"); }
};

/// Splits `--key=value` at the first '='.
Arg SplitArg(std::string_view text) noexcept;

/// Whole-string decimal number (std::from_chars: no sign for unsigned, no leading '+', no spaces).
template <typename T>
bool ParseNumber(std::string_view text, T* out) noexcept {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

/// A number as a message shows it.
template <typename T>
std::string FormatNumber(T value) {
  char text[32];
  if constexpr (std::is_floating_point_v<T>) {
    std::snprintf(text, sizeof(text), "%g", static_cast<double>(value));
  } else if constexpr (std::is_signed_v<T>) {
    std::snprintf(text, sizeof(text), "%lld", static_cast<long long>(value));
  } else {
    std::snprintf(text, sizeof(text), "%llu", static_cast<unsigned long long>(value));
  }
  return text;
}

/// `'--queue=1' is not an option of cpu`.
std::string NotAnOption(std::string_view mode, const Arg& arg);

/// Takes a `--key=<number>` value: "" or `--workers=x: not a number`.
template <typename T>
std::string TakeNumber(const Arg& arg, T* out) {
  if (!arg.has_value) return Cat({arg.key, " needs a value (", arg.key, "=N)"});
  if (!ParseNumber(arg.value, out)) {
    const std::string_view expected = std::is_floating_point_v<T> ? ": not a number"
                                      : std::is_signed_v<T>         ? ": not an integer"
                                                                    : ": not a non-negative integer";
    return Cat({arg.text, expected});
  }
  return {};
}

/// Takes `--key=0,2,5` (CPU numbers below CPU_SETSIZE), appending to `out`.
std::string TakeCpuList(const Arg& arg, std::vector<int>* out);

/// Takes a flag without a value (`--lock`).
std::string TakeFlag(const Arg& arg, bool* out);

/// Takes `--key=text` (any text, possibly empty).
std::string TakeText(const Arg& arg, std::string* out);

/// "" when lo <= value <= hi, else `--load-pct must be 0..100 (got 150)`.
template <typename T>
std::string CheckRange(std::string_view key, T value, T lo, T hi) {
  if (value >= lo && value <= hi) return {};
  return Cat({key, " must be ", FormatNumber(lo), "..", FormatNumber(hi), " (got ", FormatNumber(value), ")"});
}

/// "" when value >= lo, else `--bytes-per-worker must be >= 1 (got 0)`.
template <typename T>
std::string CheckMin(std::string_view key, T value, T lo) {
  if (value >= lo) return {};
  return Cat({key, " must be >= ", FormatNumber(lo), " (got ", FormatNumber(value), ")"});
}

}  // namespace faultd::stressor
