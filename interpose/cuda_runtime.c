/* cuda_runtime.c — the CUDA runtime API calls a program makes through the
 * PLT (PyTorch's libtorch_cuda, CUDA C programs linked to libcudart.so):
 * cudaMalloc and cudaFree go to the device pool (cuda/device_pool.c, through the runtime back end); the
 * rest is counted and passed on. The real functions are found with
 * dlsym(RTLD_NEXT) at first use, so a program without CUDA never loads it,
 * and with [cuda] enable = no every call goes straight through.
 *
 * What the program can observe stays CUDA's: pointers are 512-byte aligned
 * (cudaMalloc promises 256), errors are CUDA's own codes
 * (cudaErrorMemoryAllocation after the pool gave back its cache and retried),
 * cudaMemGetInfo counts the pool's idle bytes as free. cudaFree returns at
 * once; the block is reused only after a device-wide fence (see the pool).
 * Known difference: a pooled block shares its cudaMalloc allocation with
 * others, so cudaIpcGetMemHandle and cuMemGetAddressRange see that larger
 * allocation (PyTorch computes offsets from it and is unaffected). */
#include "interpose.h"
#include "../core/symbols.h"
#include "../cuda/device_pool.h"
#include "../cuda/backends.h"
#include <dlfcn.h>


#define REAL(ret, name, params) UMA_REAL(ret, name, params, cudart_sonames)

REAL(cudaError_t, cudaMalloc, (void **, size_t))
REAL(cudaError_t, cudaFree, (void *))
REAL(cudaError_t, cudaGetDevice, (int *))
REAL(cudaError_t, cudaDeviceSynchronize, (void))
REAL(cudaError_t, cudaGetLastError, (void))
REAL(cudaError_t, cudaMemGetInfo, (size_t *, size_t *))
REAL(cudaError_t, cudaMallocAsync, (void **, size_t, cudaStream_t))
REAL(cudaError_t, cudaFreeAsync, (void *, cudaStream_t))
REAL(cudaError_t, cudaMallocPitch, (void **, size_t *, size_t, size_t))
REAL(cudaError_t, cudaMallocManaged, (void **, size_t, unsigned))
REAL(cudaError_t, cudaDeviceReset, (void))
REAL(cudaError_t, cudaStreamBeginCapture, (cudaStream_t, int))
REAL(cudaError_t, cudaStreamBeginCaptureToGraph, (cudaStream_t, void *, const void *, const void *, size_t, int))
REAL(cudaError_t, cudaStreamEndCapture, (cudaStream_t, void **))

/* cudaErrorSymbolNotFound-like answer when libcudart is not there at all
 * (a program defining its own cudaMalloc would never reach us). */
#define NO_RUNTIME 500

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static void backend_init(void) { dev_pool_init(DEV_API_RUNTIME, &cuda_runtime_backend); }

/* The current device, or -1 when the pool cannot be used for this call. */
static int pool_device(void) {
  if (!dev_enabled || get_cudaMalloc() == NULL || get_cudaFree() == NULL || get_cudaGetDevice() == NULL ||
      get_cudaDeviceSynchronize() == NULL || get_cudaGetLastError() == NULL)
    return -1;
  pthread_once(&backend_once, backend_init);
  int device;
  if (get_cudaGetDevice()(&device) != cudaSuccess || device < 0 || device >= DEV_MAX) return -1;
  dev_cuda_seen = true;
  return device;
}

/* ---- the entry points ----------------------------------------------------------- */

UMA_EXPORT cudaError_t cudaMalloc(void **ptr, size_t size) {
  int device = ptr && size && !dev_in_backend ? pool_device() : -1;
  if (device < 0) return get_cudaMalloc() ? get_cudaMalloc()(ptr, size) : NO_RUNTIME;
  uintptr_t addr;
  int e = dev_alloc(device, size, &addr);
  if (e == 0) {
    *ptr = (void *)addr;
    return cudaSuccess;
  }
  if (e > 0) return e;                     /* CUDA's error, after the pool's retry */
  return get_cudaMalloc()(ptr, size);      /* the pool's own metadata ran out: unpooled */
}

UMA_EXPORT cudaError_t cudaFree(void *ptr) {
  int device = ptr ? pool_device() : -1;
  if (device >= 0) {
    if (dev_free(device, (uintptr_t)ptr) || dev_free_any((uintptr_t)ptr)) return cudaSuccess;
  }
  return get_cudaFree() ? get_cudaFree()(ptr) : NO_RUNTIME;
}

