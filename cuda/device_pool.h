/* device_pool.h — the GPU device and pinned-host pools (device_pool.c). */
#ifndef UMA_DEVICE_POOL_H
#define UMA_DEVICE_POOL_H
#include "../core/base.h"
#include "cuda_types.h"
#include "../core/extents.h"

/* The pinned host pool (cudaHostAlloc, cuMemHostAlloc) is the same kind of
 * pool over registered host chunks: "device" there is the GPU the chunk is
 * placed near (its NUMA node). */
enum { DEV_API_RUNTIME, DEV_API_DRIVER, DEV_API_HOST, DEV_APIS };
#define DEV_DEVICE_APIS 2                  /* runtime and driver: device memory */
#define DEV_POOLS (DEV_APIS * DEV_MAX)     /* pool id = api * DEV_MAX + device */
/* How a program reached a pool's entry point: its own call through the PLT
 * (cudaMalloc, cuMemAlloc), a pointer from cuGetProcAddress (the static
 * CUDA runtime's way, and the shared one's), from cudaGetDriverEntryPoint
 * (PyTorch's), or from dlsym on a libcuda handle. */
enum { DEV_ROUTE_PLT, DEV_ROUTE_PROC, DEV_ROUTE_ENTRY, DEV_ROUTE_DLSYM, DEV_ROUTES };
/* Device memory CUDA serves itself, counted (never pooled): stream-ordered
 * (cudaMallocAsync), pitched, managed, and CUDA's virtual memory API
 * (cuMemCreate: PyTorch's expandable segments). */
enum { DEV_PASS_ASYNC, DEV_PASS_PITCH, DEV_PASS_MANAGED, DEV_PASS_VMM, DEV_PASSES };
typedef struct dev_stats_s {
  uint64_t reserved, peak_reserved;        /* bytes held from cudaMalloc */
  uint64_t allocated, peak_allocated;      /* in blocks handed out */
  uint64_t requested;                      /* cumulative bytes asked for */
  uint64_t cached, pending;                /* free: ready now / waiting for a fence */
  uint64_t allocs, frees, hits, segments_mapped, segments_released, fences, oom_retries;
  uint64_t passthrough_allocs, passthrough_bytes;   /* served by CUDA directly: all kinds */
  uint64_t pass_allocs[DEV_PASSES], pass_bytes[DEV_PASSES];   /* … by kind */
  uint64_t route_allocs[DEV_ROUTES];                /* allocations the pool served, by route */
  uint64_t granules_mapped, granules_unmapped;      /* expandable segments: granules backed / given back */
  uint64_t chunks_mapped, chunks_unmapped;          /* … in how many cuMemCreate+cuMemMap / cuMemUnmap calls */
  uint64_t expandable_va;                           /* the virtual range reserved (0: none) */
  uint64_t plan_served, plan_plans, plan_deviations;   /* [plan] device = auto: from the arena */
  uint64_t plan_arena, plan_arena_peak, plan_live_bound, plan_fences;
  uint64_t plan_reserved_before, plan_reserved_peak;   /* peak reserved before the first arena, and the most since */
  uint64_t share_waits, share_released;    /* waits for other processes' idle memory; bytes given back for them */
  uint64_t quota_refusals;                 /* segments not mapped: [limits] gpu */
  uint64_t fences_refused;                 /* fences not run (a stream capture in progress) or failed: pending kept */
} dev_stats_t;
/* The CUDA calls the pool makes; 0 or a CUDA error code. */
typedef struct dev_backend_s {
  int (*map)(int device, size_t size, uintptr_t *out);   /* cudaMalloc */
  void (*unmap)(int device, uintptr_t addr);             /* cudaFree */
  int (*fence)(int device);                              /* wait for all work issued so far; 0: done */
  void (*clear_error)(void);                             /* cudaGetLastError */
  /* CUDA's virtual memory API, for expandable segments (NULL: not offered).
   * reserve: a virtual range of about *size bytes (set to what was
   * reserved) and the mapping granularity; map_range: back [addr, addr+size)
   * (granule multiples) with one fresh physical allocation; unmap_range:
   * give one back, whole. */
  int (*reserve)(int device, size_t *size, uintptr_t *va, size_t *granule);
  int (*map_range)(int device, uintptr_t addr, size_t size, uint64_t *handle);
  void (*unmap_range)(int device, uintptr_t addr, size_t size, uint64_t handle);
  /* For sharing a GPU between processes (device_share.c; NULL: not offered):
   * the device's PCI bus id; make a thread of ours (enter) ready to call
   * CUDA for the device, and undo it (leave). */
  int (*bus_id)(int device, char *out, size_t cap);
  void (*foreign_thread)(int device, bool enter);
  /* Page-locking host memory for DMA (the host back end; NULL elsewhere):
   * the pinned pool's chunks and transparent pinning (pinned.c) both
   * register through it. 0 or a CUDA error (712: already registered). */
  int (*register_range)(void *base, size_t size);
  void (*unregister_range)(void *base);
} dev_backend_t;
UMA_HIDDEN extern size_t dev_round;
UMA_HIDDEN extern uint64_t dev_max_reserved, dev_release_threshold, dev_quota;
UMA_HIDDEN extern bool dev_enabled, dev_dlsym_route, dev_expandable;
UMA_HIDDEN extern bool dev_forked_child;   /* CUDA was in use before fork: the pools are off here */
UMA_HIDDEN void dev_pool_init(int api, const dev_backend_t *be);
UMA_HIDDEN int dev_alloc(int id, size_t size, uintptr_t *out);
UMA_HIDDEN bool dev_free(int id, uintptr_t addr);
UMA_HIDDEN int dev_owner(int api, uintptr_t addr);
UMA_HIDDEN uint64_t dev_idle_bytes(int device);       /* both APIs' pools */
UMA_HIDDEN void dev_forget(int id);
UMA_HIDDEN void dev_release_idle(int device);   /* another process needs the memory */
UMA_HIDDEN uint64_t dev_device_reserved(int device);   /* both device APIs' pools */
UMA_HIDDEN uint64_t dev_host_reserved(void);           /* the pinned pools' chunks */
UMA_HIDDEN uint64_t dev_release_host_idle(void);       /* their wholly free chunks back; bytes */

UMA_HIDDEN void dev_count_passthrough(int id, int kind, size_t bytes);
UMA_HIDDEN extern UMA_TLS int dev_route;   /* DEV_ROUTE_*: set by the door the call came in by */
UMA_HIDDEN extern bool dev_cuda_seen;       /* a CUDA call reached us (cuInit, a pool) */
/* Stream captures in progress (begin/end capture wrapped): no fence then. */
UMA_HIDDEN extern _Atomic int dev_captures;
UMA_HIDDEN void dev_capture_began(void);
UMA_HIDDEN void dev_capture_ended(void);
UMA_HIDDEN extern const char *const dev_route_names[DEV_ROUTES], *const dev_pass_names[DEV_PASSES];
UMA_HIDDEN bool dev_summary(int id, dev_stats_t *st, uma_frag_pool_t *extents);
/* Set while a pool's backend calls CUDA (or a wrapper calls the real
 * function): libcudart reaches the driver through our wrappers too, and
 * those calls must pass straight through, not nest a second pool. */
UMA_HIDDEN extern UMA_TLS int dev_in_backend;
UMA_HIDDEN bool dev_free_any(uintptr_t addr);                 /* any device, either API */
UMA_HIDDEN bool dev_free_host(uintptr_t addr);                /* a pinned host block, any pool */
UMA_HIDDEN void dev_add_idle(int device, size_t *free_bytes, size_t *total_bytes);   /* and the quota */

#endif
