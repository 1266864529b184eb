// pool_test.cu — cudaMalloc/cudaFree semantics under the device pool, on a
// real GPU: patterns written by kernels on several streams and verified,
// reuse right after a free while a slow kernel still writes the old block,
// async allocation, out of memory. Built with `nvcc -cudart shared` so the
// program calls libcudart through the PLT, as PyTorch does.
// Prints "pool_test: OK" and exits 0, or names the first failure.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>
#include <cuda_runtime.h>

#define CHECK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) { \
  fprintf(stderr, "pool_test: FAILED: %s = %s (line %d)\n", #call, cudaGetErrorString(e_), __LINE__); exit(1); } } while (0)
static void fail(const char *what) { fprintf(stderr, "pool_test: FAILED: %s\n", what); exit(1); }

__device__ uint32_t g_sink;   // keeps the busy loop from being optimised away

__global__ void fill(uint32_t *p, size_t n, uint32_t tag, int spin) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t v = tag ^ (uint32_t)i;
    for (int k = 0; k < spin; k++) v = v * 1664525u + 1013904223u;   // slow the writer down
    if (v == 0x9e3779b9u) g_sink = v;
    p[i] = tag ^ (uint32_t)i;
  }
}

__global__ void check(const uint32_t *p, size_t n, uint32_t tag, unsigned long long *bad) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    if (p[i] != (tag ^ (uint32_t)i)) atomicAdd(bad, 1ULL);
}

static unsigned long long *d_bad;
static unsigned long long count_bad(const uint32_t *p, size_t n, uint32_t tag, cudaStream_t s) {
  CHECK(cudaMemsetAsync(d_bad, 0, sizeof *d_bad, s));
  check<<<256, 256, 0, s>>>(p, n, tag, d_bad);
  unsigned long long bad = 0;
  CHECK(cudaMemcpyAsync(&bad, d_bad, sizeof bad, cudaMemcpyDeviceToHost, s));
  CHECK(cudaStreamSynchronize(s));
  return bad;
}

int main() {
  CHECK(cudaFree(0));   // context
  CHECK(cudaMalloc(&d_bad, sizeof *d_bad));
  cudaStream_t s[3];
  CHECK(cudaStreamCreateWithFlags(&s[0], cudaStreamNonBlocking));
  CHECK(cudaStreamCreateWithFlags(&s[1], cudaStreamNonBlocking));
  CHECK(cudaStreamCreate(&s[2]));

  // 1. Many blocks of many sizes on three streams, every pattern checked.
  srand(7);
  std::vector<uint32_t *> live;
  std::vector<size_t> len;
  std::vector<uint32_t> tags;
  for (int round = 0; round < 400; round++) {
    size_t n = (size_t)(rand() % 3 == 0 ? rand() % (4 << 20) : rand() % 20000) + 1;
    uint32_t *p;
    CHECK(cudaMalloc(&p, n * 4));
    if ((uintptr_t)p % 256) fail("cudaMalloc returned a pointer not 256-byte aligned");
    uint32_t tag = (uint32_t)rand();
    fill<<<128, 256, 0, s[round % 3]>>>(p, n, tag, 0);
    live.push_back(p); len.push_back(n); tags.push_back(tag);
    if (live.size() > 40) {   // free a random one while kernels still run
      size_t k = (size_t)rand() % live.size();
      CHECK(cudaStreamSynchronize(s[0])); CHECK(cudaStreamSynchronize(s[1])); CHECK(cudaStreamSynchronize(s[2]));
      if (count_bad(live[k], len[k], tags[k], s[k % 3])) fail("a block's pattern changed while it was live");
      CHECK(cudaFree(live[k]));
      live.erase(live.begin() + k); len.erase(len.begin() + k); tags.erase(tags.begin() + k);
    }
  }
  CHECK(cudaDeviceSynchronize());
  for (size_t k = 0; k < live.size(); k++)
    if (count_bad(live[k], len[k], tags[k], s[0])) fail("a live block's pattern changed");
  for (auto p : live) CHECK(cudaFree(p));

  // 2. Free while a slow kernel still writes the block, then allocate the same
  // size at once and write it on another stream: the new owner must see only
  // its own pattern (the pool may hand the block out only after the old work).
  for (int round = 0; round < 20; round++) {
    size_t n = 8 << 20;   // 32 MiB
    uint32_t *old_p, *new_p;
    CHECK(cudaMalloc(&old_p, n * 4));
    fill<<<64, 128, 0, s[0]>>>(old_p, n, 0x11111111u, 2000);   // tens of milliseconds
    CHECK(cudaFree(old_p));
    CHECK(cudaMalloc(&new_p, n * 4));
    fill<<<512, 256, 0, s[1]>>>(new_p, n, 0x22222222u, 0);
    CHECK(cudaStreamSynchronize(s[1]));
    CHECK(cudaDeviceSynchronize());
    if (count_bad(new_p, n, 0x22222222u, s[1])) fail("an old kernel wrote into a reused block");
    CHECK(cudaFree(new_p));
  }

  // 3. Stream-ordered allocation keeps its order.
  for (int round = 0; round < 50; round++) {
    uint32_t *p;
    size_t n = 1 << 18;
    CHECK(cudaMallocAsync((void **)&p, n * 4, s[round % 2]));
    fill<<<64, 256, 0, s[round % 2]>>>(p, n, (uint32_t)round, 0);
    if (count_bad(p, n, (uint32_t)round, s[round % 2])) fail("cudaMallocAsync block pattern");
    CHECK(cudaFreeAsync(p, s[round % 2]));
  }

  // 4. Out of memory: CUDA's error, cleared by cudaGetLastError, and the pool
  // still works after.
  size_t free_b, total_b;
  CHECK(cudaMemGetInfo(&free_b, &total_b));
  if (free_b > total_b) fail("cudaMemGetInfo: free above total");
  void *huge = nullptr;
  cudaError_t e = cudaMalloc(&huge, total_b * 2);
  if (e != cudaErrorMemoryAllocation) fail("an impossible cudaMalloc did not return cudaErrorMemoryAllocation");
  if (cudaGetLastError() != cudaErrorMemoryAllocation) fail("cudaGetLastError after OOM");
  if (cudaGetLastError() != cudaSuccess) fail("the OOM error did not clear");
  uint32_t *after;
  CHECK(cudaMalloc(&after, 1 << 20));
  fill<<<64, 256>>>(after, 1 << 18, 5, 0);
  if (count_bad(after, 1 << 18, 5, 0)) fail("allocation after OOM");
  CHECK(cudaFree(after));

  // 5. cudaFree of a pointer that was never allocated is CUDA's error, not a crash.
  if (cudaFree((void *)0x1000) == cudaSuccess) fail("cudaFree of a bogus pointer succeeded");
  cudaGetLastError();

  for (auto &st : s) CHECK(cudaStreamDestroy(st));
  CHECK(cudaFree(d_bad));
  printf("pool_test: OK\n");
  return 0;
}
