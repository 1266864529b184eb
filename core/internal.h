/* internal.h — the core's shared types, constants and small helpers.
 * Every core/ file includes it; nothing outside core/ and interpose/ may.
 * Layout and invariants are described in docs/ARCHITECTURE.md. */
#ifndef UMA_INTERNAL_H
#define UMA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <pthread.h>
#include "uma.h"

#define uma_likely(x)   __builtin_expect(!!(x), 1)
#define uma_unlikely(x) __builtin_expect(!!(x), 0)
#define UMA_HIDDEN      __attribute__((visibility("hidden")))
#define UMA_NOINLINE    __attribute__((noinline))
#define UMA_COLD        __attribute__((cold, noinline))
#define UMA_TLS         __thread __attribute__((tls_model("initial-exec")))
/* Static tables of a page or more: page-aligned, so that the link's
 * --sort-section=alignment (Makefile) puts them apart from the small
 * variables, and a table a process does not use costs it no resident page. */
#define UMA_TABLE       __attribute__((aligned(4096)))

#ifdef UMA_DEBUG
#define UMA_ASSERT(c) do { if (!(c)) uma_fatal("assertion failed: " #c, NULL); } while (0)
#else
#define UMA_ASSERT(c) ((void)0)
#endif

/* ---- geometry ---------------------------------------------------------- */
#define UMA_OS_PAGE          4096UL
#define UMA_SEG_SHIFT        22                      /* 4 MiB segments */
#define UMA_SEG_SIZE         (1UL << UMA_SEG_SHIFT)
#define UMA_SEG_MASK         (UMA_SEG_SIZE - 1)
#define UMA_SEG_HEADER_SIZE  (16 * 1024UL)           /* page 0's blocks start here */
#define UMA_SMALL_PAGE_SHIFT 16                      /* 64 KiB pages, 64 per segment */
#define UMA_MEDIUM_PAGE_SHIFT 19                     /* 512 KiB pages, 8 per segment */
#define UMA_MAX_PAGES        (UMA_SEG_SIZE >> UMA_SMALL_PAGE_SHIFT)

#define UMA_ALIGN_MIN        16UL                    /* every block is 16-byte aligned */
#define UMA_BLOCK_MAX        (512 * 1024UL)          /* largest class; above is "large" */
#define UMA_CLASS_COUNT      112                     /* classes 0..111: 16 B .. 512 KiB */
#define UMA_SMALL_CLASSES    64                      /* 0..63 (≤ 8 KiB) on 64 KiB pages */
#define UMA_MEDIUM_CLASSES   88                      /* 64..87 (≤ 64 KiB) on 512 KiB pages; the rest: the coalescing pool */

/* ---- size classes (size_class.c) --------------------------------------- */
/* 16-byte steps up to 128 B, then 8 classes per doubling (16 from 4 to
 * 8 KiB; size_class.c says why). Up to 64 KiB a class is one table load. */
#define SC_SMALL_MAX 1024                     /* sizes up to this: sc_small_table */
#define SC_SMALL_ENTRIES (SC_SMALL_MAX / 16 + 1)
static inline size_t sc_small_index(size_t size) { return (size + 15) >> 4; }
UMA_HIDDEN extern const uint8_t sc_small_table[SC_SMALL_ENTRIES];
UMA_HIDDEN extern const uint8_t sc_mid_table[1025];
static inline unsigned sc_of(size_t size) {
  if (uma_likely(size <= SC_SMALL_MAX)) return sc_small_table[sc_small_index(size)];   /* most requests */
  if (size <= 65536) return sc_mid_table[(size + 63) >> 6];
  size_t m = size - 1;
  unsigned b = 63u - (unsigned)__builtin_clzl(m);
  return 88u + (b - 16u) * 8u + (unsigned)((m >> (b - 3u)) & 7u);
}
UMA_HIDDEN extern const uint32_t sc_size_table[UMA_CLASS_COUNT];
static inline size_t sc_size(unsigned cls) { return sc_size_table[cls]; }

/* ---- blocks, pages, segments ------------------------------------------- */
/* A free block on a page's or a thread cache's list. The cookie seals the
 * link: block ^ next ^ uma_secret while free, 0 once handed out. Every pop
 * checks it before following the link, so an 8-byte write after free or
 * an overflow into a free neighbour is diagnosed (block_corrupt), never
 * followed to an address of someone's choosing (glibc's safe-linking and
 * mimalloc's encoded free lists guard the same link). Every write of a
 * free block's link goes through block_link.
 *
 * The secret's top 16 bits are a tag, neither 0 nor 0xffff, and user-space
 * pointers are below 2^48, so every seal carries the tag: free's
 * double-free test compares the cookie's tag first and reads the link only
 * when it matches (a live block almost never). Reading the link at every
 * free cost 2× on a pair loop that writes a byte of the block: a load over
 * a narrower store still in flight waits for it (store forwarding fails). */
typedef struct uma_block_s {
  struct uma_block_s *next;
  uintptr_t cookie;
} uma_block_t;

UMA_HIDDEN extern uintptr_t uma_secret;
UMA_HIDDEN UMA_COLD _Noreturn void block_corrupt(const uma_block_t *b);
static inline uintptr_t block_seal(const uma_block_t *b, const uma_block_t *next) {
  return (uintptr_t)b ^ (uintptr_t)next ^ uma_secret;   /* the secret's tag in the top 16 bits: never 0 */
}
static inline void block_link(uma_block_t *b, uma_block_t *next) {
  b->next = next;
  b->cookie = block_seal(b, next);
}
static inline bool block_is_free(const uma_block_t *b) {
  uintptr_t cookie = b->cookie;
  if (uma_likely((cookie ^ uma_secret) >> 48 != 0)) return false;   /* not the tag: live data */
  return cookie == block_seal(b, b->next);
}
/* The link of a free block about to be popped or walked, checked. */
static inline uma_block_t *block_next(const uma_block_t *b) {
  uma_block_t *next = b->next;
  if (uma_unlikely(b->cookie != block_seal(b, next))) block_corrupt(b);
  return next;
}

/* Low bits of page->thread_free: has the owner been told about this page? */
enum { PAGE_TF_NORMAL = 0, PAGE_TF_FULL = 1, PAGE_TF_NOTIFIED = 2, PAGE_TF_BITS = 3 };

/* A page serves one size class for one heap.
 * Invariants (owner thread only, except thread_free):
 *  - block_size, neg_start and div_magic are 0  ⇔  the page is not in use (a fresh
 *    segment's descriptors are all zero: nothing writes them until used);
 *  - used = blocks handed out − blocks returned to `free` (remote frees count
 *    as used until the owner collects them from thread_free);
 *  - in_full ⇔ the page is out of its class queue; its thread_free state is
 *    FULL (a remote free must tell the heap) or NOTIFIED (it is on the heap's
 *    delayed stack and will be put back when the owner drains that stack);
 *  - a page is retired only in state NORMAL, so it is never on a delayed
 *    stack when its segment hands it to another class or heap. */
typedef struct __attribute__((aligned(128))) uma_page_s {
  /* The first 40 bytes are what malloc and free touch, inside one cache
   * line; a 128-byte stride makes finding the descriptor a shift. */
  uma_block_t *free;                 /* owner's free list, popped by malloc */
  uint32_t used;
  uint32_t block_size;
  uintptr_t neg_start;               /* −(uintptr_t)first block; 0 when not in use */
  uint64_t div_magic;                /* page_div_magic(block_size); 0 when not in use */
  uint8_t class_idx;
  uint8_t in_full;
  _Atomic uintptr_t thread_free;     /* remote frees (pointer | PAGE_TF_* bits) */
  uint8_t *bump;                     /* never-used tail [bump, end) */
  uint8_t *end;
  struct uma_page_s *next, *prev;    /* class queue links */
  struct uma_page_s *delayed_next;   /* heap's delayed stack link */
  /* Giving back free OS pages inside the page while it stays in use
   * (page_decay): the OS pages below `bump` returned to the OS, and how
   * long `used` has not changed. */
  uint64_t purged[2];                /* bit j: OS page j of the page (4 KiB) */
  uint64_t idle_since_ms;
  uint32_t seen_used;
  uint8_t decay_tried;               /* looked at since `used` last changed */
} uma_page_t;

/* BIG: a segment of the coalescing pool (tlsf.c). free() tests kind >= BIG once for both. */
enum { SEG_KIND_SMALL = 1, SEG_KIND_MEDIUM = 2, SEG_KIND_BIG = 3, SEG_KIND_LARGE = 4 };

struct uma_heap_s;

/* A 4 MiB-aligned segment of small or medium pages, owned by one heap.
 * The owner is found from any block by masking: seg_of(p). */
