// SPDX-License-Identifier: Apache-2.0
#include "io_stress.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "../core/clock.h"
#include "../core/rate_pacer.h"
#include "../core/unique_fd.h"

namespace faultd::inj {
namespace {

constexpr uint64_t kMaxBlockBytes = 1ULL << 20;
constexpr int64_t kStopPollNs = 50'000'000;

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

}  // namespace

IoStress::IoStress(IoStressSpec spec) noexcept : spec_(std::move(spec)) {}

core::Result<std::unique_ptr<IoStress>> IoStress::Start(const IoStressSpec& spec) noexcept {
  if (spec.workers < 1 || spec.file_prefix.empty() || spec.file_bytes < core::kIoAlignBytes || spec.bytes_per_sec < 0 || spec.ops_per_sec < 0 ||
      (spec.bytes_per_sec > 0 && spec.ops_per_sec > 0)) {
    return core::SysError{EINVAL, "io_stress", "workers >= 1, a file prefix, file bytes >= 4096, a byte rate or an operation rate >= 0 (not both)"};
  }
  std::unique_ptr<IoStress> stress(new (std::nothrow) IoStress(spec));
  if (!stress) return core::SysError{ENOMEM, "io_stress", {}};
  stress->written_.reset(new (std::nothrow) std::atomic<uint64_t>[static_cast<size_t>(spec.workers)]);
  stress->ops_.reset(new (std::nothrow) std::atomic<uint64_t>[static_cast<size_t>(spec.workers)]);
  if (!stress->written_ || !stress->ops_) return core::SysError{ENOMEM, "io_stress", {}};
  for (int i = 0; i < spec.workers; ++i) {
    stress->written_[static_cast<size_t>(i)].store(0);
    stress->ops_[static_cast<size_t>(i)].store(0);
  }
  IoStress* self = stress.get();
  const auto started =
      self->threads_.Start(spec.workers, "faultd-io", [self](int index, const std::atomic<bool>& stop) { self->Run(index, stop); });
  if (!started.ok()) return started.error();
  return stress;
}

uint64_t IoStress::WrittenBytes() const noexcept {
  uint64_t total = 0;
  for (int i = 0; i < spec_.workers; ++i) total += written_[static_cast<size_t>(i)].load(std::memory_order_relaxed);
  return total;
}

uint64_t IoStress::WrittenOps() const noexcept {
  uint64_t total = 0;
  for (int i = 0; i < spec_.workers; ++i) total += ops_[static_cast<size_t>(i)].load(std::memory_order_relaxed);
  return total;
}

core::SysError IoStress::WorkerError() const noexcept {
  return core::SysError{worker_errno_.load(), worker_syscall_.load(), {}};
}

void IoStress::Fail(const char* syscall, int err) noexcept {
  const char* expected = "";
  if (worker_syscall_.compare_exchange_strong(expected, syscall)) worker_errno_.store(err);
}

void IoStress::Run(int index, const std::atomic<bool>& stop) noexcept {
  core::UniqueFd fd;
  if (spec_.first_fd >= 0) {
    // Made, recorded and opened by faultd: only a regular file open for writing will do.
    fd = core::UniqueFd(spec_.first_fd + index);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Fail("fstat", errno);
    const int mode = fcntl(fd.get(), F_GETFL);
    if (!S_ISREG(st.st_mode) || mode < 0 || (mode & O_ACCMODE) == O_RDONLY) return Fail("fstat", EBADF);
  } else {
    const std::string file = spec_.file_prefix + "-" + std::to_string(index);
    fd = core::UniqueFd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return Fail("open", errno);
  }
  // O_DIRECT is asked of the open file: EINVAL means the filesystem has no direct I/O (the file
  // exists either way, so a failed O_DIRECT open never leaves a second name to clean up).
  const int flags = fcntl(fd.get(), F_GETFL);
  const bool direct = flags >= 0 && fcntl(fd.get(), F_SETFL, flags | O_DIRECT) == 0;
  if (direct) direct_.fetch_add(1);
  opened_.fetch_add(1);

  // Paced by bytes (each worker its share of the byte rate, in blocks of ~10 ms of it) or by
  // operations (its share of the operation rate, one 4 KiB write each); the pacer counts
  // whichever unit is paced.
  const bool by_ops = spec_.ops_per_sec > 0;
  const double rate = (by_ops ? spec_.ops_per_sec : spec_.bytes_per_sec) / spec_.workers;
  const uint64_t file_blocks_bytes = spec_.file_bytes / core::kIoAlignBytes * core::kIoAlignBytes;
  const uint64_t block = by_ops ? core::kIoAlignBytes : std::min(core::PacedBlockBytes(rate, kMaxBlockBytes), file_blocks_bytes);
  void* raw = nullptr;
  if (posix_memalign(&raw, core::kIoAlignBytes, block) != 0) return Fail("posix_memalign", ENOMEM);
  std::unique_ptr<void, FreeDeleter> buffer(raw);
  // Not zeros: a filesystem or device that compresses or dedups zeros would write nothing.
  for (uint64_t i = 0; i < block; ++i) static_cast<unsigned char*>(raw)[i] = static_cast<unsigned char>((i * 131 + index) ^ (i >> 12));

  std::atomic<uint64_t>& written = written_[static_cast<size_t>(index)];
  std::atomic<uint64_t>& ops = ops_[static_cast<size_t>(index)];
  int64_t baseline_ns = core::MonotonicNs();
  uint64_t done_bytes = 0;
  uint64_t done_ops = 0;
  uint64_t offset = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    if (rate > 0) {
      const uint64_t done = by_ops ? done_ops : done_bytes;
      const int64_t elapsed = core::MonotonicNs() - baseline_ns;
      baseline_ns += core::ForgivenLagNs(rate, done, elapsed);
      const int64_t due_ns = baseline_ns + core::EarnedAtNs(rate, done);
      if (core::MonotonicNs() < due_ns) {
        core::SleepUntilNs(std::min(due_ns, core::MonotonicNs() + kStopPollNs));
        continue;
      }
    }
    const uint64_t len = std::min(block, file_blocks_bytes - offset);
    const ssize_t n = ::pwrite(fd.get(), raw, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail("pwrite", errno);
    }
    if (!direct && ::fdatasync(fd.get()) != 0) return Fail("fdatasync", errno);
    const auto wrote = static_cast<uint64_t>(n);
    done_bytes += wrote;
    done_ops += 1;
    written.store(done_bytes, std::memory_order_relaxed);
    ops.store(done_ops, std::memory_order_relaxed);
    offset += wrote;
    if (offset >= file_blocks_bytes || wrote < len) offset = 0;
  }
}

}  // namespace faultd::inj
