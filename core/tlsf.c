/* tlsf.c — the coalescing pool: requests above 64 KiB up to 512 KiB, served
 * from 4 MiB segments shared by every thread, with good-fit placement and
 * immediate coalescing (Two-Level Segregated Fit: free blocks in bins of 8
 * per power of two, found with two bitmap searches).
 *
 * `[coalescing] above` moves the lower bound down (to 0: every request up
 * to 512 KiB): less waste inside blocks for programs that value memory over
 * the speed of the size classes' thread-local fast path.
 *
 * Why not size classes here: a class per size wastes up to 12.5 % inside
 * each block and keeps a page per class; one 300 KiB block kept its own
 * 4 MiB page. Here a block is the request rounded to the granularity
 * ([coalescing] granularity, 1 KiB up to 128 KiB and 4 KiB above by default),
 * and free neighbours merge at once, so free space stays in few, large
 * extents. The pool is global under one lock: requests this big touch
 * 64 KiB or more each, which dwarfs an uncontended lock, and one pool
 * fragments less than one per thread.
 *
 * Placement, when several free blocks could serve a request: best fit
 * within the request's own bin (up to 8 candidates looked at), else the
 * first block of the smallest bin whose blocks all fit — the large extents
 * stay whole for the requests that need them. `[coalescing] fit = first`
 * takes the first block that fits instead (kept to measure the difference).
 *
 * Free blocks decay like pages: after the purge delay their whole pages go
 * back to the OS and the rest of the block is zeroed, so a purged block
 * reads as zero (calloc skips the memset) and is not committed. An empty
 * segment is unmapped once it has been free for the delay. */
#include "base.h"
#include "binmap.h"
#include "options.h"
#include "fmt.h"
#include "layout.h"
#include "numa.h"
#include "os.h"
#include "owner_map.h"
#include "size_class.h"
#include "stats.h"
#include "tlsf.h"
#include "route.h"
#include <string.h>

#define SEG_HEADER    UMA_OS_PAGE          /* the segment header; blocks follow */
#define BLOCK_HEADER  16                   /* size word + previous block: payload stays 16-aligned */
#define MIN_BLOCK     64                   /* header and free-list fields */
#define SL_BITS       3                    /* 8 bins per power of two */
#define FL_MIN        6                    /* bins start at 64 B */
#define FL_COUNT      (UMA_SEG_SHIFT - FL_MIN + 1)
#define BEST_FIT_SCAN 8

enum { B_FREE = 1, B_PREV_FREE = 2, B_FLAGS = 7 };

/* A free block knows one range of itself that went back to the OS (its
 * "clean" range, offsets from the block's start): those bytes are not
 * committed and, beyond the block's own header, read as zero. One range,
 * not a flag, so a freed block merging with a purged neighbour does not
 * count the neighbour's pages as committed again — that inflated the peak
 * footprint P during a program's frees (issue 18). Invariants: lo <= hi <=
 * size; lo == hi when empty; a fully purged block is [0, size). */
typedef struct tlsf_block_s {
  size_t word;                             /* block bytes (header included) | B_* */
  struct tlsf_block_s *prev_phys;          /* while B_PREV_FREE; else in a used block, its cookie */
  /* free blocks only, inside what would be the payload: */
  struct tlsf_block_s *next_free, *prev_free;
  uint64_t freed_ms;
  uint32_t clean_lo, clean_hi;
} tlsf_block_t;

typedef struct tlsf_seg_s {
  uint8_t kind;                            /* SEG_KIND_BIG, first like every header */
  uint8_t pad_;
  uint8_t node;                            /* its arena; where uma_segment_t keeps it */
} tlsf_seg_t;

/* One pool per NUMA node (one on most machines): a segment's memory is
 * placed on its arena's node, and a block freed there is only handed out
 * again to threads of that node. Each arena has its own lock. */
