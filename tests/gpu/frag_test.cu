// frag_test — a program whose requests grow every round, the pattern that
// strands memory in separate cudaMalloc segments (PyTorch's motivation for
// expandable segments): each round allocates blocks a little larger than
// the last round's, writes a pattern with a kernel, checks it, frees them.
// Prints "frag_test: OK" when every pattern read back right. Run it with and
// without [cuda] expandable and compare the reports' peak reserved bytes.
#include <cstdio>
#include <cstdint>
#include <cuda_runtime.h>

__global__ void fill(uint32_t *p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = (uint32_t)i * 2654435761u ^ seed;
}
__global__ void check(const uint32_t *p, size_t n, uint32_t seed, unsigned *bad) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    if (p[i] != ((uint32_t)i * 2654435761u ^ seed)) atomicAdd(bad, 1u);
}

int main() {
  const size_t MiB = 1 << 20;
  unsigned *bad;
  if (cudaMalloc(&bad, sizeof *bad) != cudaSuccess) { printf("frag_test: cudaMalloc failed\n"); return 1; }
  cudaMemset(bad, 0, sizeof *bad);
  for (int round = 0; round < 12; round++) {
    enum { K = 6 };
    uint32_t *blk[K];
    size_t size = (24 + 6 * round) * MiB + 4096 * round;   // 24 MiB, 30 MiB + 4 KiB, …: never the same twice
    for (int k = 0; k < K; k++) {
      if (cudaMalloc(&blk[k], size) != cudaSuccess) { printf("frag_test: cudaMalloc(%zu) failed\n", size); return 1; }
      fill<<<256, 256>>>(blk[k], size / 4, round * 16 + k);
    }
    for (int k = 0; k < K; k++) check<<<256, 256>>>(blk[k], size / 4, round * 16 + k, bad);
    for (int k = 0; k < K; k++) cudaFree(blk[k]);
  }
  unsigned h = 0;
  cudaMemcpy(&h, bad, sizeof h, cudaMemcpyDeviceToHost);
  if (cudaGetLastError() != cudaSuccess || h) { printf("frag_test: %u words wrong\n", h); return 1; }
  printf("frag_test: OK\n");
  return 0;
}
