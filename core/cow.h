/* cow.h — copy-on-write aliasing of large blocks (cow.c). */
#ifndef UMA_COW_H
#define UMA_COW_H
#include "base.h"
#include "json.h"
#include "layout.h"

typedef struct cow_stats_s {
  uint64_t blocks, copies, fallbacks, aliased_bytes, copied_bytes, alias_ns;
  uint64_t broken_pages;                       /* aliased pages later copied by a write */
  uint64_t file_bytes, file_peak, forks;       /* the memory file's pages in use */
} cow_stats_t;
UMA_HIDDEN extern uint64_t cow_min;            /* [alias] cow_min; UINT64_MAX: no rule aliases */
UMA_HIDDEN extern bool cow_into_resident;      /* [alias] cow_into = any */
UMA_HIDDEN extern cow_stats_t cow_stats;
UMA_HIDDEN void cow_install(void);   /* registers its hooks (large.h) and fork handlers */
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

#endif
