/* pinned.h — transparent pinning of large blocks (pinned.c). */
#ifndef UMA_PINNED_H
#define UMA_PINNED_H
#include "../core/base.h"
#include "../core/json.h"
#include "../core/layout.h"
#include "device_pool.h"

typedef struct pin_stats_s {
  uint64_t registrations, refused, over_cap, register_ns;
  uint64_t bytes, peak_bytes;                 /* registered now, and the most */
  uint64_t copies, copy_bytes, copy_ns;       /* copies from or to blocks we pinned */
  uint64_t h2d_bytes, d2h_bytes;
  uint64_t program_registrations;             /* the program's cudaHostRegister inside a block we had registered */
  uint64_t program_first;                     /* blocks the program had registered before us: left to it */
} pin_stats_t;
UMA_HIDDEN extern pin_stats_t pin_stats;      /* under pin_lock */
UMA_HIDDEN extern pthread_mutex_t pin_lock;
UMA_HIDDEN extern uint8_t pin_mode;           /* [cuda] pinned: UMA_PINNED_* for blocks no rule governs */
UMA_HIDDEN extern bool pin_pool_enabled;      /* [cuda] pinned_pool */
UMA_HIDDEN extern uint64_t pin_min, pin_max;
/* The host back end (backends.h), set by interpose/cuda_copy.c once CUDA
 * is in use: registrations are made and given back through it, a block's
 * before its mapping is unmapped or moved. NULL: CUDA not in use. */
UMA_HIDDEN extern const dev_backend_t *pin_backend;
UMA_HIDDEN extern uint64_t pin_quota;   /* [limits] pinned; 0: none */
UMA_HIDDEN extern _Atomic uint64_t pin_quota_refusals;
UMA_HIDDEN bool pin_quota_allows(size_t more);     /* before more host memory is page-locked */
UMA_HIDDEN uint64_t pin_quota_in_use(void);
UMA_HIDDEN void pin_install(void);   /* registers its hooks (large.h) and fork handlers */
UMA_HIDDEN uint8_t pin_mode_for(const uma_large_t *lg);
UMA_HIDDEN bool pin_retire(uma_large_t *lg);                        /* large_unmap: true when deferred */
UMA_HIDDEN void pin_on_alloc(uma_large_t *lg, bool reused);          /* large_alloc: eager blocks wait for CUDA */
UMA_HIDDEN void pin_on_release(uma_large_t *lg);                     /* freed or about to move: no longer waiting */
/* From CUDA entry points only: unregister and unmap retired blocks, register
 * the eager ones waiting. */
UMA_HIDDEN void pin_drain(void);
UMA_HIDDEN bool pin_block(uma_large_t *lg);
/* The program's cudaHostRegister / cudaHostUnregister of [p, p+size): */
enum { PIN_PASS = -1, PIN_ANSWERED = 0, PIN_INVALID = 1, PIN_ALREADY = 712, PIN_NOT_REGISTERED = 713 /* CUDA's codes */ };
UMA_HIDDEN extern bool pin_pageable_only;   /* memory pressure: no new registrations (limits.c) */
UMA_HIDDEN int pin_program_register(void *p, size_t size);   /* PIN_PASS: call CUDA */
UMA_HIDDEN int pin_program_unregister(void *p);              /* PIN_PASS: call CUDA */
UMA_HIDDEN void pin_fork_prepare(void);
UMA_HIDDEN void pin_fork_parent(void);
UMA_HIDDEN void pin_fork_child(void);
UMA_HIDDEN void pin_write_text(int fd);
UMA_HIDDEN void pin_write_json(uma_json_t *j);

#endif
