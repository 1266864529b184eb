/* device_share.h — sharing one GPU between processes (device_share.c). */
#ifndef UMA_DEVICE_SHARE_H
#define UMA_DEVICE_SHARE_H
#include "base.h"

/* Sharing one GPU between processes (device_share.c). */
UMA_HIDDEN extern uint64_t dev_share_wait_ms;  /* [cuda] share_wait; 0: off */
UMA_HIDDEN void dev_share_attach(int device, const char *bus_id);
UMA_HIDDEN void dev_share_publish(int device);
UMA_HIDDEN bool dev_share_wait(int device, size_t need);
UMA_HIDDEN void dev_share_fork_child(void);

#endif
