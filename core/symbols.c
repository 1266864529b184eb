/* symbols.c — the real functions behind names the preload defines too
 * (symbols.h). glibc's dlsym is found by version, so a lookup never comes
 * back to interpose/dlsym.c's wrapper (which would recurse). Used by the
 * entry points and by the CUDA layer's back ends. */
#define _GNU_SOURCE   /* dlvsym, RTLD_NEXT */
#include "symbols.h"
#include <dlfcn.h>

void *uma_real_dlsym;

void sym_resolve_dlsym(void) {
  if (uma_real_dlsym == NULL) {
    void *real = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (real == NULL) real = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
#if !defined(__x86_64__)
    if (real == NULL) real = (void *)dlsym;   /* interpose/dlsym.c wraps it on x86-64 only */
#endif
    __atomic_store_n(&uma_real_dlsym, real, __ATOMIC_RELEASE);
  }
}

void *dlsym_raw(void *handle, const char *name) {
  sym_resolve_dlsym();
  return ((void *(*)(void *, const char *))uma_real_dlsym)(handle, name);
}

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