/* The pool's idle bytes are free to this program: say so. */
UMA_EXPORT cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
  if (get_cudaMemGetInfo() == NULL) return NO_RUNTIME;
  dev_in_backend++;   /* the driver's cuMemGetInfo would add our idle bytes a second time */
  cudaError_t e = get_cudaMemGetInfo()(free_bytes, total_bytes);
  dev_in_backend--;
  int device = e == cudaSuccess && free_bytes ? pool_device() : -1;
  if (device >= 0) dev_add_idle(device, free_bytes, total_bytes);
  return e;
}

/* Stream-ordered allocations stay with CUDA's own stream-ordered pool, which
 * keeps their ordering exactly; they are counted for the report. */
UMA_EXPORT cudaError_t cudaMallocAsync(void **ptr, size_t size, cudaStream_t stream) {
  if (get_cudaMallocAsync() == NULL) return NO_RUNTIME;
  dev_in_backend++;   /* its driver call is counted here, not again there */
  cudaError_t e = get_cudaMallocAsync()(ptr, size, stream);
  dev_in_backend--;
  int device = e == cudaSuccess ? pool_device() : -1;
  if (device >= 0) dev_count_passthrough(device, DEV_PASS_ASYNC, size);
  return e;
}

UMA_EXPORT cudaError_t cudaMallocManaged(void **ptr, size_t size, unsigned flags) {
  if (get_cudaMallocManaged() == NULL) return NO_RUNTIME;
  dev_in_backend++;
  cudaError_t e = get_cudaMallocManaged()(ptr, size, flags);
  dev_in_backend--;
  int device = e == cudaSuccess ? pool_device() : -1;
  if (device >= 0) dev_count_passthrough(device, DEV_PASS_MANAGED, size);
  return e;
}

/* A cudaMalloc'd block freed in stream order: pending like any other, so it
 * is reused only after a fence. */
UMA_EXPORT cudaError_t cudaFreeAsync(void *ptr, cudaStream_t stream) {
  int device = ptr ? pool_device() : -1;
  if (device >= 0 && dev_free(device, (uintptr_t)ptr)) return cudaSuccess;
  return get_cudaFreeAsync() ? get_cudaFreeAsync()(ptr, stream) : NO_RUNTIME;
}

UMA_EXPORT cudaError_t cudaMallocPitch(void **ptr, size_t *pitch, size_t width, size_t height) {
  if (get_cudaMallocPitch() == NULL) return NO_RUNTIME;
  dev_in_backend++;
  cudaError_t e = get_cudaMallocPitch()(ptr, pitch, width, height);
  dev_in_backend--;
  int device = e == cudaSuccess && pitch ? pool_device() : -1;
  if (device >= 0) dev_count_passthrough(device, DEV_PASS_PITCH, *pitch * height);
  return e;
}

/* Stream capture: while one is in progress the pools do not fence (see
 * device_pool.c). libcudart's own driver call is not counted again. */
UMA_EXPORT cudaError_t cudaStreamBeginCapture(cudaStream_t stream, int mode) {
  if (get_cudaStreamBeginCapture() == NULL) return NO_RUNTIME;
  dev_in_backend++;
  cudaError_t e = get_cudaStreamBeginCapture()(stream, mode);
  dev_in_backend--;
  if (e == cudaSuccess) dev_capture_began();
  return e;
}
UMA_EXPORT cudaError_t cudaStreamBeginCaptureToGraph(cudaStream_t stream, void *graph, const void *deps,
                                                     const void *edges, size_t n, int mode) {
  if (get_cudaStreamBeginCaptureToGraph() == NULL) return NO_RUNTIME;
  dev_in_backend++;
  cudaError_t e = get_cudaStreamBeginCaptureToGraph()(stream, graph, deps, edges, n, mode);
  dev_in_backend--;
  if (e == cudaSuccess) dev_capture_began();
  return e;
}
UMA_EXPORT cudaError_t cudaStreamEndCapture(cudaStream_t stream, void **graph) {
  if (get_cudaStreamEndCapture() == NULL) return NO_RUNTIME;
  dev_in_backend++;
  cudaError_t e = get_cudaStreamEndCapture()(stream, graph);
  dev_in_backend--;
  dev_capture_ended();   /* ended, or invalidated: either way no longer capturing */
  return e;
}

/* A reset frees every allocation of the device: the pool forgets its own. */
UMA_EXPORT cudaError_t cudaDeviceReset(void) {
  int device = pool_device();
  if (device >= 0) dev_forget(device);
  return get_cudaDeviceReset() ? get_cudaDeviceReset()() : NO_RUNTIME;
}
