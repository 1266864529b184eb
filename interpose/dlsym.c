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
#include "interpose.h"
#include "../core/symbols.h"
#include <dlfcn.h>
#include <string.h>

#if defined(__x86_64__)

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

/* Our wrapper for `name` or NULL (0: glibc answers). Sets uma_real_dlsym. */
void *dlsym_filter(void *handle, const char *name) {
  sym_resolve_dlsym();
  if (handle == RTLD_NEXT || handle == RTLD_DEFAULT || name == NULL || name[0] != 'c' || name[1] != 'u' ||
      !dev_enabled || !dev_dlsym_route || !driver_wraps(name))
    return NULL;
  void *(*real_dlsym)(void *, const char *) = (void *(*)(void *, const char *))uma_real_dlsym;
  void *real = real_dlsym(handle, name);   /* an explicit handle: the caller does not matter */
  return real ? driver_wrap(name, real) : NULL;
}

#endif
