/* cuda_types.h — what the CUDA layer (cuda/) and the CUDA entry points
 * (interpose/cuda_*.c) know of CUDA's ABI: its types and the codes used
 * here, declared as cuda.h and cuda_runtime_api.h lay them out, so the
 * library builds where no CUDA is installed; and the libraries' names. */
#ifndef UMA_CUDA_TYPES_H
#define UMA_CUDA_TYPES_H
#include "../core/base.h"

typedef int cudaError_t;
typedef void *cudaStream_t;
typedef int CUresult;
typedef void *CUcontext;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
enum { CUDA_SUCCESS = 0, CUDA_ERROR_NOT_FOUND = 500 };
#define NO_CUDA 500                  /* our answer when the library is not there at all */

#define DEV_MAX 16                   /* devices a process's pools serve */

/* libcudart's and libcuda's names (cuda_types.c): a real function is the
 * next definition in the global scope, else that of a copy already loaded
 * privately (RTLD_LOCAL: a module linking it still calls us through its PLT). */
UMA_HIDDEN extern const char *const cudart_sonames[], *const cuda_sonames[];

/* CUDA's virtual memory API, for the pools' expandable segments (vmm.c). */
UMA_HIDDEN int vmm_reserve(int device, size_t *size, uintptr_t *va, size_t *granule);
UMA_HIDDEN int vmm_map_range(int device, uintptr_t addr, size_t size, uint64_t *handle);
UMA_HIDDEN void vmm_unmap_range(int device, uintptr_t addr, size_t size, uint64_t handle);

#endif
