// SPDX-License-Identifier: Apache-2.0
// Functional checks of the injectors' start/stop paths (load accuracy is measured in the bench),
// and the io injector's use of files faultd passes open.
#include "../injectors/cpu_stress.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "../core/clock.h"
#include "../injectors/io_stress.h"
#include "../injectors/memory_stress.h"

namespace faultd::inj {
namespace {

int64_t ProcessCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * core::kNsPerSec + ts.tv_nsec;
}

TEST(CpuStress, RejectsBadSpec) {
  EXPECT_FALSE(CpuStress::Start({0, 50, {}, 0, 10'000}).ok());
  EXPECT_FALSE(CpuStress::Start({1, 101, {}, 0, 10'000}).ok());
}

TEST(CpuStress, HalfLoadOverHalfSecondIsRoughlyHalf) {
  auto stress = CpuStress::Start({1, 50, {}, 0, 10'000});
  ASSERT_TRUE(stress.ok());
  const int64_t cpu0 = ProcessCpuNs();
  const int64_t wall0 = core::MonotonicNs();
  core::SleepUntilNs(wall0 + 500 * core::kNsPerMs);
  const double pct = 100.0 * static_cast<double>(ProcessCpuNs() - cpu0) / static_cast<double>(core::MonotonicNs() - wall0);
  stress.value()->RequestStop();
  stress.value()->Join();
  EXPECT_NEAR(pct, 50.0, 10.0);  // loose: shared CI machine; the bench checks 0.5 pp
  EXPECT_EQ(stress.value()->WorkerError().err, 0);
}

TEST(CpuStress, BadAffinityIsReported) {
  auto stress = CpuStress::Start({1, 10, {1023}, 0, 10'000});
  ASSERT_TRUE(stress.ok());
  stress.value()->Join();
  EXPECT_EQ(stress.value()->WorkerError().err, EINVAL);
}

TEST(MemoryStress, PopulatesAllBytes) {
  auto stress = MemoryStress::Start({2, 8 << 20, false, 0});
  ASSERT_TRUE(stress.ok());
  for (int i = 0; i < 200 && !stress.value()->Complete(); ++i) core::SleepUntilNs(core::MonotonicNs() + 10 * core::kNsPerMs);
  EXPECT_TRUE(stress.value()->Complete());
  EXPECT_EQ(stress.value()->PopulatedBytes(), 16u << 20);
  stress.value()->RequestStop();
  stress.value()->Join();
}

// Anonymous resident memory of this process in bytes (RssAnon in /proc/self/status, kB).
uint64_t RssAnonBytes() {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return 0;
  char line[256];
  unsigned long long kb = 0;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::sscanf(line, "RssAnon: %llu kB", &kb) == 1) break;
  }
  std::fclose(status);
  return static_cast<uint64_t>(kb) * 1024;
}

// The path of kernels before 5.14 (MADV_POPULATE_WRITE answers EINVAL), forced on this one: the
// same bytes become resident, measured by the kernel's RssAnon, not the worker's own count.
TEST(MemoryStress, WithoutMadvisePopulateWritesEveryPage) {
  const uint64_t before = RssAnonBytes();
  MemoryStressSpec spec{2, 32 << 20, false, 0};
  spec.madvise_populate = false;
  auto stress = MemoryStress::Start(spec);
  ASSERT_TRUE(stress.ok());
  for (int i = 0; i < 300 && !stress.value()->Complete(); ++i) core::SleepUntilNs(core::MonotonicNs() + 10 * core::kNsPerMs);
  EXPECT_TRUE(stress.value()->Complete());
  EXPECT_EQ(stress.value()->PopulatedBytes(), 64u << 20);
  const uint64_t grown = RssAnonBytes() - before;
  EXPECT_GE(grown, 63u << 20) << "RssAnon grew by " << grown << " bytes";
  EXPECT_LE(grown, 70u << 20) << "RssAnon grew by " << grown << " bytes";
  stress.value()->RequestStop();
  stress.value()->Join();
}

// faultd made the file and passes it open (--files-open): the worker writes that file, and never
// creates or opens anything under the prefix's name.
TEST(IoStress, WritesTheOpenFileItIsGivenAndMakesNoName) {
  char dir_template[] = "/tmp/faultd-io-test-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  ASSERT_NE(dir, nullptr);
  const std::string file = std::string(dir) + "/given";
  const std::string prefix = std::string(dir) + "/.faultd-io-test";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  auto stress = IoStress::Start({1, prefix, 8192, 0, 0, fd});  // owns fd from here on
  ASSERT_TRUE(stress.ok());
  const int64_t deadline = core::MonotonicNs() + 5 * core::kNsPerSec;
  while (stress.value()->WrittenBytes() < 8192 && stress.value()->WorkerError().err == 0 && core::MonotonicNs() < deadline) {
    core::SleepUntilNs(core::MonotonicNs() + 1'000'000);
  }
  stress.value()->RequestStop();
  stress.value()->Join();
  EXPECT_EQ(stress.value()->WorkerError().err, 0);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8192);
  EXPECT_NE(::access((prefix + "-0").c_str(), F_OK), 0) << "no file made under the prefix";
  ::unlink(file.c_str());
  ::rmdir(dir);
}

TEST(IoStress, RefusesAGivenDescriptorThatIsNoWritableRegularFile) {
  const int fd = ::open("/tmp", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  auto stress = IoStress::Start({1, "/tmp/.faultd-io-never", 8192, 0, 0, fd});
  ASSERT_TRUE(stress.ok());
  const int64_t deadline = core::MonotonicNs() + 5 * core::kNsPerSec;
  while (stress.value()->WorkerError().err == 0 && core::MonotonicNs() < deadline) core::SleepUntilNs(core::MonotonicNs() + 1'000'000);
  stress.value()->RequestStop();
  stress.value()->Join();
  EXPECT_EQ(stress.value()->WorkerError().err, EBADF);
  EXPECT_EQ(stress.value()->OpenedWorkers(), 0);
}

}  // namespace
}  // namespace faultd::inj
