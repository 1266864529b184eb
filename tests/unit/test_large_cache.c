/* The large-block cache: a freed mapping serves a request of another size
 * without giving its pages back — the tail of a bigger one is split off and
 * stays cached, two cached mappings that touch merge again, and a smaller
 * one grows — so the pages are not faulted in twice (checked with
 * mincore: a cached page is resident before the program touches it). */
#include <criterion/criterion.h>
#include <string.h>
#include "base.h"
#include "helpers.h"

#define MiB ((size_t)1 << 20)

static char *touched(size_t size) {
  char *p = uma_malloc(size);
  cr_assert_not_null(p);
  memset(p, 1, size);
  return p;
}

static void init(void) { uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60 * 1000); }

Test(large_cache, a_bigger_mapping_is_split_and_its_tail_stays_cached, .init = init) {
  char *a = touched(24 * MiB);
  uma_free(a);
  char *b = uma_malloc(2 * MiB);
  cr_assert_eq(b, a, "the 2 MiB request takes the head of the cached 24 MiB mapping");
  char *c = uma_malloc(16 * MiB);
  cr_assert(c > a && c < a + 24 * MiB, "the 16 MiB request takes the split-off tail");
  cr_assert_geq(resident_pages(c, 16 * MiB), 16 * MiB / 4096, "the tail's pages were kept resident");
  uma_free(b);
  uma_free(c);
  char *d = uma_malloc(22 * MiB);
  cr_assert_eq(d, a, "head and tail merged again into one mapping");
  cr_assert_geq(resident_pages(d, 22 * MiB), 22 * MiB / 4096, "and none of its pages went back");
  memset(d, 2, 22 * MiB);
  uma_free(d);
}

Test(large_cache, a_smaller_mapping_grows_and_keeps_its_pages, .init = init) {
  char *a = touched(8 * MiB);
  uma_free(a);
  uma_stats_t before, after;
  uma_stats_get(&before);
  char *b = uma_malloc(20 * MiB);
  uma_stats_get(&after);
  cr_assert_geq(resident_pages(b, 8 * MiB), 8 * MiB / 4096 - 1, "the 8 MiB already faulted in came along");
  cr_assert_leq(after.mapped_bytes, before.mapped_bytes + 12 * MiB + 4 * MiB, "grown, not mapped beside");
  memset(b, 3, 20 * MiB);
  for (size_t i = 0; i < 20 * MiB; i += 4096) cr_assert_eq(b[i], 3);
  uma_free(b);
}

Test(large_cache, calloc_from_a_reused_mapping_reads_zero, .init = init) {
  char *a = touched(12 * MiB);
  uma_free(a);
  char *b = uma_calloc(1, 30 * MiB);   /* grows the cached 12 MiB: its old bytes must not show */
  for (size_t i = 0; i < 30 * MiB; i += 512) cr_assert_eq(b[i], 0, "byte %zu", i);
  uma_free(b);
  char *c = uma_calloc(1, 5 * MiB);    /* the head of a cached bigger one */
  for (size_t i = 0; i < 5 * MiB; i += 512) cr_assert_eq(c[i], 0, "byte %zu", i);
  uma_free(c);
}
