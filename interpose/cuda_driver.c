/* cuda_driver.c — the CUDA driver API's allocation calls into the device
 * pool (its own pools: memory from cuMemAlloc goes back through cuMemFree),
 * by the three routes programs take to reach them:
 *   - the PLT (programs linked to libcuda.so.1): cuMemAlloc_v2, cuMemFree_v2, …;
 *   - cuGetProcAddress / cuGetProcAddress_v2 when called through the PLT:
 *     asked for a wrapped entry point (or for cuGetProcAddress itself), it
 *     answers with our wrapper;
 *   - the runtime's cudaGetDriverEntryPoint / …ByVersion (PyTorch's route),
 *     likewise.
 *   - dlsym on a libcuda handle (libcudart's own route, CuPy's, JAX's;
 *     interpose/dlsym.c) for the wrapped names.
 * The same routes reach the host-memory wrappers (cuda_pinned_pool.c, cuda_copy.c, cuda_register.c: their tables).
 * Everything not wrapped is returned untouched. The driver itself is never loaded by us: its functions
 * come from the copy the program loaded (RTLD_NEXT, else dlopen NOLOAD). */
#include "interpose.h"
#include "../core/symbols.h"
#include "../cuda/device_pool.h"
#include "../cuda/backends.h"
#include <dlfcn.h>
#include <string.h>


#define REAL(ret, name, params) UMA_REAL(ret, name, params, cuda_sonames)

REAL(CUresult, cuMemAlloc_v2, (CUdeviceptr *, size_t))
REAL(CUresult, cuMemFree_v2, (CUdeviceptr))
REAL(CUresult, cuMemGetInfo_v2, (size_t *, size_t *))
REAL(CUresult, cuCtxGetDevice, (int *))
REAL(CUresult, cuCtxSynchronize, (void))
REAL(CUresult, cuGetProcAddress, (const char *, void **, int, unsigned long long))
REAL(CUresult, cuGetProcAddress_v2, (const char *, void **, int, unsigned long long, int *))
REAL(CUresult, cuInit, (unsigned))
REAL(CUresult, cuMemAllocAsync, (CUdeviceptr *, size_t, CUstream))
REAL(CUresult, cuMemAllocFromPoolAsync, (CUdeviceptr *, size_t, void *, CUstream))
REAL(CUresult, cuMemAllocManaged, (CUdeviceptr *, size_t, unsigned))
REAL(CUresult, cuMemAllocPitch_v2, (CUdeviceptr *, size_t *, size_t, size_t, unsigned))
REAL(CUresult, cuMemCreate, (unsigned long long *, size_t, const void *, unsigned long long))
REAL(CUresult, cuStreamBeginCapture_v2, (CUstream, int))
REAL(CUresult, cuStreamBeginCaptureToGraph, (CUstream, void *, const void *, const void *, size_t, int))
REAL(CUresult, cuStreamEndCapture, (CUstream, void **))
REAL(CUresult, cuDeviceTotalMem_v2, (size_t *, int))

/* ---- the pool's backend: memory from cuMemAlloc in the current context ---- */

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static void backend_init(void) { dev_pool_init(DEV_API_DRIVER, &cuda_driver_backend); }

/* The driver pool of the current context's device, or -1: pass through
 * (also inside a pool's own CUDA calls). */
static int pool_id(void) {
  if (!dev_enabled || dev_in_backend || get_cuMemAlloc_v2() == NULL || get_cuMemFree_v2() == NULL || get_cuCtxGetDevice() == NULL ||
      get_cuCtxSynchronize() == NULL)
    return -1;
  pthread_once(&backend_once, backend_init);
  int device;
  if (get_cuCtxGetDevice()(&device) != CUDA_SUCCESS || device < 0 || device >= DEV_MAX) return -1;
  return DEV_API_DRIVER * DEV_MAX + device;
}

/* ---- the wrapped entry points ------------------------------------------------- */

UMA_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t size) {
  int id = dptr && size ? pool_id() : -1;
  if (id < 0) return get_cuMemAlloc_v2() ? get_cuMemAlloc_v2()(dptr, size) : CUDA_ERROR_NOT_FOUND;
  uintptr_t addr;
  int e = dev_alloc(id, size, &addr);
  if (e == 0) {
    *dptr = (CUdeviceptr)addr;
    return CUDA_SUCCESS;
  }
  return e > 0 ? e : get_cuMemAlloc_v2()(dptr, size);
}

UMA_DOORS(cuMemAlloc_v2, CUresult, (CUdeviceptr * dptr, size_t size), (dptr, size))

