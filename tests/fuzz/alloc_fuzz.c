/* alloc_fuzz.c — a seeded op-sequence fuzzer with a shadow model, run under
 * the preload (tests/fuzz/alloc-fuzz runs it under each setting that
 * changes the allocator's behaviour). Each thread draws malloc, calloc,
 * realloc, free, aligned_alloc, posix_memalign, memalign and
 * malloc_usable_size calls from its own seed; the shadow keeps every live
 * block's size and pattern seed. Every block is filled with its pattern and
 * checked before it is freed or reallocated (an overlap with another live
 * block, or a lost byte, shows there); results are checked against the ABI
 * (alignment, usable size, calloc's zeros, realloc's kept prefix). Blocks
 * move between threads through a shared exchange (cross-thread frees).
 * Phases of "steps" repeat a template of large requests (1–8 MiB) several
 * times and keep some blocks past the step, then change the template: the
 * pattern a lifetime planner learns, drops and learns again.
 *
 * Usage: alloc_fuzz SEED OPS THREADS   prints "alloc_fuzz: OK …" or the
 * first difference (seed, thread, op) and aborts. No allocation of its own
 * outside the calls under test: the shadow is mmap'd.
 *
 * Built with -DUMA_CORE_DIRECT and linked with libumacore.a, the same
 * program calls the core's uma_* API in-process: the checked builds (make
 * asan, tsan, …) run it under the sanitizers, no preload involved; a
 * fourth argument sets the purge delay (ms) there, a fifth (1) turns the
 * purge helper thread on from the first allocation. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <dlfcn.h>

#ifdef UMA_CORE_DIRECT
#include "uma.h"
#define malloc uma_malloc
#define calloc uma_calloc
#define realloc uma_realloc
#define free uma_free
#define aligned_alloc uma_aligned_alloc
#define malloc_usable_size uma_usable_size
#define memalign uma_aligned_alloc
static int direct_posix_memalign(void **out, size_t align, size_t size) {
  void *p = uma_aligned_alloc(align, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}
#define posix_memalign direct_posix_memalign
#endif

#define SLOTS 2048           /* live blocks per thread */
#define EXCHANGE 64
#define BIG_MIN (1u << 20)
#define LIVE_MAX (192u << 20) /* per thread: bytes the shadow lets live at once */

typedef struct { uint8_t *p; size_t size, align; uint32_t seed; } block_t;
typedef struct {
  unsigned id;
  uint64_t rng, seed, op;
  size_t live_bytes;
  block_t slot[SLOTS];
  uint64_t count[10];
} thread_t;

static _Atomic(block_t *) exchange[EXCHANGE];
static block_t exchange_blocks[EXCHANGE];   /* the blocks in flight, owned by whoever holds the index */
static _Atomic int exchange_busy[EXCHANGE];

static uint64_t next(uint64_t *s) {   /* xorshift64* */
  *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}
static uint64_t below(thread_t *t, uint64_t n) { return n ? next(&t->rng) % n : 0; }

static __attribute__((noreturn)) void fail(thread_t *t, const char *what, const void *p, size_t size) {
  fprintf(stderr, "alloc_fuzz: FAILED seed=%llu thread=%u op=%llu: %s (block %p, %zu bytes)\n",
          (unsigned long long)t->seed, t->id, (unsigned long long)t->op, what, p, size);
  abort();
}

/* The pattern: byte i of a block is (seed + i * 131) mod 256 — every byte of
 * small blocks, and of blocks above 64 KiB the first and last 4 KiB and one
 * byte per 4 KiB page (enough to see a page mapped twice or lost). */
