/* uma.h — the public C API of the uma-preload allocator core (libumacore.a).
 * The preload (libumapreload.so) maps the glibc malloc ABI onto these calls;
 * unit tests and tools call them directly, with no preloading. */
#ifndef UMA_H
#define UMA_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* Allocation: the same contracts as malloc, free, calloc, realloc and
 * memalign in glibc (see docs/ARCHITECTURE.md, "Semantics"). */
void  *uma_malloc(size_t size);
void   uma_free(void *p);
void  *uma_calloc(size_t count, size_t size);
void  *uma_realloc(void *p, size_t size);
/* Alignment must be a power of two; returns NULL with errno EINVAL otherwise. */
void  *uma_aligned_alloc(size_t alignment, size_t size);
size_t uma_usable_size(const void *p);
/* True when p is the start of a live or freed block of this core: O(1), never
 * dereferences memory it does not own. */
bool   uma_owns(const void *p);

/* Return freed memory: `force` purges every free page and cached mapping
 * now; otherwise only what has outlived the purge delay. */
void   uma_collect(bool force);

/* Runtime options (the policy layer sets these at start-up). */
typedef enum uma_option_e {
  UMA_OPTION_PURGE_DELAY_MS,   /* dirty free memory goes back to the OS after this long */
  UMA_OPTION_LARGE_CACHE_MAX,  /* bytes of freed large mappings kept for reuse */
  UMA_OPTION_PURGE_BACKGROUND, /* 1: a helper thread returns idle memory when the program does not allocate */
  UMA_OPTION_PURGE_BACKGROUND_ABOVE, /* ... once the footprint reached this many bytes */
  UMA_OPTION_COUNT
} uma_option_t;
void    uma_option_set(uma_option_t option, int64_t value);
int64_t uma_option_get(uma_option_t option);

/* Totals across all threads. Counters are cumulative since start; "live"
 * values are at the moment of the call. */
typedef struct uma_stats_s {
  uint64_t allocs;          /* successful allocations */
  uint64_t frees;           /* blocks freed */
  uint64_t bytes_requested; /* sum of requested sizes */
  uint64_t bytes_served;    /* sum of block sizes handed out */
  uint64_t live_bytes;      /* served bytes not yet freed */
  uint64_t live_blocks;
  uint64_t peak_live_bytes; /* sampled on every page refill and large allocation */
  uint64_t mapped_bytes;    /* address space mapped from the OS now */
  uint64_t peak_mapped_bytes;
  uint64_t purged_bytes;    /* bytes returned to the OS by purging (cumulative) */
  uint64_t large_allocs;    /* allocations served by whole mappings */
  uint64_t large_remaps;    /* realloc of large blocks done by mremap */
  uint64_t heaps_created;   /* thread heaps made */
  uint64_t heaps_abandoned; /* heaps handed back by exited threads, waiting for reuse */
  uint64_t heaps_adopted;   /* handed-back heaps taken over by new threads */
  /* Added 2026-12 (at the end: a program built against the older header
   * passes a smaller struct only to a library of its own vintage). */
  uint64_t purged_in_use_bytes; /* of purged_bytes: free OS pages inside pages still in use */
  uint64_t purge_passes;        /* passes of the purge helper thread ([purge] background) */
} uma_stats_t;
void uma_stats_get(uma_stats_t *out);

/* Write the text report of the running program (headed "snapshot", one
 * screen) to a file descriptor; also what malloc_stats() prints. */
void uma_report_write(int fd);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
