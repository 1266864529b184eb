/* pool.h — the device pool's own structures, shared by its files only
 * (device_pool.c: the pool and its API; expandable.c: expandable
 * segments). Nothing outside cuda/ includes it. */
#ifndef UMA_POOL_H
#define UMA_POOL_H
#include "../core/base.h"
#include "../core/addr_table.h"
#include "../core/binmap.h"
#include "../core/plan.h"
#include "device_pool.h"

#define SL_BITS 2                          /* 4 bins per power of two */
#define FL_COUNT 48
#define MiB (1024 * 1024UL)
#define CHUNK_MAX (64 * MiB)                /* expandable segments: the most one cuMemCreate backs */

enum { DB_READY = 1, DB_USED = 2, DB_PENDING = 3, DB_UNMAPPED = 4 };

typedef struct dev_seg_s dev_seg_t;
typedef struct dev_block_s {
  uintptr_t addr;
  size_t size, requested;
  struct dev_block_s *prev_phys, *next_phys;   /* neighbours in the segment */
  struct dev_block_s *next, *prev;             /* bin or pending list */
  dev_seg_t *seg;
  uint64_t plan_seq;                           /* the planner's number for it, plus one (0: not observed) */
  uint8_t state;
} dev_block_t;

struct dev_seg_s {
  uintptr_t base;
  size_t size;
  dev_seg_t *next, *prev;
  dev_block_t *first;
};

typedef struct dev_pool_s {
  pthread_mutex_t lock;
  dev_block_t *bins[FL_COUNT][1 << SL_BITS];
  binmap_t map;                            /* which bins hold ready blocks */
  dev_block_t *pending;
  dev_seg_t *segs;
  addr_table_t used;                       /* blocks handed out: address → descriptor */
  dev_seg_t *xseg;                         /* the expandable segment, or NULL */
  size_t granule;
  uint64_t *handles;                       /* per chunk (at its first granule): its physical allocation */
  uint32_t *chunk_of;                      /* per granule: the first granule of its chunk */
  uint32_t *chunk_len;                     /* per chunk (at its first granule): granules in it */
  bool x_failed;                           /* reserving failed: not tried again */
  /* [plan] device = auto (plan.c): the arena, one cudaMalloc of the packed
   * size, and the planned ranges freed since the last fence (reusing one
   * of those addresses waits for the device: its old work may still run). */
  plan_t *planner;
  uintptr_t arena;
  size_t arena_size;
  struct { uint64_t off, size; } recent[32];
  int recent_count;
  dev_stats_t st;
} dev_pool_t;

#define OUT_OF_MEMORY 2   /* cudaErrorMemoryAllocation and CUDA_ERROR_OUT_OF_MEMORY alike */
UMA_HIDDEN extern const dev_backend_t *pool_backends[DEV_APIS];
#define BACKEND(id) pool_backends[(id) / DEV_MAX]
#define DEVICE(id) ((id) % DEV_MAX)

UMA_HIDDEN void pool_note_reserved(dev_pool_t *p);
UMA_HIDDEN void *pool_meta_new(void);                         /* a zeroed descriptor of either kind */
UMA_HIDDEN void pool_bin_insert(dev_pool_t *p, dev_block_t *b);   /* ready now */
UMA_HIDDEN void pool_bin_remove(dev_pool_t *p, dev_block_t *b);
UMA_HIDDEN dev_block_t *pool_find_ready(dev_pool_t *p, size_t size);
UMA_HIDDEN dev_block_t *pool_block_split(dev_block_t *b, size_t at);   /* the new tail, or NULL */
UMA_HIDDEN bool pool_over_quota(dev_pool_t *p, int id, size_t more);
UMA_HIDDEN void pool_make_ready(dev_pool_t *p, dev_block_t *b);    /* merged with ready neighbours */
UMA_HIDDEN void pool_absorb_next(dev_block_t *b);

/* Expandable segments (expandable.c): one reserved virtual range per pool,
 * backed in chunks as it grows, chunks given back whole. */
UMA_HIDDEN bool expandable_init(dev_pool_t *p, int id);
UMA_HIDDEN dev_block_t *expandable_grow(dev_pool_t *p, int id, size_t need, int *err);
UMA_HIDDEN void expandable_release(dev_pool_t *p, int id, uint64_t keep);

#endif
