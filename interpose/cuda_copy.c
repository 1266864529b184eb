/* cuda_copy.c — transparent pinning at the copies: a copy (cudaMemcpy,
 * cudaMemcpyAsync, the driver's cuMemcpy, cuMemcpyAsync, cuMemcpyHtoD/DtoH
 * and their Async forms) whose host side lies in one of our large blocks
 * (malloc'd, >= [cuda] pinned_min) registers that block's mapping (lazy: at
 * its first copy; eager: at the first CUDA call after the block was made),
 * so this copy and later ones run at DMA speed instead of through CUDA's
 * staging buffer. Pageable semantics are kept: an async copy from or to
 * such a block returns only when the copy is done (stream synchronised), as
 * it would for pageable memory (host-to-device: the source may be reused at
 * once; device-to-host: the data is there on return). Registrations are
 * given back before the block is unmapped (cuda/pinned.c), at the next CUDA
 * call: never inside malloc or free.
 * Not covered: 2D/3D copies, copies to symbols and arrays (they stay
 * pageable), and copies made by libraries that link cudart statically. */
#include "interpose.h"
#include "../core/symbols.h"
#include "../cuda/backends.h"
#include "../core/large.h"
#include "../core/layout.h"
#include "../core/os.h"
#include "../cuda/pinned.h"
#include "../core/route.h"

enum { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDefault = 4 };
#define RT(ret, name, params) UMA_REAL(ret, name, params, cudart_sonames)
#define DRV(ret, name, params) UMA_REAL(ret, name, params, cuda_sonames)
RT(cudaError_t, cudaMemcpy, (void *, const void *, size_t, int))
RT(cudaError_t, cudaMemcpyAsync, (void *, const void *, size_t, int, cudaStream_t))
RT(cudaError_t, cudaStreamSynchronize, (cudaStream_t))
RT(cudaError_t, cudaStreamIsCapturing, (cudaStream_t, int *))
DRV(CUresult, cuMemcpy, (CUdeviceptr, CUdeviceptr, size_t))
DRV(CUresult, cuMemcpyAsync, (CUdeviceptr, CUdeviceptr, size_t, CUstream))
DRV(CUresult, cuMemcpyHtoD_v2, (CUdeviceptr, const void *, size_t))
DRV(CUresult, cuMemcpyDtoH_v2, (void *, CUdeviceptr, size_t))
DRV(CUresult, cuMemcpyHtoDAsync_v2, (CUdeviceptr, const void *, size_t, CUstream))
DRV(CUresult, cuMemcpyDtoHAsync_v2, (void *, CUdeviceptr, size_t, CUstream))
DRV(CUresult, cuStreamSynchronize, (CUstream))
DRV(CUresult, cuStreamIsCapturing, (CUstream, int *))

/* Every CUDA call that reaches us: registrations waiting to be given back
 * (blocks freed since) and eager blocks waiting to be registered. */
void cuda_pin_entry(void) {
  if (!dev_enabled || dev_in_backend || !cuda_host_ready()) return;
  pin_backend = &cuda_host_backend;
  dev_in_backend++;   /* CUDA's own calls back into us pass through */
  pin_drain();
  dev_in_backend--;
}

/* The block holding [p, p+len) if it is ours, large enough, its rule wants
 * it pinned, and it is (now) registered; NULL otherwise. */
static uma_large_t *pinned_block(const void *p, size_t len) {
  if (!dev_enabled || dev_in_backend || len < pin_min || !cuda_host_ready()) return NULL;
  uma_large_t *lg = large_block_of(p, len);
  if (lg == NULL || lg->cow || lg->pinned == PIN_REFUSED || pin_mode_for(lg) == UMA_PINNED_OFF) return NULL;   /* cow: remapped by aliasing */
  if (lg->pinned == PIN_YES) return lg;
  pin_backend = &cuda_host_backend;
  dev_in_backend++;
  bool yes = pin_block(lg);
  dev_in_backend--;
  return yes ? lg : NULL;
}

