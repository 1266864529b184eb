/* fork.c — fork after CUDA use, as PyTorch's DataLoader workers do
 * (issue 23): the parent copies from malloc'd blocks (the preload registers
 * them), caches device blocks in its pool and pinned blocks in its pinned
 * pool, then forks. Each child reads and writes the registered buffers,
 * allocates small and large blocks, frees a registered one, asks for
 * device memory (CUDA refuses a forked child, so must the pool) and exits;
 * the preload must make no CUDA call of its own there (the fake logs each
 * call in a child: "called in a forked child" — one per child, the
 * program's cudaMalloc, is expected).
 * The parent then goes on using its pools and buffers. Prints "fork: OK". */
#include "cuda_fake.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1024 * 1024)
#define CHILDREN 4

static long sum(const unsigned char *p, size_t n) {
  long s = 0;
  for (size_t i = 0; i < n; i += 512) s += p[i];
  return s;
}

int main(int argc, char **argv) {
  int child_cuda = !(argc > 1 && strcmp(argv[1], "--no-child-cuda") == 0);   /* the real card: CUDA in a child is undefined */
  void *dev[8], *host;
  unsigned char *buf[3];
  for (int i = 0; i < 3; i++) {
    buf[i] = malloc(16 * MiB);
    memset(buf[i], 10 + i, 16 * MiB);
  }
  for (int i = 0; i < 8; i++) cudaMalloc(&dev[i], (size_t)(i + 1) * MiB);
  for (int i = 0; i < 3; i++) cudaMemcpy(dev[7], buf[i], 8 * MiB, H2D);
  for (int i = 0; i < 4; i++) cudaFree(dev[i]);   /* cached in the pool */
  if (cudaHostAlloc(&host, 4 * MiB, 0)) return 1;
  memset(host, 7, 4 * MiB);
  free(buf[2]);   /* registered: its registration waits for the next CUDA call */
  long want = sum(buf[0], 16 * MiB);
  for (int c = 0; c < CHILDREN; c++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      if (sum(buf[0], 16 * MiB) != want || ((unsigned char *)host)[4 * MiB - 1] != 7) _exit(10);
      memset(buf[1], c, 16 * MiB);   /* the parent must not see this */
      for (int i = 0; i < 1000; i++) free(malloc((size_t)(i % 64 + 1) * 100));
      void *big = malloc(32 * MiB);
      memset(big, 1, 32 * MiB);
      free(big);
      free(buf[0]);                  /* a registered block freed in the child */
      void *d;                       /* CUDA refuses a forked child (3): so must the pool, which */
      if (child_cuda && cudaMalloc(&d, MiB) == 0) _exit(11);   /* holds the parent's device blocks */
      _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      printf("fork: child %d ended with status %#x\n", c, st);
      return 1;
    }
  }
  /* the parent's buffers and pools after the children */
  if (sum(buf[1], 16 * MiB) != 11L * (16 * MiB / 512)) { printf("fork: a child's write reached the parent\n"); return 1; }
  for (int i = 0; i < 4; i++)
    if (cudaMalloc(&dev[i], (size_t)(i + 1) * MiB)) { printf("fork: cudaMalloc after fork failed\n"); return 1; }
  if (cudaMemcpy(buf[0], dev[7], 8 * MiB, D2H) || buf[0][0] != 12) { printf("fork: copy after fork wrong\n"); return 1; }
  for (int i = 0; i < 8; i++) cudaFree(dev[i]);
  cudaFreeHost(host);
  free(buf[0]);
  free(buf[1]);
  printf("fork: OK\n");
  return 0;
}