typedef struct uma_segment_s {
  uint8_t kind;                      /* SEG_KIND_SMALL, _MEDIUM or _BIG */
  uint8_t pad_;
  uint8_t node;                      /* the NUMA node its memory was placed on */
  uint8_t pad2_;
  uint16_t page_count;
  uint32_t used_pages;
  uint64_t free_mask;                /* pages not in use */
  uint64_t dirty_mask;               /* free pages that may still be resident */
  uint64_t dirty_stamp_ms;           /* when the newest dirty page was retired */
  struct uma_segment_s *next, *prev; /* heap's list of segments with free pages */
  /* What free's fast path reads (the owner heap and the page shift), 0x50 into the
   * segment: not at a multiple of 64, where page-start blocks (and every
   * block of a class that is a multiple of 64) lie modulo 4 KiB. A load at
   * the same low 12 address bits as the block just written waits for that
   * store (4K aliasing). */
  uint64_t unused_[3];
  struct uma_heap_s *heap;           /* owner; constant while any page is in use */
  uint8_t page_shift;                /* read by free's fast path once the ownership map says "paged" */
  uma_page_t pages[UMA_MAX_PAGES] __attribute__((aligned(128)));
} uma_segment_t;

/* A large block: one whole mapping, 4 MiB-aligned, this header at its start
 * and the user's block at base + user_offset. */
typedef struct uma_large_s {
  uint8_t kind;                      /* SEG_KIND_LARGE */
  uint8_t is_free;                   /* in the large cache */
  uint8_t route;                     /* the rule that placed it (route_table index) */
  uint8_t hugepages;                 /* the UMA_HUGEPAGES_* advice the mapping carries */
  uint8_t node;                      /* local placement: the node it was placed on */
  uint8_t pinned;                    /* PIN_*: registered with CUDA for DMA (pinned.c) */
  uint8_t cow;                       /* backed by the memory file, aliasable (cow.c) */
  uint16_t cow_extents;              /* cow: how many extents follow the header (cow.c) */
  size_t map_size;
  size_t user_offset;
  struct uma_large_s *pin_next;      /* on pinned.c's list of blocks waiting to be registered or unregistered */
  struct uma_large_s *cow_next, *cow_prev;   /* cow: the live aliasable blocks (for fork) */
  uint64_t plan_seq;                 /* the host planner's number for it, plus one (0: not observed) */
} uma_large_t;

/* Any pointer the core handed out lies in the 4 MiB slot that starts with its
 * header; a block that itself starts a slot (alignment ≥ 4 MiB) keeps its
 * header one slot below, hence p − 1. */
static inline void *seg_of(const void *p) {
  return (void *)(((uintptr_t)p - 1) & ~UMA_SEG_MASK);
}

/* ---- the allocation API (alloc.c): uma_* are public aliases of these ---- */
/* `ra` is the program's return address (rules may match the calling library). */
UMA_HIDDEN void *alloc_malloc(size_t size, const void *ra);
UMA_HIDDEN void *alloc_calloc(size_t count, size_t size, const void *ra);
UMA_HIDDEN void *alloc_realloc(void *p, size_t size, const void *ra);
UMA_HIDDEN void *alloc_aligned(size_t alignment, size_t size, const void *ra);
UMA_HIDDEN void alloc_free(void *p);
UMA_HIDDEN size_t alloc_usable_size(const void *p);
UMA_HIDDEN bool alloc_owns(const void *p);
UMA_HIDDEN bool alloc_purge_for_retry(size_t size);
/* Another allocator whose blocks may reach our free (the preload sets it
 * to glibc's: interpose/libc_heap.c): asked only about pointers the core
 * does not own, before it diagnoses them. NULL in libumacore.a. */
typedef struct uma_foreign_heap_s {
  bool (*owns)(const void *p);
  void (*free)(void *p);
  void *(*realloc)(void *p, size_t size);
  size_t (*usable)(const void *p);
} uma_foreign_heap_t;
UMA_HIDDEN extern const uma_foreign_heap_t *uma_foreign_heap;

/* ---- heaps (heap.c) ---------------------------------------------------- */
typedef struct uma_page_queue_s { uma_page_t *first, *last; } uma_page_queue_t;

/* Per class counters live in the class's cache line (uma_tcache_t). */
typedef struct uma_heap_stats_s {
  uint64_t large_requested;
  uint64_t large_allocs, large_bytes, large_frees, large_freed_bytes, large_remaps;
} uma_heap_stats_t;

/* A thread's heap. Touched only by the thread that owns it, except `delayed`
 * (remote threads push pages) and the stats (read racily for reports).
 * Heaps are never unmapped: an exited thread's heap waits for adoption. */
/* Per class, one cache line: everything malloc's and free's fast paths
 * touch for it. The thread cache is the most recently freed blocks of a
 * class up to 64 KiB, reused first (LIFO, so the next malloc gets a block
 * still in cache): a list threaded through the blocks, as in tcmalloc's
 * thread cache, so a pop is two loads. It holds at most `max` blocks
 * (UMA_TCACHE_BYTES worth, 1–16; 0 for the classes above 64 KiB); `room`
 * = max − blocks held. Its blocks stay counted as used by their pages until
 * flushed back (heap_flush_tcache). The counters are the class's
 * statistics: written by the owner only, read racily by reports. */
#define UMA_TCACHE_MAX_SIZE (64 * 1024UL)         /* every class on pages */
#define UMA_TCACHE_SLOTS   16                     /* the most blocks of one class */
#define UMA_TCACHE_BYTES   (32 * 1024UL)          /* per class, above 2 KiB blocks */
typedef struct __attribute__((aligned(64))) uma_tcache_s {
  /* The first 16 bytes hold nothing the fast paths touch: blocks at a
   * multiple of 64 (page starts, most classes) share those low address bits
   * modulo 4 KiB with a line's start, and a load there would wait on the
   * block just written (4K aliasing; see heap_new_locked). */
  uint32_t max;
  int32_t sample_armed;              /* sample_left when last armed (sample.c) */
  uint64_t tick_allocs;              /* allocs at the last purge tick */
  uma_block_t *head;
  uint32_t room;
  /* Bytes until the next sampled call site. malloc's fast path counts its
   * requests here only (one subtract): the class's requested bytes are
   * `requested` + (sample_armed − sample_left), tcache_requested(). */
  int32_t sample_left;
  uint64_t allocs, requested, frees;
  uma_page_t *page;                  /* the class's queue head, or &page_empty */
} uma_tcache_t;

/* The owner moves the countdown outside the fast path (readers sum it). */
static inline void tcache_sample_give_back(uma_tcache_t *tc, size_t size) {
  __atomic_store_n(&tc->sample_left, __atomic_load_n(&tc->sample_left, __ATOMIC_RELAXED) + (int32_t)size, __ATOMIC_RELAXED);
}
static inline uint64_t tcache_requested(const uma_tcache_t *tc) {
  int64_t armed = __atomic_load_n(&tc->sample_armed, __ATOMIC_RELAXED);
  int64_t left = __atomic_load_n(&tc->sample_left, __ATOMIC_RELAXED);
  return __atomic_load_n(&tc->requested, __ATOMIC_RELAXED) + (uint64_t)(armed - left);
}

/* Every per-class word is in the class's line: the heap is 9.6 KB, three
 * pages with HEAP_OFFSET (four when the current pages and the purge marks
 * were arrays of their own), resident in every thread. */
typedef struct uma_heap_s {
  uma_tcache_t tcache[UMA_CLASS_COUNT];      /* per class: thread cache, current page, counters */
  /* small[sc_small_index(size)] = &tcache[sc_of(size)] for size ≤ 1 KiB:
   * malloc goes from the size to the class's line in one load (sc_small_table's
   * byte, a shift and an add before). Read only after heap_new_locked. */
  uma_tcache_t *small[SC_SMALL_ENTRIES];
  uma_page_queue_t queue[UMA_CLASS_COUNT];
  _Atomic(uma_page_t *) delayed;             /* pages that left the full state */
  uma_segment_t *segs_with_free[SEG_KIND_LARGE];   /* indexed by SEG_KIND_* */
  uint64_t purge_due_ms;
  /* Held by whoever changes the heap's pages and segments outside the fast
   * paths: the owner's slow paths, and the helper thread's decay pass
   * (decay.c), which only ever tries it. See heap_enter. */
  _Atomic uint32_t busy;
  uint64_t timeline_mark;                    /* requested bytes already counted by the timeline */
  int64_t sample_left;                       /* bytes until a sample, for requests off malloc's fast path */
  uma_heap_stats_t stats;
  struct uma_heap_s *all_next;
  struct uma_heap_s *abandoned_next;
  bool abandoned;
  uint8_t node;                              /* its memory's NUMA node (0 on one node) */
  uint8_t away;                              /* slow paths in a row run on another node */
} uma_heap_t;

UMA_HIDDEN extern UMA_TLS uma_heap_t *uma_tls_heap;
UMA_HIDDEN extern uma_page_t page_empty;
UMA_HIDDEN extern _Atomic(uma_heap_t *) heap_all;

UMA_HIDDEN uma_heap_t *heap_get_slow(void);
UMA_HIDDEN void heap_purge_tick(uma_heap_t *heap, bool force);
UMA_HIDDEN void heap_purge_tick_locked(uma_heap_t *heap, bool force);
UMA_HIDDEN void heap_decay(uma_heap_t *heap, uint64_t now_ms, bool force);
UMA_HIDDEN void heap_collect_all(uma_heap_t *heap, bool force);
UMA_HIDDEN bool heap_collect_own_if_free(uma_heap_t *heap);

