/* Copy-on-write aliasing (core/cow.c): large blocks of a rule with
 * alias = cow lie over one memory file; a big copy between two of them maps
 * the source's pages at the destination. Every test checks bytes against
 * what a plain copy would give, and the memory file's page count shows that
 * pages are shared, released, or copied. */
#define _GNU_SOURCE   /* mremap */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../../policy/policy.h"
#include "cow.h"

#define MiB (1024 * 1024UL)
#define PG 4096UL

static void cow_on(void) {
  static pol_config_t cfg;
  const char *text = "[rule big]\nsize = 1M..\nalias = cow\n";
  pol_config_defaults(&cfg);
  pol_parse(&cfg, "t.conf", text, strlen(text));
  pol_check_rules(&cfg);
  cr_assert_eq(cfg.error_count, 0);
  uma_malloc(1);
  pol_apply(&cfg);
  cr_assert_eq(cow_min, 2 * MiB);
}

static uint8_t *filled(size_t n, uint32_t seed) {
  uint8_t *p = uma_malloc(n);
  cr_assert_not_null(p);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 31 + seed + (i >> 12));
  return p;
}

static cow_stats_t stats(void) {
  cow_stats_t s;
  cow_snapshot(&s);
  return s;
}

TestSuite(cow, .init = cow_on);

Test(cow, a_copy_shares_the_pages_and_later_writes_stay_on_their_side) {
  uint8_t *a = filled(8 * MiB, 1), *b = uma_malloc(8 * MiB);   /* a fresh destination */
  cr_assert_eq(stats().file_bytes, 16 * MiB);
  cr_assert(cow_copy(b, a, 8 * MiB));
  cr_assert_eq(memcmp(a, b, 8 * MiB), 0);
  cow_stats_t s = stats();
  cr_assert_eq(s.aliased_bytes, 8 * MiB);
  cr_assert_eq(s.file_bytes, 8 * MiB, "b's own pages went back: both read a's (%lu)", (unsigned long)s.file_bytes);
  a[0] = 0xaa;
  b[5 * PG + 7] = 0xbb;
  cr_assert_neq(b[0], 0xaa, "a write to the source does not show in the copy");
  cr_assert_neq(a[5 * PG + 7], 0xbb, "nor the other way round");
  cr_assert_eq(stats().broken_pages, 2, "one page copied on each side");
  uma_free(a);
  uma_free(b);
  cr_assert_eq(stats().file_bytes, 0, "the last mapping gone, the pages go back");
}

Test(cow, unaligned_heads_and_tails_are_copied_and_misaligned_copies_refused) {
  uint8_t *a = filled(8 * MiB, 3), *b = uma_malloc(8 * MiB);
  uint8_t *shadow = calloc(1, 8 * MiB);   /* what b reads: zeros, then the copy */
  size_t n = 5 * MiB + 37;
  cr_assert(cow_copy(b + 100, a + 100, n));
  memcpy(shadow + 100, a + 100, n);
  cr_assert_eq(memcmp(b, shadow, 8 * MiB), 0, "edges copied, middle aliased, the rest untouched");
  cr_assert_geq(stats().aliased_bytes, 5 * MiB - PG);
  cr_assert_eq(memcmp(b, shadow, 8 * MiB), 0);
  cr_assert_not(cow_copy(b + 1, a, 4 * MiB), "not congruent modulo the page size");
  cr_assert_not(cow_copy(a + 2 * MiB, a, 4 * MiB), "overlapping (memmove)");
  cr_assert_not(cow_copy(b, a, 1 * MiB), "below cow_min");
  uint8_t *plain = malloc(4 * MiB);   /* not ours */
  cr_assert_not(cow_copy(plain, a, 4 * MiB));
  free(plain);
  free(shadow);
  uma_free(a);
  uma_free(b);
}

/* The source of the second copy has pages written since the first: their
 * data is in anonymous pages, not in the file, and must still arrive. */