static uint8_t pat(uint32_t seed, size_t i) { return (uint8_t)(seed + i * 131); }
/* The bytes a block of `size` carries its pattern in, those below `limit`. */
static void each_checked_byte(size_t size, size_t limit, void (*f)(void *, size_t, uint32_t), void *ctx, uint32_t seed) {
  if (size <= 65536) {
    for (size_t i = 0; i < size && i < limit; i++) f(ctx, i, seed);
    return;
  }
  for (size_t i = 0; i < 4096 && i < limit; i++) f(ctx, i, seed);
  for (size_t i = 4096; i < size - 4096 && i < limit; i += 4093) f(ctx, i, seed);
  for (size_t i = size - 4096; i < size && i < limit; i++) f(ctx, i, seed);
}
static void put(void *ctx, size_t i, uint32_t seed) { ((uint8_t *)ctx)[i] = pat(seed, i); }
static __thread size_t bad_at;   /* per thread: each checks its own blocks */
static void get(void *ctx, size_t i, uint32_t seed) {
  if (((uint8_t *)ctx)[i] != pat(seed, i) && bad_at == SIZE_MAX) bad_at = i;
}

static void fill(block_t *b) { each_checked_byte(b->size, b->size, put, b->p, b->seed); }
/* The pattern of a block of b->size bytes, in its first `limit` bytes. */
static void check_upto(thread_t *t, const block_t *b, size_t limit, const char *when) {
  bad_at = SIZE_MAX;
  each_checked_byte(b->size, limit, get, b->p, b->seed);
  if (bad_at != SIZE_MAX) {
    char what[160];
    snprintf(what, sizeof what, "pattern broken at byte %zu before %s", bad_at, when);
    fail(t, what, b->p, b->size);
  }
}
static void check(thread_t *t, const block_t *b, const char *when) { check_upto(t, b, b->size, when); }

static void check_new(thread_t *t, const block_t *b) {
  if (b->p == NULL) return;
  size_t align = b->align < 16 ? 16 : b->align;
  if ((uintptr_t)b->p % align) fail(t, "misaligned block", b->p, b->size);
  if (malloc_usable_size(b->p) < b->size) fail(t, "usable size below the request", b->p, b->size);
}

static size_t draw_size(thread_t *t) {
  unsigned r = (unsigned)below(t, 100);
  if (r < 60) return below(t, 256);                       /* small, 0 included */
  if (r < 85) return 256 + below(t, 16 << 10);              /* up to 16 KiB */
  if (r < 95) return (16 << 10) + below(t, 600 << 10);      /* medium and the coalescing pool */
  return (512 << 10) + below(t, 6u << 20);                  /* large */
}

static void release(thread_t *t, block_t *b) {
  check(t, b, "free");
  t->live_bytes -= b->size;
  free(b->p);
  b->p = NULL;
  t->count[1]++;
}

static void new_block(thread_t *t, block_t *b) {
  size_t size = draw_size(t);
  if (t->live_bytes + size > LIVE_MAX) return;
  unsigned how = (unsigned)below(t, 6);
  b->align = 0;
  b->size = size;
  b->seed = (uint32_t)next(&t->rng);
  errno = 0;
  if (how == 0) {
    b->p = calloc(1, size);
    if (b->p)
      for (size_t i = 0; i < size; i += (size > 65536 ? 4093 : 1))
        if (b->p[i]) fail(t, "calloc'd byte not zero", b->p, size);
  } else if (how == 1) {
    b->align = (size_t)1 << below(t, 13);   /* 1 B … 4 KiB, sometimes more below */
    if (below(t, 8) == 0) b->align = (size_t)1 << (13 + below(t, 10));
    if (b->align < sizeof(void *)) b->align = sizeof(void *);
    void *q = NULL;
    int rc = posix_memalign(&q, b->align, size);   /* says ENOMEM by its result, errno unchanged */
    if (rc != 0 && rc != ENOMEM) fail(t, "posix_memalign failed other than with ENOMEM", NULL, size);
    if (rc != 0) errno = ENOMEM;
    b->p = rc == 0 ? q : NULL;
  } else if (how == 2) {
    b->align = (size_t)16 << below(t, 9);
    b->p = aligned_alloc(b->align, (size + b->align - 1) / b->align * b->align);
    if (b->p) b->size = (size + b->align - 1) / b->align * b->align;
  } else if (how == 3) {
    b->align = (size_t)32 << below(t, 8);
    b->p = memalign(b->align, size);
  } else {
    b->p = malloc(size);
  }
  if (b->p == NULL) {
    if (errno != ENOMEM) fail(t, "NULL without ENOMEM", NULL, size);
    return;
  }
  check_new(t, b);
  fill(b);
  t->live_bytes += b->size;
  t->count[0]++;
}

