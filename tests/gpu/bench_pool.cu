// bench_pool.cu — cudaMalloc+cudaFree pair latency (1 MiB, 64 MiB, 1 GiB),
// and a program that allocates its buffers every step (a kernel per step).
// Run once raw and once under the preload; prints "bench_pool SIZE US" and
// "bench_step US" lines.
#include <chrono>
#include <cstdio>
#include <cuda_runtime.h>
__global__ void touch(float *p, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = 1.0f;
}
static double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
int main() {
  cudaFree(0);
  {  // the first 2 GiB: CUDA maps it, the pool maps a segment or backs 1,024 granules
    void *p;
    double t0 = now_us();
    cudaMalloc(&p, 2ul << 30);
    printf("bench_first_2g %.3f\n", now_us() - t0);
    cudaFree(p);
  }
  const size_t sizes[] = { 1u << 20, 64u << 20, 1u << 30 };
  for (size_t size : sizes) {
    int iters = size >= (1u << 30) ? 50 : 200;
    void *p;
    cudaMalloc(&p, size); cudaFree(p);   // warm
    double t0 = now_us();
    for (int i = 0; i < iters; i++) { cudaMalloc(&p, size); cudaFree(p); }
    printf("bench_pool %zu %.3f\n", size, (now_us() - t0) / iters);
  }
  const int steps = 300;
  const size_t bufs[] = { 3u << 20, 17u << 20, 256u << 10, 40u << 20 };
  double t0 = now_us();
  for (int s = 0; s < steps; s++) {
    float *b[4];
    for (int k = 0; k < 4; k++) { cudaMalloc(&b[k], bufs[k]); touch<<<128, 256>>>(b[k], bufs[k] / 4); }
    for (int k = 0; k < 4; k++) cudaFree(b[k]);
  }
  cudaDeviceSynchronize();
  printf("bench_step %.3f\n", (now_us() - t0) / steps);
  return 0;
}
