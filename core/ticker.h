/* ticker.h — the helper thread (ticker.c). */
#ifndef UMA_TICKER_H
#define UMA_TICKER_H
#include "base.h"

/* What the helper thread does besides the purge pass, registered by each
 * module as it starts (the timeline, the periodic report, the quotas, the
 * live page); the thread names none of them. `wanted`: worth starting the
 * thread for now; `period`: the longest sleep it allows while the thread
 * runs (0: any); `run`: called at every wake-up (it keeps its own clock). */
typedef struct ticker_job_s {
  bool (*wanted)(void);
  uint64_t (*period)(void);
  void (*run)(uint64_t now_ms);
} ticker_job_t;
#define TICKER_JOBS 4
UMA_HIDDEN void ticker_add(const ticker_job_t *job);   /* a job already there is not added twice */
UMA_HIDDEN void ticker_ensure(void);
UMA_HIDDEN bool ticker_running(void);
UMA_HIDDEN void ticker_fork_child(void);

#endif
