/* The report's measurements: the heap walk (free blocks, extents, the
 * unusable index), the committed footprint, the lifetime trace, and the JSON
 * writer's exact output. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "base.h"
#include "frag.h"
#include "heap.h"
#include "json.h"
#include "size_class.h"
#include "stats.h"
#include "trace.h"

Test(report, walk_counts_the_free_blocks_of_a_class) {
  enum { N = 2000 };
  static void *p[N];
  unsigned cls = sc_of(1000);
  for (int i = 0; i < N; i++) p[i] = uma_malloc(1000);
  for (int i = 0; i < N; i += 2) uma_free(p[i]);
  static uma_frag_t w;
  cr_assert(frag_scan(&w, true));
  const uma_frag_pool_t *small = &w.pool[FRAG_POOL_SMALL];
  size_t bs = sc_size(cls);
  /* N/2 freed, 15 of them held by the thread cache (counted as in use). */
  cr_assert_geq(w.class_free[cls], (N / 2 - UMA_TCACHE_SLOTS) * bs);
  cr_assert_geq(w.class_live[cls], (N / 2) * bs);
  cr_assert_geq(small->free_bytes, w.class_free[cls]);
  cr_assert_geq(small->hist_count[10], N / 2 - UMA_TCACHE_SLOTS, "1 KiB blocks land in bucket [1K, 2K)");
  cr_assert_leq(small->largest_free, small->free_bytes);
  /* A 4 KiB request cannot use a free 1 KiB block: those bytes are unusable
   * for it, while 64-byte requests could use all of them. */
  cr_assert_eq(extent_probe_sizes[1], 4096);
  cr_assert_leq(small->usable[1], small->free_bytes - w.class_free[cls]);
  cr_assert_geq(small->usable[0], w.class_free[cls], "64-byte requests fit in 1 KiB holes");
  uint64_t sum = 0;
  for (int b = 0; b < FRAG_BUCKETS; b++) sum += small->hist_bytes[b];
  cr_assert_eq(sum, small->free_bytes, "the histogram covers every free byte");
  for (int i = 1; i < N; i += 2) uma_free(p[i]);
}

Test(report, committed_follows_pages_and_large_blocks) {
  uma_collect(true);
  uint64_t c0 = atomic_load(&stats_committed);
  void *big = uma_malloc(16 << 20);
  uint64_t c1 = atomic_load(&stats_committed);
  cr_assert_geq(c1, c0 + (16u << 20));
  cr_assert_geq(atomic_load(&stats_peak_committed), c1);
  enum { N = 4000 };
  static void *p[N];
  for (int i = 0; i < N; i++) p[i] = uma_malloc(1000);
  uint64_t c2 = atomic_load(&stats_committed);
  cr_assert_geq(c2, c1 + N * 1000, "small pages count once handed out");
  for (int i = 0; i < N; i++) uma_free(p[i]);
  uma_free(big);
  uma_collect(true);
  uint64_t c3 = atomic_load(&stats_committed);
  cr_assert_leq(c3, c0 + (1u << 20), "purged pages and unmapped blocks stop counting (%llu -> %llu)",
                (unsigned long long)c0, (unsigned long long)c3);
}

Test(report, trace_records_lifetimes_and_the_peak_of_live_bytes) {
  cr_assert(trace_start(4));
  char a, b, c, d, e;
  trace_alloc(&a, 100);
  trace_alloc(&b, 200);
  trace_free(&a);
  trace_alloc(&c, 50);
  trace_free(&b);
  trace_alloc(&d, 10);
  trace_alloc(&e, 10);   /* the fifth: over trace_max */
  trace_free(&e);        /* not traced: ignored */
  cr_assert_eq(trace_len, 4);
  cr_assert_eq(trace_dropped, 1);
  cr_assert_eq(trace_peak_live, 300);
  cr_assert_eq(trace_live, 60);
  cr_assert_eq(trace_recs[0].size, 100);
  cr_assert_eq(trace_recs[0].t_alloc, 1);
  cr_assert_eq(trace_recs[0].t_free, 3);
  cr_assert_eq(trace_recs[1].t_free, 5);
  cr_assert_eq(trace_recs[2].t_free, 0, "still live");
  cr_assert_eq(trace_clock, 8);
}

Test(report, json_writer_output_is_exact) {
  char path[] = "/tmp/uma-json-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  static uma_json_t j;
  memset(&j, 0, sizeof j);
  j.fd = fd;
  json_open(&j, NULL, '{');
  json_u64(&j, "a", 1);
  json_ratio(&j, "r", 1, 3);
  json_str(&j, "s", "q\"\\\x01");
  json_open(&j, "l", '[');
  json_u64(&j, NULL, 1);
  json_i64(&j, NULL, -2);
  json_null(&j, NULL);
  json_close(&j, ']');
  json_bool(&j, "t", true);
  json_close(&j, '}');
  json_end(&j);
  char text[256] = { 0 };
  cr_assert_gt(pread(fd, text, sizeof text - 1, 0), 0);
  close(fd);
  unlink(path);
  cr_assert_str_eq(text, "{\"a\":1,\"r\":0.3333,\"s\":\"q\\\"\\\\\\u0001\",\"l\":[1,-2,null],\"t\":true}\n");
}