typedef struct tlsf_arena_s {
  pthread_mutex_t lock;
  tlsf_block_t *bins[FL_COUNT][1 << SL_BITS];
  binmap_t map;                            /* which bins hold blocks */
  uint64_t dirty_free_blocks;              /* free blocks not yet purged */
  tlsf_counters_t counters;
} tlsf_arena_t;
static UMA_TABLE tlsf_arena_t arenas[NUMA_MAX];      /* all zero: glibc's mutex initialiser is zeros */
static tlsf_arena_t *arena_of_seg(const void *seg) { return &arenas[((const tlsf_seg_t *)seg)->node]; }
static tlsf_arena_t *arena_of(const void *block) { return arena_of_seg(seg_of(block)); }
static int arena_count(void) { return numa_node_count > 0 ? numa_node_count : 1; }

tlsf_granularity_t tlsf_granularity[TLSF_GRANULARITY_MAX] = {
  { 128 * 1024, 1024 }, { UMA_BLOCK_MAX, 4096 },
};
bool tlsf_first_fit;
unsigned tlsf_first_class = UMA_MEDIUM_CLASSES;

/* [coalescing] above: the classes whose blocks are larger go to this pool. */
void tlsf_set_above(size_t above) {
  unsigned c = 0;
  while (c < UMA_MEDIUM_CLASSES && sc_size(c) <= above) c++;
  tlsf_first_class = c;
}

static size_t bsize(const tlsf_block_t *b) { return b->word & ~(size_t)B_FLAGS; }
static tlsf_block_t *next_phys(const tlsf_block_t *b) { return (tlsf_block_t *)((uint8_t *)b + bsize(b)); }
static bool is_last(const tlsf_block_t *b) {
  return ((uintptr_t)b + bsize(b)) == ((uintptr_t)seg_of(b) + UMA_SEG_SIZE);
}
static size_t clean_bytes(const tlsf_block_t *b) { return b->clean_hi - b->clean_lo; }
static bool all_clean(const tlsf_block_t *b) { return b->clean_lo == 0 && b->clean_hi == bsize(b); }

/* ---- bins ----------------------------------------------------------------- */

static const binmap_shape_t shape = { FL_MIN, FL_COUNT, SL_BITS };
static void mapping(size_t size, unsigned *fl, unsigned *sl) { binmap_bin(&shape, size, fl, sl); }

/* Is `n` (a free-list neighbour read from a free block, which the program
 * may have written after freeing it) a free block of this pool? */
static bool is_free_block(const tlsf_block_t *n) {
  const void *seg = (const void *)((uintptr_t)n & ~UMA_SEG_MASK);
  return ((uintptr_t)n & 15) == 0 && owner_map_test(seg) && ((const tlsf_seg_t *)seg)->kind == SEG_KIND_BIG &&
         (n->word & B_FREE);
}

/* A free block's list links, checked before they are followed or
 * rewritten (glibc's unlink check): a write after free, or an overflow into
 * the block's header, is diagnosed instead of handing out or writing to an
 * address of the writer's choosing. */
static void check_links(tlsf_arena_t *A, const tlsf_block_t *b, unsigned fl, unsigned sl) {
  const tlsf_block_t *n = b->next_free, *p = b->prev_free;
  bool ok = (n == NULL || (is_free_block(n) && n->prev_free == b)) &&
            (p == NULL ? A->bins[fl][sl] == b : is_free_block(p) && p->next_free == b);
  if (uma_unlikely(!ok)) block_corrupt((const uma_block_t *)((const uint8_t *)b + BLOCK_HEADER));
}

static void bin_insert(tlsf_block_t *b) {
  tlsf_arena_t *A = arena_of(b);
  unsigned fl, sl;
  mapping(bsize(b), &fl, &sl);
  b->prev_free = NULL;
  b->next_free = A->bins[fl][sl];
  if (b->next_free) b->next_free->prev_free = b;
  A->bins[fl][sl] = b;
  binmap_set(&A->map, fl, sl);
  if (!all_clean(b)) A->dirty_free_blocks++;
}

static void bin_remove(tlsf_block_t *b) {
  tlsf_arena_t *A = arena_of(b);
  unsigned fl, sl;
  mapping(bsize(b), &fl, &sl);
  check_links(A, b, fl, sl);
  if (b->prev_free) b->prev_free->next_free = b->next_free;
  else A->bins[fl][sl] = b->next_free;
  if (b->next_free) b->next_free->prev_free = b->prev_free;
  if (A->bins[fl][sl] == NULL) binmap_clear(&A->map, fl, sl);
  if (!all_clean(b)) A->dirty_free_blocks--;
}

