/* Counters: allocations, frees, requested and served bytes, live and peak. */
#include <criterion/criterion.h>
#include "uma.h"

Test(stats, counts_allocations_bytes_and_peak) {
  uma_stats_t s0, s1, s2;
  uma_stats_get(&s0);
  void *p[100];
  uint64_t requested = 0;
  for (int i = 0; i < 100; i++) {
    p[i] = uma_malloc((size_t)i * 100 + 1);
    requested += (uint64_t)i * 100 + 1;
  }
  void *big = uma_malloc(10 << 20);
  requested += 10 << 20;
  uma_stats_get(&s1);
  cr_assert_eq(s1.allocs - s0.allocs, 101);
  cr_assert_eq(s1.bytes_requested - s0.bytes_requested, requested);
  cr_assert_geq(s1.bytes_served - s0.bytes_served, requested);
  cr_assert_geq(s1.live_bytes - s0.live_bytes, requested);
  cr_assert_geq(s1.peak_live_bytes, s1.live_bytes);
  cr_assert_geq(s1.mapped_bytes, 10u << 20);
  for (int i = 0; i < 100; i++) uma_free(p[i]);
  uma_free(big);
  uma_stats_get(&s2);
  cr_assert_eq(s2.frees - s0.frees, 101);
  cr_assert_eq(s2.live_bytes, s0.live_bytes);
  cr_assert_geq(s2.peak_live_bytes, s1.live_bytes, "the peak remembers the 10 MiB block");
  cr_assert_geq(s2.peak_mapped_bytes, s1.mapped_bytes);
}