Test(cow, a_copy_of_a_copy_carries_pages_written_in_between) {
  uint8_t *a = filled(4 * MiB, 5), *b = uma_malloc(4 * MiB), *c = uma_malloc(4 * MiB);
  cr_assert(cow_copy(b, a, 4 * MiB));
  for (size_t i = 0; i < 4 * MiB; i += 3 * PG) b[i + 11] = (uint8_t)(i >> 12);
  cr_assert(cow_copy(c, b, 4 * MiB));
  cr_assert_eq(memcmp(c, b, 4 * MiB), 0);
  c[11] = 0x5a;
  cr_assert_eq(b[11], 0, "c's write stays in c");
  cr_assert_eq(a[11], (uint8_t)(11 * 31 + 5));
  uma_free(a);
  uma_free(b);
  uma_free(c);
  cr_assert_eq(stats().file_bytes, 0);
}

/* MADV_DONTNEED on anonymous memory leaves zeros (the preload's madvise
 * calls cow_discard after the kernel's); the other side keeps its data. */
Test(cow, dontneed_reads_zeros_after) {
  uint8_t *a = filled(4 * MiB, 6), *b = uma_malloc(4 * MiB);
  cr_assert(cow_copy(b, a, 4 * MiB));
  cr_assert_eq(madvise(b + PG, 2 * PG, MADV_DONTNEED), 0);
  cow_discard(b + PG, 2 * PG);
  for (size_t i = PG; i < 3 * PG; i++) cr_assert_eq(b[i], 0, "byte %zu", i);
  cr_assert_eq(memcmp(b + 3 * PG, a + 3 * PG, PG), 0);
  cr_assert_eq(memcmp(b, a, PG), 0);
  cr_assert_eq(a[PG], (uint8_t)(PG * 31 + 6 + 1));
  b[PG] = 9;   /* the fresh pages are ordinary memory */
  cr_assert_eq(b[PG], 9);
  uma_free(a);
  uma_free(b);
  cr_assert_eq(stats().file_bytes, 0);
}

/* fork: the child gets its own copy; the parent freeing (and so punching)
 * the shared pages afterwards must not touch what the child reads. */
Test(cow, fork_keeps_each_side_its_own_pages) {
  uint8_t *a = filled(4 * MiB, 7), *b = uma_malloc(4 * MiB);
  cr_assert(cow_copy(b, a, 4 * MiB));
  int go[2];
  cr_assert_eq(pipe(go), 0);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(2);   /* the parent has freed a and b */
    for (size_t i = 0; i < 4 * MiB; i++)
      if (b[i] != (uint8_t)(i * 31 + 7 + (i >> 12)) || a[i] != b[i]) _exit(3);
    b[0] = 1;
    _exit(a[0] == (uint8_t)7 ? 0 : 4);
  }
  cr_assert_gt(pid, 0);
  cr_assert_eq(stats().forks, 1);
  b[PG] = 0x77;   /* the parent's write after the fork */
  uma_free(a);
  uma_free(b);
  cr_assert_eq(write(go[1], "x", 1), 1);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

Test(cow, realloc_growth_aliases_instead_of_copying) {
  uint8_t *a = filled(6 * MiB, 8);
  uint8_t *g = uma_realloc(a, 40 * MiB);
  cr_assert_not_null(g);
  for (size_t i = 0; i < 6 * MiB; i++) cr_assert_eq(g[i], (uint8_t)(i * 31 + 8 + (i >> 12)));
  cr_assert_geq(stats().aliased_bytes, 6 * MiB - PG);
  cr_assert_eq(stats().file_bytes, 40 * MiB, "the old block's pages are the new one's");
  uma_free(g);
}

/* By default a destination already in memory is overwritten, not aliased
 * (cheaper); [alias] cow_into = any aliases it too. */
Test(cow, a_resident_destination_is_copied_unless_cow_into_any) {
  uint8_t *a = filled(4 * MiB, 9), *b = filled(4 * MiB, 10);
  cr_assert_not(cow_copy(b, a, 4 * MiB));
  cow_into_resident = true;
  cr_assert(cow_copy(b, a, 4 * MiB));
  cr_assert_eq(memcmp(a, b, 4 * MiB), 0);
  cr_assert_eq(stats().file_bytes, 4 * MiB);
  uma_free(a);
  uma_free(b);
}

/* Random aliased copies and writes among a few blocks, every byte checked
 * against shadow copies made with plain memcpy. */
