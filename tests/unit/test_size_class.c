/* Size classes: every request is rounded up to a class that covers it, the
 * class is the smallest that does, and above 128 B the waste stays within
 * 12.5 % (the bound documented in docs/ARCHITECTURE.md). */
#include <criterion/criterion.h>
#include "base.h"
#include "size_class.h"

Test(size_class, table_is_increasing_and_16_byte_multiples) {
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) {
    cr_assert_eq(sc_size(c) % 16, 0, "class %u size %zu", c, sc_size(c));
    if (c) cr_assert_gt(sc_size(c), sc_size(c - 1));
  }
  cr_assert_eq(sc_size(UMA_CLASS_COUNT - 1), UMA_BLOCK_MAX);
}

Test(size_class, rounds_up_to_the_smallest_covering_class) {
  for (size_t n = 0; n <= UMA_BLOCK_MAX; n++) {
    unsigned c = sc_of(n);
    cr_assert_lt(c, UMA_CLASS_COUNT);
    cr_assert_geq(sc_size(c), n, "size %zu class %u", n, c);
    if (c) cr_assert_lt(sc_size(c - 1), n < 1 ? 1 : n, "size %zu fits class %u too", n, c - 1);
  }
}

Test(size_class, waste_within_12_5_percent_above_128_bytes) {
  for (size_t n = 129; n <= UMA_BLOCK_MAX; n++) {
    size_t served = sc_size(sc_of(n));
    cr_assert_leq((served - n) * 8, n, "size %zu served %zu wastes more than 1/8", n, served);
  }
}

/* Size classes up to 64 KiB; above, the coalescing pool rounds to its
 * granularity (4 KiB at most by default). */
Test(size_class, usable_size_follows_the_class) {
  for (size_t n = 1; n <= UMA_BLOCK_MAX; n += 97) {
    void *p = uma_malloc(n);
    cr_assert_not_null(p);
    if (sc_of(n) < UMA_MEDIUM_CLASSES) {
      cr_assert_eq(uma_usable_size(p), sc_size(sc_of(n)), "size %zu", n);
    } else {
      cr_assert_geq(uma_usable_size(p), n, "size %zu", n);
      cr_assert_lt(uma_usable_size(p), n + 4096, "size %zu", n);
    }
    uma_free(p);
  }
}
