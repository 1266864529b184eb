/* live_page.h — the layout of a process's live page (core/live.c writes
 * it, tools/uma-top.c reads it): one 4 KiB page in
 * /dev/shm/uma-preload-live.UID/PID. A reader copies it and keeps the copy
 * only when `seq` was even and unchanged across the copy. Fields are added
 * at the end, with the version raised. */
#ifndef UMA_LIVE_PAGE_H
#define UMA_LIVE_PAGE_H
#include <stdatomic.h>
#include <stdint.h>

#define LIVE_MAGIC 0x554d414cu   /* "UMAL" */
#define LIVE_VERSION 1
#define LIVE_PAGE_SIZE 4096
#define LIVE_GPUS 8
#define LIVE_JOB_LEN 48

typedef struct live_page_s {
  uint32_t magic, version;
  _Atomic uint64_t seq;                 /* odd while being written */
  int32_t pid, ppid;
  int32_t rank, local_rank;             /* from RANK/LOCAL_RANK and the like; -1: none */
  uint64_t start_unix_ms, updated_unix_ms;
  char command[16];
  char job[LIVE_JOB_LEN];               /* "torchrun ID", "slurm ID", "pid PARENT" (a forked child), or "" */
  uint64_t committed, peak_committed;   /* the footprint P, now and its peak */
  uint64_t live, peak_live;             /* L */
  uint64_t resident;                    /* the process's RSS */
  uint64_t pinned;                      /* page-locked host memory */
  uint64_t limit_heap, limit_pinned, limit_gpu;   /* [limits]; 0: none */
  uint32_t gpus;                        /* devices 0..gpus-1 may have pools */
  uint32_t unused;
  uint64_t gpu_reserved[LIVE_GPUS], gpu_idle[LIVE_GPUS];
  uint64_t alarms;
  char last_alarm[160];
} live_page_t;

enum { LIVE_AUTO, LIVE_YES, LIVE_NO };
#endif
