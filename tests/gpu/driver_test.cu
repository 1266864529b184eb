// driver_test.cu — the driver API's routes into the device pool: cuMemAlloc
// through the PLT, through cuGetProcAddress, through the runtime's
// cudaGetDriverEntryPointByVersion (PyTorch's route); mixed frees across the
// two APIs; reuse after a free while a slow kernel still writes.
// Prints "driver_test: OK" or names the first failure.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cuda.h>
#include <cuda_runtime.h>

#define CK(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { \
  fprintf(stderr, "driver_test: FAILED: %s = %d (line %d)\n", #call, (int)r_, __LINE__); exit(1); } } while (0)
#define CR(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) { \
  fprintf(stderr, "driver_test: FAILED: %s = %s (line %d)\n", #call, cudaGetErrorString(e_), __LINE__); exit(1); } } while (0)
static void fail(const char *w) { fprintf(stderr, "driver_test: FAILED: %s\n", w); exit(1); }

__device__ uint32_t g_sink;
__global__ void fill(uint32_t *p, size_t n, uint32_t tag, int spin) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t v = tag ^ (uint32_t)i;
    for (int k = 0; k < spin; k++) v = v * 1664525u + 1013904223u;
    if (v == 0x9e3779b9u) g_sink = v;
    p[i] = tag ^ (uint32_t)i;
  }
}

static void verify(CUdeviceptr p, size_t n, uint32_t tag) {
  uint32_t *h = (uint32_t *)malloc(n * 4);
  CK(cuMemcpyDtoH(h, p, n * 4));
  for (size_t i = 0; i < n; i++) if (h[i] != (tag ^ (uint32_t)i)) fail("pattern mismatch");
  free(h);
}

typedef CUresult (*alloc_fn)(CUdeviceptr *, size_t);

int main() {
  CR(cudaFree(0));   // the runtime makes the primary context current
  const size_t n = 1 << 18;

  CUdeviceptr a;   // 1. the PLT
  CK(cuMemAlloc(&a, n * 4));
  fill<<<64, 256>>>((uint32_t *)a, n, 1, 0);
  CR(cudaDeviceSynchronize());
  verify(a, n, 1);
  CK(cuMemFree(a));

  void *fn = nullptr;   // 2. cuGetProcAddress, itself found through the PLT
  CUdriverProcAddressQueryResult st;
  CK(cuGetProcAddress("cuMemAlloc", &fn, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  CUdeviceptr b;
  CK(((alloc_fn)fn)(&b, 3 << 20));
  fill<<<64, 256>>>((uint32_t *)b, n, 2, 0);
  CR(cudaDeviceSynchronize());
  verify(b, n, 2);

  void *fn2 = nullptr;   // 3. the runtime's route
  cudaDriverEntryPointQueryResult q;
  CR(cudaGetDriverEntryPointByVersion("cuMemAlloc", &fn2, 13000, cudaEnableDefault, &q));
  CUdeviceptr c;
  CK(((alloc_fn)fn2)(&c, 5 << 20));
  fill<<<64, 256>>>((uint32_t *)c, n, 3, 0);
  CR(cudaDeviceSynchronize());
  verify(c, n, 3);

  CR(cudaFree((void *)b));   // 4. mixed: a driver block freed by the runtime, and back
  CK(cuMemFree(c));
  void *d;
  CR(cudaMalloc(&d, n * 4));
  CK(cuMemFree((CUdeviceptr)d));

  cudaStream_t s1, s2;   // 5. reuse right after a free while a slow kernel writes
  CR(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CR(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  for (int round = 0; round < 10; round++) {
    size_t m = 8 << 20;
    CUdeviceptr old_p, new_p;
    CK(cuMemAlloc(&old_p, m * 4));
    fill<<<64, 128, 0, s1>>>((uint32_t *)old_p, m, 0x1111u, 2000);
    CK(cuMemFree(old_p));
    CK(cuMemAlloc(&new_p, m * 4));
    fill<<<512, 256, 0, s2>>>((uint32_t *)new_p, m, 0x2222u, 0);
    CR(cudaDeviceSynchronize());
    verify(new_p, m, 0x2222u);
    CK(cuMemFree(new_p));
  }
  size_t fr, tot;
  CK(cuMemGetInfo(&fr, &tot));
  if (fr > tot) fail("cuMemGetInfo: free above total");
  printf("driver_test: OK\n");
  return 0;
}