/* A heap's pages and segments change outside the fast paths only with its
 * `busy` flag held: the owner holds it in every slow path that touches a
 * page other than a class's current one or a segment (refills, frees onto
 * pages, collects, purge ticks); the helper thread's decay pass only tries
 * it (heap_try_enter), so the owner never waits longer than one heap's
 * decay (a few madvise calls). The fast paths take nothing: they touch the
 * thread cache and each class's current page, which the decay pass leaves
 * alone. */
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

UMA_HIDDEN void heap_enter_wait(uma_heap_t *heap);
static inline void heap_enter(uma_heap_t *heap) {
  if (uma_unlikely(atomic_exchange_explicit(&heap->busy, 1, memory_order_acquire))) heap_enter_wait(heap);
}
static inline bool heap_try_enter(uma_heap_t *heap) {
  return atomic_load_explicit(&heap->busy, memory_order_relaxed) == 0 &&
         !atomic_exchange_explicit(&heap->busy, 1, memory_order_acquire);
}
static inline void heap_leave(uma_heap_t *heap) { atomic_store_explicit(&heap->busy, 0, memory_order_release); }
UMA_HIDDEN void heap_drain_delayed(uma_heap_t *heap);
UMA_HIDDEN void heap_flush_tcache(uma_heap_t *heap);
UMA_HIDDEN void heap_flush_tcache_class(uma_heap_t *heap, unsigned cls);
UMA_HIDDEN uma_heap_t *heap_borrow(void);
UMA_HIDDEN void heap_return_borrowed(uma_heap_t *heap);
UMA_HIDDEN void heap_fork_prepare(void);
UMA_HIDDEN void heap_fork_parent(void);
UMA_HIDDEN void heap_fork_child(void);
UMA_HIDDEN void heap_collect_abandoned(bool force);
UMA_HIDDEN uma_heap_t *heap_check_home(uma_heap_t *heap);

