/* interpose.h — what the entry-point files share: exporting a symbol, and
 * finding the real function behind one we interpose. */
#ifndef UMA_INTERPOSE_H
#define UMA_INTERPOSE_H
#include "../core/internal.h"

#define UMA_EXPORT __attribute__((visibility("default")))

/* get_NAME(): the real NAME — the next definition after us, else the one of
 * an already loaded library of `sonames` (loaded_symbol) — found at first use. */
#define UMA_REAL(ret, name, params, sonames)                                     \
  static ret(*real_##name) params;                                               \
  static ret(*get_##name(void)) params {                                         \
    if (real_##name == NULL) real_##name = (ret(*) params)loaded_symbol(#name, sonames); \
    return real_##name;                                                          \
  }

#endif
