/* Placements from a rule's text to what the kernel gets, on simulated
 * machines (the globals numa_init fills from sysfs): masks cut to the
 * usable nodes, and every fallback named. Pages themselves are checked in
 * the QEMU guests (tests/numa). */
#include <criterion/criterion.h>
#include "base.h"
#include "numa.h"

static numa_place_t resolved(const char *text) {
  numa_place_t pl;
  numa_compile(text, &pl);
  numa_resolve(&pl);
  return pl;
}

static void machine(uint64_t online, uint64_t allowed) {
  numa_active = __builtin_popcountll(online) > 1;
  numa_online = online;
  numa_allowed = allowed;
  numa_node_count = 64 - __builtin_clzll(online);
  numa_weighted_supported = false;
  numa_fast_nodes = numa_slow_nodes = 0;
  numa_gpu_count = 0;
}

Test(numa, the_grammar_compiles_to_modes_and_masks) {
  numa_place_t pl;
  numa_compile("bind:0-2,5", &pl);
  cr_assert_eq(pl.mode, NUMA_BIND);
  cr_assert_eq(pl.asked, 0x27);
  numa_compile("preferred:3", &pl);
  cr_assert_eq(pl.mode, NUMA_PREFERRED);
  cr_assert_eq(pl.asked, 1 << 3);
  numa_compile("weighted-interleave:0=3,1=1", &pl);
  cr_assert_eq(pl.mode, NUMA_WEIGHTED_INTERLEAVE);
  cr_assert_eq(pl.asked, 0x3);
  cr_assert(pl.weight[0] == 3 && pl.weight[1] == 1);
  numa_compile("tier:slow", &pl);
  cr_assert(pl.mode == NUMA_TIER && pl.tier_slow);
  numa_compile("near-gpu:1", &pl);
  cr_assert(pl.mode == NUMA_NEAR_GPU && pl.arg == 1);
  numa_compile("local", &pl);
  cr_assert_eq(pl.mode, NUMA_LOCAL);
}

Test(numa, one_node_makes_every_placement_local) {
  machine(0x1, 0x1);
  numa_place_t pl = resolved("bind:0");
  cr_assert_eq(pl.kernel_mode, 0);
  cr_assert_eq(pl.fallback, NUMA_FB_ONE_NODE);
  cr_assert_eq(resolved("local").fallback, NUMA_FB_NONE, "local is what was asked");
}

Test(numa, masks_are_cut_to_the_usable_nodes) {
  machine(0x3, 0x3);
  numa_place_t pl = resolved("interleave:0-3");
  cr_assert_eq(pl.kernel_mode, 3 /* MPOL_INTERLEAVE */);
  cr_assert_eq(pl.nodes, 0x3);
  cr_assert_eq(pl.fallback, NUMA_FB_NODES_DROPPED);
  pl = resolved("bind:5");
  cr_assert_eq(pl.kernel_mode, 0, "nothing usable: local");
  cr_assert_eq(pl.fallback, NUMA_FB_NO_USABLE_NODE);
  machine(0x3, 0x1);   /* a cpuset allows node 0 only */
  pl = resolved("bind:1");
  cr_assert_eq(pl.fallback, NUMA_FB_NO_USABLE_NODE);
  pl = resolved("preferred-many:0,1");
  cr_assert_eq(pl.nodes, 0x1);
  cr_assert_eq(pl.kernel_mode, 1 /* MPOL_PREFERRED: one node left */);
}

Test(numa, weighted_interleave_falls_back_and_weights_are_compared) {
  machine(0x3, 0x3);
  numa_place_t pl = resolved("weighted-interleave:0=3,1=1");
  cr_assert_eq(pl.kernel_mode, 3 /* MPOL_INTERLEAVE */);
  cr_assert_eq(pl.fallback, NUMA_FB_NO_WEIGHTED);
  numa_weighted_supported = true;
  numa_kernel_weight[0] = 3;
  numa_kernel_weight[1] = 1;
  pl = resolved("weighted-interleave:0=3,1=1");
  cr_assert_eq(pl.kernel_mode, 6 /* MPOL_WEIGHTED_INTERLEAVE */);
  cr_assert_eq(pl.fallback, NUMA_FB_NONE);
  numa_kernel_weight[0] = 2;
  cr_assert_eq(resolved("weighted-interleave:0=3,1=1").fallback, NUMA_FB_KERNEL_WEIGHTS);
}

Test(numa, tiers_and_gpus_resolve_to_their_nodes) {
  machine(0x3, 0x3);
  cr_assert_eq(resolved("tier:fast").fallback, NUMA_FB_ONE_TIER);
  numa_fast_nodes = 0x1;
  numa_slow_nodes = 0x2;
  numa_place_t pl = resolved("tier:slow");
  cr_assert_eq(pl.nodes, 0x2);
  cr_assert_eq(pl.kernel_mode, 1, "one slow node: preferred");
  cr_assert_eq(resolved("near-gpu:0").fallback, NUMA_FB_NO_GPU);
  numa_gpu_count = 1;
  numa_gpu_node[0] = 1;
  pl = resolved("near-gpu:0");
  cr_assert_eq(pl.nodes, 0x2);
  cr_assert_eq(pl.kernel_mode, 1 /* MPOL_PREFERRED */);
}
