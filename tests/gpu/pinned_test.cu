// pinned_test — what pageable and pinned host memory promise, checked the
// same way with and without the preload (which pins large malloc'd blocks
// behind the program's back and pools cudaHostAlloc):
//  1. cudaMemcpyAsync host→device from malloc'd memory: the source is
//     overwritten as soon as the call returns; the device must hold the old
//     contents;
//  2. cudaMemcpyAsync device→host into malloc'd memory: the data is there
//     when the call returns, without any synchronisation;
//  3. a pinned block freed while a copy into it is still queued behind a slow
//     kernel, then allocated again and written by the host: the host's data
//     must survive;
//  4. 1 and 2 through the driver API (cuMemcpyHtoDAsync, cuMemcpyDtoHAsync,
//     cuMemcpyAsync with unified addressing);
//  5. cudaHostAllocMapped: a kernel writes through the device pointer of a
//     pooled block; cuMemHostAlloc and cuMemAllocHost through the driver;
// and measures copy bandwidth from malloc'd memory (one buffer copied again
// and again; a fresh buffer per copy, as y.cpu() makes) and a reused 1 GiB
// cudaHostAlloc. Prints "pinned_test: OK" and "metric NAME VALUE" lines.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <cuda.h>
#include <cuda_runtime.h>

static double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
__global__ void spin(long long cycles) { long long t0 = clock64(); while (clock64() - t0 < cycles) {} }
__global__ void fill(uint32_t *p, size_t n, uint32_t v) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = v + (uint32_t)i;
}
#define CHECK_DRV(x) do { CUresult r_ = (x); if (r_ != CUDA_SUCCESS) { printf("pinned_test: %s: error %d\n", #x, (int)r_); return 1; } } while (0)
#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("pinned_test: %s: %s\n", #x, cudaGetErrorString(e_)); return 1; } } while (0)

