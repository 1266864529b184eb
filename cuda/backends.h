/* backends.h — the CUDA calls the pools and pinning make, one back end per
 * API (runtime_backend.c, driver_backend.c, host_backend.c). The entry
 * points (interpose/cuda_*.c) hand them to the pools at first use; the
 * pools and pinning reach CUDA only through them. */
#ifndef UMA_BACKENDS_H
#define UMA_BACKENDS_H
#include "device_pool.h"

UMA_HIDDEN extern const dev_backend_t cuda_runtime_backend, cuda_driver_backend, cuda_host_backend;
UMA_HIDDEN bool cuda_host_ready(void);   /* libcuda's registration and context calls are all there */

#endif
