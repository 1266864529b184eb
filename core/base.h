/* base.h — what every core file needs: branch hints, visibility, TLS and the address-space geometry. */
#ifndef UMA_BASE_H
#define UMA_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <pthread.h>
#include "uma.h"

#define uma_likely(x)   __builtin_expect(!!(x), 1)
#define uma_unlikely(x) __builtin_expect(!!(x), 0)
#define UMA_HIDDEN      __attribute__((visibility("hidden")))
#define UMA_NOINLINE    __attribute__((noinline))
#define UMA_COLD        __attribute__((cold, noinline))
#define UMA_TLS         __thread __attribute__((tls_model("initial-exec")))
/* Static tables of a page or more: page-aligned, so that the link's
 * --sort-section=alignment (Makefile) puts them apart from the small
 * variables, and a table a process does not use costs it no resident page. */
#define UMA_TABLE       __attribute__((aligned(4096)))

/* ---- geometry ---------------------------------------------------------- */
#define UMA_OS_PAGE          4096UL
#define UMA_SEG_SHIFT        22                      /* 4 MiB segments */
#define UMA_SEG_SIZE         (1UL << UMA_SEG_SHIFT)
#define UMA_SEG_MASK         (UMA_SEG_SIZE - 1)
#define UMA_SEG_HEADER_SIZE  (16 * 1024UL)           /* page 0's blocks start here */
#define UMA_SMALL_PAGE_SHIFT 16                      /* 64 KiB pages, 64 per segment */
#define UMA_MEDIUM_PAGE_SHIFT 19                     /* 512 KiB pages, 8 per segment */
#define UMA_MAX_PAGES        (UMA_SEG_SIZE >> UMA_SMALL_PAGE_SHIFT)

#define UMA_ALIGN_MIN        16UL                    /* every block is 16-byte aligned */
#define UMA_BLOCK_MAX        (512 * 1024UL)          /* largest class; above is "large" */
#define UMA_CLASS_COUNT      112                     /* classes 0..111: 16 B .. 512 KiB */
#define UMA_SMALL_CLASSES    64                      /* 0..63 (≤ 8 KiB) on 64 KiB pages */
#define UMA_MEDIUM_CLASSES   88                      /* 64..87 (≤ 64 KiB) on 512 KiB pages; the rest: the coalescing pool */

#endif
