/* sample.h — sampled call sites (sample.c). */
#ifndef UMA_SAMPLE_H
#define UMA_SAMPLE_H
#include "base.h"
#include "heap.h"
#include "json.h"

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

UMA_HIDDEN void sample_write_json(uma_json_t *j);

#endif
