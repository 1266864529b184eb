/* host_backend.c — the pinned host pool's back end and the registration
 * of host memory: chunks mapped here, placed near their GPU, populated and
 * registered with CUDA once (cuMemHostRegister, portable + mapped); a
 * block freed is reused after every context's earlier work. Transparent
 * pinning (pinned.c) registers through the same back end.
 * interpose/cuda_pinned_pool.c hands it to the pool, interpose/cuda_copy.c to pinning. */
#include "cuda_types.h"
#include "backends.h"
#include "pinned.h"
#include "../core/addr_table.h"
#include "../core/numa.h"
#include "../core/os.h"
#include "../core/symbols.h"
#include <sys/mman.h>

#define REGISTER_PORTABLE_MAPPED 3                  /* CU_MEMHOSTREGISTER_PORTABLE | _DEVICEMAP */
#define RT(ret, name, params) UMA_REAL(ret, name, params, cudart_sonames)
#define DRV(ret, name, params) UMA_REAL(ret, name, params, cuda_sonames)
DRV(CUresult, cuMemHostRegister_v2, (void *, size_t, unsigned))
DRV(CUresult, cuMemHostUnregister, (void *))
DRV(CUresult, cuCtxGetCurrent, (CUcontext *))
DRV(CUresult, cuCtxSynchronize, (void))
DRV(CUresult, cuCtxPushCurrent_v2, (CUcontext))
DRV(CUresult, cuCtxPopCurrent_v2, (CUcontext *))
DRV(CUresult, cuDeviceGetCount, (int *))
DRV(CUresult, cuDevicePrimaryCtxGetState, (int, unsigned *, int *))
DRV(CUresult, cuDevicePrimaryCtxRetain, (CUcontext *, int))
DRV(CUresult, cuDevicePrimaryCtxRelease_v2, (int))

bool cuda_host_ready(void) {
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

static int register_range(void *p, size_t size) {
  int pushed;
  if (!push_some_context(&pushed)) return NO_CUDA;
  CUresult r = get_cuMemHostRegister_v2()(p, size, REGISTER_PORTABLE_MAPPED);
  pop_context(pushed);
  return r;   /* 712 (already registered): the program registered part of it; the block stays its own */
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
  if (!pin_quota_allows(size)) return cudaErrorMemoryAllocation;   /* the pool gives its cache back, retries */
  void *p = os_map(size);
  if (p == NULL) return cudaErrorMemoryAllocation;
  if (numa_active && device < numa_gpu_count && numa_gpu_node[device] >= 0) {   /* near the GPU it serves */
    numa_place_t near = { .mode = NUMA_NEAR_GPU, .kernel_mode = 1 /* MPOL_PREFERRED */,
                          .nodes = 1ULL << numa_gpu_node[device] };
    numa_place(p, size, &near, 0, NULL);
  }
  os_populate(p, size);   /* one call, not a fault per page */
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
static int host_fence(int device) {
  (void)device;
  CUcontext cur = NULL;
  int failed = 0;
  get_cuCtxGetCurrent()(&cur);
  if (cur) failed |= get_cuCtxSynchronize()();
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
      failed |= get_cuCtxSynchronize()();
      get_cuCtxPopCurrent_v2()(&c);
    }
    get_cuDevicePrimaryCtxRelease_v2()(d);
  }
  return failed;
}

static void host_clear_error(void) {}

const dev_backend_t cuda_host_backend = {
  .map = host_map,
  .unmap = host_unmap,
  .fence = host_fence,
  .clear_error = host_clear_error,
  .register_range = register_range,
  .unregister_range = unregister_range,
};
