/* interpose.h — what the entry-point files share: exporting a symbol, and
 * finding the real function behind one we interpose. */
#ifndef UMA_INTERPOSE_H
#define UMA_INTERPOSE_H
#include "../core/base.h"
#include "../cuda/device_pool.h"

#define UMA_EXPORT __attribute__((visibility("default")))

/* A driver entry point we wrap, for the routes that bypass the PLT
 * (cuGetProcAddress, cudaGetDriverEntryPoint, dlsym on a libcuda handle):
 * asked for `base` at a version ≥ `since`, the driver answers with `name`'s
 * ABI, and we answer with `wrapper`, whose real function is kept in *real.
 * A copy (`stream_copy`) is substituted only where the legacy default stream
 * was asked for: the per-thread-stream variants are other functions. */
typedef struct driver_wrapper_s {
  const char *base, *name;
  int since;
  void *wrapper;
  void **real;
  bool stream_copy;
  void *const *via;   /* NULL, or the wrapper's door per DEV_ROUTE_* (UMA_DOORS) */
} driver_wrapper_t;

/* NAME_doors: one door per route into the wrapper NAME, each noting the
 * route for the report (dev_route) — a pool's allocation entry points have
 * them, so the report can say how each allocation reached us. */
#define UMA_DOOR(name, route, ret, params, args) \
  static ret name##_##route params {             \
    dev_route = DEV_ROUTE_##route;                \
    ret r_ = name args;                           \
    dev_route = DEV_ROUTE_PLT;                    \
    return r_;                                    \
  }
#define UMA_DOORS(name, ret, params, args)                                                    \
  UMA_DOOR(name, PROC, ret, params, args)                                                     \
  UMA_DOOR(name, ENTRY, ret, params, args)                                                    \
  UMA_DOOR(name, DLSYM, ret, params, args)                                                    \
  static void *const name##_doors[DEV_ROUTES] = { (void *)name, (void *)name##_PROC, (void *)name##_ENTRY, \
                                                  (void *)name##_DLSYM };
/* The driver wrappers of the host-memory entry points, each table ending
 * with a NULL base: cuda_pinned_pool.c, cuda_copy.c, cuda_register.c. */
UMA_HIDDEN extern const driver_wrapper_t pinned_pool_wrappers[], copy_wrappers[], register_wrappers[];
/* cuda_copy.c: at every CUDA call that reaches us, registrations to give
 * back and eager blocks to register (transparent pinning). */
UMA_HIDDEN void cuda_pin_entry(void);

UMA_HIDDEN void libc_heap_init(void);   /* libc_heap.c: glibc's blocks reaching our free */

/* interpose/cuda_driver.c, for the dlsym route: */
UMA_HIDDEN bool driver_wraps(const char *name);
UMA_HIDDEN void *driver_wrap(const char *name, void *real);
UMA_HIDDEN void copy_init(void);   /* interpose/copy.c: the C library's memcpy and memmove */

#endif
