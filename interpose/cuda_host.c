/* cuda_host.c — pinned host memory, two ways.
 *
 * 1. The pinned pool: cudaHostAlloc, cudaMallocHost, cudaFreeHost and the
 *    driver's cuMemHostAlloc, cuMemAllocHost_v2, cuMemFreeHost are served by
 *    a device-pool instance (core/device_pool.c, API DEV_API_HOST) whose
 *    chunks are mapped here, placed on the node of the GPU they serve,
 *    populated and registered once (cuMemHostRegister, portable + mapped),
 *    then reused: a 1 GiB cudaHostAlloc costs about 0.4-0.5 s in CUDA, a
 *    pool hit well under a millisecond. Chunk sizes are the device pool's
 *    (a request above 10 MiB takes its size rounded to 2 MiB, not the next
 *    power of two). Write-combined requests go to CUDA (its own memory
 *    type). A freed block is reused only after a fence: every context that
 *    may still copy from it has finished its work (see host_fence).
 *
 * 2. Transparent pinning: cudaMemcpy and cudaMemcpyAsync whose host side
 *    lies in one of our large blocks (malloc'd, ≥ [cuda] pinned_min) register
 *    that block's mapping once (lazy), so this copy and later ones run at
 *    DMA speed instead of through CUDA's staging buffer. Pageable semantics
 *    are kept: cudaMemcpyAsync from or to such a block returns only when the
 *    copy is done (stream synchronised), as it would for pageable memory
 *    (host-to-device: the source may be reused at once; device-to-host: the
 *    data is there on return). Registrations are given back before the
 *    block is unmapped or moved (core/pinned.c).
 *
 * Driver entry points come from the libcuda the program loaded. */
#include "interpose.h"
#include <sys/mman.h>

typedef int cudaError_t;
typedef void *cudaStream_t;
typedef int CUresult;
typedef void *CUcontext;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
enum { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDefault = 4 };
#define HOST_ALLOC_WRITE_COMBINED 4                 /* cudaHostAllocWriteCombined, CU_MEMHOSTALLOC_WRITECOMBINED */
#define REGISTER_PORTABLE_MAPPED 3                  /* CU_MEMHOSTREGISTER_PORTABLE | _DEVICEMAP */
#define CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED 712
#define NO_CUDA 500

static const char *const cuda_sonames[] = { "libcuda.so.1", NULL };
#define RT(ret, name, params) UMA_REAL(ret, name, params, cudart_sonames)
#define DRV(ret, name, params) UMA_REAL(ret, name, params, cuda_sonames)
RT(cudaError_t, cudaHostAlloc, (void **, size_t, unsigned))
RT(cudaError_t, cudaMallocHost, (void **, size_t))
RT(cudaError_t, cudaFreeHost, (void *))
RT(cudaError_t, cudaFree, (void *))
RT(cudaError_t, cudaGetDevice, (int *))
RT(cudaError_t, cudaMemcpy, (void *, const void *, size_t, int))
RT(cudaError_t, cudaMemcpyAsync, (void *, const void *, size_t, int, cudaStream_t))
RT(cudaError_t, cudaStreamSynchronize, (cudaStream_t))
DRV(CUresult, cuMemHostAlloc, (void **, size_t, unsigned))
DRV(CUresult, cuMemAllocHost_v2, (void **, size_t))
DRV(CUresult, cuMemFreeHost, (void *))
DRV(CUresult, cuMemHostRegister_v2, (void *, size_t, unsigned))
DRV(CUresult, cuMemHostUnregister, (void *))
DRV(CUresult, cuCtxGetCurrent, (CUcontext *))
DRV(CUresult, cuCtxGetDevice, (int *))
DRV(CUresult, cuCtxSynchronize, (void))
DRV(CUresult, cuCtxPushCurrent_v2, (CUcontext))
DRV(CUresult, cuCtxPopCurrent_v2, (CUcontext *))
DRV(CUresult, cuDeviceGetCount, (int *))
DRV(CUresult, cuDevicePrimaryCtxGetState, (int, unsigned *, int *))
DRV(CUresult, cuDevicePrimaryCtxRetain, (CUcontext *, int))
DRV(CUresult, cuDevicePrimaryCtxRelease_v2, (int))

