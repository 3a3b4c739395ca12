// SPDX-License-Identifier: Apache-2.0
// Error and result types of the native core. The core never throws and never logs: every
// fallible function returns a SysError (errno, syscall name, optional kernel detail) so that the
// binding can turn it into a typed JS error (code/errno/syscall) and the stressor into a JSON line.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace faultd::core {

/// A failed system call: positive errno, the syscall's literal name, and optional detail
/// (for netlink this is the kernel's extack text).
struct SysError {
  int err = 0;
  const char* syscall = "";
  std::string detail;
};

/// Either a value or a SysError (C++20 has no std::expected; this is the small subset we need).
template <typename T>
class Result {
 public:
  Result(T value) noexcept : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(SysError error) noexcept : v_(std::move(error)) {}     // NOLINT(google-explicit-constructor)
  [[nodiscard]] bool ok() const noexcept { return std::holds_alternative<T>(v_); }
  [[nodiscard]] const T& value() const& noexcept { return std::get<T>(v_); }
  [[nodiscard]] T&& value() && noexcept { return std::get<T>(std::move(v_)); }
  [[nodiscard]] const SysError& error() const noexcept { return std::get<SysError>(v_); }

 private:
  std::variant<T, SysError> v_;
};

/// Result of an operation without a value: empty on success.
struct Ok {};
using Status = Result<Ok>;

/// Builds a SysError from the current errno.
SysError ErrnoError(const char* syscall, std::string detail = {}) noexcept;

}  // namespace faultd::core
