/* cuda_register.c — the program's own cudaHostRegister and
 * cudaHostUnregister (and the driver's cuMemHostRegister(_v2),
 * cuMemHostUnregister). */
#include "interpose.h"
#include "../core/symbols.h"
#include "../cuda/backends.h"
#include "../cuda/pinned.h"

#define RT(ret, name, params) UMA_REAL(ret, name, params, cudart_sonames)
#define DRV(ret, name, params) UMA_REAL(ret, name, params, cuda_sonames)
RT(cudaError_t, cudaHostRegister, (void *, size_t, unsigned))
RT(cudaError_t, cudaHostUnregister, (void *))
DRV(CUresult, cuMemHostRegister_v2, (void *, size_t, unsigned))
DRV(CUresult, cuMemHostUnregister, (void *))
DRV(CUresult, cuMemHostRegister, (void *, size_t, unsigned))

/* Inside a block we registered they are answered here (pinned.c says why);
 * elsewhere, and while libcudart calls the driver for the program, CUDA
 * answers. A block the program registered first is never registered by us
 * (CUDA refuses ours: 712), so its cudaHostUnregister is always its own. */
static int program_register(void *p, size_t size) {
  if (!dev_enabled || dev_in_backend || p == NULL || size == 0) return PIN_PASS;
  cuda_pin_entry();
  return pin_program_register(p, size);
}
static int program_unregister(void *p) {
  return dev_enabled && !dev_in_backend && p ? pin_program_unregister(p) : PIN_PASS;
}

UMA_EXPORT cudaError_t cudaHostRegister(void *p, size_t size, unsigned flags) {
  int e = program_register(p, size);
  if (e != PIN_PASS) return e;
  if (get_cudaHostRegister() == NULL) return NO_CUDA;
  dev_in_backend++;   /* libcudart's own driver call comes back to our driver wrapper: let it through */
  e = get_cudaHostRegister()(p, size, flags);
  dev_in_backend--;
  return e;
}
UMA_EXPORT cudaError_t cudaHostUnregister(void *p) {
  int e = program_unregister(p);
  if (e != PIN_PASS) return e;
  if (get_cudaHostUnregister() == NULL) return NO_CUDA;
  dev_in_backend++;
  e = get_cudaHostUnregister()(p);
  dev_in_backend--;
  return e;
}
UMA_EXPORT CUresult cuMemHostRegister_v2(void *p, size_t size, unsigned flags) {
  int e = program_register(p, size);
  if (e != PIN_PASS) return e;
  return get_cuMemHostRegister_v2() ? get_cuMemHostRegister_v2()(p, size, flags) : NO_CUDA;
}
UMA_EXPORT CUresult cuMemHostRegister(void *p, size_t size, unsigned flags) {   /* the pre-6.5 name, same ABI */
  int e = program_register(p, size);
  if (e != PIN_PASS) return e;
  return get_cuMemHostRegister() ? get_cuMemHostRegister()(p, size, flags) : NO_CUDA;
}
UMA_EXPORT CUresult cuMemHostUnregister(void *p) {
  int e = program_unregister(p);
  if (e != PIN_PASS) return e;
  return get_cuMemHostUnregister() ? get_cuMemHostUnregister()(p) : NO_CUDA;
}

/* For the routes around the PLT (cuda_driver.c). */
const driver_wrapper_t register_wrappers[] = {
  { "cuMemHostRegister", "cuMemHostRegister_v2", 6050, (void *)cuMemHostRegister_v2, (void **)&real_cuMemHostRegister_v2,
    false, NULL },
  { "cuMemHostUnregister", "cuMemHostUnregister", 0, (void *)cuMemHostUnregister, (void **)&real_cuMemHostUnregister,
    false, NULL },
  { NULL, NULL, 0, NULL, NULL, false, NULL },
};
