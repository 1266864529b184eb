/* mmap_track.h — the program's own anonymous mappings (mmap_track.c). */
#ifndef UMA_MMAP_TRACK_H
#define UMA_MMAP_TRACK_H
#include "base.h"

typedef struct mmap_totals_s { uint64_t maps, remaps, bytes, peak, untracked; } mmap_totals_t;   /* under its lock */
UMA_HIDDEN extern mmap_totals_t mmap_totals;
UMA_HIDDEN void mmap_track_new(void *p, size_t len, const void *ra);
UMA_HIDDEN void mmap_track_gone(void *p, size_t len);
UMA_HIDDEN bool mmap_track_unify_advice(void *p, size_t len);
UMA_HIDDEN void mmap_track_moved(void *old, size_t old_len, void *fresh, size_t new_len);
UMA_HIDDEN void mmap_track_each(void (*visit)(uintptr_t, size_t, unsigned, void *), void *arg);
UMA_HIDDEN size_t mmap_track_ranges(void);
UMA_HIDDEN void mmap_fork_prepare(void);
UMA_HIDDEN void mmap_fork_parent(void);
UMA_HIDDEN void mmap_fork_child(void);

#endif
