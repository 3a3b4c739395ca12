// SPDX-License-Identifier: Apache-2.0
#include "worker_threads.h"

#include <array>
#include <cstdio>

namespace faultd::core {

Status WorkerThreads::Start(int count, const char* name_prefix, Body body) noexcept {
  body_ = std::move(body);
  slots_.reserve(static_cast<size_t>(count));
  threads_.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) slots_.push_back(Slot{this, i});
  for (int i = 0; i < count; ++i) {
    pthread_t thread{};
    const int rc = pthread_create(&thread, nullptr, &WorkerThreads::Trampoline, &slots_[static_cast<size_t>(i)]);
    if (rc != 0) {
      RequestStop();
      Join();
      return SysError{rc, "pthread_create", {}};
    }
    std::array<char, 16> name{};  // the kernel keeps 15 bytes plus NUL
    std::snprintf(name.data(), name.size(), "%s/%d", name_prefix, i);
    pthread_setname_np(thread, name.data());
    threads_.push_back(thread);
  }
  return Ok{};
}

void WorkerThreads::Join() noexcept {
  for (pthread_t thread : threads_) pthread_join(thread, nullptr);
  threads_.clear();
}

void* WorkerThreads::Trampoline(void* arg) noexcept {
  auto* slot = static_cast<Slot*>(arg);
  slot->owner->body_(slot->index, slot->owner->stop_);
  return nullptr;
}

}  // namespace faultd::core