static void grow_or_shrink(thread_t *t, block_t *b) {
  check(t, b, "realloc");
  size_t size = draw_size(t);
  if (t->live_bytes - b->size + size > LIVE_MAX) return;
  uint8_t *q = realloc(b->p, size);
  if (q == NULL && size != 0) return;   /* the old block stays valid */
  t->live_bytes -= b->size;
  block_t moved = { q, b->size, 0, b->seed };
  if (q) check_upto(t, &moved, size, "the end of realloc (the kept prefix)");
  b->p = q;
  b->size = size;
  b->align = 0;
  if (q) {
    check_new(t, b);
    fill(b);
    t->live_bytes += size;
  }
  t->count[2]++;
}

/* A step of a template: allocate its large blocks, free most in a fixed
 * order, keep `keep` of them live into the next steps (freed later). */
static void steps(thread_t *t) {
  size_t sizes[6];
  unsigned n = 2 + (unsigned)below(t, 5);
  for (unsigned i = 0; i < n; i++) sizes[i] = BIG_MIN + below(t, 7u << 20);
  unsigned repeats = 4 + (unsigned)below(t, 6);
  for (unsigned r = 0; r < repeats; r++) {
    block_t step[6];
    for (unsigned i = 0; i < n; i++) {
      errno = 0;
      step[i] = (block_t){ malloc(sizes[i]), sizes[i], 0, (uint32_t)next(&t->rng) };
      if (step[i].p == NULL) {   /* out of memory (a limit, injected faults): the step ends */
        if (errno != ENOMEM) fail(t, "NULL without ENOMEM", NULL, sizes[i]);
        while (i-- > 0) free(step[i].p);
        return;
      }
      check_new(t, &step[i]);
      fill(&step[i]);
    }
    for (unsigned i = n; i-- > 0;) {
      unsigned s = (unsigned)below(t, SLOTS);
      if (r == repeats - 1 && below(t, 3) == 0 && t->slot[s].p == NULL) {   /* kept past the step */
        t->slot[s] = step[i];
        t->live_bytes += step[i].size;
        continue;
      }
      check(t, &step[i], "free (a step)");
      free(step[i].p);
    }
  }
  t->count[5]++;
}

static void op(thread_t *t) {
  unsigned s = (unsigned)below(t, SLOTS);
  block_t *b = &t->slot[s];
  unsigned r = (unsigned)below(t, 1000);
  if (r < 2) {
    steps(t);
  } else if (r < 40) {   /* hand a block to whichever thread takes it */
    unsigned e = (unsigned)below(t, EXCHANGE);
    int expect = 0;
    if (!atomic_compare_exchange_strong(&exchange_busy[e], &expect, 1)) return;
    block_t *in = atomic_load(&exchange[e]);
    if (in) {   /* take the block in flight (counted by nobody): check it and free it here */
      t->live_bytes += in->size;
      release(t, in);
      atomic_store(&exchange[e], NULL);
      t->count[3]++;
    } else if (b->p) {
      check(t, b, "handing over");
      exchange_blocks[e] = *b;
      t->live_bytes -= b->size;
      b->p = NULL;
      atomic_store(&exchange[e], &exchange_blocks[e]);
    }
    atomic_store(&exchange_busy[e], 0);
  } else if (b->p == NULL) {
    new_block(t, b);
  } else if (r < 200) {
    grow_or_shrink(t, b);
  } else if (r < 230) {
    if (malloc_usable_size(b->p) < b->size) fail(t, "usable size shrank", b->p, b->size);
    t->count[4]++;
  } else {
    release(t, b);
  }
}

