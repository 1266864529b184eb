/* decay.c — free memory goes back to the OS after the purge delay even when
 * the program stops allocating (a server idle after deleting most of its
 * data, a script that freed its arrays and sleeps). Owners purge on their
 * allocation slow paths; this pass, run by the helper thread (ticker.c)
 * every quarter of the delay, does the same for every heap whose busy flag
 * it gets at once (a heap whose owner is inside a slow path is left for the
 * next pass, and that owner purges it anyway), then the process-wide
 * caches: empty segments, the coalescing pool, large mappings.
 *
 * The thread starts lazily, at an allocation slow path, once the footprint
 * reached [purge] background_above: a small program never gets one. */
#include "base.h"
#include "options.h"
#include "decay.h"
#include "heap.h"
#include "large.h"
#include "os.h"
#include "segment.h"
#include "stats.h"
#include "tlsf.h"

_Atomic uint64_t decay_passes;   /* for the report and the tests */
static pthread_mutex_t decay_lock = PTHREAD_MUTEX_INITIALIZER;   /* one pass at a time; fork waits for it */

bool decay_enabled(void) {
  return uma_options[UMA_OPTION_PURGE_BACKGROUND] != 0 && uma_options[UMA_OPTION_PURGE_DELAY_MS] > 0;
}

/* The helper thread is worth starting (cheap: two loads and compares). */
bool decay_wanted(void) {
  return decay_enabled() &&
         atomic_load_explicit(&stats_committed, memory_order_relaxed) >= (uint64_t)uma_options[UMA_OPTION_PURGE_BACKGROUND_ABOVE];
}

uint64_t decay_period_ms(void) {
  uint64_t period = (uint64_t)uma_options[UMA_OPTION_PURGE_DELAY_MS] / 4;
  return period < 10 ? 10 : period;
}

/* force: everything free goes back now, whatever its age (degradation
 * under memory pressure, limits.c). */
static void pass(bool force) {
  pthread_mutex_lock(&decay_lock);
  uint64_t now = os_now_ms();
  for (uma_heap_t *h = atomic_load_explicit(&heap_all, memory_order_acquire); h; h = h->all_next) {
    if (!heap_try_enter(h)) continue;
    heap_decay(h, now, force);
    heap_leave(h);
  }
  seg_cache_purge(now, force);
  tlsf_purge(now, force);
  large_cache_purge(now, force);
  atomic_fetch_add_explicit(&decay_passes, 1, memory_order_relaxed);
  pthread_mutex_unlock(&decay_lock);
}
void decay_pass(void) { pass(false); }
void decay_purge_all(void) { pass(true); }

void decay_fork_prepare(void) { pthread_mutex_lock(&decay_lock); }
void decay_fork_parent(void) { pthread_mutex_unlock(&decay_lock); }
void decay_fork_child(void) { pthread_mutex_init(&decay_lock, NULL); }
