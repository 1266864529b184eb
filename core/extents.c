/* extents.c — counts free extents into a pool's figures (extents.h). */
#include "extents.h"

const char *const frag_pool_names[FRAG_POOLS] = { "small", "medium", "coalescing", "large" };
const uint64_t extent_probe_sizes[FRAG_PROBES] = { 64, 4096, 65536, 1048576, 16777216 };

void extents_add(uma_frag_pool_t *pool, uint64_t size, uint64_t n) {
  if (n == 0 || size == 0) return;
  pool->free_bytes += n * size;
  pool->free_extents += n;
  if (size > pool->largest_free) pool->largest_free = size;
  unsigned b = 63u - (unsigned)__builtin_clzll(size);
  if (b >= FRAG_BUCKETS) b = FRAG_BUCKETS - 1;
  pool->hist_count[b] += n;
  pool->hist_bytes[b] += n * size;
  for (unsigned j = 0; j < FRAG_PROBES; j++)
    pool->usable[j] += n * (size / extent_probe_sizes[j] * extent_probe_sizes[j]);
}
