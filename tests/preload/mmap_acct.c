/* mmap_acct — the program's own anonymous mappings, cut and moved every
 * way the accounting must follow: partial munmap (head, middle), mremap
 * growth that moves, MAP_FIXED over a routed range, mappings that are not
 * routed (shared, PROT_NONE, file). Prints the bytes that must be counted
 * at exit ("expect bytes=… peak=… made=… remapped=…"); run-all compares
 * them with the JSON report. Contents are checked after every move. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MiB (1024UL * 1024)
static void *map(size_t len, int prot, int flags) {
  void *p = mmap(NULL, len, prot, flags, -1, 0);
  if (p == MAP_FAILED) { perror("mmap_acct: mmap"); exit(1); }
  return p;
}
static void unmap(void *p, size_t len) {
  if (munmap(p, len) != 0) { perror("mmap_acct: munmap"); exit(1); }
}

int main(void) {
  const int priv = MAP_PRIVATE | MAP_ANONYMOUS;
  char *a = map(8 * MiB, PROT_READ | PROT_WRITE, priv);             /* 8 */
  for (size_t i = 0; i < 8 * MiB; i += 4096) a[i] = (char)(i >> 12);
  unmap(a + 2 * MiB, 2 * MiB);                                      /* 6: a hole in the middle */
  unmap(a, 1 * MiB);                                                /* 5: the head */
  char *b = mremap(a + 4 * MiB, 4 * MiB, 6 * MiB, MREMAP_MAYMOVE);  /* 7: grown, maybe moved */
  if (b == MAP_FAILED) { perror("mmap_acct: mremap"); return 1; }
  for (size_t i = 0; i < 4 * MiB; i += 4096)
    if (b[i] != (char)((i + 4 * MiB) >> 12)) { fprintf(stderr, "mmap_acct: byte %zu moved wrong\n", i); return 1; }
  map(1 * MiB, PROT_NONE, priv);                                    /* a reservation: not routed */
  char *shared = map(2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);   /* not routed */
  shared[0] = 1;
  if (mmap(b, 1 * MiB, PROT_READ | PROT_WRITE, priv | MAP_FIXED, -1, 0) != b) { perror("mmap_acct: fixed"); return 1; }
                                                                    /* 6: 1 MiB replaced */
  char *d = map(3 * MiB, PROT_READ | PROT_WRITE, priv);             /* 9: the peak */
  memset(d, 7, 3 * MiB);
  unmap(d, 3 * MiB);                                                /* 6 */
  FILE *f = tmpfile();
  if (f && ftruncate(fileno(f), 4096) == 0) {
    void *fm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(f), 0);   /* a file: not routed */
    if (fm != MAP_FAILED) munmap(fm, 4096);
  }
  printf("expect bytes=%lu peak=%lu made=2 remapped=1\n", 6 * MiB, 9 * MiB);
  return 0;
}
