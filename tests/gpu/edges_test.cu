// edges_test.cu — the device pool's promises at CUDA's edges (issue 23):
//  1. a block freed while a kernel on another stream still writes it is not
//     handed out again before that kernel is done (the pool fences first);
//  2. the same when the writer is a CUDA graph's kernel;
//  3. allocation during stream capture: cudaMalloc from a thread in relaxed
//     capture mode (PyTorch's way; the pool has only a pending block then,
//     which needs a fence) and cudaMallocAsync/cudaFreeAsync nodes in the
//     graph: the capture stays valid and its replays compute the right thing.
// Prints "edges_test: OK" (exit 0) or what failed. Run with and without the
// preload: both must pass.
#include <cuda_runtime.h>
#include <cstdio>

#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
  printf("edges_test: %s failed: %s (line %d)\n", #x, cudaGetErrorName(e_), __LINE__); return 1; } } while (0)

__global__ void slow_fill(unsigned *p, size_t n, unsigned v, long long spin) {
  long long t0 = clock64();
  while (clock64() - t0 < spin) {}
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = v;
}
__global__ void count_not(const unsigned *p, size_t n, unsigned v, unsigned long long *bad) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    if (p[i] != v) atomicAdd(bad, 1ULL);
}
__global__ void add_one(unsigned *p, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] += 1;
}

static const size_t N = 16 << 20;   // 64 MiB of unsigned
static const long long SPIN = 400000000LL;   // ~0.2 s at 2 GHz

// After the reused block was zeroed on another stream, nothing may be
// non-zero: a late write from the freed block's old kernel would show.
static int zeroed_after_reuse(cudaStream_t s2, unsigned long long *bad, const char *what) {
  unsigned *y;
  CHECK(cudaMalloc(&y, N * sizeof *y));
  CHECK(cudaMemsetAsync(y, 0, N * sizeof *y, s2));
  CHECK(cudaMemsetAsync(bad, 0, sizeof *bad, s2));
  count_not<<<256, 256, 0, s2>>>(y, N, 0, bad);
  CHECK(cudaDeviceSynchronize());
  unsigned long long h = 0;
  CHECK(cudaMemcpy(&h, bad, sizeof h, cudaMemcpyDeviceToHost));
  if (h) { printf("edges_test: %s: %llu words written after the block was handed out again\n", what, h); return 1; }
  CHECK(cudaFree(y));
  return 0;
}

int main() {
  cudaStream_t s1, s2;
  CHECK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CHECK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  unsigned long long *bad;
  CHECK(cudaMalloc(&bad, sizeof *bad));

  // 1. streams
  unsigned *x;
  CHECK(cudaMalloc(&x, N * sizeof *x));
  slow_fill<<<256, 256, 0, s1>>>(x, N, 0xabcdef, SPIN);
  CHECK(cudaFree(x));
  if (zeroed_after_reuse(s2, bad, "streams")) return 1;

  // 2. a graph's kernel
  CHECK(cudaMalloc(&x, N * sizeof *x));
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CHECK(cudaStreamBeginCapture(s1, cudaStreamCaptureModeGlobal));
  slow_fill<<<256, 256, 0, s1>>>(x, N, 0x123456, SPIN);
  CHECK(cudaStreamEndCapture(s1, &g));
  CHECK(cudaGraphInstantiate(&ge, g, 0));
  CHECK(cudaGraphLaunch(ge, s1));
  CHECK(cudaFree(x));
  if (zeroed_after_reuse(s2, bad, "graph")) return 1;
  CHECK(cudaGraphExecDestroy(ge));
  CHECK(cudaGraphDestroy(g));

  // 3. allocation during capture
  unsigned *p, *q, *r;
  CHECK(cudaMalloc(&p, N * sizeof *p));
  CHECK(cudaFree(p));   // pending in the pool: a same-size cudaMalloc needs a fence
  CHECK(cudaStreamBeginCapture(s1, cudaStreamCaptureModeGlobal));
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  cudaError_t malloc_error = cudaMalloc(&q, N * sizeof *q);
  CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  CHECK(malloc_error);
  CHECK(cudaMemsetAsync(q, 0, N * sizeof *q, s1));
  CHECK(cudaMallocAsync(&r, N * sizeof *r, s1));
  CHECK(cudaMemsetAsync(r, 0, N * sizeof *r, s1));
  add_one<<<256, 256, 0, s1>>>(r, N);
  add_one<<<256, 256, 0, s1>>>(q, N);
  CHECK(cudaFreeAsync(r, s1));
  CHECK(cudaStreamEndCapture(s1, &g));
  CHECK(cudaGraphInstantiate(&ge, g, 0));
  for (int i = 0; i < 3; i++) CHECK(cudaGraphLaunch(ge, s1));
  CHECK(cudaStreamSynchronize(s1));
  CHECK(cudaMemset(bad, 0, sizeof *bad));
  count_not<<<256, 256>>>(q, N, 1, bad);
  unsigned long long h = 0;
  CHECK(cudaMemcpy(&h, bad, sizeof h, cudaMemcpyDeviceToHost));
  if (h) { printf("edges_test: capture: %llu words wrong after the graph's replays\n", h); return 1; }
  CHECK(cudaGraphExecDestroy(ge));
  CHECK(cudaGraphDestroy(g));
  CHECK(cudaFree(q));
  CHECK(cudaFree(bad));
  printf("edges_test: OK\n");
  return 0;
}
