/* Pointers the core does not own, and double frees, are diagnosed with one
 * line naming the pointer, then the process aborts. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include "uma.h"

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
