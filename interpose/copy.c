/* copy.c — memcpy and memmove (and their _FORTIFY_SOURCE forms): a copy of
 * at least [alias] cow_min between two blocks of a rule with alias = cow
 * shares pages instead of moving bytes (core/cow.c); every other copy goes
 * to the C library's own at the cost of one comparison. cow_min is
 * UINT64_MAX unless some rule asks for cow.
 *
 * The C library's functions are looked up once, from the preload's
 * constructor (dlsym is not async-signal-safe, memcpy is). Copies before
 * that — constructors of libraries loaded before us — use the core's loop. */
#define _GNU_SOURCE   /* RTLD_NEXT */
#include "interpose.h"
#include "../core/symbols.h"
#include "../core/bytes.h"
#include "../core/cow.h"
#include <dlfcn.h>
#include <stdlib.h>

static void *(*real_memcpy)(void *, const void *, size_t);
static void *(*real_memmove)(void *, const void *, size_t);
static void *(*real_memcpy_chk)(void *, const void *, size_t, size_t);
static void *(*real_memmove_chk)(void *, const void *, size_t, size_t);

void copy_init(void) {
  real_memmove = (void *(*)(void *, const void *, size_t))dlsym_raw(RTLD_NEXT, "memmove");
  real_memcpy = (void *(*)(void *, const void *, size_t))dlsym_raw(RTLD_NEXT, "memcpy");
  real_memcpy_chk = (void *(*)(void *, const void *, size_t, size_t))dlsym_raw(RTLD_NEXT, "__memcpy_chk");
  real_memmove_chk = (void *(*)(void *, const void *, size_t, size_t))dlsym_raw(RTLD_NEXT, "__memmove_chk");
  bytes_use_libc(real_memcpy, real_memmove);
}

UMA_EXPORT void *memcpy(void *dst, const void *src, size_t n) {
  if (uma_unlikely(n >= cow_min) && cow_copy(dst, src, n)) return dst;
  return real_memcpy ? real_memcpy(dst, src, n) : bytes_move_loop(dst, src, n);
}

UMA_EXPORT void *memmove(void *dst, const void *src, size_t n) {
  if (uma_unlikely(n >= cow_min) && cow_copy(dst, src, n)) return dst;   /* overlapping ranges are never aliased */
  return real_memmove ? real_memmove(dst, src, n) : bytes_move_loop(dst, src, n);
}

/* The checked forms: an overflow is the C library's to report. */
UMA_EXPORT void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dst_len) {
  if (uma_unlikely(n >= cow_min) && n <= dst_len && cow_copy(dst, src, n)) return dst;
  if (real_memcpy_chk) return real_memcpy_chk(dst, src, n, dst_len);
  if (n > dst_len) abort();
  return memcpy(dst, src, n);
}

UMA_EXPORT void *__memmove_chk(void *dst, const void *src, size_t n, size_t dst_len) {
  if (uma_unlikely(n >= cow_min) && n <= dst_len && cow_copy(dst, src, n)) return dst;
  if (real_memmove_chk) return real_memmove_chk(dst, src, n, dst_len);
  if (n > dst_len) abort();
  return memmove(dst, src, n);
}
