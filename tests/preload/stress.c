/* stress.c — many threads, random sizes across every pool, blocks handed to
 * other threads through shared slots and freed there, realloc chains,
 * aligned and zeroed allocations, and threads that exit while others still
 * free their blocks. Every block carries its size and a tag and is filled
 * with a pattern that is verified before it is freed or reallocated.
 * Exit 0 and "stress: OK" when every check held. Usage: stress [threads] [rounds] [ops] */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

typedef struct { size_t size; uint64_t tag; } header_t;   /* at the start of every block */

static _Atomic(header_t *) slots[SLOTS];
static atomic_ulong verified, ops_done;
static int ops_per_thread = 20000;

static void fail(const char *what, const void *p, size_t size) {
  fprintf(stderr, "stress: FAILED: %s (block %p, size %zu)\n", what, p, size);
  exit(1);
}

static uint64_t rng(uint64_t *s) {   /* xorshift64* */
  *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

/* Mostly small, some medium, a few large: every pool is exercised. */
static size_t pick_size(uint64_t *s) {
  uint64_t r = rng(s) % 1000;
  if (r < 800) return sizeof(header_t) + rng(s) % 512;
  if (r < 950) return sizeof(header_t) + rng(s) % 8192;
  if (r < 995) return 8192 + rng(s) % (64 * 1024);
  return 64 * 1024 + rng(s) % (2 << 20);
}

/* Byte i of the pattern, the same whether it is written as part of a word or
 * alone, so a realloc'd prefix of any length checks out. */
static uint8_t pattern_byte(uint64_t word, size_t i) {
  uint64_t w = word + (i & ~(size_t)7);
  uint8_t bytes[8];
  memcpy(bytes, &w, 8);
  return bytes[i & 7];
}

static void fill(header_t *h, size_t size, uint64_t tag) {
  h->size = size;
  h->tag = tag;
  uint8_t *b = (uint8_t *)(h + 1);
  size_t n = size - sizeof *h;
  uint64_t word = tag * 0x9E3779B97F4A7C15ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) memcpy(b + i, &(uint64_t){ word + i }, 8);
  for (; i < n; i++) b[i] = pattern_byte(word, i);
}

static void check(const header_t *h, size_t expect_at_least) {
  size_t n = h->size - sizeof *h;
  if (h->size < expect_at_least) fail("header size smaller than expected", h, h->size);
  const uint8_t *b = (const uint8_t *)(h + 1);
  uint64_t word = h->tag * 0x9E3779B97F4A7C15ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, b + i, 8);
    if (v != word + i) fail("pattern overwritten", h, h->size);
  }
  for (; i < n; i++)
    if (b[i] != pattern_byte(word, i)) fail("pattern overwritten (tail)", h, h->size);
  atomic_fetch_add_explicit(&verified, 1, memory_order_relaxed);
}

static header_t *new_block(uint64_t *s) {
  size_t size = pick_size(s);
  header_t *h;
  switch (rng(s) % 8) {
  case 0: {   /* aligned */
    size_t align = (size_t)16 << (rng(s) % 13);   /* 16 B .. 64 KiB */
    if (posix_memalign((void **)&h, align, size) != 0) fail("posix_memalign failed", NULL, size);
    if ((uintptr_t)h % align) fail("posix_memalign misaligned", h, align);
    break;
  }
  case 1: {   /* zeroed */
    h = calloc(1, size);
    if (!h) fail("calloc failed", NULL, size);
    const uint8_t *b = (const uint8_t *)h;
    for (size_t i = 0; i < size; i += 61) if (b[i]) fail("calloc memory not zero", h, size);
    if (b[size - 1]) fail("calloc memory not zero at the end", h, size);
    break;
  }
  default:
    h = malloc(size);
    if (!h) fail("malloc failed", NULL, size);
  }
  size_t usable = malloc_usable_size(h);
  if (usable < size) fail("malloc_usable_size below the request", h, size);
  if ((uintptr_t)h % 16) fail("block not 16-byte aligned", h, size);
  ((uint8_t *)h)[usable - 1] = 0xA5;   /* the whole usable size is writable */
  fill(h, size, rng(s));
  return h;
}

static void *worker(void *arg) {
  uint64_t s = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ULL + 1;
  for (int i = 0; i < ops_per_thread; i++) {
    unsigned slot = (unsigned)(rng(&s) % SLOTS);
    uint64_t action = rng(&s) % 10;
    if (action < 7) {   /* put a new block in, free whatever was there (often another thread's) */
      header_t *old = atomic_exchange(&slots[slot], new_block(&s));
      if (old) { check(old, sizeof *old); free(old); }
    } else if (action < 9) {   /* realloc chain on a block taken out of a slot */
      header_t *h = atomic_exchange(&slots[slot], NULL);
      if (!h) continue;
      check(h, sizeof *h);
      for (int step = 0; step < 3; step++) {
        size_t old_size = h->size, size = pick_size(&s);
        uint64_t tag = h->tag;
        header_t *n = realloc(h, size);
        if (!n) fail("realloc failed", h, size);
        if (malloc_usable_size(n) < size) fail("realloc usable size below the request", n, size);
        /* The common prefix keeps its contents. */
        header_t probe = { size < old_size ? size : old_size, tag };
        n->size = probe.size;
        check(n, sizeof *n);
        fill(n, size, tag + 1);
        h = n;
      }
      header_t *old = atomic_exchange(&slots[slot], h);
      if (old) { check(old, sizeof *old); free(old); }
    } else {   /* take a block out and free it here */
      header_t *h = atomic_exchange(&slots[slot], NULL);
      if (h) { check(h, sizeof *h); free(h); }
    }
    atomic_fetch_add_explicit(&ops_done, 1, memory_order_relaxed);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 8;
  int rounds = argc > 2 ? atoi(argv[2]) : 4;
  if (argc > 3) ops_per_thread = atoi(argv[3]);
  /* Each round's threads exit while the blocks they made wait in the slots
   * for the next round's threads to verify and free. */
  for (int r = 0; r < rounds; r++) {
    pthread_t t[256];
    for (int i = 0; i < threads; i++)
      if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(r * 1000 + i + 1)) != 0)
        fail("pthread_create failed", NULL, 0);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  }
  for (unsigned i = 0; i < SLOTS; i++) {
    header_t *h = atomic_exchange(&slots[i], NULL);
    if (h) { check(h, sizeof *h); free(h); }
  }
  printf("stress: OK threads=%d rounds=%d ops=%lu verified=%lu\n", threads, rounds,
         (unsigned long)ops_done, (unsigned long)verified);
  return 0;
}
