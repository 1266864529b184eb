/* layout.h — blocks, pages, segments and large blocks as they lie in memory, and their invariants. */
#ifndef UMA_LAYOUT_H
#define UMA_LAYOUT_H
#include "base.h"

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

/* uma_large_t.pinned: not registered, registered with CUDA, refused (over
 * the cap or by CUDA: left pageable until the mapping is reused), waiting
 * for the next CUDA call to register it (eager), or being registered. */
enum { PIN_NONE = 0, PIN_YES = 1, PIN_REFUSED = 2, PIN_WANTED = 3, PIN_BUSY = 4 };

/* Any pointer the core handed out lies in the 4 MiB slot that starts with its
 * header; a block that itself starts a slot (alignment ≥ 4 MiB) keeps its
 * header one slot below, hence p − 1. */
static inline void *seg_of(const void *p) {
  return (void *)(((uintptr_t)p - 1) & ~UMA_SEG_MASK);
}

_Static_assert(sizeof(uma_segment_t) <= UMA_SEG_HEADER_SIZE, "segment header fits before page 0's blocks");
_Static_assert(sizeof(uma_large_t) <= UMA_OS_PAGE, "large header fits in one page");
_Static_assert(sizeof(uma_page_t) == 128 && offsetof(uma_segment_t, pages) % 64 == 0, "hot page fields stay in one cache line");
_Static_assert(offsetof(uma_segment_t, heap) % 64 != 0 && offsetof(uma_segment_t, page_shift) % 64 >= 16,
               "free's segment fields stay off the low address bits of page-start blocks");

#endif
