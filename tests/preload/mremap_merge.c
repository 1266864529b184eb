/* mremap_merge.c — the program's own mremap over mappings it made, under a
 * `source = mmap` rule that advises huge pages: growing, shrinking, a
 * middle part, and two adjacent mappings remapped as one (the kernel merges
 * them without the preload; our advice on one of them must not turn that
 * into EFAULT). Prints one "NAME: ok" line each, or the error. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <errno.h>
int main(void) {
  size_t M = 1 << 20;
  char *a = mmap(NULL, 8*M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  memset(a, 1, 8*M);
  char *b = mremap(a, 8*M, 16*M, MREMAP_MAYMOVE);
  printf("grow: %s\n", b == MAP_FAILED ? strerror(errno) : "ok");
  char *c = mremap(b, 16*M, 4*M, 0);
  printf("shrink: %s\n", c == MAP_FAILED ? strerror(errno) : "ok");
  /* two adjacent mappings, the second below the first, remapped as one */
  char *x = mmap(NULL, 4*M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  char *y = mmap(x - 64*1024, 64*1024, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0);
  char *z = mremap(y, 64*1024 + 4*M, 8*M, MREMAP_MAYMOVE);
  printf("adjacent: %s (y=%p x=%p)\n", z == MAP_FAILED ? strerror(errno) : "ok", y, x);
  char *s = mmap(NULL, 4*M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  char *t = mremap(s + 1*M, 2*M, 3*M, MREMAP_MAYMOVE);
  printf("middle: %s\n", t == MAP_FAILED ? strerror(errno) : "ok");
  return 0;
}
