/* symbols.h — finding the real function behind a name the preload also
 * defines (symbols.c): the C library's dlsym, never the preload's wrapper
 * of it, and the next definition after us. */
#ifndef UMA_SYMBOLS_H
#define UMA_SYMBOLS_H
#include "base.h"

UMA_HIDDEN void *dlsym_raw(void *handle, const char *name);   /* glibc's, never our wrappers */
/* `name` as the next object after us defines it, else as a library of
 * `sonames` (NULL-terminated) the program already loaded privately
 * (RTLD_LOCAL). Never loads anything. */
UMA_HIDDEN void *loaded_symbol(const char *name, const char *const *sonames);
UMA_HIDDEN extern void *uma_real_dlsym;   /* glibc's dlsym, once sym_resolve_dlsym ran */
UMA_HIDDEN void sym_resolve_dlsym(void);

/* get_NAME(): the real NAME — the next definition after us, else the one of
 * an already loaded library of `sonames` (loaded_symbol) — found at first use. */
#define UMA_REAL(ret, name, params, sonames)                                     \
  static ret(*real_##name) params;                                               \
  static ret(*get_##name(void)) params {                                         \
    if (real_##name == NULL) real_##name = (ret(*) params)loaded_symbol(#name, sonames); \
    return real_##name;                                                          \
  }

#endif