/* The first block of the first non-empty bin at or above (fl, sl). */
static tlsf_block_t *bin_first_from(tlsf_arena_t *A, unsigned fl, unsigned sl) {
  return binmap_find(&A->map, &shape, &fl, &sl) ? A->bins[fl][sl] : NULL;
}

static tlsf_block_t *find(tlsf_arena_t *A, size_t need) {
  unsigned fl, sl;
  mapping(need, &fl, &sl);
  tlsf_block_t *best = NULL;
  int looked = 0;
  for (tlsf_block_t *b = A->bins[fl][sl]; b && looked < BEST_FIT_SCAN; b = b->next_free, looked++) {
    check_links(A, b, fl, sl);
    if (bsize(b) >= need && (best == NULL || bsize(b) < bsize(best))) {
      best = b;
      if (tlsf_first_fit || bsize(b) == need) break;
    }
  }
  if (best) return best;
  /* Round up to the next bin: every block there fits. */
  size_t up = need + ((size_t)1 << (63u - (unsigned)__builtin_clzll(need) - SL_BITS)) - 1;
  mapping(up, &fl, &sl);
  return bin_first_from(A, fl, sl);
}

/* ---- segments ------------------------------------------------------------ */

static tlsf_block_t *seg_new(tlsf_arena_t *A) {
  if (!stats_heap_allows(0)) return NULL;   /* [limits] heap: blocks commit as they are used */
  tlsf_seg_t *seg = os_map_aligned(UMA_SEG_SIZE, UMA_SEG_SIZE);
  if (seg == NULL) return NULL;
  if (!owner_map_set(seg, OWNER_MAPPING)) {
    os_unmap(seg, UMA_SEG_SIZE);
    return NULL;
  }
  int node = (int)(A - arenas);
  numa_place(seg, UMA_SEG_SIZE, NULL, node, &route_numa[0]);   /* before the first touch */
  seg->kind = SEG_KIND_BIG;
  seg->node = (uint8_t)node;
  stats_commit(SEG_HEADER);
  tlsf_block_t *b = (tlsf_block_t *)((uint8_t *)seg + SEG_HEADER);
  b->word = (UMA_SEG_SIZE - SEG_HEADER) | B_FREE;
  b->prev_phys = NULL;
  b->clean_lo = 0;   /* fresh pages read as zero */
  b->clean_hi = UMA_SEG_SIZE - SEG_HEADER;
  STAT_ADD(A->counters.segments, 1);
  return b;
}

/* A used block whose neighbour before it is in use carries this in
 * prev_phys, so free() can tell a block start from a pointer into data. */
static struct tlsf_block_s *cookie(const tlsf_block_t *b) {
  return (struct tlsf_block_s *)((uintptr_t)b ^ uma_secret);
}

static bool spans_segment(const tlsf_block_t *b) { return bsize(b) == UMA_SEG_SIZE - SEG_HEADER; }

/* ---- allocation ------------------------------------------------------------ */

static size_t block_size_for(size_t size) {
  size_t g = 4096;
  for (int i = 0; i < TLSF_GRANULARITY_MAX; i++)
    if (tlsf_granularity[i].upto && size <= tlsf_granularity[i].upto) {
      g = tlsf_granularity[i].step;
      break;
    }
  size_t need = (size + BLOCK_HEADER + g - 1) / g * g;
  return need < MIN_BLOCK ? MIN_BLOCK : need;
}