static bool driver_ready(void) {
  return get_cuMemHostRegister_v2() && get_cuMemHostUnregister() && get_cuCtxGetCurrent() && get_cuCtxSynchronize() &&
         get_cuCtxPushCurrent_v2() && get_cuCtxPopCurrent_v2() && get_cuDeviceGetCount() &&
         get_cuDevicePrimaryCtxGetState() && get_cuDevicePrimaryCtxRetain() && get_cuDevicePrimaryCtxRelease_v2();
}

/* Registration needs a current context; with none (a thread that never
 * touched CUDA), device 0's primary context stands in for the call. */
static bool push_some_context(int *pushed_device) {
  CUcontext cur = NULL;
  *pushed_device = -1;
  if (get_cuCtxGetCurrent()(&cur) == 0 && cur) return true;
  CUcontext c;
  if (get_cuDevicePrimaryCtxRetain()(&c, 0) != 0) return false;
  get_cuCtxPushCurrent_v2()(c);
  *pushed_device = 0;
  return true;
}
static void pop_context(int pushed_device) {
  if (pushed_device < 0) return;
  CUcontext c;
  get_cuCtxPopCurrent_v2()(&c);
  get_cuDevicePrimaryCtxRelease_v2()(pushed_device);
}

static CUresult register_range(void *p, size_t size) {
  int pushed;
  if (!push_some_context(&pushed)) return NO_CUDA;
  CUresult r = get_cuMemHostRegister_v2()(p, size, REGISTER_PORTABLE_MAPPED);
  pop_context(pushed);
  return r == CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED ? 0 : r;
}
static void unregister_range(void *p) {
  int pushed;
  if (!push_some_context(&pushed)) return;
  get_cuMemHostUnregister()(p);
  pop_context(pushed);
}

/* ---- the pinned pool's backend ------------------------------------------------ */

static pthread_mutex_t chunk_lock = PTHREAD_MUTEX_INITIALIZER;
static addr_table_t chunk_sizes;   /* chunk address → its size, for unmapping */

static int host_map(int device, size_t size, uintptr_t *out) {
  void *p = os_map(size);
  if (p == NULL) return cudaErrorMemoryAllocation;
  if (numa_active && device < numa_gpu_count && numa_gpu_node[device] >= 0) {   /* near the GPU it serves */
    numa_place_t near = { .mode = NUMA_NEAR_GPU, .kernel_mode = 1 /* MPOL_PREFERRED */,
                          .nodes = 1ULL << numa_gpu_node[device] };
    numa_place(p, size, &near, 0, NULL);
  }
  madvise(p, size, 23 /* MADV_POPULATE_WRITE, Linux 5.14: fault it in, one call */);
  CUresult r = register_range(p, size);
  pthread_mutex_lock(&chunk_lock);
  bool kept = r == 0 && addr_table_put(&chunk_sizes, (uintptr_t)p, size, 0);
  pthread_mutex_unlock(&chunk_lock);
  if (!kept) {
    if (r == 0) unregister_range(p);
    os_unmap(p, size);
    return cudaErrorMemoryAllocation;
  }
  *out = (uintptr_t)p;
  return 0;
}

static void host_unmap(int device, uintptr_t addr) {
  (void)device;
  addr_slot_t slot;
  pthread_mutex_lock(&chunk_lock);
  bool known = addr_table_take(&chunk_sizes, addr, &slot);
  pthread_mutex_unlock(&chunk_lock);
  if (!known) return;
  unregister_range((void *)addr);
  os_unmap((void *)addr, (size_t)slot.a);
}

/* A freed pinned block may still be read or written by a copy any context
 * enqueued before the free: wait for the current context and every device's
 * active primary context to finish their work. */
static void host_fence(int device) {
  (void)device;
  CUcontext cur = NULL;
  get_cuCtxGetCurrent()(&cur);
  if (cur) get_cuCtxSynchronize()();
  int n = 0;
  get_cuDeviceGetCount()(&n);
  for (int d = 0; d < n; d++) {
    unsigned flags;
    int active = 0;
    CUcontext c;
    if (get_cuDevicePrimaryCtxGetState()(d, &flags, &active) != 0 || !active) continue;
    if (get_cuDevicePrimaryCtxRetain()(&c, d) != 0) continue;
    if (c != cur) {
      get_cuCtxPushCurrent_v2()(c);
      get_cuCtxSynchronize()();
      get_cuCtxPopCurrent_v2()(&c);
    }
    get_cuDevicePrimaryCtxRelease_v2()(d);
  }
}

