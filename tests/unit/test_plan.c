/* Lifetime-planned reuse (core/plan.c, core/plan_host.c): the packing, the
 * detection of a repeating sequence of large requests, serving from the
 * arena, and every kind of deviation falling back without losing data. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include "base.h"
#include "plan.h"
#include "plan_host.h"

#define MiB (1024 * 1024UL)

/* No two blocks that are live at the same time share a byte. */
static void assert_disjoint(const plan_buf_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t k = i + 1; k < n; k++) {
      bool together = b[i].t0 < b[k].t1 && b[k].t0 < b[i].t1;
      bool overlap = b[i].off < b[k].off + b[k].size && b[k].off < b[i].off + b[i].size;
      cr_assert_not(together && overlap, "blocks %zu and %zu overlap", i, k);
    }
}

Test(plan, packing_reuses_space_across_disjoint_lifetimes) {
  /* a forward and backward pass: activations kept until their gradient */
  plan_buf_t b[] = {
    { 30, 0, 10, 0 }, { 20, 1, 9, 0 }, { 40, 2, 8, 0 },   /* activations */
    { 50, 3, 4, 0 }, { 50, 5, 6, 0 }, { 10, 6, 7, 0 },    /* temporaries */
  };
  uint32_t order[6];
  uint64_t q = plan_pack(b, 6, order);
  assert_disjoint(b, 6);
  cr_assert_eq(q, 140, "30+20+40 live with a 50 temporary at most: %lu", (unsigned long)q);
  for (int i = 1; i < 6; i++) cr_assert_leq(b[order[i - 1]].off, b[order[i]].off, "order lists blocks by offset");
}

Test(plan, packing_random_sets_stays_disjoint_and_above_the_live_bound) {
  srand(7);
  for (int round = 0; round < 50; round++) {
    plan_buf_t b[64];
    size_t n = 1 + (size_t)rand() % 64;
    for (size_t i = 0; i < n; i++) {
      uint64_t t0 = (uint64_t)(rand() % 100);
      b[i] = (plan_buf_t){ 1 + (uint64_t)(rand() % 1000), t0, t0 + 1 + (uint64_t)(rand() % 30), 0 };
    }
    uint32_t order[64];
    uint64_t q = plan_pack(b, n, order);
    assert_disjoint(b, n);
    uint64_t bound = 0;
    for (uint64_t t = 0; t < 140; t++) {
      uint64_t live = 0;
      for (size_t i = 0; i < n; i++) live += b[i].t0 <= t && t < b[i].t1 ? b[i].size : 0;
      if (live > bound) bound = live;
    }
    cr_assert_geq(q, bound);
    for (size_t i = 0; i < n; i++) cr_assert_leq(b[i].off + b[i].size, q);
  }
}

/* One training step: activations of different sizes allocated layer by
 * layer (the first with calloc: it must read zero even when its arena slot
 * held the last step's data) and freed in reverse, a temporary per layer. */
static void step(uint8_t **act, const size_t *sizes, int layers, uint8_t tag) {
  for (int l = 0; l < layers; l++) {
    act[l] = l == 0 ? uma_calloc(1, sizes[l]) : uma_malloc(sizes[l]);
    cr_assert_not_null(act[l]);
    if (l == 0)
      for (size_t i = 0; i < sizes[l]; i += 997) cr_assert_eq(act[l][i], 0, "calloc byte %zu", i);
    memset(act[l], tag + l, sizes[l]);
    uint8_t *tmp = uma_malloc(sizes[l] / 2 + 1 * MiB);
    memset(tmp, 0xee, sizes[l] / 2 + 1 * MiB);
    uma_free(tmp);
  }
  for (int l = layers - 1; l >= 0; l--) {
    for (size_t i = 0; i < sizes[l]; i += 4096) cr_assert_eq(act[l][i], (uint8_t)(tag + l), "layer %d byte %zu", l, i);
    uma_free(act[l]);
  }
}

static const size_t sizes[] = { 3 * MiB, 5 * MiB, 2 * MiB, 7 * MiB, 4 * MiB };

static void planning(void) {
  uma_malloc(1);
  plan_host_on = true;
  plan_min = 1 * MiB;
  plan_host_install();
}

Test(plan, a_repeating_program_is_served_from_the_arena, .init = planning) {
  uint8_t *act[5];
  for (int s = 0; s < 8; s++) step(act, sizes, 5, (uint8_t)s);
  plan_stats_t st;
  plan_host_snapshot(&st);
  cr_assert_eq(st.plans, 1);
  cr_assert_eq(st.deviations, 0);
  cr_assert_gt(st.served, 0, "steps after the plan came from the arena");
  cr_assert_eq(st.planned_blocks, 10, "5 activations and 5 temporaries per step");
  /* the packed arena: close to the live lower bound (greedy, not optimal) */
  cr_assert_leq(st.arena_need, st.live_bound / 100 * 105, "within 5 %% of the live lower bound: packed %lu, bound %lu", (unsigned long)st.arena_need, (unsigned long)st.live_bound);
  cr_assert_geq(st.arena_need, st.live_bound);
  uint64_t served = st.served;
  step(act, sizes, 5, 9);
  plan_host_snapshot(&st);
  cr_assert_eq(st.served, served + 10, "a whole step served");
}

