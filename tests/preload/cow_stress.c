/* cow_stress — memcpy, memmove and realloc between large malloc'd blocks,
 * run under a rule with alias = cow: every byte is checked against shadow
 * copies kept in memory the preload does not alias (a shared mapping), after
 * random copies (aligned and not, partial, with unaligned edges), writes,
 * MADV_DONTNEED and MADV_FREE, realloc growth, and forks whose children check
 * and scribble on their own copies. Prints "cow_stress: OK" and the number of
 * operations. Usage: cow_stress [ROUNDS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1024 * 1024UL)
#define PG 4096UL
enum { N = 6 };
static size_t size[N];
static uint8_t *blk[N], *shadow[N];
static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static int check(const char *when, int op) {
  for (int i = 0; i < N; i++)
    if (memcmp(blk[i], shadow[i], size[i]) != 0) {
      size_t at = 0;
      while (blk[i][at] == shadow[i][at]) at++;
      printf("cow_stress: %s (op %d): block %d differs at byte %zu: %#x, expected %#x\n", when, op, i, at,
             blk[i][at], shadow[i][at]);
      return 1;
    }
  return 0;
}

static uint8_t *shadow_map(size_t n) {   /* MAP_SHARED: never routed, never aliased */
  uint8_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { perror("mmap"); exit(1); }
  return p;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 600;
  for (int i = 0; i < N; i++) {
    size[i] = (4 + i) * MiB;
    blk[i] = malloc(size[i]);
    shadow[i] = shadow_map(64 * MiB);
    for (size_t k = 0; k < size[i]; k++) blk[i][k] = shadow[i][k] = (uint8_t)(k * 131 + i);
  }
  int forks = 0;
  for (int op = 0; op < rounds; op++) {
    int d = (int)(next() % N), s = (int)(next() % N), kind = (int)(next() % 16);
    if (kind < 3) {   /* scattered writes */
      for (int k = 0; k < 16; k++) {
        size_t at = next() % size[d];
        blk[d][at] = shadow[d][at] = (uint8_t)next();
      }
    } else if (kind == 3) {   /* whole pages given back: anonymous memory reads zeros after */
      size_t at0 = (PG - (uintptr_t)blk[d] % PG) % PG;   /* the block's first whole page */
      size_t pages = (size[d] - at0) / PG, first = next() % pages, count = 1 + next() % 64;
      if (first + count > pages) count = pages - first;
      if (madvise(blk[d] + at0 + first * PG, count * PG, next() % 2 ? MADV_DONTNEED : MADV_FREE) != 0) {
        perror("cow_stress: madvise");
        return 1;
      }
      /* MADV_FREE may keep or drop: make both sides agree by writing */
      for (size_t k = at0 + first * PG; k < at0 + (first + count) * PG; k++) {
        if (blk[d][k] != 0 && blk[d][k] != shadow[d][k]) { printf("cow_stress: madvise left junk\n"); return 1; }
        blk[d][k] = shadow[d][k] = (uint8_t)(k ^ op);
      }
    } else if (kind == 4) {   /* realloc growth (aliased) and shrink */
      size_t n = (4 + next() % 20) * MiB + next() % PG;
      uint8_t *p = realloc(blk[d], n);
      if (p == NULL) { printf("cow_stress: realloc failed\n"); return 1; }
      for (size_t k = size[d]; k < n; k++) p[k] = shadow[d][k] = (uint8_t)k;
      blk[d] = p;
      size[d] = n;
    } else if (kind == 5 && forks < 4) {   /* a child checks, scribbles, exits; the parent goes on */
      forks++;
      pid_t pid = fork();
      if (pid == 0) {
        if (check("in a forked child", op)) _exit(3);
        for (int i = 0; i < N; i++) memset(blk[i], 0xcc, size[i]);
        _exit(0);
      }
      int status;
      if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("cow_stress: forked child failed\n");
        return 1;
      }
    } else if (d != s) {   /* a copy: same page offset (aliasable) or shifted */
      size_t max = size[d] < size[s] ? size[d] : size[s];
      size_t n = (next() % 2 ? 2 * MiB : 64 * 1024) + next() % (max / 2);
      size_t doff = next() % (max - n), soff = next() % 4 ? doff : next() % (max - n);
      if (next() % 2) memcpy(blk[d] + doff, blk[s] + soff, n);
      else memmove(blk[d] + doff, blk[s] + soff, n);
      memmove(shadow[d] + doff, shadow[s] + soff, n);
    } else {   /* memmove inside one block (overlapping: never aliased) */
      size_t n = 2 * MiB + next() % MiB, a = next() % (size[d] - n), b = next() % (size[d] - n);
      memmove(blk[d] + a, blk[d] + b, n);
      memmove(shadow[d] + a, shadow[d] + b, n);
    }
    if (op % 50 == 0 && check("after an operation", op)) return 1;
  }
  if (check("at the end", rounds)) return 1;
  for (int i = 0; i < N; i++) free(blk[i]);
  printf("cow_stress: OK %d operations, %d forks\n", rounds, forks);
  return 0;
}
