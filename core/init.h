/* init.h — options and process start-up (options.c, init.c). */
#ifndef UMA_INIT_H
#define UMA_INIT_H
#include "base.h"

UMA_HIDDEN extern int64_t uma_options[UMA_OPTION_COUNT];
UMA_HIDDEN void uma_init(void);
UMA_HIDDEN extern _Atomic int uma_init_state;   /* 0 none, 1 running, 2 done */
static inline void uma_ensure_init(void) {
  if (uma_unlikely(atomic_load_explicit(&uma_init_state, memory_order_acquire) != 2)) uma_init();
}
UMA_HIDDEN const char *uma_env(const char *name);   /* NULL for every name in a secure-execution process */
UMA_HIDDEN bool uma_secure_exec(void);

#endif
