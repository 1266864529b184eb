/* Purging: freed memory stays resident for the purge delay, then goes back
 * to the OS (checked page by page with mincore). */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>
#include "base.h"
#include "layout.h"
#include "helpers.h"

#define BLOCKS 4096
#define SIZE   4096   /* 16 MiB of small blocks */

static char *blocks[BLOCKS];

static size_t resident_of_blocks(void) {
  size_t n = 0;
  for (int i = 0; i < BLOCKS; i++) n += resident_pages(blocks[i], SIZE);
  return n;
}

static void fill_and_free(void) {
  for (int i = 0; i < BLOCKS; i++) {
    blocks[i] = uma_malloc(SIZE);
    memset(blocks[i], 1, SIZE);
  }
  cr_assert_geq(resident_of_blocks(), BLOCKS * (SIZE / 4096));
  for (int i = 0; i < BLOCKS; i++) uma_free(blocks[i]);
}

Test(purge, delay_zero_returns_pages_at_once) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 0);
  fill_and_free();
  /* One current page per class may stay; 16 MiB of blocks must not. */
  cr_assert_lt(resident_of_blocks(), BLOCKS / 16, "%zu pages still resident", resident_of_blocks());
}

Test(purge, memory_waits_for_the_delay_then_goes_back) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60 * 1000);
  fill_and_free();
  cr_assert_geq(resident_of_blocks(), BLOCKS * 9 / 10, "purged before the delay");
  uma_stats_t before, after;
  uma_stats_get(&before);
  uma_collect(true);
  uma_stats_get(&after);
  cr_assert_lt(resident_of_blocks(), BLOCKS / 16, "%zu pages still resident", resident_of_blocks());
  cr_assert_gt(after.purged_bytes + (before.mapped_bytes - after.mapped_bytes), before.purged_bytes);
}

Test(purge, large_blocks_are_unmapped_after_the_delay) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60 * 1000);
  char *p = uma_malloc(16 << 20);
  memset(p, 1, 16 << 20);
  uma_free(p);
  cr_assert_geq(resident_pages(p, 16 << 20), (16 << 20) / 4096 * 9 / 10, "kept for reuse until the delay");
  uma_collect(true);
  cr_assert_eq(resident_pages(p, 16 << 20), 0);
  cr_assert(!uma_owns(p), "an unmapped block is no longer ours");
}

/* The cache must not be why a peak grows: a cached block that cannot serve
 * a request (too small) is unmapped before a new mapping would raise the
 * footprint past its peak, instead of staying resident beside it. */
Test(purge, a_cached_large_block_gives_way_to_a_mapping_past_the_peak) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60 * 1000);
  char *a = uma_malloc(16 << 20);
  memset(a, 1, 16 << 20);
  uma_stats_t with_a, after;
  uma_stats_get(&with_a);
  uma_free(a);
  char *b = uma_malloc(40 << 20);
  uma_stats_get(&after);
  cr_assert_leq(after.mapped_bytes, with_a.mapped_bytes - (16 << 20) + (40 << 20) + (4 << 20),
                "mapped %llu MiB with the cached block kept beside the new one",
                (unsigned long long)(after.mapped_bytes >> 20));
  uma_free(b);
}

static void pass_ms(long ms) {   /* lets the decay clock move; nothing is waited for */
  struct timespec ts = { 0, ms * 1000000L };
  nanosleep(&ts, NULL);
}

/* Enough 16-byte blocks to run a page dry: the refill runs the purge tick
 * without taking a new segment (which would reuse the cached one). */
static void refill_small(void **keep) {
  for (int i = 0; i < 5000; i++) keep[i] = uma_malloc(16);
}

Test(purge, an_emptied_current_page_decays_too) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 1);
  static void *keep[4][5000];
  refill_small(keep[0]);             /* the small segment exists before */
  char *p = uma_malloc(60 << 10);    /* a medium class: its page is 512 KiB */
  memset(p, 1, 60 << 10);
  uma_free(p);                       /* the class's current page is now empty, and kept */
  cr_assert_geq(resident_pages(p, 60 << 10), 14);
  pass_ms(20);
  refill_small(keep[1]);             /* a tick sees the class idle since the last one: not yet */
  cr_assert_geq(resident_pages(p, 60 << 10), 14, "a class allocated from since the last tick keeps its page");
  pass_ms(20);
  refill_small(keep[2]);             /* idle for a whole tick: the page goes back, its segment to the cache */
  pass_ms(20);
  refill_small(keep[3]);             /* the next tick: the cached segment goes back to the OS */
  cr_assert_eq(resident_pages(p, 60 << 10), 0);
  for (int k = 0; k < 4; k++)
    for (int i = 0; i < 5000; i++) uma_free(keep[k][i]);
}

/* A cached segment reused for another page size keeps its dirty pages in the
 * new layout: no dirty bit may name a page past the new page count (the
 * purge would madvise memory beyond the segment, someone else's). */
Test(purge, a_segment_reused_for_another_page_size_keeps_a_valid_dirty_mask) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60000);
  enum { N = 3000 };
  static char *small[N];
  for (int i = 0; i < N; i++) small[i] = uma_malloc(1000);   /* small pages, a few MiB */
  void *seg = seg_of(small[N - 1]);
  for (int i = 0; i < N; i++) uma_free(small[i]);
  uma_collect(false);        /* empty pages back to their segments; empty segments to the cache */
  char *medium = NULL;
  for (int k = 0; k < 64 && (medium == NULL || seg_of(medium) != seg); k++) medium = uma_malloc(40000);
  uma_segment_t *s = seg_of(medium);
  cr_assert_eq(s->kind, SEG_KIND_MEDIUM);
  cr_assert_eq(s->dirty_mask >> s->page_count, 0, "dirty bits beyond the %u pages: %#llx", s->page_count,
               (unsigned long long)s->dirty_mask);
  cr_assert_eq(s->dirty_mask & ~s->free_mask, 0, "a page in use is not 'free and dirty'");
}