/* The host side of a copy, if it is a block we pinned (a copy between two
 * of our blocks is host to host: left alone); *to_device says the
 * direction. A side that cannot be host memory (the kind says so) is not
 * looked up. */
static uma_large_t *copy_host_block(const void *dst, const void *src, size_t count, bool src_host, bool dst_host,
                                    bool *to_device) {
  if (src_host && dst_host && large_block_of(src, count) && large_block_of(dst, count)) return NULL;
  uma_large_t *lg = src_host ? pinned_block(src, count) : NULL;
  if (lg) {
    *to_device = true;
    return lg;
  }
  lg = dst_host ? pinned_block(dst, count) : NULL;
  if (lg) *to_device = false;
  return lg;
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

/* The runtime's copy kinds: which sides may be host memory. */
static bool kind_src_host(int kind) { return kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDefault; }
static bool kind_dst_host(int kind) { return kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDefault; }

UMA_EXPORT cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, int kind) {
  if (get_cudaMemcpy() == NULL) return NO_CUDA;
  cuda_pin_entry();
  bool to_device = false;
  uma_large_t *lg = copy_host_block(dst, src, count, kind_src_host(kind), kind_dst_host(kind), &to_device);
  uint64_t t0 = lg ? os_now_ns() : 0;
  cudaError_t e = get_cudaMemcpy()(dst, src, count, kind);
  if (lg && e == cudaSuccess) count_copy(count, to_device, os_now_ns() - t0);
  return e;
}

/* From or to a block we pinned, an async copy would really be asynchronous;
 * the program allocated the block as pageable and may rely on pageable
 * semantics, so wait for the stream before returning. Not while the stream
 * is being captured into a graph: synchronising would end the capture, and
 * the captured copy runs at replay, when the program expects it to. */
static bool stream_capturing(cudaStream_t stream, bool runtime) {
  int status = 0;
  if (runtime) return get_cudaStreamIsCapturing() && get_cudaStreamIsCapturing()(stream, &status) == 0 && status != 0;
  return get_cuStreamIsCapturing() && get_cuStreamIsCapturing()(stream, &status) == 0 && status != 0;
}

UMA_EXPORT cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, int kind, cudaStream_t stream) {
  if (get_cudaMemcpyAsync() == NULL) return NO_CUDA;
  cuda_pin_entry();
  bool to_device = false;
  uma_large_t *lg = get_cudaStreamSynchronize() && !stream_capturing(stream, true)
                        ? copy_host_block(dst, src, count, kind_src_host(kind), kind_dst_host(kind), &to_device)
                        : NULL;
  uint64_t t0 = lg ? os_now_ns() : 0;
  cudaError_t e = get_cudaMemcpyAsync()(dst, src, count, kind, stream);
  if (lg && e == cudaSuccess) {
    e = get_cudaStreamSynchronize()(stream);
    count_copy(count, to_device, os_now_ns() - t0);
  }
  return e;
}

/* The driver's copies: the same, with unified addressing (cuMemcpy,
 * cuMemcpyAsync: either side may be host memory) or the direction in the
 * name. One helper runs each: `copy` makes the real call. */
typedef struct { CUdeviceptr dst, src; size_t count; CUstream stream; int which; } drv_copy_t;
enum { DRV_COPY, DRV_COPY_ASYNC, DRV_HTOD, DRV_DTOH, DRV_HTOD_ASYNC, DRV_DTOH_ASYNC };

static CUresult drv_real(const drv_copy_t *c) {
  switch (c->which) {
  case DRV_COPY: return get_cuMemcpy() ? get_cuMemcpy()(c->dst, c->src, c->count) : NO_CUDA;
  case DRV_COPY_ASYNC: return get_cuMemcpyAsync() ? get_cuMemcpyAsync()(c->dst, c->src, c->count, c->stream) : NO_CUDA;
  case DRV_HTOD: return get_cuMemcpyHtoD_v2() ? get_cuMemcpyHtoD_v2()(c->dst, (const void *)c->src, c->count) : NO_CUDA;
  case DRV_DTOH: return get_cuMemcpyDtoH_v2() ? get_cuMemcpyDtoH_v2()((void *)c->dst, c->src, c->count) : NO_CUDA;
  case DRV_HTOD_ASYNC:
    return get_cuMemcpyHtoDAsync_v2() ? get_cuMemcpyHtoDAsync_v2()(c->dst, (const void *)c->src, c->count, c->stream)
                                      : NO_CUDA;
  default:
    return get_cuMemcpyDtoHAsync_v2() ? get_cuMemcpyDtoHAsync_v2()((void *)c->dst, c->src, c->count, c->stream)
                                      : NO_CUDA;
  }
}

