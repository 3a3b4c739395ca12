// SPDX-License-Identifier: Apache-2.0
// Portable executables only (see glibc_compat.c): crt1.o of glibc 2.34+ calls
// __libc_start_main@GLIBC_2.34 with no init function, because that glibc runs the program's
// constructors itself. glibc 2.28 has only __libc_start_main@GLIBC_2.2.5 (2.17 on aarch64), which runs nothing but
// the init function it is given (that used to be __libc_csu_init from libc_nonshared.a). So the
// wrapper passes one that does what __libc_csu_init did; a newer glibc's old-version entry point
// calls it the same way, so the constructors run exactly once on every glibc.
#include <features.h>

#if !defined(__GLIBC__) || !(defined(__x86_64__) || defined(__aarch64__))
#error "native/compat/start_main.c supports x86_64 and aarch64 glibc only"
#endif

#include <stddef.h>

typedef int (*faultd_main_fn)(int, char**, char**);
typedef void (*faultd_init_fn)(int, char**, char**);

int faultd_old_libc_start_main(faultd_main_fn main, int argc, char** argv, void (*init)(void),
                               void (*fini)(void), void (*rtld_fini)(void), void* stack_end);
#if defined(__x86_64__)
__asm__(".symver faultd_old_libc_start_main,__libc_start_main@GLIBC_2.2.5");
#else
__asm__(".symver faultd_old_libc_start_main,__libc_start_main@GLIBC_2.17");
#endif

// Provided by the linker (the bounds of .init_array) and by crti.o (_init).
extern faultd_init_fn __init_array_start[] __attribute__((visibility("hidden")));
extern faultd_init_fn __init_array_end[] __attribute__((visibility("hidden")));
extern void _init(void);

static void faultd_csu_init(int argc, char** argv, char** envp) {
  _init();
  const size_t count = (size_t)(__init_array_end - __init_array_start);
  for (size_t i = 0; i < count; i++) __init_array_start[i](argc, argv, envp);
}

__attribute__((visibility("hidden"))) int __wrap___libc_start_main(faultd_main_fn main, int argc, char** argv,
                                                                   void (*init)(void), void (*fini)(void),
                                                                   void (*rtld_fini)(void), void* stack_end) {
  // The old entry point calls init(argc, argv, envp); the cast matches what crt1.o used to pass.
  void (*csu_init)(void) = init != NULL ? init : (void (*)(void))faultd_csu_init;
  return faultd_old_libc_start_main(main, argc, argv, csu_init, fini, rtld_fini, stack_end);
}
