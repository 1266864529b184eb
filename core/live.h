/* live.h — the live view's page ([report] live, live.c). */
#ifndef UMA_LIVE_H
#define UMA_LIVE_H
#include "base.h"

UMA_HIDDEN extern uint8_t live_mode;          /* LIVE_AUTO, LIVE_YES, LIVE_NO (live_page.h) */
UMA_HIDDEN void live_init(void);              /* the job and rank, from the environment */
UMA_HIDDEN bool live_wanted(void);            /* the helper thread must run for it */
UMA_HIDDEN void live_publish(uint64_t now_ms);   /* the helper thread, each tick */
UMA_HIDDEN void live_close(void);             /* at exit */
UMA_HIDDEN void live_fork_child(void);

#endif
