/* init.h — process start-up of the core (init.c), run by the first
 * allocation of any thread. */
#ifndef UMA_INIT_H
#define UMA_INIT_H
#include "base.h"

UMA_HIDDEN void uma_init(void);
UMA_HIDDEN extern _Atomic int uma_init_state;   /* 0 none, 1 running, 2 done */
static inline void uma_ensure_init(void) {
  if (uma_unlikely(atomic_load_explicit(&uma_init_state, memory_order_acquire) != 2)) uma_init();
}

#endif
