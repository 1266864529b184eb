/* runtime_backend.c — the runtime API's device pool back end: the CUDA
 * calls the pool makes (device_pool.c's dev_backend_t) through the real
 * libcudart functions. interpose/cuda_runtime.c hands it to the pool. */
#include "cuda_types.h"
#include "backends.h"
#include "../core/symbols.h"

#define REAL(ret, name, params) UMA_REAL(ret, name, params, cudart_sonames)
REAL(cudaError_t, cudaMalloc, (void **, size_t))
REAL(cudaError_t, cudaFree, (void *))
REAL(cudaError_t, cudaDeviceSynchronize, (void))
REAL(cudaError_t, cudaGetLastError, (void))
REAL(cudaError_t, cudaDeviceGetPCIBusId, (char *, int, int))
REAL(cudaError_t, cudaSetDevice, (int))
REAL(cudaError_t, cudaThreadExchangeStreamCaptureMode, (int *))
#define NO_RUNTIME 500   /* libcudart is not there at all */

static int be_map(int device, size_t size, uintptr_t *out) {
  (void)device;   /* called inside cudaMalloc: the device is current */
  void *p = NULL;
  dev_in_backend++;
  cudaError_t e = get_cudaMalloc()(&p, size);
  dev_in_backend--;
  *out = (uintptr_t)p;
  return e;
}

static void be_unmap(int device, uintptr_t addr) {
  (void)device;   /* cudaFree takes any device's pointer (unified addressing) */
  dev_in_backend++;
  get_cudaFree()((void *)addr);
  dev_in_backend--;
}

static int be_fence(int device) {
  (void)device;
  return get_cudaDeviceSynchronize()();
}

static void be_clear_error(void) { get_cudaGetLastError()(); }

/* The runtime's pool maps through the driver's virtual memory API: the
 * runtime's primary context must exist first (cudaFree(NULL) makes it). */
static int be_reserve(int device, size_t *size, uintptr_t *va, size_t *granule) {
  dev_in_backend++;
  get_cudaFree()(NULL);
  int e = vmm_reserve(device, size, va, granule);
  dev_in_backend--;
  return e;
}

static int be_bus_id(int device, char *out, size_t cap) {
  if (get_cudaDeviceGetPCIBusId() == NULL) return NO_RUNTIME;
  dev_in_backend++;
  int e = get_cudaDeviceGetPCIBusId()(out, (int)cap, device);
  dev_in_backend--;
  return e;
}

/* The sharing helper's thread (device_share.c): the device current, and
 * its calls allowed while another thread captures a graph (relaxed: a
 * capture in global mode would otherwise fail them, and be invalidated). */
#define CAPTURE_MODE_RELAXED 2   /* cudaStreamCaptureModeRelaxed */
static UMA_TLS int saved_capture_mode;
static void be_foreign_thread(int device, bool enter) {
  if (enter) {
    dev_in_backend++;
    if (get_cudaSetDevice()) get_cudaSetDevice()(device);
    saved_capture_mode = CAPTURE_MODE_RELAXED;
    if (get_cudaThreadExchangeStreamCaptureMode()) get_cudaThreadExchangeStreamCaptureMode()(&saved_capture_mode);
  } else {
    if (get_cudaThreadExchangeStreamCaptureMode()) get_cudaThreadExchangeStreamCaptureMode()(&saved_capture_mode);
    get_cudaGetLastError()();   /* the helper's errors are not the program's */
    dev_in_backend--;
  }
}

const dev_backend_t cuda_runtime_backend = {
  .map = be_map,
  .unmap = be_unmap,
  .fence = be_fence,
  .clear_error = be_clear_error,
  .reserve = be_reserve,
  .map_range = vmm_map_range,
  .unmap_range = vmm_unmap_range,
  .bus_id = be_bus_id,
  .foreign_thread = be_foreign_thread,
};