/* ---- page queues and pages (page.c) ------------------------------------ */
UMA_HIDDEN uma_page_t *page_malloc_slow(uma_heap_t *heap, unsigned cls);
UMA_HIDDEN void page_free_slow(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_free_remote(uma_segment_t *seg, uma_page_t *page, uma_block_t *b);
UMA_HIDDEN void page_collect(uma_page_t *page);
UMA_HIDDEN void page_queue_remove(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_queue_push_front(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_retire(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_retire_if_empty(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_decay(uma_page_t *page, uint64_t now_ms, uint64_t delay_ms, bool force);
UMA_HIDDEN unsigned page_purged_count(const uma_page_t *page);

/* ---- segments (segment.c) ---------------------------------------------- */
UMA_HIDDEN uma_page_t *seg_page_alloc(uma_heap_t *heap, unsigned cls);
UMA_HIDDEN void seg_page_free(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void seg_purge(uma_segment_t *seg, uint64_t now_ms, uint64_t delay_ms);
UMA_HIDDEN void seg_cache_purge(uint64_t now_ms, bool force);
UMA_HIDDEN void seg_fork_prepare(void);
UMA_HIDDEN void seg_fork_parent(void);
UMA_HIDDEN void seg_fork_child(void);
static inline uma_page_t *seg_page_of(uma_segment_t *seg, const void *p) {
  return &seg->pages[((uintptr_t)p - (uintptr_t)seg) >> seg->page_shift];
}
static inline uint8_t *page_start(const uma_page_t *page) { return (uint8_t *)(0 - page->neg_start); }
/* Is p a block start of `page` (of p's own segment)? off = p − first block
 * is below 4 MiB (a pointer into the segment header, below page 0's first
 * block, wraps around) and a multiple of the block size: off × ⌈2⁶⁴/size⌉
 * wraps below ⌈2⁶⁴/size⌉ exactly then (Lemire, Kaser & Kurz, "Faster
 * remainder by direct computation", 2019: exact for off < 2³², sizes
 * < 2³²). Where the page is not in use, div_magic is 0 and nothing passes,
 * so a never-written descriptor already says "not in use". An add, a
 * multiply, two compares: free(p + 16) of a live block is diagnosed, never
 * put on a free list (it would hand out memory overlapping the block). */
static inline bool page_is_block_start(const uma_page_t *page, const void *p) {
  uint64_t off = (uintptr_t)p + page->neg_start;
  return off < UMA_SEG_SIZE && off * page->div_magic < page->div_magic;
}
static inline uint64_t page_div_magic(size_t block_size) { return UINT64_MAX / block_size + 1; }

/* ---- large pool (large.c) ---------------------------------------------- */
UMA_HIDDEN void *large_alloc(uma_heap_t *heap, size_t size, size_t align, bool zero, unsigned route);
UMA_HIDDEN void large_free(uma_heap_t *heap, uma_large_t *lg, void *p);
UMA_HIDDEN void *large_realloc(uma_heap_t *heap, uma_large_t *lg, void *p, size_t size);
UMA_HIDDEN size_t large_usable(const uma_large_t *lg);
UMA_HIDDEN bool large_was_retired(const void *p);   /* one of the last 64 blocks whose mapping went back */
UMA_HIDDEN void alloc_count_large_in_place(size_t old_bytes, size_t new_request, size_t new_bytes);
UMA_HIDDEN void large_cache_purge(uint64_t now_ms, bool force);
UMA_HIDDEN void large_fork_prepare(void);
UMA_HIDDEN void large_fork_parent(void);
UMA_HIDDEN void large_fork_child(void);

/* ---- the coalescing pool, 64 KiB < size ≤ 512 KiB (tlsf.c) ------------ */
/* Segments of kind SEG_KIND_BIG. Counters are written under the pool's lock. */
typedef struct tlsf_counters_s {
  uint64_t allocs, bytes, requested, frees, freed_bytes, segments;
} tlsf_counters_t;
#define TLSF_GRANULARITY_MAX 4
typedef struct tlsf_granularity_s { size_t upto, step; } tlsf_granularity_t;   /* upto 0: unused */
UMA_HIDDEN extern tlsf_granularity_t tlsf_granularity[TLSF_GRANULARITY_MAX];
UMA_HIDDEN extern bool tlsf_first_fit;
UMA_HIDDEN extern unsigned tlsf_first_class;   /* classes from here on: the coalescing pool */
UMA_HIDDEN void tlsf_set_above(size_t above);
UMA_HIDDEN void *tlsf_alloc(size_t size, bool zero, int node);
UMA_HIDDEN void tlsf_counters_sum(tlsf_counters_t *out);
UMA_HIDDEN void tlsf_free(void *seg, void *p, const char *func);
UMA_HIDDEN size_t tlsf_usable(void *seg, const void *p, const char *func);
UMA_HIDDEN bool tlsf_owns(void *seg, const void *p);
UMA_HIDDEN void tlsf_purge(uint64_t now_ms, bool force);
UMA_HIDDEN void tlsf_fork_prepare(void);
UMA_HIDDEN void tlsf_fork_parent(void);
UMA_HIDDEN void tlsf_fork_child(void);

/* ---- routing (route.c): rules compiled by policy/ into plain data ------- */
#define UMA_ROUTE_MAX 255
#define DEV_MAX_GPUS 16
enum { UMA_SOURCE_MALLOC = 1, UMA_SOURCE_MMAP = 2, UMA_SOURCE_CUDA_DEVICE = 4, UMA_SOURCE_CUDA_HOST = 8 };
enum { UMA_POOL_AUTO = 0, UMA_POOL_LARGE = 1 };
enum { UMA_HUGEPAGES_MADVISE = 0, UMA_HUGEPAGES_NEVER = 1, UMA_HUGEPAGES_ALWAYS = 2 };
enum { UMA_PINNED_OFF = 0, UMA_PINNED_LAZY = 1, UMA_PINNED_EAGER = 2 };
enum { UMA_ALIAS_MREMAP = 0, UMA_ALIAS_OFF = 1, UMA_ALIAS_COW = 2 };

/* One rule: what it matches, what it does, and its large-block counters.
 * Sizes and alignments are inclusive ranges. */
typedef struct uma_route_s {
  char name[48];
  char caller[64];               /* glob on the caller's library; "" = any */
  char numa[64];                 /* placement text, applied by the NUMA layer */
  uint32_t sources;              /* UMA_SOURCE_* mask */
  size_t size_lo, size_hi;
  size_t align_lo, align_hi;
  uint8_t pool, hugepages, pinned, alias;
  bool track;                    /* shown by name in the report */
  int64_t purge_delay_ms;        /* -1: the global delay */
  int line;                      /* where the rule starts in its file */
  _Atomic uint64_t large_allocs, large_bytes, large_frees, large_freed_bytes;
  _Atomic uint64_t mmap_count, mmap_bytes, mmap_peak;   /* source mmap: mappings, bytes now, peak */
} uma_route_t;

UMA_HIDDEN extern uma_route_t route_table[UMA_ROUTE_MAX + 1];
UMA_HIDDEN extern int route_count;
UMA_HIDDEN extern uint8_t route_of_class[UMA_CLASS_COUNT];
UMA_HIDDEN extern bool route_class_to_large[UMA_CLASS_COUNT];
UMA_HIDDEN unsigned route_match(unsigned source, size_t size, size_t align, const void *ra);
UMA_HIDDEN unsigned route_for(size_t size, size_t align, const void *ra);
UMA_HIDDEN void route_install(const uma_route_t *rules, int count);
UMA_HIDDEN bool route_glob_match(const char *pattern, const char *text);
UMA_HIDDEN bool route_rule_matches(const uma_route_t *r, unsigned source, size_t size, size_t align, const char *caller);
UMA_HIDDEN void route_count_alloc(unsigned r, size_t bytes);
UMA_HIDDEN void route_count_free(unsigned r, size_t bytes);

/* ---- ownership map (owner_map.c) --------------------------------------- */
/* One byte per 4 MiB slot of the address space the kernel hands out without
 * an address hint (ours never give one): what starts there. x86-64 stays
 * below 2^47 even with 5-level paging; arm64 maps up to 2^48. */
#if defined(__x86_64__)
#define OWNER_MAP_VA_BITS 47
#else
#define OWNER_MAP_VA_BITS 48
#endif
#define OWNER_MAP_SLOTS (1UL << (OWNER_MAP_VA_BITS - UMA_SEG_SHIFT))
/* A paged segment's byte is its page shift, so free finds the page without
 * reading the segment: any value ≥ OWNER_PAGES_MIN is one. */
enum { OWNER_NONE = 0, OWNER_MAPPING = 1 /* coalescing pool or large block */,
       OWNER_PAGES_MIN = UMA_SMALL_PAGE_SHIFT /* small (16) or medium (19) segment */ };
/* Two bits a slot, in two bitmaps (4 MiB each on x86-64; a byte a slot
 * was 32 MiB of address space, and programs under a small `ulimit -v`
 * failed): `ours` — a segment or mapping of ours starts there; `paged` —
 * it is a small or medium segment, whose blocks free's fast path serves.
 * The fast path tests one bit and takes the page shift from the segment
 * (page_shift, on the line of seg->heap it reads anyway; the load can
 * start with the bitmap's, so the chain is no longer). Measured: a
 * two-level map of bytes cost 20 % on the pair loop (its second load waits
 * on the first), a 2-bit code 5–13 % (a shift by a variable count). */
UMA_HIDDEN extern _Atomic uint8_t owner_ours[OWNER_MAP_SLOTS / 8], owner_paged[OWNER_MAP_SLOTS / 8];
UMA_HIDDEN extern _Atomic uintptr_t owner_map_lo, owner_map_hi;
UMA_HIDDEN extern _Atomic int owner_map_scanners;
UMA_HIDDEN bool owner_map_set(const void *slot_base, unsigned owner);   /* OWNER_* or a page shift */
UMA_HIDDEN void owner_map_release(const void *slot_base);   /* before unmapping or moving it */
static inline bool owner_bit(_Atomic uint8_t *map, uintptr_t slot, memory_order order) {
  return (atomic_load_explicit(&map[slot >> 3], order) >> (slot & 7)) & 1;
}
/* OWNER_NONE or OWNER_MAPPING (a paged segment is one too: test kind). */
static inline unsigned owner_map_get(const void *slot_base) {
  uintptr_t slot = (uintptr_t)slot_base >> UMA_SEG_SHIFT;
  if (uma_unlikely(slot >= OWNER_MAP_SLOTS)) return OWNER_NONE;
  return owner_bit(owner_ours, slot, memory_order_relaxed) ? OWNER_MAPPING : OWNER_NONE;
}
static inline bool owner_map_test(const void *slot_base) { return owner_map_get(slot_base) != OWNER_NONE; }

/* ---- OS memory, raw syscalls (os.c) ------------------------------------ */
UMA_HIDDEN void *os_map(size_t size);
UMA_HIDDEN void *os_map_aligned(size_t size, size_t align);
UMA_HIDDEN void *os_map_aligned_at_offset(size_t size, size_t align, size_t offset);
UMA_HIDDEN void os_unmap(void *p, size_t size);
UMA_HIDDEN bool os_purge(void *p, size_t size);
UMA_HIDDEN void os_advise_hugepages(void *p, size_t size, int mode);   /* UMA_HUGEPAGES_* */
UMA_HIDDEN bool os_remap_in_place(void *p, size_t old_size, size_t new_size);
UMA_HIDDEN bool os_remap_to(void *p, size_t old_size, size_t new_size, void *target);
UMA_HIDDEN uint64_t os_now_ms(void);
UMA_HIDDEN uint64_t os_now_ns(void);   /* CLOCK_MONOTONIC, for measuring costs */
UMA_HIDDEN long os_write(int fd, const void *buf, size_t len);
UMA_HIDDEN void os_sleep_ms(uint64_t ms);
UMA_HIDDEN void os_command(char *out, size_t cap);        /* /proc/self/comm, without its newline */
UMA_HIDDEN void *os_map_shared(int fd, size_t size);      /* a file's first bytes, shared; NULL: failed */
UMA_HIDDEN int os_open(const char *path, int flags, int mode);
UMA_HIDDEN bool os_file_contains(const char *path, const char *needle);   /* a /proc file, read without malloc */
UMA_HIDDEN long os_read(int fd, void *buf, size_t len);
UMA_HIDDEN void os_close(int fd);
UMA_HIDDEN int os_getpid(void);
UMA_HIDDEN void os_yield(void);
UMA_HIDDEN uint64_t os_resident(const void *p, size_t size);
UMA_HIDDEN uint64_t os_peak_rss(void);
UMA_HIDDEN uint64_t os_unix_time(void);
UMA_HIDDEN void os_hostname(char *out, size_t cap);
UMA_HIDDEN long os_mbind(void *p, size_t len, int mode, uint64_t mask, unsigned flags);
UMA_HIDDEN long os_get_mempolicy(int *mode, uint64_t *mask, void *addr, unsigned long flags);
UMA_HIDDEN long os_page_nodes(unsigned long count, void **pages, int *status);
UMA_HIDDEN int os_memfd(const char *name);
UMA_HIDDEN bool os_truncate(int fd, uint64_t size);
UMA_HIDDEN bool os_punch(int fd, uint64_t off, uint64_t len);
UMA_HIDDEN bool os_map_file_at(void *p, size_t len, bool shared, int fd, uint64_t off);
UMA_HIDDEN long os_pread(int fd, void *buf, size_t len, uint64_t off);
UMA_HIDDEN long os_pwrite(int fd, const void *buf, size_t len, uint64_t off);
UMA_HIDDEN bool os_pipe(int fds[2]);
struct stat;
UMA_HIDDEN long os_stat(int fd, const char *path, struct stat *st);
UMA_HIDDEN bool os_rename(const char *from, const char *to);

/* ---- a report's destination (report_file.c) ------------------------------ */
typedef struct report_file_s {
  int fd;
  const char *key;                   /* the [report] key that named it, for messages */
  char path[4096];
  char tmp[4096 + 32];               /* the file written, renamed to path at close; "" for stderr/stdout */
} report_file_t;
UMA_HIDDEN int report_file_open(report_file_t *f, const char *dest, const char *key);
UMA_HIDDEN void report_file_close(report_file_t *f);
UMA_HIDDEN extern _Atomic uint64_t os_mapped_bytes, os_peak_mapped_bytes, os_purged_bytes;

/* ---- NUMA nodes and placement (numa.c, numa_topology.c) ----------------- */
#define NUMA_MAX 64                /* node masks are one 64-bit word */
#define NUMA_CPU_MAX 4096
enum { NUMA_LOCAL, NUMA_BIND, NUMA_PREFERRED, NUMA_PREFERRED_MANY, NUMA_INTERLEAVE,
       NUMA_WEIGHTED_INTERLEAVE, NUMA_TIER, NUMA_NEAR_GPU, NUMA_MODES };
/* Why a placement differs from what its rule asked (the report says it). */
enum { NUMA_FB_NONE, NUMA_FB_ONE_NODE, NUMA_FB_NO_USABLE_NODE, NUMA_FB_NODES_DROPPED, NUMA_FB_NO_WEIGHTED,
       NUMA_FB_KERNEL_WEIGHTS, NUMA_FB_ONE_TIER, NUMA_FB_NO_GPU, NUMA_FB_NO_PREFERRED_MANY };
typedef struct numa_place_s {
  uint8_t mode;                    /* NUMA_*: what the rule asked */
  uint8_t kernel_mode;             /* the MPOL_* applied; 0: local (the caller's node) */
  uint8_t fallback;                /* NUMA_FB_* */
  bool tier_slow;
  uint16_t arg;                    /* preferred:N, near-gpu:K */
  uint64_t asked, nodes;           /* node masks: asked, and applied */
  uint8_t weight[NUMA_MAX];        /* weighted-interleave weights asked */
} numa_place_t;
typedef struct numa_counters_s {
  _Atomic uint64_t placed_bytes, refused, preferred_many_fallbacks;
  _Atomic int last_errno;
} numa_counters_t;
UMA_HIDDEN extern bool numa_active;                 /* more than one node online */
UMA_HIDDEN extern int numa_node_count;              /* highest online node + 1 */
UMA_HIDDEN extern uint64_t numa_online, numa_allowed, numa_with_cpus;
UMA_HIDDEN extern int numa_process_mode;            /* MPOL_* the process started with */
UMA_HIDDEN extern uint64_t numa_process_mask;
UMA_HIDDEN extern uint8_t numa_cpu_node[NUMA_CPU_MAX];
UMA_HIDDEN extern uint8_t numa_distance[NUMA_MAX][NUMA_MAX];
UMA_HIDDEN extern uint64_t numa_mem_total[NUMA_MAX];
UMA_HIDDEN extern bool numa_weighted_supported;
UMA_HIDDEN extern uint8_t numa_kernel_weight[NUMA_MAX];
UMA_HIDDEN extern numa_place_t route_place[UMA_ROUTE_MAX + 1];
UMA_HIDDEN extern numa_counters_t route_numa[UMA_ROUTE_MAX + 1];
UMA_HIDDEN void numa_init(void);
UMA_HIDDEN size_t numa_read_file(const char *path, char *buf, size_t cap);
UMA_HIDDEN bool numa_parse_nodes(const char *s, uint64_t *mask);
UMA_HIDDEN int numa_current_node(void);
UMA_HIDDEN void numa_compile(const char *text, numa_place_t *pl);
UMA_HIDDEN void numa_resolve(numa_place_t *pl);
UMA_HIDDEN void numa_place(void *p, size_t len, const numa_place_t *pl, int node, numa_counters_t *c);
UMA_HIDDEN const char *numa_mode_name(int mode);
UMA_HIDDEN const char *numa_fallback_text(int why);
/* From hwloc (numa_topology.c), after start-up; empty until then. */
UMA_HIDDEN extern uint64_t numa_fast_nodes, numa_slow_nodes;
UMA_HIDDEN extern uint64_t numa_bandwidth[NUMA_MAX], numa_latency[NUMA_MAX];   /* MB/s, ns; 0: unknown */
UMA_HIDDEN extern const char *numa_tier_source;     /* how the tiers were told apart */
UMA_HIDDEN extern int numa_gpu_count;
UMA_HIDDEN extern int8_t numa_gpu_node[DEV_MAX_GPUS];
UMA_HIDDEN extern char numa_gpu_bus[DEV_MAX_GPUS][16];
UMA_HIDDEN extern bool numa_hwloc_loaded;
UMA_HIDDEN void numa_resolve_routes(void);
UMA_HIDDEN void numa_topology_discover(void);

/* ---- the program's anonymous mappings (mmap_track.c) ---------------------- */
typedef struct mmap_totals_s { uint64_t maps, remaps, bytes, peak, untracked; } mmap_totals_t;   /* under its lock */
UMA_HIDDEN extern mmap_totals_t mmap_totals;
UMA_HIDDEN void mmap_track_new(void *p, size_t len, const void *ra);
UMA_HIDDEN void mmap_track_gone(void *p, size_t len);
UMA_HIDDEN bool mmap_track_unify_advice(void *p, size_t len);
UMA_HIDDEN void mmap_track_moved(void *old, size_t old_len, void *fresh, size_t new_len);
UMA_HIDDEN void mmap_track_each(void (*visit)(uintptr_t, size_t, unsigned, void *), void *arg);
UMA_HIDDEN size_t mmap_track_ranges(void);
UMA_HIDDEN void mmap_fork_prepare(void);
UMA_HIDDEN void mmap_fork_parent(void);
UMA_HIDDEN void mmap_fork_child(void);
UMA_HIDDEN long os_raw_syscall(long n, long a, long b, long c, long d, long e, long f);

/* ---- options and start-up (options.c, init.c) -------------------------- */
UMA_HIDDEN extern int64_t uma_options[UMA_OPTION_COUNT];
UMA_HIDDEN void uma_init(void);
UMA_HIDDEN extern _Atomic int uma_init_state;   /* 0 none, 1 running, 2 done */
static inline void uma_ensure_init(void) {
  if (uma_unlikely(atomic_load_explicit(&uma_init_state, memory_order_acquire) != 2)) uma_init();
}
UMA_HIDDEN const char *uma_env(const char *name);   /* NULL for every name in a secure-execution process */
UMA_HIDDEN bool uma_secure_exec(void);

/* ---- stats (stats.c) --------------------------------------------------- */
/* A counter one thread writes and others read racily: no locked instruction. */
#if defined(__x86_64__)
/* One `add` to memory: an aligned 8-byte store is never torn, and the asm
 * keeps the compiler from splitting it into load, add and store (three
 * instructions on the fast path, as the relaxed atomics below compile). */
#define STAT_ADD(field, n) __asm__ volatile("addq %1, %0" : "+m"(field) : "er"((uint64_t)(n)))
#else
#define STAT_ADD(field, n) \
  atomic_store_explicit((_Atomic uint64_t *)&(field), \
    atomic_load_explicit((_Atomic uint64_t *)&(field), memory_order_relaxed) + (n), memory_order_relaxed)
#endif
UMA_HIDDEN void stats_sample_peak(uma_heap_t *heap);
typedef struct uma_totals_s {
  uint64_t allocs[UMA_CLASS_COUNT], frees[UMA_CLASS_COUNT], requested[UMA_CLASS_COUNT];
  uint64_t large_allocs, large_bytes, large_frees, large_freed, large_requested, large_remaps;
  tlsf_counters_t tlsf;
} uma_totals_t;
UMA_HIDDEN void stats_totals(uma_totals_t *t);
UMA_HIDDEN void stats_get_from(const uma_totals_t *t, uma_stats_t *out);
UMA_HIDDEN void stats_orphan_free(unsigned cls, size_t large_bytes);
UMA_HIDDEN extern _Atomic uint64_t stats_heaps_created, stats_heaps_abandoned_total, stats_heaps_adopted, stats_heaps_rehomed;

/* ---- the footprint: bytes of our mappings that may be resident (stats.c) */
/* Segment headers, pages handed out or dirty, large mappings; purged and
 * never-touched pages do not count. Its peak is the report's P. */
UMA_HIDDEN extern _Atomic uint64_t stats_committed, stats_peak_committed;
UMA_HIDDEN void stats_commit(int64_t delta);

/* ---- fragmentation walk (frag.c) --------------------------------------- */
enum { FRAG_POOL_SMALL, FRAG_POOL_MEDIUM, FRAG_POOL_COALESCING, FRAG_POOL_LARGE, FRAG_POOLS };
#define FRAG_BUCKETS 48      /* free extents by size: bucket b holds [2^b, 2^(b+1)) bytes */
#define FRAG_PROBES 5        /* request sizes of the unusable-free-space index */
UMA_HIDDEN extern const uint64_t frag_probe_sizes[FRAG_PROBES];
UMA_HIDDEN extern const char *const frag_pool_names[FRAG_POOLS];
typedef struct uma_frag_pool_s uma_frag_pool_t;

struct uma_frag_pool_s {
  uint64_t mappings, mapped, resident, metadata;
  uint64_t live_bytes;                      /* bytes of blocks in use (thread caches included) */
  uint64_t free_bytes, free_extents, largest_free;
  uint64_t free_returned;                   /* of free_bytes, pages already given back to the OS (not in P) */
  uint64_t usable[FRAG_PROBES];             /* free bytes a request of probe size j could use */
  uint64_t hist_count[FRAG_BUCKETS], hist_bytes[FRAG_BUCKETS];
};
UMA_HIDDEN void tlsf_walk(uma_frag_pool_t *pool, void *seg, void (*add_extents)(uma_frag_pool_t *, uint64_t, uint64_t),
                          bool resident);

typedef struct uma_frag_s {
  bool valid, resident_known;
  uint64_t t_ms, committed;
  uma_frag_pool_t pool[FRAG_POOLS];
  uint64_t class_live[UMA_CLASS_COUNT], class_free[UMA_CLASS_COUNT];
} uma_frag_t;

UMA_HIDDEN extern uma_frag_t frag_at_peak, frag_at_exit;
UMA_HIDDEN extern bool frag_snapshots_on;
UMA_HIDDEN bool frag_scan(uma_frag_t *out, bool resident);
UMA_HIDDEN void frag_note_committed(uint64_t committed);
UMA_HIDDEN void frag_snapshot_if_due(void);
UMA_HIDDEN extern _Atomic uint64_t frag_peak_snapshots;
/* ---- sampled call sites (sample.c) ---------------------------------------- */
#define SAMPLE_SITES 4096
#define SAMPLE_DEPTH 24
typedef struct sample_site_s {
  uint64_t hash;
  uint8_t depth;
  uint64_t samples;
  uint64_t allocated, live, peak_live, live_at_peak;   /* estimated bytes */
  void *frames[SAMPLE_DEPTH];                         /* return addresses, innermost first */
} sample_site_t;
UMA_HIDDEN extern uint64_t sample_mean;
UMA_HIDDEN extern sample_site_t sample_sites[SAMPLE_SITES];
UMA_HIDDEN extern uint32_t sample_site_count;
UMA_HIDDEN extern uint64_t sample_count, sample_lost;
UMA_HIDDEN extern _Atomic uint64_t sample_live_blocks;
UMA_HIDDEN void sample_configure(uint64_t mean_bytes);
UMA_HIDDEN void sample_start(void);
UMA_HIDDEN void sample_arm(uma_heap_t *heap);
UMA_HIDDEN void *sample_alloc(size_t size, size_t align, bool zero, const void *ra, uma_tcache_t *tc);
UMA_HIDDEN void *sample_maybe(size_t size, size_t align, bool zero, const void *ra);
UMA_HIDDEN void sample_free_slow(const void *p);
UMA_HIDDEN bool sample_heap_is(const uma_heap_t *heap);
UMA_HIDDEN void sample_note_peak(void);
UMA_HIDDEN void sample_collect(void);
UMA_HIDDEN void sample_write_text(int fd);
UMA_HIDDEN void sample_fork_prepare(void);
UMA_HIDDEN void sample_fork_parent(void);
UMA_HIDDEN void sample_fork_child(void);
UMA_HIDDEN void *alloc_malloc_slow(size_t size, const void *ra);
UMA_HIDDEN void *alloc_in_heap(uma_heap_t *heap, size_t size, size_t align, bool zero, const void *ra);
UMA_HIDDEN void ticker_configure(uint64_t timeline_ms, uint64_t snapshot_ms, void (*snapshot)(void));
UMA_HIDDEN void ticker_ensure(void);
UMA_HIDDEN bool ticker_running(void);
UMA_HIDDEN void ticker_fork_child(void);
UMA_HIDDEN void frag_fork_child(void);

/* ---- timeline (timeline.c) ---------------------------------------------- */
#define TIMELINE_MAX 1024
typedef struct uma_sample_s {
  uint64_t t_ms, live, requested_live, committed, mapped, resident;
} uma_sample_t;
UMA_HIDDEN extern uma_sample_t timeline_samples[TIMELINE_MAX];
UMA_HIDDEN extern _Atomic uint32_t timeline_count;
UMA_HIDDEN extern uint64_t timeline_interval_ms, timeline_start_ms, timeline_interval_bytes;
UMA_HIDDEN void timeline_start(uint64_t interval_ms, uint64_t interval_bytes);
UMA_HIDDEN void timeline_tick(uint64_t now_ms, uma_heap_t *heap);
UMA_HIDDEN void timeline_final(void);
UMA_HIDDEN void timeline_fork_child(void);
UMA_HIDDEN uint64_t timeline_process_resident(void);

/* ---- address tables (addr_table.c) ---------------------------------------- */
typedef struct addr_slot_s { uintptr_t key; uint64_t a, b; } addr_slot_t;   /* key 0: empty */
typedef struct addr_table_s { addr_slot_t *slots; uint64_t mask, used; } addr_table_t;
UMA_HIDDEN bool addr_table_put(addr_table_t *t, uintptr_t key, uint64_t a, uint64_t b);
UMA_HIDDEN bool addr_table_has(const addr_table_t *t, uintptr_t key);
UMA_HIDDEN bool addr_table_take(addr_table_t *t, uintptr_t key, addr_slot_t *out);
UMA_HIDDEN void addr_table_clear(addr_table_t *t);

/* ---- lifetime trace (trace.c) ------------------------------------------- */
typedef struct uma_trace_rec_s { uint64_t size, t_alloc, t_free; } uma_trace_rec_t;   /* t_free 0: live */
UMA_HIDDEN extern bool trace_on;
UMA_HIDDEN extern uma_trace_rec_t *trace_recs;
UMA_HIDDEN extern uint64_t trace_cap, trace_len, trace_dropped, trace_clock, trace_live, trace_peak_live, trace_untracked;
UMA_HIDDEN bool trace_start(uint64_t records);
UMA_HIDDEN void trace_alloc(const void *p, size_t size);
UMA_HIDDEN void trace_free(const void *p);
UMA_HIDDEN void trace_fork_prepare(void);
UMA_HIDDEN void trace_fork_parent(void);
UMA_HIDDEN void trace_fork_child(void);

/* ---- JSON writer (json.c) ----------------------------------------------- */
typedef struct uma_json_s {
  int fd, depth;
  size_t len;
  bool need_comma[16];
  char buf[8192];
} uma_json_t;
/* k is the member name inside an object, NULL inside an array. */
UMA_HIDDEN void json_open(uma_json_t *j, const char *k, char bracket);   /* '{' or '[' */
UMA_HIDDEN void json_close(uma_json_t *j, char bracket);
UMA_HIDDEN void json_u64(uma_json_t *j, const char *k, uint64_t v);
UMA_HIDDEN void json_i64(uma_json_t *j, const char *k, int64_t v);
UMA_HIDDEN void json_ratio(uma_json_t *j, const char *k, uint64_t part, uint64_t whole);
UMA_HIDDEN void json_str(uma_json_t *j, const char *k, const char *v);
UMA_HIDDEN void json_bool(uma_json_t *j, const char *k, bool v);
UMA_HIDDEN void json_null(uma_json_t *j, const char *k);
UMA_HIDDEN void json_end(uma_json_t *j);

/* ---- the GPU device pool (device_pool.c) --------------------------------- */
#define DEV_MAX 16
/* The pinned host pool (cudaHostAlloc, cuMemHostAlloc) is the same kind of
 * pool over registered host chunks: "device" there is the GPU the chunk is
 * placed near (its NUMA node). */
enum { DEV_API_RUNTIME, DEV_API_DRIVER, DEV_API_HOST, DEV_APIS };
#define DEV_DEVICE_APIS 2                  /* runtime and driver: device memory */
#define DEV_POOLS (DEV_APIS * DEV_MAX)     /* pool id = api * DEV_MAX + device */
/* How a program reached a pool's entry point: its own call through the PLT
 * (cudaMalloc, cuMemAlloc), a pointer from cuGetProcAddress (the static
 * CUDA runtime's way, and the shared one's), from cudaGetDriverEntryPoint
 * (PyTorch's), or from dlsym on a libcuda handle. */
enum { DEV_ROUTE_PLT, DEV_ROUTE_PROC, DEV_ROUTE_ENTRY, DEV_ROUTE_DLSYM, DEV_ROUTES };
/* Device memory CUDA serves itself, counted (never pooled): stream-ordered
 * (cudaMallocAsync), pitched, managed, and CUDA's virtual memory API
 * (cuMemCreate: PyTorch's expandable segments). */
enum { DEV_PASS_ASYNC, DEV_PASS_PITCH, DEV_PASS_MANAGED, DEV_PASS_VMM, DEV_PASSES };
typedef struct dev_stats_s {
  uint64_t reserved, peak_reserved;        /* bytes held from cudaMalloc */
  uint64_t allocated, peak_allocated;      /* in blocks handed out */
  uint64_t requested;                      /* cumulative bytes asked for */
  uint64_t cached, pending;                /* free: ready now / waiting for a fence */
  uint64_t allocs, frees, hits, segments_mapped, segments_released, fences, oom_retries;
  uint64_t passthrough_allocs, passthrough_bytes;   /* served by CUDA directly: all kinds */
  uint64_t pass_allocs[DEV_PASSES], pass_bytes[DEV_PASSES];   /* … by kind */
  uint64_t route_allocs[DEV_ROUTES];                /* allocations the pool served, by route */
  uint64_t granules_mapped, granules_unmapped;      /* expandable segments: granules backed / given back */
  uint64_t chunks_mapped, chunks_unmapped;          /* … in how many cuMemCreate+cuMemMap / cuMemUnmap calls */
  uint64_t expandable_va;                           /* the virtual range reserved (0: none) */
  uint64_t plan_served, plan_plans, plan_deviations;   /* [plan] device = auto: from the arena */
  uint64_t plan_arena, plan_arena_peak, plan_live_bound, plan_fences;
  uint64_t plan_reserved_before, plan_reserved_peak;   /* peak reserved before the first arena, and the most since */
  uint64_t share_waits, share_released;    /* waits for other processes' idle memory; bytes given back for them */
  uint64_t quota_refusals;                 /* segments not mapped: [limits] gpu */
  uint64_t fences_refused;                 /* fences not run (a stream capture in progress) or failed: pending kept */
} dev_stats_t;
/* The CUDA calls the pool makes; 0 or a CUDA error code. */
typedef struct dev_backend_s {
  int (*map)(int device, size_t size, uintptr_t *out);   /* cudaMalloc */
  void (*unmap)(int device, uintptr_t addr);             /* cudaFree */
  int (*fence)(int device);                              /* wait for all work issued so far; 0: done */
  void (*clear_error)(void);                             /* cudaGetLastError */
  /* CUDA's virtual memory API, for expandable segments (NULL: not offered).
   * reserve: a virtual range of about *size bytes (set to what was
   * reserved) and the mapping granularity; map_range: back [addr, addr+size)
   * (granule multiples) with one fresh physical allocation; unmap_range:
   * give one back, whole. */
  int (*reserve)(int device, size_t *size, uintptr_t *va, size_t *granule);
  int (*map_range)(int device, uintptr_t addr, size_t size, uint64_t *handle);
  void (*unmap_range)(int device, uintptr_t addr, size_t size, uint64_t handle);
  /* For sharing a GPU between processes (device_share.c; NULL: not offered):
   * the device's PCI bus id; make a thread of ours (enter) ready to call
   * CUDA for the device, and undo it (leave). */
  int (*bus_id)(int device, char *out, size_t cap);
  void (*foreign_thread)(int device, bool enter);
} dev_backend_t;
UMA_HIDDEN extern size_t dev_round;
UMA_HIDDEN extern uint64_t dev_max_reserved, dev_release_threshold, dev_quota;
UMA_HIDDEN extern bool dev_enabled, dev_dlsym_route, dev_expandable;
UMA_HIDDEN extern bool dev_forked_child;   /* CUDA was in use before fork: the pools are off here */
UMA_HIDDEN void dev_pool_init(int api, const dev_backend_t *be);
UMA_HIDDEN int dev_alloc(int id, size_t size, uintptr_t *out);
UMA_HIDDEN bool dev_free(int id, uintptr_t addr);
UMA_HIDDEN int dev_owner(int api, uintptr_t addr);
UMA_HIDDEN uint64_t dev_idle_bytes(int device);       /* both APIs' pools */
UMA_HIDDEN void dev_forget(int id);
UMA_HIDDEN void dev_release_idle(int device);   /* another process needs the memory */
UMA_HIDDEN uint64_t dev_device_reserved(int device);   /* both device APIs' pools */
UMA_HIDDEN uint64_t dev_host_reserved(void);           /* the pinned pools' chunks */
UMA_HIDDEN uint64_t dev_release_host_idle(void);       /* their wholly free chunks back; bytes */

/* ---- quotas and alarms ([limits], limits.c) ----------------------------- */
typedef struct limit_stats_s {
  _Atomic uint64_t heap_refusals, pinned_refusals, alarms;
  char last_alarm[160];                     /* the last alarm's line, without its prefix */
  /* degradation under pressure (limits_degrade): passes and what each step gave back */
  uint64_t degrade_passes, purged_bytes, pinned_pool_bytes, gpu_bytes, unpinned_bytes;
  bool pageable_only;                       /* transparent pinning stopped */
  char last_degrade[96];                    /* why the last pass ran */
  uint64_t cgroup_max, cgroup_pressures;    /* memory.max of our cgroup (0: none); crossings */
} limit_stats_t;
UMA_HIDDEN extern uint64_t limit_heap, limit_pinned;   /* 0: none */
UMA_HIDDEN extern unsigned limit_alarm_pct;            /* 0: no alarms */
UMA_HIDDEN extern unsigned limit_pressure_pct;         /* of the cgroup's memory.max; 0: not watched */
UMA_HIDDEN uint64_t limits_cgroup_max(const char *root, char *current_path, size_t cap);   /* 0: no limit */
UMA_HIDDEN extern char limit_alarm_to[256], limit_alarm_command[256];
UMA_HIDDEN extern limit_stats_t limit_stats;
UMA_HIDDEN bool limits_heap_allows(size_t more);       /* before the heap maps more */
UMA_HIDDEN bool limits_pinned_allows(size_t more);     /* before more host memory is page-locked */
UMA_HIDDEN uint64_t limits_pinned_in_use(void);
UMA_HIDDEN bool limits_alarms_wanted(void);
UMA_HIDDEN void limits_tick(uint64_t now_ms);         /* the helper thread's look */
UMA_HIDDEN void limits_write_text(int fd);
UMA_HIDDEN void limits_write_json(uma_json_t *j);

/* ---- the live view's page ([report] live, live.c; read by uma-top) ------ */
UMA_HIDDEN extern uint8_t live_mode;          /* LIVE_AUTO, LIVE_YES, LIVE_NO (live_page.h) */
UMA_HIDDEN void live_init(void);              /* the job and rank, from the environment */
UMA_HIDDEN bool live_wanted(void);            /* the helper thread must run for it */
UMA_HIDDEN void live_publish(uint64_t now_ms);   /* the helper thread, each tick */
UMA_HIDDEN void live_close(void);             /* at exit */
UMA_HIDDEN void live_fork_child(void);
/* Sharing one GPU between processes (device_share.c). */
UMA_HIDDEN extern uint64_t dev_share_wait_ms;  /* [cuda] share_wait; 0: off */
UMA_HIDDEN void dev_share_attach(int device, const char *bus_id);
UMA_HIDDEN void dev_share_publish(int device);
UMA_HIDDEN bool dev_share_wait(int device, size_t need);
UMA_HIDDEN void dev_share_fork_child(void);
UMA_HIDDEN void dev_count_passthrough(int id, int kind, size_t bytes);
UMA_HIDDEN extern UMA_TLS int dev_route;   /* DEV_ROUTE_*: set by the door the call came in by */
UMA_HIDDEN extern bool dev_cuda_seen;       /* a CUDA call reached us (cuInit, a pool) */
/* Stream captures in progress (begin/end capture wrapped): no fence then. */
UMA_HIDDEN extern _Atomic int dev_captures;
UMA_HIDDEN void dev_capture_began(void);
UMA_HIDDEN void dev_capture_ended(void);
UMA_HIDDEN extern const char *const dev_route_names[DEV_ROUTES], *const dev_pass_names[DEV_PASSES];
UMA_HIDDEN bool dev_summary(int id, dev_stats_t *st, uma_frag_pool_t *extents);
/* Set while a pool's backend calls CUDA (or a wrapper calls the real
 * function): libcudart reaches the driver through our wrappers too, and
 * those calls must pass straight through, not nest a second pool. */
UMA_HIDDEN extern UMA_TLS int dev_in_backend;
/* interpose/cuda_driver.c, for the dlsym route: */
UMA_HIDDEN bool driver_wraps(const char *name);
UMA_HIDDEN void *dlsym_raw(void *handle, const char *name);   /* glibc's, never our wrappers */
UMA_HIDDEN void *loaded_symbol(const char *name, const char *const *sonames);
UMA_HIDDEN extern const char *const cudart_sonames[];
UMA_HIDDEN bool dev_free_any(uintptr_t addr);                 /* any device, either API */
UMA_HIDDEN bool dev_free_host(uintptr_t addr);                /* a pinned host block, any pool */
UMA_HIDDEN void dev_add_idle(int device, size_t *free_bytes, size_t *total_bytes);   /* and the quota */
UMA_HIDDEN void *driver_wrap(const char *name, void *real);
UMA_HIDDEN void copy_init(void);   /* interpose/copy.c: the C library's memcpy and memmove */
/* interpose/cuda_vmm.c: CUDA's virtual memory API, for expandable segments */
UMA_HIDDEN int vmm_reserve(int device, size_t *size, uintptr_t *va, size_t *granule);
UMA_HIDDEN int vmm_map_range(int device, uintptr_t addr, size_t size, uint64_t *handle);
UMA_HIDDEN void vmm_unmap_range(int device, uintptr_t addr, size_t size, uint64_t handle);

/* ---- NUMA in the report (numa_report.c) ----------------------------------- */
UMA_HIDDEN void numa_census_mapping(const void *base, uint8_t kind);
UMA_HIDDEN void numa_census_mmap(void);
UMA_HIDDEN void numa_write_text(int fd);
UMA_HIDDEN void numa_write_json(uma_json_t *j);
UMA_HIDDEN void sample_write_json(uma_json_t *j);

/* ---- transparent pinning of large blocks (pinned.c) ----------------------- */
/* uma_large_t.pinned: not registered, registered with CUDA, refused (over
 * the cap or by CUDA: left pageable until the mapping is reused), waiting
 * for the next CUDA call to register it (eager), or being registered. */
enum { PIN_NONE = 0, PIN_YES = 1, PIN_REFUSED = 2, PIN_WANTED = 3, PIN_BUSY = 4 };
typedef struct pin_stats_s {
  uint64_t registrations, refused, over_cap, register_ns;
  uint64_t bytes, peak_bytes;                 /* registered now, and the most */
  uint64_t copies, copy_bytes, copy_ns;       /* copies from or to blocks we pinned */
  uint64_t h2d_bytes, d2h_bytes;
  uint64_t program_registrations;             /* the program's cudaHostRegister inside a block we had registered */
  uint64_t program_first;                     /* blocks the program had registered before us: left to it */
} pin_stats_t;
UMA_HIDDEN extern pin_stats_t pin_stats;      /* under pin_lock */
UMA_HIDDEN extern pthread_mutex_t pin_lock;
UMA_HIDDEN extern uint8_t pin_mode;           /* [cuda] pinned: UMA_PINNED_* for blocks no rule governs */
UMA_HIDDEN extern bool pin_pool_enabled;      /* [cuda] pinned_pool */
UMA_HIDDEN extern uint64_t pin_min, pin_max;
/* Set by interpose/cuda_host.c once CUDA is in use: gives a block's
 * registration back before its mapping is unmapped or moved. */
UMA_HIDDEN extern void (*pin_release_hook)(void *base, size_t size);
UMA_HIDDEN uma_large_t *pin_block_of(const void *p, size_t len);   /* our large block holding [p, p+len), or NULL */
UMA_HIDDEN extern size_t large_max_span;   /* the largest large-block mapping ever made (large.c) */
UMA_HIDDEN uint8_t pin_mode_for(const uma_large_t *lg);
UMA_HIDDEN bool pin_retire(uma_large_t *lg);                        /* large_unmap: true when deferred */
UMA_HIDDEN void pin_on_alloc(uma_large_t *lg, bool reused);          /* large_alloc: eager blocks wait for CUDA */
UMA_HIDDEN void pin_on_release(uma_large_t *lg);                     /* freed or about to move: no longer waiting */
/* From CUDA entry points only: unregister and unmap retired blocks, register
 * the eager ones waiting. */
UMA_HIDDEN void pin_drain(int (*register_range)(void *base, size_t size));
UMA_HIDDEN bool pin_block(uma_large_t *lg, int (*register_range)(void *base, size_t size));
/* The program's cudaHostRegister / cudaHostUnregister of [p, p+size): */
enum { PIN_PASS = -1, PIN_ANSWERED = 0, PIN_INVALID = 1, PIN_ALREADY = 712, PIN_NOT_REGISTERED = 713 /* CUDA's codes */ };
UMA_HIDDEN extern bool pin_pageable_only;   /* memory pressure: no new registrations (limits.c) */
UMA_HIDDEN uint64_t large_cache_drop_pinned(void);   /* registered cached mappings go; bytes */
UMA_HIDDEN int pin_program_register(void *p, size_t size);   /* PIN_PASS: call CUDA */
UMA_HIDDEN int pin_program_unregister(void *p);              /* PIN_PASS: call CUDA */
UMA_HIDDEN void pin_fork_prepare(void);
UMA_HIDDEN void pin_fork_parent(void);
UMA_HIDDEN void pin_fork_child(void);
UMA_HIDDEN void pin_write_text(int fd);
UMA_HIDDEN void pin_write_json(uma_json_t *j);

/* ---- copy-on-write aliasing of large blocks (cow.c) ------------------------ */
typedef struct cow_stats_s {
  uint64_t blocks, copies, fallbacks, aliased_bytes, copied_bytes, alias_ns;
  uint64_t broken_pages;                       /* aliased pages later copied by a write */
  uint64_t file_bytes, file_peak, forks;       /* the memory file's pages in use */
} cow_stats_t;
UMA_HIDDEN extern uint64_t cow_min;            /* [alias] cow_min; UINT64_MAX: no rule aliases */
UMA_HIDDEN extern bool cow_into_resident;      /* [alias] cow_into = any */
UMA_HIDDEN extern cow_stats_t cow_stats;
UMA_HIDDEN extern void *(*cow_plain_copy)(void *, const void *, size_t);
UMA_HIDDEN uma_large_t *cow_map(size_t size);          /* a block over fresh file pages, map_size set; or NULL */
UMA_HIDDEN void cow_unmap(uma_large_t *lg);
/* memcpy/memmove between two aliasable blocks: true when done here (pages
 * aliased, the rest copied), false when the caller must copy. */
UMA_HIDDEN bool cow_copy(void *dst, const void *src, size_t n);
UMA_HIDDEN void cow_discard(void *p, size_t len);      /* after MADV_DONTNEED */
UMA_HIDDEN void cow_detach(void *p, size_t len);       /* before the program's mremap */
UMA_HIDDEN void cow_fork_prepare(void);
UMA_HIDDEN void cow_fork_parent(void);
UMA_HIDDEN void cow_fork_child(void);
UMA_HIDDEN void cow_snapshot(cow_stats_t *out);
UMA_HIDDEN void cow_write_text(int fd);
UMA_HIDDEN void cow_write_json(uma_json_t *j);

/* ---- lifetime-planned reuse (plan.c, plan_host.c) -------------------------- */
#define PLAN_SLOTS_MAX 1024
typedef struct plan_s plan_t;
typedef struct plan_buf_s { uint64_t size, t0, t1, off; } plan_buf_t;
typedef struct plan_stats_s {
  uint64_t plans, deviations, served, unplanned;   /* plans made; plans ended; allocations from the arena; others */
  uint64_t planned_blocks, arena_need, live_bound; /* the last plan: blocks, packed size, live lower bound */
  uint64_t period;                                 /* events in the period while planning, else 0 */
} plan_stats_t;
UMA_HIDDEN uint64_t plan_pack(plan_buf_t *b, size_t n, uint32_t *order);
UMA_HIDDEN plan_t *plan_new(void);
UMA_HIDDEN bool plan_alloc(plan_t *p, uint64_t size, uint64_t arena_size, uint64_t align, uint64_t *off, uint64_t *seq,
                           uint64_t *need);
UMA_HIDDEN void plan_free(plan_t *p, uint64_t seq);
UMA_HIDDEN uint64_t plan_planned(plan_t *p, uint64_t off, bool release);
UMA_HIDDEN bool plan_arena_idle(plan_t *p);              /* nothing live in the arena, not planning */
UMA_HIDDEN int plan_live(plan_t *p);                     /* planned blocks live now */
UMA_HIDDEN void plan_reset(plan_t *p);                   /* its arena is gone: forget the plan */
UMA_HIDDEN void plan_snapshot(plan_t *p, plan_stats_t *out);
UMA_HIDDEN void plan_lock(plan_t *p, bool lock);   /* fork handlers */
UMA_HIDDEN void plan_fork_child(plan_t *p);
/* The host's planner over large blocks ([plan] host = auto). */
UMA_HIDDEN extern bool plan_host_on, plan_device_on;
UMA_HIDDEN extern bool plan_device_one_stream;   /* [plan] device_streams = one: reuse without fences */
UMA_HIDDEN extern uint64_t plan_min;
UMA_HIDDEN void *plan_host_alloc(size_t size, bool zero, uint64_t *seq);   /* NULL: allocate as usual */
UMA_HIDDEN void plan_host_trim(void);   /* an empty arena goes back now */
UMA_HIDDEN void plan_host_observe_free(uint64_t seq);
UMA_HIDDEN size_t plan_host_block(const void *p);                          /* a live planned block's size, or 0 */
UMA_HIDDEN bool plan_host_free(void *p);
UMA_HIDDEN void plan_host_snapshot(plan_stats_t *out);
UMA_HIDDEN void plan_host_write_text(int fd);
UMA_HIDDEN void plan_host_write_json(uma_json_t *j);
UMA_HIDDEN void plan_host_fork_prepare(void);
UMA_HIDDEN void plan_host_fork_parent(void);
UMA_HIDDEN void plan_host_fork_child(void);

/* ---- the report (report.c, report_json.c) -------------------------------- */
UMA_HIDDEN void report_configure(bool on, uint64_t timeline_ms, uint64_t timeline_bytes, uint64_t trace_records,
                                 uint64_t sample_bytes);
UMA_HIDDEN extern uint64_t report_start_unix;
/* Everything both reports print, gathered once at exit. */
/* Why a report is written: at exit (destructor, _exit), as a fatal signal
 * ends the program, or as a snapshot of a running program (interval, dump
 * signal, uma_report_write). */
typedef enum report_kind_e { REPORT_EXIT, REPORT_FATAL_SIGNAL, REPORT_SNAPSHOT, REPORT_ON_DEMAND } report_kind_t;
typedef struct uma_report_data_s {
  report_kind_t kind;
  uint64_t t_ms;              /* since start */
  uma_stats_t stats;
  uma_totals_t totals;
  uma_frag_t *exit_walk;      /* NULL when a walk was already running */
  uma_frag_t *peak_walk;      /* NULL when none was taken */
  uint64_t committed, peak_committed, process_resident, process_peak_rss, metadata;
  uint64_t peak_live;         /* the report's L */
  bool live_is_requested;     /* L from the trace (requested bytes) or the counters (block bytes) */
  uint64_t heaps;
  char command[64];
  int gpu_count;                /* devices whose pool was used */
  struct { int id; dev_stats_t st; uma_frag_pool_t free; } gpus[DEV_POOLS];
  bool cuda_unseen;             /* the CUDA driver is loaded, yet no CUDA call reached us */
} uma_report_data_t;
UMA_HIDDEN void report_gather(uma_report_data_t *d, report_kind_t kind);
/* One rule's totals: its large blocks by its own counters, its pooled sizes
 * by the classes it routes. */
typedef struct uma_rule_totals_s { uint64_t allocs, requested, served, live, free_in_pages; } uma_rule_totals_t;
UMA_HIDDEN void report_rule_totals(const uma_report_data_t *d, int r, uma_rule_totals_t *out);
UMA_HIDDEN void report_write_json(int fd, const uma_report_data_t *d);
UMA_HIDDEN void report_write_text(int fd, const uma_report_data_t *d);

/* ---- messages (fmt.c) -------------------------------------------------- */
typedef struct uma_buf_s { char *p; size_t len, cap; } uma_buf_t;
UMA_HIDDEN void buf_str(uma_buf_t *b, const char *s);
UMA_HIDDEN void buf_u64(uma_buf_t *b, uint64_t v);     /* 1234567 */
UMA_HIDDEN void buf_count(uma_buf_t *b, uint64_t v);   /* 1,234,567 */
UMA_HIDDEN void buf_hex(uma_buf_t *b, uintptr_t v);
UMA_HIDDEN void buf_bytes(uma_buf_t *b, uint64_t v);   /* "12.3 MiB (12,894,208 B)" */
UMA_HIDDEN void buf_size(uma_buf_t *b, uint64_t v);    /* "64M", as in the policy file */
UMA_HIDDEN void buf_pad(uma_buf_t *b, size_t column);
UMA_HIDDEN void uma_write_err(const char *msg);
UMA_HIDDEN UMA_COLD _Noreturn void uma_fatal(const char *what, const void *p);
UMA_HIDDEN UMA_COLD _Noreturn void uma_invalid_pointer(const char *func, const void *p, const char *why);

#endif
