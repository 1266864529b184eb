/* cuda_pinned_pool.c — the pinned pool's entry points: cudaHostAlloc,
 * cudaMallocHost, cudaFreeHost and the driver's cuMemHostAlloc,
 * cuMemAllocHost_v2, cuMemFreeHost are served by a device-pool instance
 * (cuda/device_pool.c, API DEV_API_HOST) over the host back end's chunks
 * (cuda/host_backend.c: placed near their GPU, populated and registered
 * once, then reused): a 1 GiB cudaHostAlloc costs about 0.4-0.5 s in CUDA,
 * a pool hit well under a millisecond. Chunk sizes are the device pool's
 * (a request above 10 MiB takes its size rounded to 2 MiB, not the next
 * power of two). Write-combined requests go to CUDA (its own memory type).
 * A freed block is reused only after a fence: every context that may still
 * copy from it has finished its work. */
#include "interpose.h"
#include "../core/symbols.h"
#include "../cuda/backends.h"
#include "../cuda/pinned.h"

#define HOST_ALLOC_WRITE_COMBINED 4                 /* cudaHostAllocWriteCombined, CU_MEMHOSTALLOC_WRITECOMBINED */
#define RT(ret, name, params) UMA_REAL(ret, name, params, cudart_sonames)
#define DRV(ret, name, params) UMA_REAL(ret, name, params, cuda_sonames)
RT(cudaError_t, cudaHostAlloc, (void **, size_t, unsigned))
RT(cudaError_t, cudaMallocHost, (void **, size_t))
RT(cudaError_t, cudaFreeHost, (void *))
RT(cudaError_t, cudaFree, (void *))
RT(cudaError_t, cudaGetDevice, (int *))
DRV(CUresult, cuMemHostAlloc, (void **, size_t, unsigned))
DRV(CUresult, cuMemAllocHost_v2, (void **, size_t))
DRV(CUresult, cuMemFreeHost, (void *))
DRV(CUresult, cuCtxGetDevice, (int *))

static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static void host_init(void) { dev_pool_init(DEV_API_HOST, &cuda_host_backend); }

/* The pinned pool for the calling thread's GPU, or -1 (pass through). */
static int host_pool(bool runtime) {
  if (!dev_enabled || !pin_pool_enabled || dev_in_backend || !cuda_host_ready()) return -1;
  pthread_once(&host_once, host_init);
  int device = 0;
  if (runtime) {
    if (get_cudaFree() == NULL || get_cudaGetDevice() == NULL) return -1;
    dev_in_backend++;
    get_cudaFree()(NULL);   /* the runtime's context, which the chunks are registered in */
    dev_in_backend--;
    if (get_cudaGetDevice()(&device) != cudaSuccess) return -1;
  } else if (get_cuCtxGetDevice() == NULL || get_cuCtxGetDevice()(&device) != 0) {
    return -1;
  }
  return device >= 0 && device < DEV_MAX ? DEV_API_HOST * DEV_MAX + device : -1;
}

static int pool_host_alloc(int id, void **ptr, size_t size) {
  uintptr_t addr;
  dev_in_backend++;   /* the chunk's registration must not come back to us */
  int e = dev_alloc(id, size, &addr);
  dev_in_backend--;
  if (e == 0) *ptr = (void *)addr;
  return e;
}

/* ---- the pinned pool's entry points --------------------------------------------- */


/* 0 or CUDA's error when the pool answered; -1: pass the call to CUDA
 * (write-combined, pool off, or no memory for the pool's own metadata). */
static int pooled(bool runtime, void **ptr, size_t size, unsigned flags) {
  int id = ptr && size && !(flags & HOST_ALLOC_WRITE_COMBINED) ? host_pool(runtime) : -1;
  return id >= 0 ? pool_host_alloc(id, ptr, size) : -1;
}

UMA_EXPORT cudaError_t cudaHostAlloc(void **ptr, size_t size, unsigned flags) {
  int e = pooled(true, ptr, size, flags);
  if (e >= 0) return e;
  return get_cudaHostAlloc() ? get_cudaHostAlloc()(ptr, size, flags) : NO_CUDA;
}

UMA_EXPORT cudaError_t cudaMallocHost(void **ptr, size_t size) {
  int e = pooled(true, ptr, size, 0);
  if (e >= 0) return e;
  return get_cudaMallocHost() ? get_cudaMallocHost()(ptr, size) : NO_CUDA;
}

UMA_EXPORT cudaError_t cudaFreeHost(void *ptr) {
  cuda_pin_entry();
  if (ptr && dev_free_host((uintptr_t)ptr)) return cudaSuccess;
  return get_cudaFreeHost() ? get_cudaFreeHost()(ptr) : NO_CUDA;
}

UMA_EXPORT CUresult cuMemHostAlloc(void **pp, size_t size, unsigned flags) {
  int e = pooled(false, pp, size, flags);
  if (e >= 0) return e;
  return get_cuMemHostAlloc() ? get_cuMemHostAlloc()(pp, size, flags) : NO_CUDA;
}

UMA_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t size) {
  int e = pooled(false, pp, size, 0);
  if (e >= 0) return e;
  return get_cuMemAllocHost_v2() ? get_cuMemAllocHost_v2()(pp, size) : NO_CUDA;
}

UMA_EXPORT CUresult cuMemFreeHost(void *p) {
  cuda_pin_entry();
  if (p && dev_free_host((uintptr_t)p)) return 0;
  return get_cuMemFreeHost() ? get_cuMemFreeHost()(p) : NO_CUDA;
}

UMA_DOORS(cuMemHostAlloc, CUresult, (void **pp, size_t size, unsigned flags), (pp, size, flags))
UMA_DOORS(cuMemAllocHost_v2, CUresult, (void **pp, size_t size), (pp, size))

/* For the routes around the PLT (cuda_driver.c). */
const driver_wrapper_t pinned_pool_wrappers[] = {
  { "cuMemHostAlloc", "cuMemHostAlloc", 0, (void *)cuMemHostAlloc, (void **)&real_cuMemHostAlloc, false,
    cuMemHostAlloc_doors },
  { "cuMemAllocHost", "cuMemAllocHost_v2", 3020, (void *)cuMemAllocHost_v2, (void **)&real_cuMemAllocHost_v2, false,
    cuMemAllocHost_v2_doors },
  { "cuMemFreeHost", "cuMemFreeHost", 0, (void *)cuMemFreeHost, (void **)&real_cuMemFreeHost, false, NULL },
  { NULL, NULL, 0, NULL, NULL, false, NULL },
};
