/* The thread cache: the last blocks freed in a small class are the first
 * handed out again, and a collect gives them back to their pages, so empty
 * pages can still be returned to the OS. */
#include <criterion/criterion.h>
#include <string.h>
#include "uma.h"
#include "helpers.h"

Test(tcache, reuses_the_block_just_freed) {
  void *keep[64];
  for (int i = 0; i < 64; i++) keep[i] = uma_malloc(48);
  void *a = keep[10], *b = keep[40];
  uma_free(a);
  uma_free(b);
  cr_assert_eq(uma_malloc(48), b, "last freed, first reused");
  cr_assert_eq(uma_malloc(48), a);
  for (int i = 0; i < 64; i++) uma_free(keep[i]);
}

Test(tcache, collect_returns_cached_blocks_to_their_pages) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60 * 1000);
  enum { N = 20000 };
  static char *blocks[N];
  for (int i = 0; i < N; i++) {
    blocks[i] = uma_malloc(100);
    memset(blocks[i], 1, 100);
  }
  for (int i = 0; i < N; i++) uma_free(blocks[i]);
  uma_collect(true);
  size_t resident = 0;
  for (int i = 0; i < N; i += 40) resident += resident_pages(blocks[i], 100);
  cr_assert_lt(resident, 5, "%zu sampled pages still resident after collect", resident);
}

/* Every class on pages (up to 64 KiB) has a thread cache; a larger block
 * takes as many slots as 32 KiB hold, at least one. */
Test(tcache, classes_up_to_64_kib_reuse_the_block_just_freed_too) {
  size_t sizes[] = { 3000, 20000, 65536 };
  for (int s = 0; s < 3; s++) {
    void *keep[8];
    for (int i = 0; i < 8; i++) keep[i] = uma_malloc(sizes[s]);
    void *a = keep[3];
    uma_free(a);
    cr_assert_eq(uma_malloc(sizes[s]), a, "size %zu: the block just freed comes back first", sizes[s]);
    for (int i = 0; i < 8; i++) uma_free(keep[i]);
  }
}