static uint64_t ops_per_thread;
static void *run(void *arg) {
  thread_t *t = arg;
  for (t->op = 0; t->op < ops_per_thread; t->op++) op(t);
  for (unsigned s = 0; s < SLOTS; s++)
    if (t->slot[s].p) release(t, &t->slot[s]);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: alloc_fuzz SEED OPS THREADS\n");
    return 2;
  }
  uint64_t seed = strtoull(argv[1], NULL, 10);
  ops_per_thread = strtoull(argv[2], NULL, 10);
  unsigned n = (unsigned)atoi(argv[3]);
#ifdef UMA_CORE_DIRECT
  if (argc > 4) uma_option_set(UMA_OPTION_PURGE_DELAY_MS, atoll(argv[4]));   /* in-process: no environment */
  if (argc > 5 && atoi(argv[5])) {   /* the purge helper thread from the start, racing the workers */
    uma_option_set(UMA_OPTION_PURGE_BACKGROUND, 1);
    uma_option_set(UMA_OPTION_PURGE_BACKGROUND_ABOVE, 0);
  }
#endif
  if (n < 1 || n > 16) n = 1;
  thread_t *ts = mmap(NULL, sizeof(thread_t) * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pthread_t tid[16];
  for (unsigned i = 0; i < n; i++) {
    ts[i].id = i;
    ts[i].seed = seed;
    ts[i].rng = seed * 0x9E3779B97F4A7C15ULL + i + 1;
    if (n == 1) run(&ts[0]);
    else pthread_create(&tid[i], NULL, run, &ts[i]);
  }
  if (n > 1)
    for (unsigned i = 0; i < n; i++) pthread_join(tid[i], NULL);
  thread_t fake = { .id = 99, .seed = seed };
  for (unsigned e = 0; e < EXCHANGE; e++) {
    block_t *in = atomic_load(&exchange[e]);
    if (in) {
      fake.live_bytes += in->size;
      release(&fake, in);
    }
  }
  /* Everything is freed: allocation must work again (unless faults are
   * injected on purpose), and what the allocator keeps mapped once asked to
   * give back is printed (the caller compares: nothing may leak). */
  const char *faults = getenv("UMA_FAULT_EVERY");
  void *again[64];
  for (int i = 0; i < 64; i++) {
    again[i] = malloc(i < 48 ? 1024 : 256 << 10);
    if (again[i] == NULL && (faults == NULL || atoi(faults) == 0)) fail(&fake, "allocation failed after everything was freed", NULL, 0);
  }
  for (int i = 0; i < 64; i++) free(again[i]);
#ifndef UMA_CORE_DIRECT
  malloc_trim(0);
  void (*stats_get)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "uma_stats_get");
  uint64_t st[20] = { 0 };
  if (stats_get) {
    stats_get(st);
    printf("alloc_fuzz: mapped after everything was freed and trimmed: %llu KiB\n", (unsigned long long)st[7] / 1024);
  }
#endif
  uint64_t total[6] = { 0 };
  for (unsigned i = 0; i < n; i++)
    for (int k = 0; k < 6; k++) total[k] += ts[i].count[k];
  printf("alloc_fuzz: OK seed=%llu threads=%u allocs=%llu frees=%llu reallocs=%llu cross-thread=%llu usable=%llu step-phases=%llu\n",
         (unsigned long long)seed, n, (unsigned long long)total[0], (unsigned long long)total[1],
         (unsigned long long)total[2], (unsigned long long)total[3], (unsigned long long)total[4],
         (unsigned long long)total[5]);
  return 0;
}
