/* decay.h — the helper thread's purge pass (decay.c). */
#ifndef UMA_DECAY_H
#define UMA_DECAY_H
#include "base.h"

/* The helper thread's purge pass (decay.c). */
UMA_HIDDEN bool decay_enabled(void);
UMA_HIDDEN bool decay_wanted(void);
UMA_HIDDEN uint64_t decay_period_ms(void);
UMA_HIDDEN void decay_pass(void);
UMA_HIDDEN void decay_purge_all(void);   /* every free page and cached mapping back now */
UMA_HIDDEN void decay_fork_prepare(void);
UMA_HIDDEN void decay_fork_parent(void);
UMA_HIDDEN void decay_fork_child(void);
UMA_HIDDEN extern _Atomic uint64_t decay_passes;
UMA_HIDDEN extern _Atomic uint64_t page_decay_bytes;   /* returned from pages in use (page.c) */

#endif