Test(cow, random_copies_and_writes_match_a_shadow) {
  cow_into_resident = true;   /* every copy aliases: the mechanics under test */
  enum { N = 6 };
  const size_t size = 6 * MiB;
  uint8_t *blk[N], *shadow[N];
  for (int i = 0; i < N; i++) {
    blk[i] = filled(size, (uint32_t)i);
    shadow[i] = malloc(size);
    memcpy(shadow[i], blk[i], size);
  }
  srand(12345);
  for (int op = 0; op < 400; op++) {
    int d = rand() % N, s = rand() % N;
    if (rand() % 3 == 0) {   /* writes: a few bytes on a few pages */
      for (int k = 0; k < 8; k++) {
        size_t at = (size_t)rand() % size;
        blk[d][at] = shadow[d][at] = (uint8_t)rand();
      }
      continue;
    }
    if (d == s) continue;
    size_t n = 2 * MiB + (size_t)rand() % (3 * MiB);
    size_t off = (size_t)rand() % (size - n);
    size_t soff = rand() % 2 ? off : (off + (size_t)(rand() % 8) * PG) % (size - n - PG) / PG * PG + off % PG;
    if (!cow_copy(blk[d] + off, blk[s] + soff, n)) memcpy(blk[d] + off, blk[s] + soff, n);
    memcpy(shadow[d] + off, shadow[s] + soff, n);
  }
  for (int i = 0; i < N; i++) cr_assert_eq(memcmp(blk[i], shadow[i], size), 0, "block %d differs", i);
  cr_assert_gt(stats().copies, 100);
  for (int i = 0; i < N; i++) {
    uma_free(blk[i]);
    free(shadow[i]);
  }
  cr_assert_eq(stats().file_bytes, 0);
}

/* The program unmaps half of an aliased block behind the allocator's back
 * (undefined for malloc'd memory, but it must not corrupt the other side):
 * the source keeps its data, the remaining half reads right, and the free
 * gives every page back. */
Test(cow, munmap_of_half_an_aliased_block_leaves_the_source_intact) {
  uint8_t *a = filled(8 * MiB, 11), *b = uma_malloc(8 * MiB);
  cr_assert(cow_copy(b, a, 8 * MiB));
  cr_assert_eq(munmap(b + 4 * MiB, 4 * MiB), 0);
  cr_assert_eq(memcmp(b, a, 4 * MiB), 0);
  for (size_t i = 0; i < 8 * MiB; i += 4093) cr_assert_eq(a[i], (uint8_t)(i * 31 + 11 + (i >> 12)));
  uma_free(b);
  cr_assert_eq(stats().file_bytes, 8 * MiB, "a's pages only");
  for (size_t i = 0; i < 8 * MiB; i += 4093) cr_assert_eq(a[i], (uint8_t)(i * 31 + 11 + (i >> 12)));
  uma_free(a);
  cr_assert_eq(stats().file_bytes, 0);
}

/* The program mremaps part of an aliased block to a new address (the
 * preload's mremap calls cow_detach first): the moved pages keep their data
 * after both blocks are freed (their file pages punched), and a copy out of
 * the block's remaining, now partly anonymous, range is still exact. */
Test(cow, pages_moved_by_the_programs_mremap_keep_their_data) {
  uint8_t *a = filled(8 * MiB, 12), *b = uma_malloc(8 * MiB), *c = uma_malloc(8 * MiB);
  cr_assert(cow_copy(b, a, 8 * MiB));
  uint8_t *part = b + 64 * PG;
  cow_detach(part, 16 * PG);
  uint8_t *moved = mmap(NULL, 16 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(moved, MAP_FAILED);
  cr_assert_eq(mremap(part, 16 * PG, 16 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, moved), moved);
  cr_assert_eq(mmap(part, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), part,
               "the program puts something back in the hole");
  cr_assert(cow_copy(c, b, 8 * MiB), "a copy across the detached pages");
  for (size_t i = 0; i < 8 * MiB; i += 4093) {
    bool hole = i >= 64 * PG && i < 80 * PG;
    cr_assert_eq(c[i], hole ? 0 : a[i], "byte %zu", i);
  }
  uma_free(a);
  uma_free(b);
  uma_free(c);
  for (size_t i = 0; i < 16 * PG; i += 509)
    cr_assert_eq(moved[i], (uint8_t)((64 * PG + i) * 31 + 12 + ((64 * PG + i) >> 12)), "moved byte %zu", i);
  munmap(moved, 16 * PG);
  cr_assert_eq(stats().file_bytes, 0);
}
