/* The GPU device pool against a fake device: reuse only after a fence,
 * splitting and coalescing inside segments, PyTorch-style segment sizes,
 * out-of-memory recovery, and what is not ours. No GPU needed. */
#include <criterion/criterion.h>
#include "base.h"
#include "device_pool.h"
#include "plan_host.h"

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
static int fake_fence(int device) { (void)device; fake_fences++; return 0; }
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

/* A fence CUDA refuses (a stream capture in progress forbids waiting for
 * the device) proves nothing: the freed block stays pending, a new segment
 * serves the request, and the next fence that works frees it for reuse. */
static bool fence_fails;
static int refusing_fence(int device) { (void)device; fake_fences++; return fence_fails ? 900 : 0; }
static const dev_backend_t refusing = { fake_map, fake_unmap, refusing_fence, fake_clear };

Test(device_pool, a_refused_fence_keeps_freed_blocks_pending) {
  dev_pool_init(DEV_API_RUNTIME, &refusing);
  uintptr_t a = take(12 * MiB), b = 0;   /* a segment of exactly 12 MiB: no rest to serve b */
  cr_assert(dev_free(0, a));
  fence_fails = true;
  b = take(12 * MiB);
  cr_assert_neq(b, a, "reused without a fence");
  cr_assert_eq(fake_maps, 2);
  cr_assert_eq(fake_clears, 1, "the refused fence's error is not left for the program");
  dev_stats_t st;
  uma_frag_pool_t fr;
  cr_assert(dev_summary(0, &st, &fr));
  cr_assert_eq(st.fences_refused, 1);
  cr_assert_eq(st.fences, 0);
  fence_fails = false;
  cr_assert(dev_free(0, b));
  uintptr_t c = take(12 * MiB);
  cr_assert(c == a || c == b, "after a fence that ran, a freed block serves again");
  cr_assert_eq(fake_maps, 2);
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

/* ---- expandable segments: a fake virtual range of 1 GiB in 2 MiB granules ---- */

#define X_BASE 0x7e0000000000ULL
#define X_GRANULE (2 * MiB)
#define X_GRANULES 512
static bool x_mapped[X_GRANULES];
static size_t x_chunk[X_GRANULES];   /* at a chunk's first granule: its size */
static int x_violations, x_maps, x_unmaps;

static int fake_reserve(int device, size_t *size, uintptr_t *va, size_t *granule) {
  (void)device;
  *size = X_GRANULES * X_GRANULE;
  *va = X_BASE;
  *granule = X_GRANULE;
  return 0;
}
/* One chunk: granule multiples, none mapped before, at most 64 MiB. */
static int fake_map_range(int device, uintptr_t addr, size_t size, uint64_t *handle) {
  (void)device;
  size_t g = (addr - X_BASE) / X_GRANULE, n = size / X_GRANULE;
  if (size % X_GRANULE || addr % X_GRANULE || g + n > X_GRANULES || size == 0 || size > 64 * MiB) x_violations++;
  if (fake_mapped + size > fake_limit) return 2;   /* CUDA_ERROR_OUT_OF_MEMORY */
  for (size_t i = g; i < g + n && i < X_GRANULES; i++) {
    if (x_mapped[i]) x_violations++;
    x_mapped[i] = true;
  }
  x_chunk[g] = size;
  fake_mapped += size;
  *handle = 1000 + g;
  x_maps++;
  return 0;
}
/* Only whole chunks, as cuMemUnmap demands. */
static void fake_unmap_range(int device, uintptr_t addr, size_t size, uint64_t handle) {
  (void)device;
  size_t g = (addr - X_BASE) / X_GRANULE;
  if (g >= X_GRANULES || handle != 1000 + g || x_chunk[g] != size) {
    x_violations++;
    return;
  }
  for (size_t i = g; i < g + size / X_GRANULE; i++) x_mapped[i] = false;
  x_chunk[g] = 0;
  fake_mapped -= size;
  x_unmaps++;
}
static const dev_backend_t fake_x = { fake_map, fake_unmap, fake_fence, fake_clear,
                                      fake_reserve, fake_map_range, fake_unmap_range };

static bool backed(uintptr_t a, size_t size) {
  for (uintptr_t p = a & ~(X_GRANULE - 1); p < a + size; p += X_GRANULE)
    if (p < X_BASE || p >= X_BASE + X_GRANULES * X_GRANULE || !x_mapped[(p - X_BASE) / X_GRANULE]) return false;
  return true;
}

static uint64_t reserved_now(void) {
  dev_stats_t st;
  uma_frag_pool_t ext;
  dev_summary(0, &st, &ext);
  return st.reserved;
}

/* Two freed 30 MiB blocks serve a 50 MiB request: with separate segments a
 * third segment is mapped (110 MiB reserved), in one range they merge (60). */
Test(device_pool, expandable_holes_merge_and_serve_a_larger_request) {
  dev_pool_init(DEV_API_RUNTIME, &fake_x);
  uint64_t with_segments;
  {
    uintptr_t a = take(30 * MiB), b = take(30 * MiB);
    dev_free(0, a);
    dev_free(0, b);
    take(50 * MiB);
    with_segments = reserved_now();
  }
  cr_assert_eq(with_segments, 110 * MiB, "separate segments: %lu MiB", (unsigned long)(with_segments / MiB));
  dev_forget(0);
  dev_expandable = true;
  uintptr_t a = take(30 * MiB), b = take(30 * MiB);
  cr_assert_eq(a, X_BASE, "from the range's start");
  cr_assert_eq(b, a + 30 * MiB, "neighbours: a %#lx b %#lx", (unsigned long)a, (unsigned long)b);
  dev_free(0, a);
  dev_free(0, b);
  uintptr_t c = take(50 * MiB);
  cr_assert_eq(c, a, "the merged hole serves it");
  cr_assert_eq(reserved_now(), 60 * MiB);
  cr_assert(backed(c, 50 * MiB));
  cr_assert_eq(x_violations, 0);
  dev_expandable = false;
}

/* Out of memory: the free granules of the range go back, then the request
 * is served from what that freed. */
Test(device_pool, expandable_gives_free_granules_back_when_out_of_memory) {
  dev_pool_init(DEV_API_RUNTIME, &fake_x);
  dev_expandable = true;
  fake_limit = 64 * MiB;
  uintptr_t a = take(40 * MiB), c = take(10 * MiB);
  cr_assert_eq(c, a + 40 * MiB);
  dev_free(0, a);
  uintptr_t d = take(50 * MiB);   /* 40 free + 10 used + 50 new > 64: unmap the free 40, retry */
  cr_assert(backed(d, 50 * MiB));
  cr_assert(d + 50 * MiB <= a || d >= c + 10 * MiB, "not over the live block");
  dev_stats_t st;
  uma_frag_pool_t ext;
  dev_summary(0, &st, &ext);
  cr_assert_eq(st.reserved, 60 * MiB, "10 live + 50 new: %lu MiB", (unsigned long)(st.reserved / MiB));
  cr_assert_geq(st.granules_unmapped, 20);
  cr_assert_eq(st.oom_retries, 1);
  cr_assert_eq(fake_maps, 0, "no cudaMalloc segment was needed");
  cr_assert_eq(x_violations, 0);
  dev_expandable = false;
}

/* Random requests from 512 B to 40 MiB: live blocks never overlap and lie
 * in backed granules; once all are freed and the cache released, every
 * granule is back. */
Test(device_pool, expandable_random_requests_stay_consistent) {
  dev_pool_init(DEV_API_RUNTIME, &fake_x);
  dev_expandable = true;
  dev_release_threshold = 64 * MiB;
  enum { N = 64 };
  uintptr_t live[N] = { 0 };
  size_t size[N] = { 0 };
  unsigned seed = 12345;
  for (int op = 0; op < 4000; op++) {
    seed = seed * 1103515245u + 12345u;
    int i = (int)((seed >> 8) % N);
    if (live[i]) {
      cr_assert(dev_free(0, live[i]));
      live[i] = 0;
      continue;
    }
    seed = seed * 1103515245u + 12345u;
    size_t s = (seed >> 4) % 4 == 0 ? 512 + (seed >> 8) % (40 * MiB) : 512 + (seed >> 8) % (256 * 1024);
    live[i] = take(s);
    size[i] = s;
    cr_assert(backed(live[i], s), "op %d: block %#lx of %zu not backed", op, (unsigned long)live[i], s);
    for (int j = 0; j < N; j++)
      if (j != i && live[j])
        cr_assert(live[i] + s <= live[j] || live[j] + size[j] <= live[i], "op %d: blocks overlap", op);
  }
  for (int i = 0; i < N; i++)
    if (live[i]) cr_assert(dev_free(0, live[i]));
  dev_release_threshold = 0;
  uintptr_t x = take(512);   /* a fence makes the pending blocks ready */
  dev_free(0, x);
  take(600 * MiB);   /* more than the cache: drains pending, then grows */
  dev_stats_t st;
  uma_frag_pool_t ext;
  dev_summary(0, &st, &ext);
  cr_assert_eq(x_violations, 0);
  cr_assert_eq(fake_maps, 0, "the range served everything");
  cr_assert_gt(st.granules_unmapped, 0, "the release threshold gave granules back");
  cr_assert_leq(st.reserved, 600 * MiB + 64 * MiB + 2 * MiB);
  dev_expandable = false;
}

/* A growth of 200 MiB is four physical allocations (64 + 64 + 64 + 8 MiB),
 * not a hundred granule calls. A release gives back only chunks wholly
 * free: the one a live block reaches into stays. */
Test(device_pool, expandable_grows_in_chunks_and_releases_them_whole) {
  dev_pool_init(DEV_API_RUNTIME, &fake_x);
  dev_expandable = true;
  uintptr_t a = take(200 * MiB);
  cr_assert_eq(x_maps, 4);
  dev_free(0, a);
  uintptr_t e = take(150 * MiB);   /* fence: a is ready again; e reaches into the third chunk */
  cr_assert_eq(e, a);
  uintptr_t f = take(1 * MiB);
  cr_assert_eq(f, a + 150 * MiB);
  dev_free(0, f);
  dev_release_threshold = 1;
  uintptr_t g = take(60 * MiB);    /* fence, release (only the 8 MiB chunk is wholly free), grow */
  cr_assert_eq(g, a + 150 * MiB);
  dev_stats_t st;
  uma_frag_pool_t ext;
  dev_summary(0, &st, &ext);
  cr_assert_eq(st.chunks_unmapped, 1, "only the fourth chunk was wholly free");
  cr_assert_eq(st.chunks_mapped, 5);
  cr_assert_eq(st.reserved, 210 * MiB, "192 kept + 18 new: %lu", (unsigned long)(st.reserved / MiB));
  cr_assert(backed(g, 60 * MiB));
  cr_assert_eq(x_violations, 0);
  dev_expandable = false;
  dev_release_threshold = 0;
}

/* [plan] device = auto: a program that allocates per layer per step is
 * served from one arena of the packed size once two steps repeat; a
 * planned address freed and reused within the same fence epoch makes the
 * pool fence first (the old occupant's work may still run); a new size
 * ends the plan and the ordinary pool serves it. */
Test(device_pool, a_repeating_program_is_planned_into_one_arena) {
  dev_pool_init(DEV_API_RUNTIME, &fake);
  plan_device_on = true;
  plan_min = 1 * MiB;
  const size_t sizes[] = { 3 * MiB, 9 * MiB, 5 * MiB, 12 * MiB };
  uintptr_t act[4];
  int maps_before_plan = 0;
  for (int step = 0; step < 10; step++) {
    if (step == 6) maps_before_plan = fake_maps;
    for (int l = 0; l < 4; l++) {
      act[l] = take(sizes[l]);
      uintptr_t tmp = take(sizes[l] / 2 + MiB);
      cr_assert(dev_free(0, tmp));
    }
    for (int l = 3; l >= 0; l--) cr_assert(dev_free(0, act[l]));
  }
  dev_stats_t st;
  uma_frag_pool_t ext;
  cr_assert(dev_summary(0, &st, &ext));
  cr_assert_eq(st.plan_plans, 1);
  cr_assert_gt(st.plan_served, 20);
  cr_assert_eq(fake_maps, maps_before_plan, "steps served from the arena map nothing");
  cr_assert_leq(st.plan_arena, st.plan_live_bound / 100 * 105, "arena %lu, live bound %lu",
                (unsigned long)st.plan_arena, (unsigned long)st.plan_live_bound);
  cr_assert_gt(st.plan_fences, 0, "reuse within a step waited for the device");
  cr_assert_eq(st.plan_reserved_peak, st.plan_arena, "the learning steps' segments went back: %lu reserved, arena %lu",
               (unsigned long)st.plan_reserved_peak, (unsigned long)st.plan_arena);
  cr_assert_lt(st.plan_reserved_peak, st.plan_reserved_before);
  /* a planned block is a block of the pool for every API call */
  uintptr_t a0 = take(sizes[0]);
  cr_assert_eq(dev_owner(DEV_API_RUNTIME, a0), 0);
  uintptr_t odd = take(7 * MiB + 3);
  cr_assert(odd < a0 || odd >= a0 + 64 * MiB, "a new size comes from the ordinary pool");
  cr_assert(dev_free(0, odd));
  cr_assert(dev_free(0, a0));
  cr_assert_not(dev_free(0, a0), "a second free of a planned block is not ours");
  cr_assert(dev_summary(0, &st, &ext));
  cr_assert_eq(st.plan_deviations, 1);
  /* cudaDeviceReset frees the arena with everything else: the plan starts over */
  dev_forget(0);
  int maps = fake_maps;
  uintptr_t fresh = take(sizes[0]);
  cr_assert_eq(fake_maps, maps + 1, "a new segment, not the dead arena");
  cr_assert(dev_summary(0, &st, &ext));
  cr_assert_eq(st.plan_arena, 0);
  cr_assert(dev_free(0, fresh));
  plan_device_on = false;
}