int main() {
  const size_t MiB = 1 << 20, n = 64 * MiB;
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  uint32_t *dev;
  CHECK(cudaMalloc(&dev, n));
  for (int round = 0; round < 3; round++) {   // the first copy registers, the next ones run pinned
    // 1. host→device: the source may be reused on return
    uint32_t *src = (uint32_t *)malloc(n);
    for (size_t i = 0; i < n / 4; i++) src[i] = (uint32_t)i * 7u + round;
    spin<<<1, 1, 0, s>>>(20000000);   // the copy waits behind this
    CHECK(cudaMemcpyAsync(dev, src, n, cudaMemcpyHostToDevice, s));
    memset(src, 0xee, n);             // pageable rules: allowed at once
    CHECK(cudaStreamSynchronize(s));
    uint32_t *back = (uint32_t *)malloc(n);
    CHECK(cudaMemcpy(back, dev, n, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n / 4; i++)
      if (back[i] != (uint32_t)i * 7u + round) { printf("pinned_test: round %d: device word %zu is %#x: the source was read after the call returned\n", round, i, back[i]); return 1; }
    // 2. device→host: complete on return
    fill<<<256, 256, 0, s>>>(dev, n / 4, 1000u * round);
    spin<<<1, 1, 0, s>>>(20000000);
    CHECK(cudaMemcpyAsync(back, dev, n, cudaMemcpyDeviceToHost, s));
    for (size_t i = 0; i < n / 4; i++)   // no synchronisation: pageable memory is complete on return
      if (back[i] != 1000u * round + (uint32_t)i) { printf("pinned_test: round %d: host word %zu is %#x: the copy had not finished on return\n", round, i, back[i]); return 1; }
    free(src);
    free(back);
  }
  // 4. the driver's copies, with the same promises
  for (int round = 0; round < 3; round++) {
    uint32_t *src = (uint32_t *)malloc(n), *back = (uint32_t *)malloc(n);
    for (size_t i = 0; i < n / 4; i++) src[i] = (uint32_t)i * 13u + round;
    spin<<<1, 1, 0, s>>>(20000000);
    CHECK_DRV(round == 2 ? cuMemcpyAsync((CUdeviceptr)dev, (CUdeviceptr)src, n, (CUstream)s)
                         : cuMemcpyHtoDAsync((CUdeviceptr)dev, src, n, (CUstream)s));
    memset(src, 0xee, n);
    CHECK(cudaStreamSynchronize(s));
    CHECK_DRV(cuMemcpyDtoH(back, (CUdeviceptr)dev, n));
    for (size_t i = 0; i < n / 4; i++)
      if (back[i] != (uint32_t)i * 13u + round) { printf("pinned_test: driver round %d: device word %zu is %#x: the source was read after the call returned\n", round, i, back[i]); return 1; }
    fill<<<256, 256, 0, s>>>(dev, n / 4, 3000u * round);
    spin<<<1, 1, 0, s>>>(20000000);
    CHECK_DRV(round == 2 ? cuMemcpyAsync((CUdeviceptr)back, (CUdeviceptr)dev, n, (CUstream)s)
                         : cuMemcpyDtoHAsync(back, (CUdeviceptr)dev, n, (CUstream)s));
    for (size_t i = 0; i < n / 4; i++)
      if (back[i] != 3000u * round + (uint32_t)i) { printf("pinned_test: driver round %d: host word %zu is %#x: the copy had not finished on return\n", round, i, back[i]); return 1; }
    free(src);
    free(back);
  }
  // 3. a pinned block freed with a copy into it still queued, allocated again
  for (int round = 0; round < 5; round++) {
    uint32_t *h;
    CHECK(cudaHostAlloc((void **)&h, n, cudaHostAllocDefault));
    fill<<<256, 256, 0, s>>>(dev, n / 4, 0x5000);
    spin<<<1, 1, 0, s>>>(50000000);
    CHECK(cudaMemcpyAsync(h, dev, n, cudaMemcpyDeviceToHost, s));
    CHECK(cudaFreeHost(h));
    uint32_t *h2;
    CHECK(cudaHostAlloc((void **)&h2, n, cudaHostAllocDefault));
    for (size_t i = 0; i < n / 4; i++) h2[i] = 0xabcd0000u + (uint32_t)i;
    CHECK(cudaStreamSynchronize(s));
    for (size_t i = 0; i < n / 4; i++)
      if (h2[i] != 0xabcd0000u + (uint32_t)i) { printf("pinned_test: round %d: word %zu of the new pinned block was overwritten by the old block's copy\n", round, i); return 1; }
    CHECK(cudaFreeHost(h2));
  }
  // 5. the mapped flag: the kernel writes through the device pointer of a
  //    pooled block (its chunk is registered portable and mapped); and the
  //    driver's cuMemHostAlloc / cuMemAllocHost / cuMemFreeHost
  for (int round = 0; round < 3; round++) {
    uint32_t *h, *hd;
    CHECK(cudaHostAlloc((void **)&h, 8 * MiB + 4096 * round, cudaHostAllocMapped | cudaHostAllocPortable));
    CHECK(cudaHostGetDevicePointer((void **)&hd, h, 0));
    fill<<<64, 256>>>(hd, 2 * MiB, 0x7000u + round);
    CHECK(cudaDeviceSynchronize());
    for (size_t i = 0; i < 2 * MiB; i++)
      if (h[i] != 0x7000u + round + (uint32_t)i) { printf("pinned_test: mapped round %d: word %zu is %#x\n", round, i, h[i]); return 1; }
    void *dh, *dh2;
    CHECK_DRV(cuMemHostAlloc(&dh, 4 * MiB, CU_MEMHOSTALLOC_PORTABLE));
    CHECK_DRV(cuMemAllocHost(&dh2, 3 * MiB));
    memset(dh, 0x11, 4 * MiB);
    CHECK(cudaMemcpy(dev, dh, 4 * MiB, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(dh2, dev, 3 * MiB, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < 3 * MiB; i += 4096)
      if (((uint8_t *)dh2)[i] != 0x11) { printf("pinned_test: driver pinned round %d: byte %zu\n", round, i); return 1; }
    CHECK_DRV(cuMemFreeHost(dh));
    CHECK_DRV(cuMemFreeHost(dh2));
    CHECK(cudaFreeHost(h));
  }
  // bandwidth from and to malloc'd memory (256 MiB, steady state)
  const size_t big = 256 * MiB;
  uint8_t *hb = (uint8_t *)malloc(big), *db;
  memset(hb, 1, big);
  CHECK(cudaMalloc(&db, big));
  CHECK(cudaMemcpy(db, hb, big, cudaMemcpyHostToDevice));   // warm (and registration, under the preload)
  double t0 = now_s();
  for (int i = 0; i < 10; i++) CHECK(cudaMemcpy(db, hb, big, cudaMemcpyHostToDevice));
  printf("metric h2d_GBps %.2f\n", 10.0 * big / (now_s() - t0) / 1e9);
  CHECK(cudaMemcpy(hb, db, big, cudaMemcpyDeviceToHost));
  t0 = now_s();
  for (int i = 0; i < 10; i++) CHECK(cudaMemcpy(hb, db, big, cudaMemcpyDeviceToHost));
  printf("metric d2h_GBps %.2f\n", 10.0 * big / (now_s() - t0) / 1e9);
  t0 = now_s();
  for (int i = 0; i < 10; i++) {   // a fresh destination per copy, freed after
    uint8_t *fresh = (uint8_t *)malloc(big);
    CHECK(cudaMemcpy(fresh, db, big, cudaMemcpyDeviceToHost));
    if (fresh[big / 2] != 1) { printf("pinned_test: a fresh destination holds %d\n", fresh[big / 2]); return 1; }
    free(fresh);
  }
  printf("metric d2h_fresh_GBps %.2f\n", 10.0 * big / (now_s() - t0) / 1e9);
  // a reused 1 GiB cudaHostAlloc
  void *p;
  t0 = now_s();
  CHECK(cudaHostAlloc(&p, 1024 * MiB, 0));
  printf("metric hostalloc_1g_first_ms %.3f\n", (now_s() - t0) * 1e3);
  CHECK(cudaFreeHost(p));
  t0 = now_s();
  CHECK(cudaHostAlloc(&p, 1024 * MiB, 0));
  printf("metric hostalloc_1g_again_ms %.3f\n", (now_s() - t0) * 1e3);
  CHECK(cudaFreeHost(p));
  printf("pinned_test: OK\n");
  return 0;
}