UMA_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
  int id = dptr ? pool_id() : -1;
  if (id >= 0) {
    if (dev_free(id, (uintptr_t)dptr) || dev_free_any((uintptr_t)dptr)) return CUDA_SUCCESS;
  }
  return get_cuMemFree_v2() ? get_cuMemFree_v2()(dptr) : CUDA_ERROR_NOT_FOUND;
}

UMA_EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes) {
  if (get_cuMemGetInfo_v2() == NULL) return CUDA_ERROR_NOT_FOUND;
  CUresult r = get_cuMemGetInfo_v2()(free_bytes, total_bytes);
  int id = r == CUDA_SUCCESS && free_bytes ? pool_id() : -1;
  if (id >= 0) dev_add_idle(id % DEV_MAX, free_bytes, total_bytes);
  return r;
}

/* Under [limits] gpu the device is as big as the quota (XLA sizes its pool
 * from the device's total memory). */
UMA_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) {
  CUresult r = get_cuDeviceTotalMem_v2() ? get_cuDeviceTotalMem_v2()(bytes, device) : CUDA_ERROR_NOT_FOUND;
  if (r == CUDA_SUCCESS && bytes && dev_enabled && dev_quota && *bytes > dev_quota) *bytes = dev_quota;
  return r;
}

/* Every CUDA program calls cuInit first (libcudart, static or shared, does
 * it for its program): seeing it tells the report that CUDA's calls reach us. */
UMA_EXPORT CUresult cuInit(unsigned flags) {
  dev_cuda_seen = true;
  return get_cuInit() ? get_cuInit()(flags) : CUDA_ERROR_NOT_FOUND;
}

/* Device memory CUDA keeps serving itself: counted for the report, per
 * device, never pooled. Our own calls (dev_in_backend: the expandable
 * segments, libcudart's call for a runtime wrapper that counted it
 * already) are not counted again. */
static void count_pass(int kind, size_t bytes, int device) {
  if (dev_in_backend || !dev_enabled) return;
  if (device < 0 && (get_cuCtxGetDevice() == NULL || get_cuCtxGetDevice()(&device) != CUDA_SUCCESS)) return;
  if (device >= 0 && device < DEV_MAX) dev_count_passthrough(DEV_API_DRIVER * DEV_MAX + device, kind, bytes);
}
UMA_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t size, CUstream stream) {
  CUresult r = get_cuMemAllocAsync() ? get_cuMemAllocAsync()(dptr, size, stream) : CUDA_ERROR_NOT_FOUND;
  if (r == CUDA_SUCCESS) count_pass(DEV_PASS_ASYNC, size, -1);
  return r;
}
UMA_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t size, void *pool, CUstream stream) {
  CUresult r = get_cuMemAllocFromPoolAsync() ? get_cuMemAllocFromPoolAsync()(dptr, size, pool, stream) : CUDA_ERROR_NOT_FOUND;
  if (r == CUDA_SUCCESS) count_pass(DEV_PASS_ASYNC, size, -1);
  return r;
}
UMA_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t size, unsigned flags) {
  CUresult r = get_cuMemAllocManaged() ? get_cuMemAllocManaged()(dptr, size, flags) : CUDA_ERROR_NOT_FOUND;
  if (r == CUDA_SUCCESS) count_pass(DEV_PASS_MANAGED, size, -1);
  return r;
}
UMA_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height, unsigned elem) {
  CUresult r = get_cuMemAllocPitch_v2() ? get_cuMemAllocPitch_v2()(dptr, pitch, width, height, elem) : CUDA_ERROR_NOT_FOUND;
  if (r == CUDA_SUCCESS && pitch) count_pass(DEV_PASS_PITCH, *pitch * height, -1);
  return r;
}
/* The allocation's properties name its device (CUmemAllocationProp: type,
 * handle types, then the location's type and id; 1: a device). */
UMA_EXPORT CUresult cuMemCreate(unsigned long long *handle, size_t size, const void *prop, unsigned long long flags) {
  CUresult r = get_cuMemCreate() ? get_cuMemCreate()(handle, size, prop, flags) : CUDA_ERROR_NOT_FOUND;
  if (r == CUDA_SUCCESS && prop) {
    const int *f = prop;
    if (f[2] == 1) count_pass(DEV_PASS_VMM, size, f[3]);
  }
  return r;
}

/* Stream capture, for the static runtime and driver-API programs (the shared
 * runtime's own calls arrive with dev_in_backend set: counted there). */
