/* dlsym.c — the route to the CUDA driver that bypasses every PLT: a library
 * dlopen()s libcuda.so.1 and asks dlsym for cuGetProcAddress (libcudart
 * does, and so CuPy and JAX through it), then resolves every driver call
 * through what that returns. For the few driver names we wrap, dlsym on an
 * explicit handle answers with our wrapper (cuda_driver.c); everything else
 * — and every lookup with RTLD_NEXT or RTLD_DEFAULT — goes to glibc's dlsym
 * by a tail jump, so glibc still sees the program's return address and
 * RTLD_NEXT keeps meaning "after the caller". The stub is assembly because
 * only a jump can keep that return address. x86-64 only; elsewhere dlsym is
 * not touched. */
#define _GNU_SOURCE   /* dlvsym */
#include "interpose.h"
#include <dlfcn.h>
#include <string.h>

#if defined(__x86_64__)

UMA_HIDDEN void *uma_real_dlsym;
UMA_HIDDEN void *dlsym_filter(void *handle, const char *name);

/* rdi, rsi survive the filter; the stack stays 16-byte aligned for it. */
__asm__(".text\n"
        ".globl dlsym\n"
        ".type dlsym, @function\n"
        "dlsym:\n"
        "  push %rdi\n"
        "  push %rsi\n"
        "  sub $8, %rsp\n"
        "  call dlsym_filter\n"
        "  add $8, %rsp\n"
        "  pop %rsi\n"
        "  pop %rdi\n"
        "  test %rax, %rax\n"
        "  jnz 1f\n"
        "  jmp *uma_real_dlsym(%rip)\n"
        "1:\n"
        "  ret\n"
        ".size dlsym, .-dlsym\n");

static void resolve_real(void) {
  if (uma_real_dlsym == NULL) {
    void *real = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (real == NULL) real = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    __atomic_store_n(&uma_real_dlsym, real, __ATOMIC_RELEASE);
  }
}

/* glibc's dlsym, for our own lookups: they must never get our wrappers
 * back (a wrapper that found itself as "the real function" would recurse). */
void *dlsym_raw(void *handle, const char *name) {
  resolve_real();
  return ((void *(*)(void *, const char *))uma_real_dlsym)(handle, name);
}

/* Our wrapper for `name` or NULL (0: glibc answers). Sets uma_real_dlsym. */
void *dlsym_filter(void *handle, const char *name) {
  resolve_real();
  if (handle == RTLD_NEXT || handle == RTLD_DEFAULT || name == NULL || name[0] != 'c' || name[1] != 'u' ||
      !dev_enabled || !dev_dlsym_route || !driver_wraps(name))
    return NULL;
  void *(*real_dlsym)(void *, const char *) = (void *(*)(void *, const char *))uma_real_dlsym;
  void *real = real_dlsym(handle, name);   /* an explicit handle: the caller does not matter */
  return real ? driver_wrap(name, real) : NULL;
}

#else
void *dlsym_raw(void *handle, const char *name) { return dlsym(handle, name); }
#endif

/* `name` as the next object after us defines it, else as a library of
 * `sonames` (NULL-terminated) that the program already loaded privately
 * (RTLD_LOCAL). Never loads anything. */
void *loaded_symbol(const char *name, const char *const *sonames) {
  void *f = dlsym_raw(RTLD_NEXT, name);
  for (; f == NULL && *sonames; sonames++) {
    void *h = dlopen(*sonames, RTLD_LAZY | RTLD_NOLOAD);
    if (h) {
      f = dlsym_raw(h, name);
      dlclose(h);
    }
  }
  return f;
}
