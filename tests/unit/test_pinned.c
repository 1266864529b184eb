/* Transparent pinning's core side: finding the large block behind a copy's
 * host pointer, registering it once within the cap, and giving the
 * registration back before the mapping is unmapped or moved. A fake
 * register function stands in for CUDA. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include "base.h"
#include "layout.h"
#include "pinned.h"
#include "route.h"
#include "large.h"

#define MiB (1024 * 1024UL)
static int registered, released;
static size_t last_size;
static int fake_register(void *base, size_t size) { (void)base; registered++; last_size = size; return 0; }
static int fake_refuse(void *base, size_t size) { (void)base; (void)size; return 999; }
static void fake_release(void *base) { (void)base; released++; }
/* CUDA's registration, as the host back end would call it. */
static const dev_backend_t fake_cuda = { .register_range = fake_register, .unregister_range = fake_release };
static const dev_backend_t refusing_cuda = { .register_range = fake_refuse, .unregister_range = fake_release };

Test(pinned, finds_the_large_block_behind_any_pointer_into_it, .init = pin_install) {
  uint8_t *p = uma_malloc(40 * MiB);
  uma_large_t *lg = large_block_of(p, 40 * MiB);
  cr_assert_not_null(lg);
  cr_assert_eq(large_block_of(p + 33 * MiB, 7 * MiB), lg, "an interior range, nine slots in");
  cr_assert_null(large_block_of(p + 33 * MiB, 8 * MiB), "past the block's end");
  void *small = uma_malloc(1000);
  cr_assert_null(large_block_of(small, 1000), "pooled blocks are not registered");
  int on_stack;
  cr_assert_null(large_block_of(&on_stack, sizeof on_stack));
  uma_free(small);
  uma_free(p);
  cr_assert_null(large_block_of(p, 1 * MiB), "a freed block is not pinned");
}

/* A registered block is never moved (realloc copies it) and never unmapped
 * inside malloc or free: it is retired, and unregistered then unmapped by
 * the next CUDA call that reaches us (pin_drain). */
Test(pinned, registers_once_and_is_unregistered_outside_malloc_before_unmap, .init = pin_install) {
  pin_backend = &fake_cuda;
  pin_max = 0;
  uint8_t *p = uma_malloc(8 * MiB);
  for (size_t i = 0; i < 8 * MiB; i += 4096) p[i] = (uint8_t)(i >> 12);
  uma_large_t *lg = large_block_of(p, 8 * MiB);
  cr_assert(pin_block(lg));
  cr_assert(pin_block(lg));
  cr_assert_eq(registered, 1, "once per block");
  cr_assert_geq(last_size, 8 * MiB);
  cr_assert_eq(pin_stats.bytes, lg->map_size);
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 0);   /* a freed block is unmapped at once */
  uint8_t *q = uma_realloc(p, 64 * MiB);
  cr_assert_neq(q, p, "copied, not moved by mremap");
  for (size_t i = 0; i < 8 * MiB; i += 4096) cr_assert_eq(q[i], (uint8_t)(i >> 12));
  cr_assert_eq(released, 0, "not inside realloc");
  cr_assert(uma_owns(p) == false, "the old block is gone for the program");
  pin_drain();
  cr_assert_eq(released, 1, "unregistered at the next CUDA call");
  cr_assert_eq(pin_stats.bytes, 0);
  uma_free(q);
  cr_assert_eq(released, 1, "q was never registered");
}

Test(pinned, the_cap_and_cuda_refusals_leave_blocks_pageable, .init = pin_install) {
  pin_backend = &fake_cuda;
  uint8_t *a = uma_malloc(8 * MiB), *b = uma_malloc(8 * MiB), *c = uma_malloc(8 * MiB);
  pin_max = 12 * MiB;
  cr_assert(pin_block(large_block_of(a, 1)));
  cr_assert_not(pin_block(large_block_of(b, 1)), "over the cap");
  cr_assert_eq(pin_stats.over_cap, 1);
  pin_max = 0;
  cr_assert_not(pin_block(large_block_of(b, 1)), "a refused block is not tried again");
  pin_backend = &refusing_cuda;
  cr_assert_not(pin_block(large_block_of(c, 1)));
  pin_backend = &fake_cuda;
  cr_assert_eq(pin_stats.refused, 1);
  cr_assert_eq(registered, 1);
  uma_free(a);
  uma_free(b);
  uma_free(c);
}

