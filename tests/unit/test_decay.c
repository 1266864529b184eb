/* Decay inside pages in use (page_decay, page_restore) and the purge
 * helper thread (decay.c): free OS pages of pages that keep survivors go
 * back to the OS, survivors stay intact, the blocks come back zeroed when
 * the page needs them, the committed count stays exact, and a block freed
 * twice while its memory was returned is still diagnosed. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include "base.h"
#include "stats.h"
#include "ticker.h"
#include "helpers.h"

#define N    20000
#define SIZE 48          /* 85 blocks per OS page: only whole runs of free blocks free one */

static char *blocks[N];

static bool deleted(int i) { return (i / 256) % 4 != 0; }   /* 3 runs of 256 in every 4 */

static size_t resident_of(bool (*which)(int)) {
  size_t n = 0;
  for (int i = 0; i < N; i++)
    if (which(i)) n += resident_pages(blocks[i], SIZE);
  return n;
}

static void fill(void) {
  for (int i = 0; i < N; i++) {
    blocks[i] = uma_malloc(SIZE);
    memset(blocks[i], (int)(i & 0x7f) | 1, SIZE);
  }
}

static void check_survivors(void) {
  for (int i = 0; i < N; i++) {
    if (deleted(i)) continue;
    for (int k = 0; k < SIZE; k++)
      cr_assert_eq((unsigned char)blocks[i][k], (unsigned char)((i & 0x7f) | 1), "survivor %d byte %d changed", i, k);
  }
}

Test(decay, free_os_pages_inside_pages_in_use_go_back) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60 * 1000);
  fill();
  for (int i = 0; i < N; i++)
    if (deleted(i)) uma_free(blocks[i]);
  uma_stats_t before, after;
  uma_stats_get(&before);
  uint64_t committed_before = atomic_load(&stats_committed);
  size_t resident_before = resident_of(deleted);
  uma_collect(true);
  uma_stats_get(&after);
  uint64_t returned = after.purged_in_use_bytes - before.purged_in_use_bytes;
  /* 15,000 freed blocks (703 KiB) in runs of 12 KiB: at least half of it
   * is whole OS pages. */
  cr_assert_geq(returned, (uint64_t)N * 3 / 4 * SIZE / 2, "only %llu bytes returned", (unsigned long long)returned);
  cr_assert_lt(resident_of(deleted), resident_before / 2, "%zu of %zu pages still resident", resident_of(deleted),
               resident_before);
  cr_assert_leq(atomic_load(&stats_committed) + returned, committed_before, "committed counts the returned pages off");
  check_survivors();

  /* Allocating again takes the returned pages back: every new block reads
   * zero from calloc, and overlaps no survivor. */
  static char *again[N];
  for (int i = 0; i < N * 3 / 4; i++) {
    again[i] = uma_calloc(1, SIZE);
    for (int k = 0; k < SIZE; k++) cr_assert_eq(again[i][k], 0);
    memset(again[i], 0xEE, SIZE);
  }
  check_survivors();
  for (int i = 0; i < N * 3 / 4; i++) uma_free(again[i]);
  for (int i = 0; i < N; i++)
    if (!deleted(i)) uma_free(blocks[i]);
  uma_collect(true);
}

Test(decay, committed_returns_to_its_start_after_everything_is_freed) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60 * 1000);
  uma_collect(true);
  uint64_t start = atomic_load(&stats_committed);
  for (int round = 0; round < 3; round++) {
    fill();
    for (int i = 0; i < N; i++)
      if (deleted(i)) uma_free(blocks[i]);
    uma_collect(true);   /* pages in use give back their free OS pages */
    for (int i = 0; i < N; i++)
      if (!deleted(i)) uma_free(blocks[i]);
    uma_collect(true);   /* now whole pages, and segments */
  }
  uint64_t end = atomic_load(&stats_committed);
  cr_assert_leq(end, start + 64 * 1024, "committed %llu KiB after, %llu KiB before", (unsigned long long)end >> 10,
                (unsigned long long)start >> 10);
  cr_assert_geq(end + 64 * 1024, start);
}

/* Freed twice after its memory went back: the block's cookie reads zero, so
 * the second free passes and the next malloc hands the block out (as glibc
 * would); when its page takes its returned memory back, the block is found
 * written and the program is stopped there, never handed it a second time. */
Test(decay, a_double_free_of_a_returned_block_is_diagnosed, .signal = SIGABRT) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 60 * 1000);
  fill();
  for (int i = 0; i < N; i++)
    if (deleted(i)) uma_free(blocks[i]);
  uma_collect(true);
  char *twice = NULL;
  for (int i = N / 2; i < N && twice == NULL; i++)
    if (deleted(i) && resident_pages(blocks[i], SIZE) == 0) twice = blocks[i];
  cr_assert_not_null(twice, "a freed block whose page went back");
  uma_free(twice);
  char *p = uma_malloc(SIZE);
  cr_assert_eq(p, twice, "the thread cache hands the block back");
  memset(p, 0x55, SIZE);
  for (int i = 0; i < 4 * N; i++) uma_malloc(SIZE);
}

/* The helper thread gives memory back while the program sleeps. */
Test(decay, the_helper_thread_purges_while_the_program_sleeps) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, 100);
  uma_option_set(UMA_OPTION_PURGE_BACKGROUND, 1);
  uma_option_set(UMA_OPTION_PURGE_BACKGROUND_ABOVE, 0);
  char *big = uma_malloc(32 << 20);   /* an allocation slow path starts the helper */
  memset(big, 1, 32 << 20);
  fill();
  cr_assert(ticker_running(), "the helper thread runs");
  uma_free(big);
  for (int i = 0; i < N; i++)
    if (deleted(i)) uma_free(blocks[i]);
  size_t before = resident_of(deleted);
  struct timespec ts = { 0, 600 * 1000 * 1000 };
  nanosleep(&ts, NULL);   /* no allocation: only the helper can purge */
  cr_assert_eq(resident_pages(big, 32 << 20), 0, "the freed large block went back");
  cr_assert_lt(resident_of(deleted), before / 2, "%zu of %zu pages still resident", resident_of(deleted), before);
  uma_stats_t s;
  uma_stats_get(&s);
  cr_assert_geq(s.purge_passes, 3);
  check_survivors();
}
