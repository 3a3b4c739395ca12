// SPDX-License-Identifier: Apache-2.0
// Portable builds only (FAULTD_PORTABLE=1, see compat.gypi): binds every glibc symbol whose
// default version on the build host is newer than GLIBC_2.28 (Node 20's own floor) to the version
// that glibc 2.28 has, so the addon, the stressor and better-sqlite3 built on a newer Debian load on
// glibc 2.28 hosts. The linker's --wrap=NAME turns every reference to NAME, also those from the
// static libstdc++/libgcc and OpenSSL archives, into __wrap_NAME, which this file defines.
//
// x86_64 and aarch64: the old versions are each architecture's own (aarch64's ABI starts at
// GLIBC_2.17, so every old version there is 2.17), and the forwarders are tail jumps.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // dl_iterate_phdr, struct dl_find_object (binding.gyp defines it too)
#endif

#include <features.h>

#if !defined(__GLIBC__) || !(defined(__x86_64__) || defined(__aarch64__))
#error "native/compat/glibc_compat.c supports x86_64 and aarch64 glibc only (the old versions differ per architecture)"
#endif

// The oldest version of a symbol on this architecture: the one the x86_64 name says, or 2.17,
// aarch64's first glibc, where everything older starts. FAULTD_TAIL_JUMP branches through the PLT.
#if defined(__x86_64__)
#define FAULTD_V_BASE "GLIBC_2.2.5"
#define FAULTD_V_2_4 "GLIBC_2.4"
#define FAULTD_V_2_12 "GLIBC_2.12"
#define FAULTD_TAIL_JUMP(target) "  jmp " target "@PLT\n"
#else
#define FAULTD_V_BASE "GLIBC_2.17"
#define FAULTD_V_2_4 "GLIBC_2.17"
#define FAULTD_V_2_12 "GLIBC_2.17"
#define FAULTD_TAIL_JUMP(target) "  b " target "\n"
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

