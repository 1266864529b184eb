/* quota.c — [limits] gpu = 256M on the fake GPU of 1 GiB (issue 23 with
 * the operations issue's quota): the device reports the quota as its total,
 * what the process uses counts against it, a request past it fails with
 * CUDA's out-of-memory (2) and never crashes, memory freed makes room
 * again. Prints "quota: OK". Run under the preload with UMA_LIMITS_GPU=256M. */
#include "cuda_fake.h"
#include <stdio.h>

#define MiB (1024 * 1024UL)
static int failures;
static void expect(int cond, const char *what) {
  if (!cond) {
    printf("FAIL: %s\n", what);
    failures++;
  }
}

/* With --pinned, under UMA_LIMITS_PINNED=64M: the pinned pool. */
static int pinned(void) {
  void *a, *b;
  expect(cudaHostAlloc(&a, 48 * MiB, 0) == 0, "48 MiB pinned within the quota");
  expect(cudaHostAlloc(&b, 32 * MiB, 0) == 2, "32 MiB more pinned is out of memory");
  expect(cudaFreeHost(a) == 0, "free the pinned block");
  expect(cudaHostAlloc(&b, 32 * MiB, 0) == 0, "32 MiB pinned after the free (the freed chunk serves it)");
  cudaFreeHost(b);
  printf("%s\n", failures ? "quota: FAILED" : "quota: OK");
  return failures != 0;
}

int main(int argc, char **argv) {
  if (argc > 1) return pinned();
  size_t free_b, total;
  void *a, *b, *c;
  expect(cudaMemGetInfo(&free_b, &total) == 0 && total == 256 * MiB && free_b == 256 * MiB, "the quota is the device's total");
  expect(cudaMalloc(&a, 200 * MiB) == 0, "200 MiB within the quota");
  cudaMemGetInfo(&free_b, &total);
  expect(free_b == 56 * MiB, "56 MiB left of the quota");
  expect(cudaMalloc(&b, 100 * MiB) == 2, "100 MiB more is out of memory");
  expect(cudaFree(a) == 0, "free");
  cudaMemGetInfo(&free_b, &total);
  expect(free_b == 256 * MiB, "all of the quota free again (the cache counts as free)");
  /* 250 MiB does not fit the cached 200 MiB segment: the cache goes back
   * to make room within the quota */
  expect(cudaMalloc(&c, 250 * MiB) == 0, "250 MiB after the free");
  expect(cudaMalloc(&b, 8 * MiB) == 2, "8 MiB more is out of memory again");
  cudaFree(c);
  printf("%s\n", failures ? "quota: FAILED" : "quota: OK");
  return failures != 0;
}