void *tlsf_alloc(size_t size, bool zero, int node) {
  size_t need = block_size_for(size);
  tlsf_arena_t *A = &arenas[node];
  pthread_mutex_lock(&A->lock);
  tlsf_block_t *b = find(A, need);
  if (b) bin_remove(b);
  else if ((b = seg_new(A)) == NULL) {
    pthread_mutex_unlock(&A->lock);
    return NULL;
  }
  size_t have = bsize(b), lo = b->clean_lo, hi = b->clean_hi;
  UMA_ASSERT((b->word & B_FREE) && have >= need && have % 16 == 0 && need >= MIN_BLOCK && lo <= hi && hi <= have);
  /* immediate coalescing: a free block's neighbours are both in use */
  UMA_ASSERT(!(b->word & B_PREV_FREE) && (is_last(b) || !(next_phys(b)->word & B_FREE)));
  if (have - need >= MIN_BLOCK) {   /* split: the rest keeps its part of the clean range */
    tlsf_block_t *rest = (tlsf_block_t *)((uint8_t *)b + need);
    rest->word = (have - need) | B_FREE;
    rest->prev_phys = b;
    rest->freed_ms = b->freed_ms;
    rest->clean_lo = (uint32_t)(hi > need ? (lo > need ? lo : need) - need : 0);
    rest->clean_hi = (uint32_t)(hi > need ? hi - need : 0);
    if (!is_last(b)) next_phys(b)->prev_phys = rest;
    b->word = need | (b->word & B_FLAGS);
    bin_insert(rest);
  } else if (!is_last(b)) {
    tlsf_block_t *n = next_phys(b);
    n->word &= ~(size_t)B_PREV_FREE;
    n->prev_phys = cookie(n);
  }
  size_t end = bsize(b);
  bool zeroed = lo == 0 && hi >= end;   /* all of it purged: zero but for the free-list fields */
  size_t recommitted = hi > lo && lo < end ? (hi < end ? hi : end) - lo : 0;
  b->word &= ~(size_t)B_FREE;
  if (!(b->word & B_PREV_FREE)) b->prev_phys = cookie(b);
  if (recommitted) stats_commit((int64_t)recommitted);
  STAT_ADD(A->counters.allocs, 1);
  STAT_ADD(A->counters.bytes, bsize(b) - BLOCK_HEADER);
  STAT_ADD(A->counters.requested, size);
  pthread_mutex_unlock(&A->lock);
  uint8_t *p = (uint8_t *)b + BLOCK_HEADER;
  /* A purged block is zero but for the free-list fields inside its payload. */
  if (zero) memset(p, 0, zeroed ? sizeof(tlsf_block_t) - BLOCK_HEADER : size);
  return p;
}

/* ---- free ------------------------------------------------------------------ */

static tlsf_block_t *checked_block(void *seg, const void *p, const char *func) {
  uintptr_t a = (uintptr_t)p, s = (uintptr_t)seg;
  tlsf_block_t *b = (tlsf_block_t *)(a - BLOCK_HEADER);
  if ((a & 15) != 0 || a < s + SEG_HEADER + BLOCK_HEADER || a >= s + UMA_SEG_SIZE ||
      bsize(b) < MIN_BLOCK || (uintptr_t)b + bsize(b) > s + UMA_SEG_SIZE)
    uma_invalid_pointer(func, p, "is not the start of a block allocated here");
  if (b->word & B_FREE) uma_invalid_pointer(func, p, "was already freed (double free)");
  bool linked = (b->word & B_PREV_FREE)
    ? (uintptr_t)b->prev_phys >= s + SEG_HEADER && (uintptr_t)b->prev_phys < (uintptr_t)b &&
      (uintptr_t)b->prev_phys + bsize(b->prev_phys) == (uintptr_t)b
    : b->prev_phys == cookie(b);
  if (!linked) uma_invalid_pointer(func, p, "is not the start of a block allocated here");
  return b;
}

/* `into` absorbs the free block that follows it. The merged block keeps
 * one clean range: the two joined where they touch, else the larger, the
 * other counted as committed again (an upper bound until the next purge).
 * The absorbed header is zeroed when the kept range covers it, so the
 * range still reads as zero. */