// Forwards __wrap_NAME to NAME@VERSION (the oldest, which glibc 2.28 has) with a tail jump: every argument, also a variadic
// one, stays where the caller put it, so one macro serves every signature.
#define FAULTD_FORWARD_OLD(name, version)                                          \
  __asm__(".symver faultd_old_" #name "," #name "@" version "\n"          \
          ".globl __wrap_" #name "\n"                                     \
          ".hidden __wrap_" #name "\n"                                    \
          ".type __wrap_" #name ",%function\n"                            \
          "__wrap_" #name ":\n"                                           \
          FAULTD_TAIL_JUMP("faultd_old_" #name)                           \
          ".size __wrap_" #name ",.-__wrap_" #name "\n")

// libpthread and libdl moved into libc in 2.34 (new default versions, same functions);
// pthread_sigmask got GLIBC_2.32 the same way. On glibc before 2.34 these old versions live in
// libpthread.so.0 and libdl.so.2, which compat.gypi therefore links by file name (the dynamic
// linker matches a version by name in every loaded object, not only in the one named at link time). The list is compat.gypi's faultd_compat_forwarded.
// libgcc asks for the weak __pthread_key_create to tell whether threads are in use.
FAULTD_FORWARD_OLD(__pthread_key_create, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_attr_setguardsize, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_attr_setstacksize, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_create, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_detach, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_getspecific, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_join, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_key_create, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_key_delete, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_mutex_trylock, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_mutexattr_destroy, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_mutexattr_init, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_mutexattr_settype, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_once, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_rwlock_destroy, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_rwlock_init, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_rwlock_rdlock, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_rwlock_unlock, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_rwlock_wrlock, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_setname_np, FAULTD_V_2_12);
FAULTD_FORWARD_OLD(pthread_setspecific, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pthread_sigmask, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(dladdr, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(dlclose, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(dlerror, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(dlopen, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(dlsym, FAULTD_V_BASE);
// libm's new versions of 2.29 dropped the SVID error handling; the old ones are the same maths.
FAULTD_FORWARD_OLD(exp, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(log, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(log2, FAULTD_V_BASE);
FAULTD_FORWARD_OLD(pow, FAULTD_V_BASE);

// stat and friends became real libc functions in 2.33; before, <sys/stat.h> inlined them as calls
// of __xstat & co. with _STAT_VER (1 on x86_64, 0 on aarch64), which every glibc still exports.
#if defined(__x86_64__)
#define FAULTD_STAT_VER 1
#else
#define FAULTD_STAT_VER 0
#endif
int faultd_old_xstat(int ver, const char* path, struct stat* buf);
int faultd_old_lxstat(int ver, const char* path, struct stat* buf);
int faultd_old_fxstat(int ver, int fd, struct stat* buf);
int faultd_old_fxstatat(int ver, int dirfd, const char* path, struct stat* buf, int flags);
__asm__(".symver faultd_old_xstat,__xstat@" FAULTD_V_BASE);
__asm__(".symver faultd_old_lxstat,__lxstat@" FAULTD_V_BASE);
__asm__(".symver faultd_old_fxstat,__fxstat@" FAULTD_V_BASE);
__asm__(".symver faultd_old_fxstatat,__fxstatat@" FAULTD_V_2_4);

#define FAULTD_HIDDEN __attribute__((visibility("hidden")))
// On x86_64 and aarch64 (LP64) struct stat and struct stat64 are the same layout, and so are the 64 variants.
FAULTD_HIDDEN int __wrap_stat(const char* path, struct stat* buf) { return faultd_old_xstat(FAULTD_STAT_VER, path, buf); }
FAULTD_HIDDEN int __wrap_stat64(const char* path, struct stat* buf) { return faultd_old_xstat(FAULTD_STAT_VER, path, buf); }
FAULTD_HIDDEN int __wrap_lstat(const char* path, struct stat* buf) { return faultd_old_lxstat(FAULTD_STAT_VER, path, buf); }
FAULTD_HIDDEN int __wrap_lstat64(const char* path, struct stat* buf) { return faultd_old_lxstat(FAULTD_STAT_VER, path, buf); }
FAULTD_HIDDEN int __wrap_fstat(int fd, struct stat* buf) { return faultd_old_fxstat(FAULTD_STAT_VER, fd, buf); }
FAULTD_HIDDEN int __wrap_fstat64(int fd, struct stat* buf) { return faultd_old_fxstat(FAULTD_STAT_VER, fd, buf); }
FAULTD_HIDDEN int __wrap_fstatat(int dirfd, const char* path, struct stat* buf, int flags) {
  return faultd_old_fxstatat(FAULTD_STAT_VER, dirfd, path, buf, flags);
}
FAULTD_HIDDEN int __wrap_fstatat64(int dirfd, const char* path, struct stat* buf, int flags) {
  return faultd_old_fxstatat(FAULTD_STAT_VER, dirfd, path, buf, flags);
}

// libstdc++'s headers read glibc 2.32's __libc_single_threaded to skip atomics in single-threaded
// processes. Our own copy stays 0: "maybe threaded", always atomic, which is what glibc before
// 2.32 gave (libstdc++ then asked __gthread_active_p, true once libpthread is in the process).
FAULTD_HIDDEN char __libc_single_threaded = 0;

// libgcc 12's unwinder finds a frame's unwind tables with _dl_find_object (glibc 2.35) when it was
// built against a glibc that has it, and then never falls back. This is that lookup done the way
// libgcc did before, with dl_iterate_phdr (glibc 2.2.5): the loaded object whose PT_LOAD segment
// holds the pc, and its PT_GNU_EH_FRAME.
struct faultd_find_object_search {
  uintptr_t pc;
  struct dl_find_object* result;
  int found;
};

static int faultd_find_object_in(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  struct faultd_find_object_search* search = data;
  uintptr_t start = UINTPTR_MAX, end = 0;
  const void* eh_frame = NULL;
  int holds_pc = 0;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)* phdr = &info->dlpi_phdr[i];
    const uintptr_t from = info->dlpi_addr + phdr->p_vaddr;
    if (phdr->p_type == PT_LOAD) {
      if (search->pc >= from && search->pc < from + phdr->p_memsz) holds_pc = 1;
      if (from < start) start = from;
      if (from + phdr->p_memsz > end) end = from + phdr->p_memsz;
    } else if (phdr->p_type == PT_GNU_EH_FRAME) {
      eh_frame = (const void*)from;
    }
  }
  if (!holds_pc) return 0;
  memset(search->result, 0, sizeof *search->result);
  search->result->dlfo_map_start = (void*)start;
  search->result->dlfo_map_end = (void*)end;
  search->result->dlfo_eh_frame = (void*)eh_frame;
  search->found = 1;
  return 1;
}

FAULTD_HIDDEN int __wrap__dl_find_object(void* pc, struct dl_find_object* result) {
  struct faultd_find_object_search search = {(uintptr_t)pc, result, 0};
  dl_iterate_phdr(faultd_find_object_in, &search);
  return search.found ? 0 : -1;
}

// libstdc++ 12's std::random_device uses arc4random (glibc 2.36) where the build host had it:
// the same kernel randomness, from getrandom(2) (glibc 2.25). Like arc4random it cannot fail.
FAULTD_HIDDEN uint32_t __wrap_arc4random(void) {
  uint32_t value;
  size_t got = 0;
  while (got < sizeof value) {
    const ssize_t n = getrandom((char*)&value + got, sizeof value - got, 0);
    if (n > 0) {
      got += (size_t)n;
    } else if (n < 0 && errno != EINTR) {
      abort();
    }
  }
  return value;
}
