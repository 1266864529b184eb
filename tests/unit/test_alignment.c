/* Alignment: every power of two from 8 B to 1 MiB, for sizes below, at and
 * above the alignment, in every pool. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include "uma.h"

Test(alignment, every_power_of_two_from_8_bytes_to_1_MiB) {
  static const size_t sizes[] = { 1, 8, 100, 4096, 70000, 600000, 3 << 20 };
  for (size_t al = 8; al <= (1u << 20); al <<= 1) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      size_t n = sizes[i];
      char *p = uma_aligned_alloc(al, n);
      cr_assert_not_null(p, "align %zu size %zu", al, n);
      cr_assert_eq((uintptr_t)p % al, 0, "align %zu size %zu gave %p", al, n, (void *)p);
      cr_assert_geq(uma_usable_size(p), n);
      cr_assert(uma_owns(p));
      memset(p, 0x5a, uma_usable_size(p));
      uma_free(p);
    }
  }
}

Test(alignment, beyond_the_segment_size) {
  for (size_t al = 8u << 20; al <= (32u << 20); al <<= 1) {
    char *p = uma_aligned_alloc(al, 1000);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % al, 0);
    cr_assert(uma_owns(p));
    p[999] = 1;
    uma_free(p);
  }
}

Test(alignment, rejects_non_powers_of_two) {
  errno = 0;
  cr_assert_null(uma_aligned_alloc(24, 10));
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_null(uma_aligned_alloc(0, 10));
  cr_assert_eq(errno, EINVAL);
}

Test(alignment, plain_blocks_are_16_byte_aligned) {
  for (size_t n = 0; n < 5000; n += 7) {
    void *p = uma_malloc(n);
    cr_assert_eq((uintptr_t)p % 16, 0, "size %zu", n);
    uma_free(p);
  }
}
