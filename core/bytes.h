/* bytes.h — copying bytes inside the core. Never the exported memcpy: in
 * the preload that is ours (interpose/copy.c), which would test
 * copy-on-write a second time, and the core must behave the same in
 * libumacore.a, where it is the C library's. */
#ifndef UMA_BYTES_H
#define UMA_BYTES_H
#include "base.h"

/* A plain loop until bytes_use_libc; then the C library's own. */
UMA_HIDDEN extern void *(*bytes_copy)(void *dst, const void *src, size_t n);
UMA_HIDDEN extern void *(*bytes_move)(void *dst, const void *src, size_t n);   /* overlap-safe */
UMA_HIDDEN void *bytes_move_loop(void *dst, const void *src, size_t n);
/* The preload's constructor, with the functions behind its own memcpy and memmove. */
UMA_HIDDEN void bytes_use_libc(void *(*copy)(void *, const void *, size_t), void *(*move)(void *, const void *, size_t));

#endif
