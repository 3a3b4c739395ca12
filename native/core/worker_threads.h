// SPDX-License-Identifier: Apache-2.0
// A fixed set of named pthreads with a shared stop flag: the thread plumbing both stress
// injectors share. pthreads (not std::thread) so that a failed start is an errno, not an
// exception, and so the core stays noexcept.
#pragma once

#include <pthread.h>

#include <atomic>
#include <functional>
#include <vector>

#include "sys_result.h"

namespace faultd::core {

class WorkerThreads {
 public:
  using Body = std::function<void(int index, const std::atomic<bool>& stop)>;

  WorkerThreads() noexcept = default;
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;
  ~WorkerThreads() { RequestStop(); Join(); }

  /// Starts `count` threads named `<name_prefix>/<index>` (truncated to 15 bytes), each running
  /// `body(index, stop)`. On failure the threads already started are stopped and joined.
  Status Start(int count, const char* name_prefix, Body body) noexcept;
  void RequestStop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  void Join() noexcept;

 private:
  struct Slot {
    WorkerThreads* owner;
    int index;
  };
  static void* Trampoline(void* arg) noexcept;

  std::atomic<bool> stop_{false};
  Body body_;
  std::vector<Slot> slots_;
  std::vector<pthread_t> threads_;
};

}  // namespace faultd::core
