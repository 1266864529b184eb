/* The GPU device pool against a fake device: reuse only after a fence,
 * splitting and coalescing inside segments, PyTorch-style segment sizes,
 * out-of-memory recovery, and what is not ours. No GPU needed. */
#include <criterion/criterion.h>
#include "internal.h"

#define MiB (1024 * 1024UL)

static uint64_t fake_next = 0x7f0000000000ULL, fake_mapped, fake_limit = UINT64_MAX;
static int fake_maps, fake_unmaps, fake_fences, fake_clears;
static struct { uintptr_t base; size_t size; } fake_segs[64];

static int fake_map(int device, size_t size, uintptr_t *out) {
  (void)device;
  if (fake_mapped + size > fake_limit) return 2;   /* cudaErrorMemoryAllocation */
  *out = fake_next;
  fake_segs[fake_maps % 64].base = fake_next;
  fake_segs[fake_maps % 64].size = size;
  fake_next += 1ULL << 32;
  fake_mapped += size;
  fake_maps++;
  return 0;
}
static void fake_unmap(int device, uintptr_t addr) {
  (void)device;
  for (int i = 0; i < 64; i++)
    if (fake_segs[i].base == addr) fake_mapped -= fake_segs[i].size;
  fake_unmaps++;
}
static void fake_fence(int device) { (void)device; fake_fences++; }
static void fake_clear(void) { fake_clears++; }
static const dev_backend_t fake = { fake_map, fake_unmap, fake_fence, fake_clear };

static uintptr_t take(size_t size) {
  uintptr_t a = 0;
  cr_assert_eq(dev_alloc(0, size, &a), 0, "alloc of %zu failed", size);
  cr_assert_eq(a % 512, 0);
  return a;
}

Test(device_pool, a_freed_block_is_reused_only_after_a_fence) {
  dev_pool_init(DEV_API_RUNTIME, &fake);
  uintptr_t a = take(1 * MiB);
  cr_assert(dev_free(0, a));
  uintptr_t b = take(1 * MiB);   /* the other half of the 2 MiB segment: no fence needed */
  cr_assert_neq(b, a);
  cr_assert_eq(fake_fences, 0);
  cr_assert(dev_free(0, b));
  uintptr_t c = take(1 * MiB);   /* nothing ready: fence, then reuse */
  cr_assert_eq(fake_fences, 1);
  cr_assert(c == a || c == b);
  cr_assert_eq(fake_maps, 1, "no new segment");
}

Test(device_pool, blocks_split_and_coalesce_within_a_segment) {
  dev_pool_init(DEV_API_RUNTIME, &fake);
  uintptr_t x[4];
  for (int i = 0; i < 4; i++) x[i] = take(256 * 1024);
  for (int i = 1; i < 4; i++) cr_assert_eq(x[i], x[0] + (uintptr_t)i * 256 * 1024, "carved in order");
  for (int i = 0; i < 4; i++) cr_assert(dev_free(0, x[i]));
  uintptr_t big = take(2 * MiB - 4096);   /* needs the whole segment back in one piece */
  cr_assert_eq(big, x[0]);
  cr_assert_eq(fake_maps, 1);
  dev_stats_t st;
  uma_frag_pool_t ext;
  cr_assert(dev_summary(0, &st, &ext));
  cr_assert_eq(st.reserved, 2 * MiB);
  cr_assert_eq(st.allocated, 2 * MiB, "a block above 1 MiB keeps a 4 KiB rest rather than split it off");
  cr_assert_eq(ext.free_bytes, 0);
}

Test(device_pool, segment_sizes_follow_pytorch) {
  dev_pool_init(DEV_API_RUNTIME, &fake);
  take(100);
  cr_assert_eq(fake_segs[0].size, 2 * MiB);
  take(3 * MiB);
  cr_assert_eq(fake_segs[1].size, 20 * MiB);
  take(33 * MiB + 5);
  cr_assert_eq(fake_segs[2].size, 34 * MiB);
}

Test(device_pool, out_of_memory_gives_the_cache_back_and_retries) {
  dev_pool_init(DEV_API_RUNTIME, &fake);
  fake_limit = 40 * MiB;
  uintptr_t a = take(20 * MiB);
  cr_assert(dev_free(0, a));
  uintptr_t b = take(30 * MiB);   /* 20 cached + 30 > 40: CUDA says no, the pool frees its cache */
  cr_assert_neq(b, 0);
  cr_assert_eq(fake_unmaps, 1);
  cr_assert_eq(fake_clears, 1, "the failed cudaMalloc's error is cleared after the retry worked");
  uintptr_t c = 0;
  cr_assert_eq(dev_alloc(0, 50 * MiB, &c), 2, "still too big: CUDA's error");
  cr_assert_eq(fake_clears, 1, "and that error is left for cudaGetLastError");
  dev_stats_t st;
  uma_frag_pool_t ext;
  dev_summary(0, &st, &ext);
  cr_assert_eq(st.oom_retries, 2);
}

Test(device_pool, pointers_not_ours_are_left_to_cuda) {
  dev_pool_init(DEV_API_RUNTIME, &fake);
  uintptr_t a = take(1000);
  cr_assert(!dev_free(0, a + 512), "an interior pointer is not a block");
  cr_assert(!dev_free(0, 0x1234000));
  cr_assert_eq(dev_owner(DEV_API_RUNTIME, a), 0);
  cr_assert(dev_free(0, a));
  cr_assert(!dev_free(0, a), "a second free is not ours either: CUDA reports it");
  cr_assert_geq(dev_idle_bytes(0), 2 * MiB - 512, "cached and pending bytes count as free");
}

Test(device_pool, a_reset_forgets_the_device) {
  dev_pool_init(DEV_API_RUNTIME, &fake);
  uintptr_t a = take(1000);
  dev_forget(0);
  cr_assert(!dev_free(0, a));
  uintptr_t b = take(1000);
  cr_assert_eq(fake_maps, 2, "a fresh segment after the reset");
  cr_assert_neq(a, b);
}
