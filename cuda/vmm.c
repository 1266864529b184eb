/* vmm.c — CUDA's virtual memory API for the device pool's expandable
 * segments (device_pool.c): reserve a virtual range, back parts of
 * it with device memory (one physical allocation each), give them back.
 * Both pools' backends (runtime and driver) use these; the driver's
 * functions come from the libcuda the program loaded. The structures are declared here as cuda.h lays them out
 * (CUDA 11.2 and later), so the library builds where no CUDA is installed. */
#include "cuda_types.h"
#include "../core/symbols.h"

typedef unsigned long long CUmemGenericAllocationHandle;
typedef struct { int type, id; } vmm_location_t;                  /* CUmemLocation */
typedef struct {                                                   /* CUmemAllocationProp */
  int type;                                                        /* CU_MEM_ALLOCATION_TYPE_PINNED = 1 */
  int requested_handle_types;                                      /* none */
  vmm_location_t location;                                         /* CU_MEM_LOCATION_TYPE_DEVICE = 1 */
  void *win32_metadata;
  struct { unsigned char compression, gpudirect_rdma; unsigned short usage; unsigned char reserved[4]; } flags;
} vmm_prop_t;
typedef struct { vmm_location_t location; int flags; } vmm_access_t;   /* CUmemAccessDesc; READWRITE = 3 */

#define REAL(ret, name, params) UMA_REAL(ret, name, params, cuda_sonames)
REAL(CUresult, cuDeviceTotalMem_v2, (size_t *, int))
REAL(CUresult, cuMemGetAllocationGranularity, (size_t *, const vmm_prop_t *, int))
REAL(CUresult, cuMemAddressReserve, (CUdeviceptr *, size_t, size_t, CUdeviceptr, unsigned long long))
REAL(CUresult, cuMemCreate, (CUmemGenericAllocationHandle *, size_t, const vmm_prop_t *, unsigned long long))
REAL(CUresult, cuMemMap, (CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle, unsigned long long))
REAL(CUresult, cuMemSetAccess, (CUdeviceptr, size_t, const vmm_access_t *, size_t))
REAL(CUresult, cuMemUnmap, (CUdeviceptr, size_t))
REAL(CUresult, cuMemRelease, (CUmemGenericAllocationHandle))

static vmm_prop_t prop_for(int device) {
  vmm_prop_t p = { 0 };
  p.type = 1;
  p.location.type = 1;
  p.location.id = device;
  return p;
}

/* Twice the device's memory: virtual space is plentiful, and a range with
 * room to spare is less likely to be too fragmented to serve a request. */
int vmm_reserve(int device, size_t *size, uintptr_t *va, size_t *granule) {
  if (!get_cuDeviceTotalMem_v2() || !get_cuMemGetAllocationGranularity() || !get_cuMemAddressReserve() ||
      !get_cuMemCreate() || !get_cuMemMap() || !get_cuMemSetAccess() || !get_cuMemUnmap() || !get_cuMemRelease())
    return -1;
  size_t total = 0;
  vmm_prop_t prop = prop_for(device);
  CUresult r = get_cuDeviceTotalMem_v2()(&total, device);
  if (r == 0) r = get_cuMemGetAllocationGranularity()(granule, &prop, 1 /* RECOMMENDED */);
  if (r != 0 || *granule == 0 || total == 0) return r ? r : -1;
  size_t want = (2 * total + *granule - 1) / *granule * *granule;
  CUdeviceptr base = 0;
  if ((r = get_cuMemAddressReserve()(&base, want, *granule, 0, 0)) != 0) return r;
  *va = (uintptr_t)base;
  *size = want;
  return 0;
}

int vmm_map_range(int device, uintptr_t addr, size_t size, uint64_t *handle) {
  vmm_prop_t prop = prop_for(device);
  CUmemGenericAllocationHandle h = 0;
  CUresult r = get_cuMemCreate()(&h, size, &prop, 0);
  if (r != 0) return r;
  if ((r = get_cuMemMap()((CUdeviceptr)addr, size, 0, h, 0)) != 0) {
    get_cuMemRelease()(h);
    return r;
  }
  vmm_access_t access = { { 1, device }, 3 };
  if ((r = get_cuMemSetAccess()((CUdeviceptr)addr, size, &access, 1)) != 0) {
    get_cuMemUnmap()((CUdeviceptr)addr, size);
    get_cuMemRelease()(h);
    return r;
  }
  *handle = h;
  return 0;
}

void vmm_unmap_range(int device, uintptr_t addr, size_t size, uint64_t handle) {
  (void)device;
  get_cuMemUnmap()((CUdeviceptr)addr, size);
  get_cuMemRelease()((CUmemGenericAllocationHandle)handle);
}