static void absorb(tlsf_block_t *into, tlsf_block_t *other) {
  size_t at = bsize(into);
  size_t alo = into->clean_lo, ahi = into->clean_hi;
  size_t blo = at + other->clean_lo, bhi = at + other->clean_hi;
  size_t lo, hi;
  if (ahi == alo) { lo = blo; hi = bhi; }
  else if (bhi == blo) { lo = alo; hi = ahi; }
  else if (ahi == at && blo == at) { lo = alo; hi = bhi; }
  else if (ahi - alo >= bhi - blo) { lo = alo; hi = ahi; stats_commit((int64_t)(bhi - blo)); }
  else { lo = blo; hi = bhi; stats_commit((int64_t)(ahi - alo)); }
  if (lo <= at && hi > at) memset(other, 0, sizeof *other);
  into->clean_lo = (uint32_t)lo;
  into->clean_hi = (uint32_t)hi;
}

void tlsf_free(void *seg, void *p, const char *func) {
  tlsf_arena_t *A = arena_of_seg(seg);
  pthread_mutex_lock(&A->lock);
  tlsf_block_t *b = checked_block(seg, p, func);
  size_t size = bsize(b);
  STAT_ADD(A->counters.frees, 1);
  STAT_ADD(A->counters.freed_bytes, size - BLOCK_HEADER);
  UMA_ASSERT(size >= MIN_BLOCK && size % 16 == 0);
  b->word |= B_FREE;
  b->freed_ms = os_now_ms();
  b->clean_lo = b->clean_hi = 0;
  if (!is_last(b) && (next_phys(b)->word & B_FREE)) {
    tlsf_block_t *n = next_phys(b);
    bin_remove(n);
    size_t size_n = bsize(n);
    absorb(b, n);   /* may zero n's header */
    b->word = (bsize(b) + size_n) | (b->word & B_FLAGS);
  }
  if (b->word & B_PREV_FREE) {
    tlsf_block_t *prev = b->prev_phys;
    bin_remove(prev);
    size_t size_b = bsize(b);
    uint64_t freed_ms = b->freed_ms;
    absorb(prev, b);   /* may zero b's header */
    prev->word = (bsize(prev) + size_b) | (prev->word & B_FLAGS);
    prev->freed_ms = freed_ms;
    b = prev;
  }
  if (!is_last(b)) {
    tlsf_block_t *n = next_phys(b);
    n->word |= B_PREV_FREE;
    n->prev_phys = b;
  }
  bin_insert(b);
  pthread_mutex_unlock(&A->lock);
}

/* Under the lock: a neighbour's free rewrites this block's header (its
 * previous-free flag and link), and a racy read would fail the checks. */
size_t tlsf_usable(void *seg, const void *p, const char *func) {
  tlsf_arena_t *A = arena_of_seg(seg);
  pthread_mutex_lock(&A->lock);
  size_t n = bsize(checked_block(seg, p, func)) - BLOCK_HEADER;
  pthread_mutex_unlock(&A->lock);
  return n;
}

bool tlsf_owns(void *seg, const void *p) {
  uintptr_t a = (uintptr_t)p, s = (uintptr_t)seg;
  if ((a & 15) != 0 || a < s + SEG_HEADER + BLOCK_HEADER) return false;
  /* Only a walk of the segment proves a block starts here. */
  bool found = false;
  tlsf_arena_t *A = arena_of_seg(seg);
  pthread_mutex_lock(&A->lock);
  for (tlsf_block_t *b = (tlsf_block_t *)(s + SEG_HEADER);; b = next_phys(b)) {
    if ((uintptr_t)b + BLOCK_HEADER == a) { found = !(b->word & B_FREE); break; }
    if ((uintptr_t)b > a || is_last(b)) break;
  }
  pthread_mutex_unlock(&A->lock);
  return found;
}

/* ---- decay ------------------------------------------------------------------ */

/* Whole pages to the OS, the partial pages at either end zeroed. */
static void purge_block(tlsf_block_t *b) {
  uint8_t *start = (uint8_t *)b + sizeof *b, *end = (uint8_t *)b + bsize(b);
  uint8_t *lo = (uint8_t *)(((uintptr_t)start + UMA_OS_PAGE - 1) & ~(UMA_OS_PAGE - 1));
  uint8_t *hi = (uint8_t *)((uintptr_t)end & ~(UMA_OS_PAGE - 1));
  if (lo < hi) {
    memset(start, 0, (size_t)(lo - start));
    /* "reads as zero" must hold even where the kernel keeps the pages (an
     * mlockall'd program): calloc from a purged block skips its memset */
    if (!os_purge(lo, (size_t)(hi - lo))) memset(lo, 0, (size_t)(hi - lo));
    memset(hi, 0, (size_t)(end - hi));
  } else {
    memset(start, 0, (size_t)(end - start));
  }
  arena_of(b)->dirty_free_blocks--;
  stats_commit(-(int64_t)(bsize(b) - clean_bytes(b)));
  b->clean_lo = 0;
  b->clean_hi = (uint32_t)bsize(b);
}