UMA_EXPORT CUresult cuStreamBeginCapture_v2(CUstream stream, int mode) {
  CUresult r = get_cuStreamBeginCapture_v2() ? get_cuStreamBeginCapture_v2()(stream, mode) : CUDA_ERROR_NOT_FOUND;
  if (r == CUDA_SUCCESS && !dev_in_backend) dev_capture_began();
  return r;
}
UMA_EXPORT CUresult cuStreamBeginCaptureToGraph(CUstream stream, void *graph, const void *deps, const void *edges,
                                                size_t n, int mode) {
  CUresult r = get_cuStreamBeginCaptureToGraph() ? get_cuStreamBeginCaptureToGraph()(stream, graph, deps, edges, n, mode)
                                                 : CUDA_ERROR_NOT_FOUND;
  if (r == CUDA_SUCCESS && !dev_in_backend) dev_capture_began();
  return r;
}
UMA_EXPORT CUresult cuStreamEndCapture(CUstream stream, void **graph) {
  CUresult r = get_cuStreamEndCapture() ? get_cuStreamEndCapture()(stream, graph) : CUDA_ERROR_NOT_FOUND;
  if (!dev_in_backend) dev_capture_ended();
  return r;
}

/* ---- entry-point lookups -------------------------------------------------------- */

UMA_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, unsigned long long flags);
UMA_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags,
                                        int *status);

/* The pool's own wrappers; the host-memory files have theirs. */
static const driver_wrapper_t alloc_wrappers[] = {
  { "cuMemAlloc", "cuMemAlloc_v2", 3020, (void *)cuMemAlloc_v2, (void **)&real_cuMemAlloc_v2, false, cuMemAlloc_v2_doors },
  { "cuMemFree", "cuMemFree_v2", 3020, (void *)cuMemFree_v2, (void **)&real_cuMemFree_v2, false, NULL },
  { "cuMemGetInfo", "cuMemGetInfo_v2", 3020, (void *)cuMemGetInfo_v2, (void **)&real_cuMemGetInfo_v2, false, NULL },
  { "cuInit", "cuInit", 0, (void *)cuInit, (void **)&real_cuInit, false, NULL },
  { "cuDeviceTotalMem", "cuDeviceTotalMem_v2", 3020, (void *)cuDeviceTotalMem_v2, (void **)&real_cuDeviceTotalMem_v2, false,
    NULL },
  { "cuMemAllocAsync", "cuMemAllocAsync", 11020, (void *)cuMemAllocAsync, (void **)&real_cuMemAllocAsync, true, NULL },
  { "cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync", 11020, (void *)cuMemAllocFromPoolAsync,
    (void **)&real_cuMemAllocFromPoolAsync, true, NULL },
  { "cuMemAllocManaged", "cuMemAllocManaged", 6000, (void *)cuMemAllocManaged, (void **)&real_cuMemAllocManaged, false,
    NULL },
  { "cuMemAllocPitch", "cuMemAllocPitch_v2", 3020, (void *)cuMemAllocPitch_v2, (void **)&real_cuMemAllocPitch_v2, false,
    NULL },
  { "cuMemCreate", "cuMemCreate", 10020, (void *)cuMemCreate, (void **)&real_cuMemCreate, false, NULL },
  { "cuStreamBeginCapture", "cuStreamBeginCapture_v2", 10010, (void *)cuStreamBeginCapture_v2,
    (void **)&real_cuStreamBeginCapture_v2, true, NULL },
  { "cuStreamBeginCaptureToGraph", "cuStreamBeginCaptureToGraph", 12030, (void *)cuStreamBeginCaptureToGraph,
    (void **)&real_cuStreamBeginCaptureToGraph, true, NULL },
  { "cuStreamEndCapture", "cuStreamEndCapture", 10000, (void *)cuStreamEndCapture, (void **)&real_cuStreamEndCapture,
    true, NULL },
  { NULL, NULL, 0, NULL, NULL, false, NULL },
};
static const driver_wrapper_t *const wrapper_tables[] = { alloc_wrappers, pinned_pool_wrappers, copy_wrappers,
                                                          register_wrappers };
#define PER_THREAD_DEFAULT_STREAM 2   /* CU_GET_PROC_ADDRESS_…, cudaEnablePerThreadDefaultStream */

/* Our wrapper for a base name the driver just resolved, or NULL. Lookups use
 * base names ("cuMemAlloc"); cuGetProcAddress answers with the _v2 ABI from
 * CUDA 12.5 (version 12050) on. */
static void *door(const driver_wrapper_t *w, int route) { return w->via ? w->via[route] : w->wrapper; }

