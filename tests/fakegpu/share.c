/* share.c — two processes on one GPU (issue 23). `share hold MIB SECONDS`
 * allocates MIB of device memory in 64 MiB blocks, frees it all (under the
 * preload the pool keeps it cached), prints "held" and stays idle — no CUDA
 * call — for SECONDS. `share take MIB` asks for MIB in one block and prints
 * CUDA's answer and how long it took. With plain CUDA the holder's memory
 * is free again, so the taker succeeds; so must it under the preload. */
#include "cuda_fake.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024 * 1024UL)

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "hold") == 0) {
    size_t n = strtoul(argv[2], NULL, 0) / 64;
    void *blocks[4096];
    for (size_t i = 0; i < n && i < 4096; i++)
      if (cudaMalloc(&blocks[i], 64 * MiB)) { printf("hold: cudaMalloc failed\n"); return 1; }
    for (size_t i = 0; i < n && i < 4096; i++) cudaFree(blocks[i]);
    printf("held\n");
    fflush(stdout);
    sleep((unsigned)atoi(argv[3]));
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "take") == 0) {
    void *p;
    double t0 = now_ms();
    int e = cudaMalloc(&p, strtoul(argv[2], NULL, 0) * MiB);
    printf("take %d\n", e);
    fprintf(stderr, "share: take answered in %.0f ms\n", now_ms() - t0);
    if (e == 0) cudaFree(p);
    return e != 0;
  }
  fprintf(stderr, "usage: share hold MIB SECONDS | share take MIB\n");
  return 2;
}