static void arena_purge(tlsf_arena_t *A, uint64_t now_ms, bool force) {
  uint64_t delay = (uint64_t)uma_options[UMA_OPTION_PURGE_DELAY_MS];
  pthread_mutex_lock(&A->lock);
  if (A->dirty_free_blocks == 0 && A->counters.segments == 0) {
    pthread_mutex_unlock(&A->lock);
    return;
  }
  for (unsigned fl = 0; fl < FL_COUNT; fl++)
    for (unsigned sl = 0; sl < (1u << SL_BITS); sl++) {
      tlsf_block_t *next;
      for (tlsf_block_t *b = A->bins[fl][sl]; b; b = next) {
        next = b->next_free;
        if (!force && now_ms - b->freed_ms < delay) continue;
        if (spans_segment(b)) {   /* an empty segment: back to the OS */
          bin_remove(b);
          stats_commit(-(int64_t)(bsize(b) - clean_bytes(b)));
          stats_commit(-(int64_t)SEG_HEADER);
          STAT_ADD(A->counters.segments, -1);
          void *seg = seg_of(b);
          owner_map_release(seg);
          os_unmap(seg, UMA_SEG_SIZE);
        } else if (!all_clean(b)) {
          purge_block(b);
        }
      }
    }
  pthread_mutex_unlock(&A->lock);
}

void tlsf_purge(uint64_t now_ms, bool force) {
  for (int n = 0; n < arena_count(); n++) arena_purge(&arenas[n], now_ms, force);
}

/* Every arena's counters added up (racy reads, for reports). */
void tlsf_counters_sum(tlsf_counters_t *out) {
  memset(out, 0, sizeof *out);
  for (int n = 0; n < arena_count(); n++) {
    const uint64_t *src = (const uint64_t *)&arenas[n].counters;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
      dst[i] += atomic_load_explicit((_Atomic uint64_t *)&src[i], memory_order_relaxed);
  }
}

/* ---- the report's walk (no lock: racy reads, clamped) ------------------------ */

void tlsf_walk(uma_frag_pool_t *pool, void *seg, bool resident) {
  uintptr_t s = (uintptr_t)seg, end = s + UMA_SEG_SIZE;
  pool->mappings++;
  pool->mapped += UMA_SEG_SIZE;
  pool->metadata += SEG_HEADER;
  if (resident) pool->resident += os_resident(seg, UMA_SEG_SIZE);
  for (uintptr_t a = s + SEG_HEADER; a < end;) {
    size_t word = *(volatile size_t *)a, size = word & ~(size_t)B_FLAGS;
    if (size < MIN_BLOCK || a + size > end) break;   /* being rewritten: stop here */
    if (word & B_FREE) {
      extents_add(pool, size - BLOCK_HEADER, 1);
      const volatile tlsf_block_t *b = (const volatile tlsf_block_t *)a;
      uint32_t lo = b->clean_lo, hi = b->clean_hi;
      if (lo < hi && hi <= size) pool->free_returned += hi - lo;
    }
    else pool->live_bytes += size - BLOCK_HEADER;
    a += size;
  }
}

void tlsf_fork_prepare(void) {
  for (int n = 0; n < arena_count(); n++) pthread_mutex_lock(&arenas[n].lock);
}
void tlsf_fork_parent(void) {
  for (int n = arena_count() - 1; n >= 0; n--) pthread_mutex_unlock(&arenas[n].lock);
}
void tlsf_fork_child(void) {
  for (int n = 0; n < arena_count(); n++) pthread_mutex_init(&arenas[n].lock, NULL);
}