/* A registered mapping is kept by the large cache whatever its size (the
 * unregistered bound is half of UMA_OPTION_LARGE_CACHE_MAX) and comes back,
 * still registered, for the next request of about its size: a program that
 * copies a fresh buffer each step pays the registration once. The purge
 * retires it like any registered block. */
Test(pinned, a_registered_mapping_is_cached_and_reused_registered, .init = pin_install) {
  pin_backend = &fake_cuda;
  pin_max = 0;
  uma_option_set(UMA_OPTION_LARGE_CACHE_MAX, 16 * MiB);
  uint8_t *p = uma_malloc(64 * MiB);
  cr_assert(pin_block(large_block_of(p, 1)));
  uma_free(p);
  cr_assert_eq(released, 0, "kept, not retired");
  uint8_t *q = uma_malloc(60 * MiB);
  cr_assert_eq(q, p, "the registered mapping came back");
  cr_assert_eq(large_block_of(q, 1)->pinned, PIN_YES);
  cr_assert(pin_block(large_block_of(q, 1)));
  cr_assert_eq(registered, 1, "not registered twice");
  uint8_t *plain = uma_malloc(64 * MiB);   /* unregistered and above half the bound: unmapped at free */
  uma_free(plain);
  uma_free(q);
  uma_collect(true);
  cr_assert_eq(released, 0, "the purge runs inside the allocator: it only retires");
  pin_drain();
  cr_assert_eq(released, 1);
  cr_assert_eq(pin_stats.bytes, 0);
}

/* eager: a block made with no CUDA call in sight waits on a list (no CUDA
 * inside malloc) and is registered at the next CUDA call; one freed before
 * that leaves the list and is never registered. A block refused over the
 * cap is tried again when its mapping is reused. */
Test(pinned, eager_blocks_wait_for_the_next_cuda_call, .init = pin_install) {
  pin_backend = &fake_cuda;
  pin_max = 0;
  pin_mode = UMA_PINNED_EAGER;
  uint8_t *a = uma_malloc(8 * MiB), *b = uma_malloc(8 * MiB), *small = uma_malloc(600 * 1024);
  cr_assert_eq(large_block_of(a, 1)->pinned, PIN_WANTED);
  cr_assert_eq(large_block_of(small, 1)->pinned, PIN_NONE, "below [cuda] pinned_min");
  cr_assert_eq(registered, 0, "nothing inside malloc");
  uma_free(b);
  pin_drain();
  cr_assert_eq(registered, 1, "a only: b left the list when freed");
  cr_assert_eq(large_block_of(a, 1)->pinned, PIN_YES);
  pin_mode = UMA_PINNED_LAZY;
  pin_max = 1;
  uint8_t *c = uma_malloc(8 * MiB);
  cr_assert_not(pin_block(large_block_of(c, 1)), "over the cap");
  uma_free(c);
  pin_max = 0;
  c = uma_malloc(8 * MiB);
  cr_assert_eq(large_block_of(c, 1)->pinned, PIN_NONE, "the reused mapping may be tried again");
  cr_assert(pin_block(large_block_of(c, 1)));
  uma_free(a);
  uma_free(c);
  uma_free(small);
}

/* An eager block that realloc moves leaves the list first (its header moves
 * with the pages); the moved block is not registered behind its back. */
Test(pinned, an_eager_block_moved_by_realloc_leaves_the_list, .init = pin_install) {
  pin_backend = &fake_cuda;
  pin_mode = UMA_PINNED_EAGER;
  uint8_t *a = uma_malloc(8 * MiB);
  a[0] = 42;
  uint8_t *g = uma_realloc(a, 200 * MiB);
  cr_assert_eq(g[0], 42);
  pin_drain();
  cr_assert_eq(registered, 0);
  cr_assert_eq(large_block_of(g, 1)->pinned, PIN_NONE);
  uma_free(g);
}
