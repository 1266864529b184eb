/* ticker.h — the helper thread (ticker.c). */
#ifndef UMA_TICKER_H
#define UMA_TICKER_H
#include "base.h"

UMA_HIDDEN void ticker_configure(uint64_t timeline_ms, uint64_t snapshot_ms, void (*snapshot)(void));
UMA_HIDDEN void ticker_ensure(void);
UMA_HIDDEN bool ticker_running(void);
UMA_HIDDEN void ticker_fork_child(void);

#endif
