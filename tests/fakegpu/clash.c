/* clash.c — a program's own cudaHostRegister of memory the preload may
 * already have registered (issue 23). Prints each call's answer: the output
 * must be the same with and without the preload. With --ours it also checks
 * on the fake GPU who holds each registration: the preload's starts at its
 * mapping, in front of the block, the program's at its pointer. */
#include "cuda_fake.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1024 * 1024)
static int failures;
static void expect(int cond, const char *what) {
  if (!cond) {
    printf("FAIL: %s\n", what);
    failures++;
  }
}
static char *filled(size_t size, int v) {
  char *p = malloc(size);
  memset(p, v, size);
  return p;
}

int main(int argc, char **argv) {
  int ours = argc > 1 && strcmp(argv[1], "--ours") == 0 && fake_cuda_registration;
  void *dev;
  if (cudaMalloc(&dev, 64 * MiB)) return 1;
  /* 1: copied first (the preload registers its block), then registered by the program */
  char *a = filled(8 * MiB, 1);
  printf("copy a %d\n", cudaMemcpy(dev, a, 8 * MiB, H2D));
  char *ours_a = ours ? fake_cuda_registration(a) : NULL;
  if (ours) expect(ours_a && ours_a < a, "the copy registered a's block");
  printf("register a %d\n", cudaHostRegister(a, 8 * MiB, 0));
  printf("register a again %d\n", cudaHostRegister(a, 8 * MiB, 0));
  printf("register inside a %d\n", cudaHostRegister(a + 4096, 4096, 0));
  printf("driver register a+1M %d\n", cuMemHostRegister_v2(a + MiB, MiB, 0));
  printf("driver unregister a+1M %d\n", cuMemHostUnregister(a + MiB));
  printf("unregister a %d\n", cudaHostUnregister(a));
  if (ours) expect(fake_cuda_registration(a) == ours_a, "the program's unregister left the preload's registration");
  printf("unregister a again %d\n", cudaHostUnregister(a));
  printf("copy a back %d\n", cudaMemcpy(a, dev, 8 * MiB, D2H));
  expect(a[0] == 1 && a[8 * MiB - 1] == 1, "a's bytes after the round trip");
  printf("register a for good %d\n", cudaHostRegister(a, 8 * MiB, 0));
  free(a);   /* registered by the program when freed: the answer is forgotten with the block */

  /* 2: registered by the program first (part of it), then copied: the
   * preload's attempt is refused, the program's registration stands alone */
  char *b = filled(40 * MiB, 2);   /* too big for a's cached mapping */
  printf("register part of b %d\n", cudaHostRegister(b + 2 * MiB, MiB, 0));
  printf("copy b %d\n", cudaMemcpy(dev, b, 40 * MiB, H2D));
  if (ours) expect(fake_cuda_registration(b) == NULL, "the preload did not register b over the program's range");
  printf("copy b back %d\n", cudaMemcpy(b, dev, 40 * MiB, D2H));
  expect(b[0] == 2 && b[40 * MiB - 1] == 2, "b's bytes after the round trip");
  printf("unregister part of b %d\n", cudaHostUnregister(b + 2 * MiB));
  if (ours) expect(fake_cuda_registration(b + 2 * MiB) == NULL, "nothing of b stays registered");
  free(b);

  /* 3: a block reusing a's cached, registered mapping: the program's calls
   * on it are answered, and a pointer the program never registered is CUDA's */
  char *c = filled(6 * MiB, 3);
  printf("register c %d\n", cudaHostRegister(c, 6 * MiB, 0));
  printf("copy c %d\n", cudaMemcpy(dev, c, 6 * MiB, H2D));
  printf("unregister c+4096 %d\n", cudaHostUnregister(c + 4096));
  printf("unregister c %d\n", cudaHostUnregister(c));
  if (ours) expect(fake_cuda_registration(c) != c, "c's registration, if any, is not the program's");
  free(c);
  cudaFree(dev);
  printf("%s\n", failures ? "clash: FAILED" : "clash: OK");
  return failures != 0;
}