static CUresult drv_copy(drv_copy_t c) {
  cuda_pin_entry();
  bool async = c.which == DRV_COPY_ASYNC || c.which == DRV_HTOD_ASYNC || c.which == DRV_DTOH_ASYNC;
  bool src_host = c.which == DRV_COPY || c.which == DRV_COPY_ASYNC || c.which == DRV_HTOD || c.which == DRV_HTOD_ASYNC;
  bool dst_host = c.which == DRV_COPY || c.which == DRV_COPY_ASYNC || c.which == DRV_DTOH || c.which == DRV_DTOH_ASYNC;
  bool to_device = false;
  uma_large_t *lg = NULL;
  if (!async || (get_cuStreamSynchronize() && !stream_capturing(c.stream, false)))
    lg = copy_host_block((const void *)c.dst, (const void *)c.src, c.count, src_host, dst_host, &to_device);
  uint64_t t0 = lg ? os_now_ns() : 0;
  CUresult r = drv_real(&c);
  if (lg && r == 0) {
    if (async) r = get_cuStreamSynchronize()(c.stream);
    count_copy(c.count, to_device, os_now_ns() - t0);
  }
  return r;
}

UMA_EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t count) {
  return drv_copy((drv_copy_t){ dst, src, count, NULL, DRV_COPY });
}
UMA_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t count, CUstream stream) {
  return drv_copy((drv_copy_t){ dst, src, count, stream, DRV_COPY_ASYNC });
}
UMA_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t count) {
  return drv_copy((drv_copy_t){ dst, (CUdeviceptr)src, count, NULL, DRV_HTOD });
}
UMA_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t count) {
  return drv_copy((drv_copy_t){ (CUdeviceptr)dst, src, count, NULL, DRV_DTOH });
}
UMA_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t count, CUstream stream) {
  return drv_copy((drv_copy_t){ dst, (CUdeviceptr)src, count, stream, DRV_HTOD_ASYNC });
}
UMA_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t count, CUstream stream) {
  return drv_copy((drv_copy_t){ (CUdeviceptr)dst, src, count, stream, DRV_DTOH_ASYNC });
}

/* For the routes around the PLT (cuda_driver.c). */
const driver_wrapper_t copy_wrappers[] = {
  { "cuMemcpy", "cuMemcpy", 0, (void *)cuMemcpy, (void **)&real_cuMemcpy, true, NULL },
  { "cuMemcpyAsync", "cuMemcpyAsync", 0, (void *)cuMemcpyAsync, (void **)&real_cuMemcpyAsync, true, NULL },
  { "cuMemcpyHtoD", "cuMemcpyHtoD_v2", 3020, (void *)cuMemcpyHtoD_v2, (void **)&real_cuMemcpyHtoD_v2, true, NULL },
  { "cuMemcpyDtoH", "cuMemcpyDtoH_v2", 3020, (void *)cuMemcpyDtoH_v2, (void **)&real_cuMemcpyDtoH_v2, true, NULL },
  { "cuMemcpyHtoDAsync", "cuMemcpyHtoDAsync_v2", 3020, (void *)cuMemcpyHtoDAsync_v2,
    (void **)&real_cuMemcpyHtoDAsync_v2, true, NULL },
  { "cuMemcpyDtoHAsync", "cuMemcpyDtoHAsync_v2", 3020, (void *)cuMemcpyDtoHAsync_v2,
    (void **)&real_cuMemcpyDtoHAsync_v2, true, NULL },
  { NULL, NULL, 0, NULL, NULL, false, NULL },
};