static void host_clear_error(void) {}

static const dev_backend_t host_backend = { host_map, host_unmap, host_fence, host_clear_error, NULL, NULL, NULL };
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static void host_init(void) { dev_pool_init(DEV_API_HOST, &host_backend); }

/* The pinned pool for the calling thread's GPU, or -1 (pass through). */
static int host_pool(bool runtime) {
  if (!dev_enabled || !pin_pool_enabled || dev_in_backend || !driver_ready()) return -1;
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
  pin_drain_retired();
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
  if (p && dev_free_host((uintptr_t)p)) return 0;
  return get_cuMemFreeHost() ? get_cuMemFreeHost()(p) : NO_CUDA;
}

/* ---- transparent pinning ---------------------------------------------------------- */

static void release_registration(void *base, size_t size) {
  (void)size;
  unregister_range(base);
}
static int register_block(void *base, size_t size) { return register_range(base, size); }

/* The block holding [p, p+len) if it is ours, large enough, its rule wants
 * it pinned, and it is (now) registered; NULL otherwise. */
static uma_large_t *pinned_block(const void *p, size_t len) {
  if (!dev_enabled || dev_in_backend || len < pin_min || !driver_ready()) return NULL;
  uma_large_t *lg = pin_block_of(p, len);
  if (lg == NULL || lg->pinned == PIN_REFUSED || pin_mode_for(lg) == UMA_PINNED_OFF) return NULL;
  if (lg->pinned == PIN_YES) return lg;
  if (lg->pinned == PIN_NONE) {   /* its first copy stays pageable (see PIN_SEEN) */
    lg->pinned = PIN_SEEN;
    return NULL;
  }
  pin_release_hook = release_registration;
  return pin_block(lg, register_block) ? lg : NULL;
}

/* The host side of a copy, if it is a block we pinned: *to_device says the
 * direction. */
static uma_large_t *copy_host_block(void *dst, const void *src, size_t count, int kind, bool *to_device) {
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDefault) {
    uma_large_t *lg = pinned_block(src, count);
    if (lg) { *to_device = true; return lg; }
  }
  if (kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDefault) {
    uma_large_t *lg = pinned_block(dst, count);
    if (lg) { *to_device = false; return lg; }
  }
  return NULL;
}

static void count_copy(size_t count, bool to_device, uint64_t ns) {
  pthread_mutex_lock(&pin_lock);
  pin_stats.copies++;
  pin_stats.copy_bytes += count;
  pin_stats.copy_ns += ns;
  if (to_device) pin_stats.h2d_bytes += count;
  else pin_stats.d2h_bytes += count;
  pthread_mutex_unlock(&pin_lock);
}

UMA_EXPORT cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, int kind) {
  if (get_cudaMemcpy() == NULL) return NO_CUDA;
  pin_drain_retired();
  bool to_device = false;
  uma_large_t *lg = copy_host_block(dst, src, count, kind, &to_device);
  uint64_t t0 = lg ? os_now_ns() : 0;
  cudaError_t e = get_cudaMemcpy()(dst, src, count, kind);
  if (lg && e == cudaSuccess) count_copy(count, to_device, os_now_ns() - t0);
  return e;
}

/* From or to a block we pinned, the copy would really be asynchronous; the
 * program allocated the block as pageable and may rely on pageable
 * semantics, so wait for the stream before returning. */
UMA_EXPORT cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, int kind, cudaStream_t stream) {
  if (get_cudaMemcpyAsync() == NULL) return NO_CUDA;
  pin_drain_retired();
  bool to_device = false;
  uma_large_t *lg = get_cudaStreamSynchronize() ? copy_host_block(dst, src, count, kind, &to_device) : NULL;
  uint64_t t0 = lg ? os_now_ns() : 0;
  cudaError_t e = get_cudaMemcpyAsync()(dst, src, count, kind, stream);
  if (lg && e == cudaSuccess) {
    e = get_cudaStreamSynchronize()(stream);
    count_copy(count, to_device, os_now_ns() - t0);
  }
  return e;
}
