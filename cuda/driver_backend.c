/* driver_backend.c — the driver API's device pool back end: the CUDA calls
 * the pool makes (device_pool.c's dev_backend_t) through the real libcuda
 * functions. interpose/cuda_driver.c hands it to the pool. */
#include "cuda_types.h"
#include "backends.h"
#include "../core/symbols.h"

#define REAL(ret, name, params) UMA_REAL(ret, name, params, cuda_sonames)
REAL(CUresult, cuMemAlloc_v2, (CUdeviceptr *, size_t))
REAL(CUresult, cuMemFree_v2, (CUdeviceptr))
REAL(CUresult, cuCtxSynchronize, (void))
REAL(CUresult, cuDeviceGet, (int *, int))
REAL(CUresult, cuDeviceGetPCIBusId, (char *, int, int))
REAL(CUresult, cuCtxGetCurrent, (void **))
REAL(CUresult, cuCtxPushCurrent_v2, (void *))
REAL(CUresult, cuCtxPopCurrent_v2, (void **))
REAL(CUresult, cuThreadExchangeStreamCaptureMode, (int *))

static void *context_of[DEV_MAX];   /* the context the pool's memory came from, per device */

static int be_map(int device, size_t size, uintptr_t *out) {
  CUdeviceptr p = 0;
  CUresult r = get_cuMemAlloc_v2()(&p, size);   /* the real one: no wrapper in between */
  *out = (uintptr_t)p;
  if (r == CUDA_SUCCESS && get_cuCtxGetCurrent()) get_cuCtxGetCurrent()(&context_of[device]);
  return r;
}
static void be_unmap(int device, uintptr_t addr) { (void)device; get_cuMemFree_v2()((CUdeviceptr)addr); }
static int be_fence(int device) { (void)device; return get_cuCtxSynchronize()(); }
static void be_clear_error(void) {}   /* the driver API keeps no last error */

static int be_bus_id(int device, char *out, size_t cap) {
  int dev;
  if (get_cuDeviceGet() == NULL || get_cuDeviceGetPCIBusId() == NULL || get_cuDeviceGet()(&dev, device) != CUDA_SUCCESS)
    return CUDA_ERROR_NOT_FOUND;
  return get_cuDeviceGetPCIBusId()(out, (int)cap, dev);
}

/* The sharing helper's thread: the pool's context current, capture relaxed
 * (see cuda_runtime.c). */
static UMA_TLS int saved_capture_mode;
static void be_foreign_thread(int device, bool enter) {
  void *c;
  if (enter) {
    dev_in_backend++;
    if (context_of[device] && get_cuCtxPushCurrent_v2()) get_cuCtxPushCurrent_v2()(context_of[device]);
    saved_capture_mode = 2;   /* CU_STREAM_CAPTURE_MODE_RELAXED */
    if (get_cuThreadExchangeStreamCaptureMode()) get_cuThreadExchangeStreamCaptureMode()(&saved_capture_mode);
  } else {
    if (get_cuThreadExchangeStreamCaptureMode()) get_cuThreadExchangeStreamCaptureMode()(&saved_capture_mode);
    if (context_of[device] && get_cuCtxPopCurrent_v2()) get_cuCtxPopCurrent_v2()(&c);
    dev_in_backend--;
  }
}

const dev_backend_t cuda_driver_backend = {
  .map = be_map,
  .unmap = be_unmap,
  .fence = be_fence,
  .clear_error = be_clear_error,
  .reserve = vmm_reserve,
  .map_range = vmm_map_range,
  .unmap_range = vmm_unmap_range,
  .bus_id = be_bus_id,
  .foreign_thread = be_foreign_thread,
};
