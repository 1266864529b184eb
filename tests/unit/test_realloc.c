/* realloc keeps the contents across every pool boundary, in both directions;
 * large blocks move by mremap (counted in large_remaps) without copying. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include "uma.h"

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 31 + seed);
}
static void check(const unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(i * 31 + seed)) cr_assert_fail("byte %zu of %zu changed", i, n);
}

Test(realloc, keeps_contents_across_every_pool_boundary) {
  /* small | medium (8 KiB) | big pages (64 KiB) | large mappings (512 KiB) */
  static const size_t steps[] = { 10, 128, 8192, 8193, 65536, 65537, 524288, 524289,
                                  8 << 20, 64 << 20, 600000, 70000, 9000, 100, 1 };
  size_t prev = 10;
  unsigned char *p = uma_malloc(prev);
  fill(p, prev, 7);
  for (size_t i = 1; i < sizeof steps / sizeof steps[0]; i++) {
    size_t n = steps[i];
    p = uma_realloc(p, n);
    cr_assert_not_null(p, "realloc to %zu", n);
    cr_assert_geq(uma_usable_size(p), n);
    check(p, prev < n ? prev : n, 7);
    fill(p, n, 7);
    prev = n;
  }
  uma_free(p);
}

Test(realloc, grows_large_blocks_by_moving_pages) {
  uma_stats_t before, after;
  uma_stats_get(&before);
  unsigned char *p = uma_malloc(1 << 20);
  fill(p, 1 << 20, 3);
  for (size_t n = 2 << 20; n <= (256u << 20); n *= 2) {
    void *keep = uma_malloc(1 << 20);   /* something right after p, so growing in place often fails */
    p = uma_realloc(p, n);
    cr_assert_not_null(p);
    check(p, 1 << 20, 3);
    uma_free(keep);
  }
  uma_stats_get(&after);
  cr_assert_gt(after.large_remaps, before.large_remaps, "no realloc moved its pages with mremap");
  uma_free(p);
}

Test(realloc, zero_size_frees_and_null_allocates) {
  void *p = uma_malloc(100);
  cr_assert_null(uma_realloc(p, 0));
  p = uma_realloc(NULL, 100);
  cr_assert(uma_owns(p));
  uma_free(p);
}

Test(realloc, impossible_size_keeps_the_block) {
  char *p = uma_malloc(100);
  strcpy(p, "still here");
  errno = 0;
  cr_assert_null(uma_realloc(p, (size_t)-1 / 2));
  cr_assert_eq(errno, ENOMEM);
  cr_assert_str_eq(p, "still here");
  uma_free(p);
}

Test(calloc, zeroes_reused_memory_and_catches_overflow) {
  for (size_t n = 16; n <= (4u << 20); n *= 4) {
    unsigned char *p = uma_malloc(n);
    memset(p, 0xff, n);
    uma_free(p);
    p = uma_calloc(1, n);   /* likely the same, dirty block */
    for (size_t i = 0; i < n; i++) cr_assert_eq(p[i], 0, "byte %zu of %zu", i, n);
    uma_free(p);
  }
  errno = 0;
  cr_assert_null(uma_calloc((size_t)1 << 40, (size_t)1 << 40));
  cr_assert_eq(errno, ENOMEM);
}
