/* fork.h — the one list of fork handlers, in the one lock order. A module
 * registers its handlers when it starts (a module that never starts holds
 * no lock to take); fork_prepare takes the steps top to bottom, the parent
 * and the child release them bottom to top. */
#ifndef UMA_FORK_H
#define UMA_FORK_H
#include "base.h"

/* The lock order, written once. A GPU pool's lock is held across
 * cudaMalloc, which may call malloc, so it comes before the heap's; a
 * sampled or traced allocation takes its lock around the allocator's; the
 * features over large blocks run inside the large pool's lock. The last
 * steps take no lock: in the child they reset what a thread that is gone
 * was in the middle of, after every lock is new. */
typedef enum fork_step_e {
  FORK_DEVICE,       /* the GPU and pinned-host pools (device_pool.c) */
  FORK_TRACE,        /* the lifetime trace (trace.c) */
  FORK_SAMPLE,       /* sampled call sites (sample.c) */
  FORK_MMAP,         /* the program's mappings (mmap_track.c) */
  FORK_DECAY,        /* the helper's purge pass: it holds no heap's busy flag now */
  FORK_HEAPS,        /* the list of heaps (heap.c) */
  FORK_SEGMENTS,     /* the segment cache (segment.c) */
  FORK_LARGE,        /* the large pool and its cache (large.c) */
  FORK_PINNED,       /* transparent pinning (pinned.c) */
  FORK_COW,          /* copy-on-write blocks (cow.c) */
  FORK_PLAN,         /* the host planner (plan_host.c) */
  FORK_TLSF,         /* the coalescing pool (tlsf.c) */
  FORK_FRAG,         /* child only: a walk in progress (frag.c) */
  FORK_TIMELINE,     /* child only: a sample in progress (timeline.c) */
  FORK_TICKER,       /* child only: the helper thread is gone (ticker.c) */
  FORK_LIVE,         /* child only: a page of its own (live.c) */
  FORK_STEPS
} fork_step_t;

/* Any of the three may be NULL. Registering a step again replaces it. */
UMA_HIDDEN void fork_register(fork_step_t step, void (*prepare)(void), void (*parent)(void), void (*child)(void));
UMA_HIDDEN void fork_prepare(void);
UMA_HIDDEN void fork_parent(void);
UMA_HIDDEN void fork_child(void);

#endif