static void *wrapper_for(const char *symbol, int version, unsigned long long flags, int route) {
  if (symbol == NULL) return NULL;
  if (strcmp(symbol, "cuGetProcAddress") == 0)
    return version >= 12050 ? (void *)cuGetProcAddress_v2 : (void *)cuGetProcAddress;
  for (size_t t = 0; t < sizeof wrapper_tables / sizeof wrapper_tables[0]; t++)
    for (const driver_wrapper_t *w = wrapper_tables[t]; w->base; w++)
      if (strcmp(symbol, w->base) == 0)
        return version >= w->since && !(w->stream_copy && (flags & PER_THREAD_DEFAULT_STREAM)) ? door(w, route) : NULL;
  return NULL;
}

/* Replace what the driver found by our wrapper, when we have one (and only
 * when the driver found something: its answer about versions stands). */
static void substitute(const char *symbol, void **pfn, int version, unsigned long long flags, int route) {
  if (pfn && *pfn && dev_enabled) {
    void *w = wrapper_for(symbol, version, flags, route);
    if (w) *pfn = w;
  }
}

UMA_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, unsigned long long flags) {
  if (get_cuGetProcAddress() == NULL) return CUDA_ERROR_NOT_FOUND;
  CUresult r = get_cuGetProcAddress()(symbol, pfn, version, flags);
  if (r == CUDA_SUCCESS) substitute(symbol, pfn, version, flags, DEV_ROUTE_PROC);
  return r;
}

UMA_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags,
                                        int *status) {
  if (get_cuGetProcAddress_v2() == NULL) return CUDA_ERROR_NOT_FOUND;
  CUresult r = get_cuGetProcAddress_v2()(symbol, pfn, version, flags, status);
  if (r == CUDA_SUCCESS) substitute(symbol, pfn, version, flags, DEV_ROUTE_PROC);
  return r;
}

/* ---- the dlsym route (interpose/dlsym.c) ------------------------------------- */

static const driver_wrapper_t *wrapper_named(const char *name) {
  for (size_t t = 0; t < sizeof wrapper_tables / sizeof wrapper_tables[0]; t++)
    for (const driver_wrapper_t *w = wrapper_tables[t]; w->base; w++)
      if (strcmp(name, w->name) == 0) return w;
  return NULL;
}

bool driver_wraps(const char *name) {
  return strcmp(name, "cuGetProcAddress") == 0 || strcmp(name, "cuGetProcAddress_v2") == 0 || wrapper_named(name);
}

/* Remember the real function dlsym found, answer with our wrapper. */
void *driver_wrap(const char *name, void *real) {
  if (strcmp(name, "cuGetProcAddress") == 0) {
    real_cuGetProcAddress = (CUresult(*)(const char *, void **, int, unsigned long long))real;
    return (void *)cuGetProcAddress;
  }
  if (strcmp(name, "cuGetProcAddress_v2") == 0) {
    real_cuGetProcAddress_v2 = (CUresult(*)(const char *, void **, int, unsigned long long, int *))real;
    return (void *)cuGetProcAddress_v2;
  }
  const driver_wrapper_t *w = wrapper_named(name);
  if (w == NULL) return real;
  __atomic_store_n(w->real, real, __ATOMIC_RELEASE);
  return door(w, DEV_ROUTE_DLSYM);
}

/* The runtime's route to driver entry points (PyTorch's). */
UMA_REAL(cudaError_t, cudaGetDriverEntryPoint, (const char *, void **, unsigned long long, int *), cudart_sonames)
UMA_REAL(cudaError_t, cudaGetDriverEntryPointByVersion, (const char *, void **, unsigned int, unsigned long long, int *),
         cudart_sonames)

UMA_EXPORT cudaError_t cudaGetDriverEntryPoint(const char *symbol, void **fn, unsigned long long flags, int *status) {
  if (get_cudaGetDriverEntryPoint() == NULL) return CUDA_ERROR_NOT_FOUND;
  cudaError_t e = get_cudaGetDriverEntryPoint()(symbol, fn, flags, status);
  if (e == 0) substitute(symbol, fn, 13000, flags, DEV_ROUTE_ENTRY);   /* the runtime's own version: current ABIs */
  return e;
}

UMA_EXPORT cudaError_t cudaGetDriverEntryPointByVersion(const char *symbol, void **fn, unsigned int version,
                                                         unsigned long long flags, int *status) {
  if (get_cudaGetDriverEntryPointByVersion() == NULL) return CUDA_ERROR_NOT_FOUND;
  cudaError_t e = get_cudaGetDriverEntryPointByVersion()(symbol, fn, version, flags, status);
  if (e == 0) substitute(symbol, fn, (int)version, flags, DEV_ROUTE_ENTRY);
  return e;
}
