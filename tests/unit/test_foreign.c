/* Pointers the core does not own, and double frees, are diagnosed with one
 * line naming the pointer, then the process aborts. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "base.h"
#include "layout.h"
#include "page.h"
#include "size_class.h"

Test(foreign, owns_only_its_own_blocks) {
  char on_stack[32];
  void *from_libc = malloc(64);   /* the test binary's malloc is glibc's */
  void *ours = uma_malloc(64);
  cr_assert(uma_owns(ours));
  cr_assert_not(uma_owns(on_stack));
  cr_assert_not(uma_owns(from_libc));
  cr_assert_not(uma_owns((char *)ours + 8), "an interior pointer is not a block");
  cr_assert_not(uma_owns(NULL));
  free(from_libc);
  uma_free(ours);
}

Test(foreign, free_of_a_stack_pointer_aborts, .signal = SIGABRT) {
  char on_stack[32];
  uma_free(on_stack + 8);
}

Test(foreign, free_of_a_libc_pointer_aborts, .signal = SIGABRT) {
  uma_free(malloc(100));
}

Test(foreign, double_free_of_a_small_block_aborts, .signal = SIGABRT) {
  void *keep = uma_malloc(32);
  void *p = uma_malloc(32);
  uma_free(p);
  uma_free(p);
  uma_free(keep);
}

Test(foreign, double_free_of_a_large_block_aborts, .signal = SIGABRT) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60 * 1000);   /* kept in the cache, so still ours */
  void *p = uma_malloc(2 << 20);
  uma_free(p);
  uma_free(p);
}

Test(foreign, usable_size_of_a_foreign_pointer_aborts, .signal = SIGABRT) {
  char on_stack[32] = { 0 };
  uma_usable_size(on_stack);
}

Test(foreign, free_null_is_a_no_op) {
  uma_free(NULL);
  cr_assert_eq(uma_usable_size(NULL), 0);
}

/* The block-start test is exact for every class on pages: a multiply for
 * a division must never take an interior offset for a start or miss one. */
Test(foreign, block_start_test_is_exact_for_every_class) {
  for (unsigned cls = 0; cls < UMA_MEDIUM_CLASSES; cls++) {
    size_t bs = sc_size(cls);
    uintptr_t first = (uintptr_t)1 << 40;
    uma_page_t page = { .block_size = (uint32_t)bs, .neg_start = 0 - first, .div_magic = page_div_magic(bs) };
    for (uintptr_t off = 0; off < UMA_SEG_SIZE; off += 16)
      cr_assert_eq(page_is_block_start(&page, (void *)(first + off)), off % bs == 0, "class %u (%zu B), offset %lu", cls, bs, (unsigned long)off);
    cr_assert_not(page_is_block_start(&page, (void *)(first - 16)), "below the first block");
    uma_page_t unused = { 0 };
    cr_assert_not(page_is_block_start(&unused, (void *)first), "a page not in use has no blocks");
  }
}

Test(foreign, free_inside_a_small_block_aborts, .signal = SIGABRT) {
  char *p = uma_malloc(48);
  uma_free(p + 16);
}

Test(foreign, free_inside_a_medium_block_aborts, .signal = SIGABRT) {
  char *p = uma_malloc(20000);
  uma_free(p + 32);
}

Test(foreign, realloc_inside_a_small_block_aborts, .signal = SIGABRT) {
  char *p = uma_malloc(48);
  uma_realloc(p + 16, 100);
}

Test(foreign, usable_size_inside_a_block_aborts, .signal = SIGABRT) {
  char *p = uma_malloc(100);
  uma_usable_size(p + 16);
}

/* An 8-byte write after free, or an overflow into a free neighbour, would
 * make a later malloc return an address of the writer's choosing: the
 * sealed link is checked before it is followed. */
static char target[256];

Test(foreign, a_write_after_free_is_diagnosed_not_followed, .signal = SIGABRT) {
  void *keep = uma_malloc(64);
  void **p = uma_malloc(64);
  uma_free(p);
  *p = target + 64;   /* the link, rewritten */
  void *a = uma_malloc(64);
  void *b = uma_malloc(64);
  cr_assert_neq(a, target + 64);
  cr_assert_neq(b, target + 64);
  uma_free(keep);
}

Test(foreign, an_overflow_into_a_free_neighbour_is_diagnosed, .signal = SIGABRT) {
  char *blocks[8];
  for (int i = 0; i < 8; i++) blocks[i] = uma_malloc(48);
  char *before = NULL;   /* the live block just below blocks[5] */
  for (int i = 0; i < 8; i++)
    if (blocks[i] + 48 == blocks[5]) before = blocks[i];
  cr_assert_not_null(before, "consecutive blocks of a fresh page");
  uma_free(blocks[5]);
  void *fake = target;
  memcpy(before + 48, &fake, 8);   /* 8 bytes past the end of a live block */
  uma_malloc(48);
  uma_malloc(48);
}

Test(foreign, sealed_links_survive_cross_thread_frees_and_flushes) {
  /* every path that links a free block (thread cache, page list, remote
   * list, flush, fresh page) keeps the seal: a workload over all of them
   * runs without a false diagnosis */
  void *ptrs[4096];
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 4096; i++) ptrs[i] = uma_malloc((size_t)(16 + (i * 37 + round) % 3000));
    for (int i = 0; i < 4096; i += 2) uma_free(ptrs[i]);
    uma_collect(true);
    for (int i = 1; i < 4096; i += 2) uma_free(ptrs[i]);
  }
}

Test(foreign, a_write_after_free_in_the_coalescing_pool_is_diagnosed, .signal = SIGABRT) {
  void *a = uma_malloc(100 << 10);
  void **p = uma_malloc(100 << 10);
  void *c = uma_malloc(100 << 10);   /* live neighbours: p stays a free block of its own */
  uma_free(p);
  *p = target;   /* its next-free link */
  void *q = uma_malloc(100 << 10);
  cr_assert_neq(q, target);
  uma_malloc(100 << 10);
  uma_free(a);
  uma_free(c);
}
