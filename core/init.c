/* init.c — process start-up of the core, run by the first allocation of any
 * thread (the loader and libc allocate before constructors run): the
 * free-list secret, options, the thread-exit key, and
 * the fork handlers. Nothing here allocates before the state is "done". */
#include "base.h"
#include "fork.h"
#include "decay.h"
#include "heap.h"
#include "large.h"
#include "segment.h"
#include "tlsf.h"
#include "init.h"
#include "layout.h"
#include "numa.h"
#include "route.h"
#include <sys/auxv.h>
#include <sched.h>

_Atomic int uma_init_state;
uintptr_t uma_secret;

UMA_HIDDEN void heap_init(void);

static uintptr_t secret_from_kernel(void) {
  uintptr_t s = (uintptr_t)&uma_secret * 0x9E3779B97F4A7C15ULL;
  const uint8_t *rnd = (const uint8_t *)getauxval(AT_RANDOM);   /* 16 random bytes from the kernel */
  if (rnd)
    for (int i = 0; i < 8; i++) s ^= (uintptr_t)rnd[i + 8] << (8 * i);
  /* The top 16 bits are the seals' tag (layout.h): never 0 (a zero cookie
   * marks a block handed out) nor 0xffff (common in live data). */
  uintptr_t tag = s >> 48;
  if (tag == 0 || tag == 0xffff) s ^= (uintptr_t)0x5a5a << 48;
  return s;
}

void uma_init(void) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&uma_init_state, &expected, 1)) {
    while (atomic_load_explicit(&uma_init_state, memory_order_acquire) != 2) sched_yield();
    return;
  }
  uma_secret = secret_from_kernel();
  numa_init();
  heap_init();
  route_install(NULL, 0);   /* no rules until the policy layer installs them */
  atomic_store_explicit(&uma_init_state, 2, memory_order_release);
  /* The allocator's own locks; the features register theirs as they start. */
  fork_register(FORK_DECAY, decay_fork_prepare, decay_fork_parent, decay_fork_child);
  fork_register(FORK_HEAPS, heap_fork_prepare, heap_fork_parent, heap_fork_child);
  fork_register(FORK_SEGMENTS, seg_fork_prepare, seg_fork_parent, seg_fork_child);
  fork_register(FORK_LARGE, large_fork_prepare, large_fork_parent, large_fork_child);
  fork_register(FORK_TLSF, tlsf_fork_prepare, tlsf_fork_parent, tlsf_fork_child);
  /* May allocate (glibc keeps the handlers in a growing array): after "done". */
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}
