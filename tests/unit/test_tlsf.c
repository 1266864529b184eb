/* The coalescing pool (64 KiB < size ≤ 512 KiB): best fit, immediate
 * coalescing, decay that leaves purged blocks reading zero, realloc, and
 * the diagnosis of bad frees. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include "base.h"
#include "frag.h"
#include "layout.h"
#include "stats.h"
#include "tlsf.h"
#include "helpers.h"

#define K 1024

Test(tlsf, freed_neighbours_merge_into_one_extent) {
  char *a = uma_malloc(100 * K), *b = uma_malloc(100 * K), *c = uma_malloc(100 * K);
  cr_assert_eq(seg_of(a), seg_of(c), "one segment serves them all");
  cr_assert_eq(b, a + uma_usable_size(a) + 16, "blocks are placed next to each other");
  uma_free(a);
  uma_free(c);
  uma_free(b);   /* joins both neighbours */
  static uma_frag_t w;
  cr_assert(frag_scan(&w, true));
  const uma_frag_pool_t *pool = &w.pool[FRAG_POOL_COALESCING];
  cr_assert_eq(pool->mappings, 1);
  cr_assert_eq(pool->free_extents, 1, "one free extent, not %llu", (unsigned long long)pool->free_extents);
  cr_assert_eq(pool->largest_free, UMA_SEG_SIZE - UMA_OS_PAGE - 16);
  cr_assert_eq(pool->live_bytes, 0);
}

Test(tlsf, best_fit_keeps_the_large_extent_whole) {
  char *p[6];
  size_t sizes[6] = { 200 * K, 100 * K, 120 * K, 100 * K, 300 * K, 100 * K };
  for (int i = 0; i < 6; i++) p[i] = uma_malloc(sizes[i]);
  uma_free(p[0]);   /* holes of 200 KiB and 120 KiB, fenced by live blocks */
  uma_free(p[2]);
  char *q = uma_malloc(110 * K);
  cr_assert_eq(q, p[2], "the 110 KiB request takes the 120 KiB hole, not the 200 KiB one");
  char *r = uma_malloc(190 * K);
  cr_assert_eq(r, p[0], "and the 200 KiB hole is still whole for a 190 KiB request");
  uma_free(q);
  uma_free(r);
  for (int i = 1; i < 6; i += 2) uma_free(p[i]);
  uma_free(p[4]);
}

Test(tlsf, purged_blocks_read_zero_and_leave_memory) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 1);
  char *fence = uma_malloc(100 * K);
  char *p = uma_malloc(300 * K);
  char *fence2 = uma_malloc(100 * K);
  memset(p, 0xab, 300 * K);
  uint64_t c0 = atomic_load(&stats_committed);
  uma_free(p);
  uma_collect(true);
  cr_assert_leq(resident_pages(p + 8 * K, 280 * K), 0, "the freed block's pages went back");
  cr_assert_leq(atomic_load(&stats_committed), c0 - 290 * K, "and stopped counting as committed");
  char *z = uma_calloc(1, 300 * K);
  cr_assert_eq(z, p);
  for (size_t i = 0; i < 300 * K; i++) cr_assert_eq(z[i], 0, "byte %zu of calloc's block is not zero", i);
  uma_free(z);
  uma_free(fence);
  uma_free(fence2);
}

Test(tlsf, realloc_keeps_the_contents) {
  char *p = uma_malloc(70 * K);
  for (size_t i = 0; i < 70 * K; i++) p[i] = (char)(i * 7);
  p = uma_realloc(p, 400 * K);
  for (size_t i = 0; i < 70 * K; i++) cr_assert_eq(p[i], (char)(i * 7));
  p = uma_realloc(p, 90 * K);
  for (size_t i = 0; i < 70 * K; i++) cr_assert_eq(p[i], (char)(i * 7));
  cr_assert(uma_owns(p));
  cr_assert(!uma_owns(p + 16), "an interior pointer is not a block");
  uma_free(p);
}

Test(tlsf, granularity_bounds_the_waste) {
  for (size_t n = 64 * K + 1; n <= UMA_BLOCK_MAX; n += 4099) {
    void *p = uma_malloc(n);
    size_t u = uma_usable_size(p);
    cr_assert(u >= n && u - n < (n <= 128 * K ? 1024 : 4096), "size %zu usable %zu", n, u);
    uma_free(p);
  }
}

Test(tlsf, double_free_aborts, .signal = SIGABRT) {
  void *fence = uma_malloc(100 * K);
  void *p = uma_malloc(100 * K);
  uma_free(p);
  uma_free(p);
  uma_free(fence);
}

Test(tlsf, interior_free_aborts, .signal = SIGABRT) {
  char *p = uma_malloc(100 * K);
  uma_free(p + 4096);
}

Test(tlsf, above_moves_small_requests_to_the_pool) {
  tlsf_set_above(128);
  tlsf_granularity_t saved[TLSF_GRANULARITY_MAX];
  memcpy(saved, tlsf_granularity, sizeof saved);
  memset(tlsf_granularity, 0, sizeof saved);
  tlsf_granularity[0] = (tlsf_granularity_t){ UMA_BLOCK_MAX, 16 };
  static char *p[1000];
  for (int i = 0; i < 1000; i++) {
    p[i] = uma_malloc(200 + (size_t)i);
    cr_assert_eq(((uma_segment_t *)seg_of(p[i]))->kind, SEG_KIND_BIG, "served by the coalescing pool");
    cr_assert_lt(uma_usable_size(p[i]), 200 + (size_t)i + 64, "rounded to 16, not to a size class");
    memset(p[i], i, 200 + (size_t)i);
  }
  char *small = uma_malloc(100);
  cr_assert_neq(((uma_segment_t *)seg_of(small))->kind, SEG_KIND_BIG, "128 bytes and below keep their classes");
  for (int i = 0; i < 1000; i++) {
    cr_assert_eq(p[i][199], (char)i);
    uma_free(p[i]);
  }
  uma_free(small);
  tlsf_set_above(64 * K);
  memcpy(tlsf_granularity, saved, sizeof saved);
}
