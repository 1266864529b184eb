/* device_share.h — sharing one GPU between processes (device_share.c). */
#ifndef UMA_DEVICE_SHARE_H
#define UMA_DEVICE_SHARE_H
#include "../core/base.h"
#include "cuda_types.h"

/* Sharing one GPU between processes (device_share.c). */
UMA_HIDDEN extern uint64_t dev_share_wait_ms;  /* [cuda] share_wait; 0: off */
/* What the sharing helper asks of this process's pools (device_pool.c
 * hands it over): idle bytes on a device, giving them back, and whether a
 * stream capture is running (no CUDA call of ours may break it). */
typedef struct dev_share_pools_s {
  uint64_t (*idle)(int device);
  void (*release)(int device);
  bool (*capturing)(void);
} dev_share_pools_t;
UMA_HIDDEN void dev_share_attach(int device, const char *bus_id, const dev_share_pools_t *pools);
UMA_HIDDEN void dev_share_publish(int device);
UMA_HIDDEN bool dev_share_wait(int device, size_t need);
UMA_HIDDEN void dev_share_fork_child(void);

#endif