Test(plan, every_deviation_falls_back_and_the_plan_is_learned_again, .init = planning) {
  uint8_t *act[5];
  for (int s = 0; s < 8; s++) step(act, sizes, 5, (uint8_t)s);
  /* a new size: not planned, the plan ends; the planned block stays valid */
  uint8_t *a0 = uma_malloc(sizes[0]);
  cr_assert_neq(plan_host_block(a0), 0);
  memset(a0, 0x42, sizes[0]);
  uint8_t *odd = uma_malloc(6 * MiB + 123);
  cr_assert_eq(plan_host_block(odd), 0, "an unexpected size is served by the ordinary pools");
  memset(odd, 1, 6 * MiB + 123);
  for (size_t i = 0; i < sizes[0]; i += 4096) cr_assert_eq(a0[i], 0x42);
  uma_free(odd);
  /* a planned block that realloc grows moves out with its data */
  uint8_t *g = uma_realloc(a0, 9 * MiB);
  cr_assert_eq(plan_host_block(g), 0);
  for (size_t i = 0; i < sizes[0]; i += 4096) cr_assert_eq(g[i], 0x42);
  uma_free(g);
  plan_stats_t st;
  plan_host_snapshot(&st);
  cr_assert_eq(st.deviations, 1);
  /* a different order: learned again as its own plan */
  const size_t other[] = { 4 * MiB, 2 * MiB, 6 * MiB };
  for (int s = 0; s < 8; s++) step(act, other, 3, (uint8_t)s);
  plan_host_snapshot(&st);
  cr_assert_eq(st.plans, 2);
  uint8_t *b0 = uma_calloc(1, other[0]);
  cr_assert_neq(plan_host_block(b0), 0, "served from the new plan");
  /* a block that outlives its slot: the step ends without freeing b0 and
   * the next begins; the request that would reuse b0's space is not
   * served from the arena, and b0 keeps its data */
  memset(b0, 0x37, other[0]);
  for (int l = 1; l < 3; l++) {
    act[l] = uma_malloc(other[l]);
    uma_free(uma_malloc(other[l] / 2 + 1 * MiB));
  }
  uma_free(act[2]);
  uma_free(act[1]);
  uint8_t *next = uma_calloc(1, other[0]);
  cr_assert_eq(plan_host_block(next), 0);
  for (size_t i = 0; i < other[0]; i += 4096) cr_assert_eq(b0[i], 0x37);
  plan_host_snapshot(&st);
  cr_assert_eq(st.deviations, 2);
  uma_free(next);
  uma_free(b0);
}

Test(plan, a_double_free_of_a_planned_block_is_diagnosed, .init = planning, .signal = SIGABRT) {
  uint8_t *act[5];
  for (int s = 0; s < 8; s++) step(act, sizes, 5, (uint8_t)s);
  uint8_t *a0 = uma_malloc(sizes[0]);
  cr_assert_neq(plan_host_block(a0), 0);
  uma_free(a0);
  uma_free(a0);
}

/* Sizes that are not page multiples: every block from the arena is still
 * page-aligned (the planned sizes are rounded, whichever event completed
 * the second period). */
Test(plan, planned_blocks_are_page_aligned_for_odd_sizes, .init = planning) {
  const size_t odd[] = { 3 * MiB + 5, 1 * MiB + 4097, 2 * MiB + 123 };
  uint8_t *act[3];
  for (int s = 0; s < 8; s++) step(act, odd, 3, (uint8_t)s);
  int planned = 0;
  for (int l = 0; l < 3; l++) {
    act[l] = uma_malloc(odd[l]);
    if (plan_host_block(act[l])) {
      planned++;
      cr_assert_eq((uintptr_t)act[l] % 4096, 0, "layer %d at %p", l, (void *)act[l]);
    }
    uma_free(uma_malloc(odd[l] / 2 + 1 * MiB));
  }
  cr_assert_gt(planned, 0);
  for (int l = 2; l >= 0; l--) uma_free(act[l]);
}

/* A planned block the program keeps while its steps change and a new plan
 * is learned: the new plan must not forget it (its arena stays mapped, its
 * bytes stay, its free is recognised), whatever size the new arena needs. */
Test(plan, a_block_kept_across_a_new_plan_stays_valid, .init = planning) {
  uint8_t *act[5];
  for (int s = 0; s < 8; s++) step(act, sizes, 5, (uint8_t)s);
  uint8_t *kept = uma_malloc(sizes[0]);
  cr_assert_neq(plan_host_block(kept), 0, "served from the first plan");
  memset(kept, 0x5a, sizes[0]);
  uma_free(uma_malloc(6 * MiB + 123));   /* a deviation: the first plan ends */
  const size_t other[] = { 9 * MiB, 12 * MiB, 10 * MiB };   /* needs a bigger arena */
  for (int s = 0; s < 8; s++) step(act, other, 3, (uint8_t)s);
  plan_stats_t st;
  plan_host_snapshot(&st);
  cr_assert_geq(st.plans, 2, "the second program was planned too: plans %lu deviations %lu served %lu", (unsigned long)st.plans, (unsigned long)st.deviations, (unsigned long)st.served);
  for (size_t i = 0; i < sizes[0]; i += 512) cr_assert_eq(kept[i], 0x5a, "byte %zu of the kept block", i);
  cr_assert_eq(plan_host_block(kept), sizes[0], "still known as a live planned block");
  uma_free(kept);
  cr_assert_eq(plan_host_block(kept), 0);
}
