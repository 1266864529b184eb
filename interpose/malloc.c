/* malloc.c — the glibc malloc ABI, each entry a thin call into the core
 * (include/uma.h), plus glibc's aliases. Semantics follow glibc 2.36; where
 * a call has no meaning here it is accepted and documented as ignored
 * (docs/ARCHITECTURE.md, "The malloc ABI"). */
#include "interpose.h"
#include "../core/alloc_fast.h"
#include "../core/alloc.h"
#include "../core/fmt.h"
#include "../core/trace.h"
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define UMA_ALIAS(name) __attribute__((alias(#name), visibility("default")))

/* The program's return address travels along: rules may match the caller. */
#define RA __builtin_return_address(0)

/* With [report] trace on, every entry records its block (core/trace.c);
 * otherwise the check is one predictable branch. A block leaves the trace
 * before it is freed, so its address, reused at once by another thread,
 * cannot meet its old record. */
static void *traced(void *p, size_t size) {
  if (uma_unlikely(trace_on)) trace_alloc(p, size);
  return p;
}

static UMA_NOINLINE void *traced_realloc(void *p, size_t size, const void *ra) {
  size_t old = p ? alloc_usable_size(p) : 0;
  trace_free(p);
  void *q = alloc_realloc(p, size, ra);
  if (q) trace_alloc(q, size);
  else if (p && size) trace_alloc(p, old);   /* failed: the old block lives on */
  return q;
}

/* malloc's and free's fast paths test nothing for the trace: while it is on,
 * their limits send every call here (alloc_fast.h). */
static UMA_NOINLINE void *malloc_slow(size_t size, const void *ra) {
  if (uma_unlikely(trace_on)) return traced(alloc_malloc(size, ra), size);
  return alloc_malloc_slow(size, ra);
}
static UMA_NOINLINE void free_slow_entry(void *p) {
  if (uma_unlikely(trace_on)) {
    trace_free(p);
    alloc_free(p);
    return;
  }
  free_slow(p, "free");
}

UMA_EXPORT void *malloc(size_t size) { return alloc_malloc_inline(size, RA, malloc_slow); }
/* Every free-like entry: the fast path, else free_slow_entry. */
static inline void free_entry(void *p) { alloc_free_inline(p, free_slow_entry); }
UMA_EXPORT void free(void *p) { free_entry(p); }
UMA_EXPORT void *calloc(size_t n, size_t size) {
  if (uma_unlikely(trace_on)) return traced(alloc_calloc(n, size, RA), n * size);
  return alloc_calloc(n, size, RA);
}
UMA_EXPORT void *realloc(void *p, size_t size) {
  if (uma_unlikely(trace_on)) return traced_realloc(p, size, RA);
  return alloc_realloc(p, size, RA);
}
UMA_EXPORT size_t malloc_usable_size(void *p) { return alloc_usable_size(p); }

UMA_EXPORT void *reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  if (uma_unlikely(trace_on)) return traced_realloc(p, total, RA);
  return alloc_realloc(p, total, RA);
}

/* glibc's memalign rounds a non-power-of-two alignment up to one. */
UMA_EXPORT void *memalign(size_t alignment, size_t size) {
  if (alignment > ((size_t)1 << 62)) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment == 0) alignment = 1;
  if (alignment & (alignment - 1)) alignment = (size_t)1 << (64 - __builtin_clzl(alignment));
  return traced(alloc_aligned(alignment, size, RA), size);
}

/* C11 asks for a power of two; glibc ≥ 2.38 returns EINVAL otherwise, and so do we. */
UMA_EXPORT void *aligned_alloc(size_t alignment, size_t size) {
  return traced(alloc_aligned(alignment, size, RA), size);
}

UMA_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
  if (alignment == 0 || alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0)
    return EINVAL;
  int saved = errno;
  void *p = alloc_aligned(alignment, size, RA);
  errno = saved;
  if (p == NULL) return ENOMEM;
  *out = traced(p, size);
  return 0;
}

UMA_EXPORT void *valloc(size_t size) { return traced(alloc_aligned(UMA_OS_PAGE, size, RA), size); }

UMA_EXPORT void *pvalloc(size_t size) {
  size_t rounded = (size + UMA_OS_PAGE - 1) & ~(UMA_OS_PAGE - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return NULL;
  }
  return traced(alloc_aligned(UMA_OS_PAGE, rounded ? rounded : UMA_OS_PAGE, RA), size);
}

/* C23: the size and alignment are hints we do not need (the block knows). */
UMA_EXPORT void free_sized(void *p, size_t size) { (void)size; free_entry(p); }
UMA_EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size) {
  (void)alignment;
  (void)size;
  free_entry(p);
}
UMA_EXPORT void cfree(void *p) { free_entry(p); }

/* Returns 1 when memory went back to the OS, as glibc does; `pad` is ignored
 * because everything free is returned. */
UMA_EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  uma_stats_t before, after;
  uma_stats_get(&before);
  uma_collect(true);
  uma_stats_get(&after);
  return after.purged_bytes > before.purged_bytes || after.mapped_bytes < before.mapped_bytes;
}

/* glibc's fields, filled from our counters: arena = mapped, uordblks = live,
 * fordblks = mapped − live, hblks/hblkhd = large blocks; the rest are 0. */
UMA_EXPORT struct mallinfo2 mallinfo2(void) {
  uma_stats_t s;
  uma_stats_get(&s);
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  mi.arena = s.mapped_bytes;
  mi.uordblks = s.live_bytes;
  mi.fordblks = s.mapped_bytes > s.live_bytes ? s.mapped_bytes - s.live_bytes : 0;
  mi.ordblks = 1;
  mi.hblks = s.large_allocs;
  mi.usmblks = 0;
  return mi;
}

UMA_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m2 = mallinfo2();
  struct mallinfo mi;
  memset(&mi, 0, sizeof mi);
  mi.arena = (int)m2.arena;
  mi.ordblks = (int)m2.ordblks;
  mi.hblks = (int)m2.hblks;
  mi.uordblks = (int)m2.uordblks;
  mi.fordblks = (int)m2.fordblks;
  return mi;
}

/* Accepted and ignored: glibc's tunables (arenas, thresholds, top pad, …)
 * describe glibc's own heap. Returns 1 (success) as glibc does. */
UMA_EXPORT int mallopt(int param, int value) {
  (void)param;
  (void)value;
  return 1;
}

UMA_EXPORT void malloc_stats(void) { uma_report_write(STDERR_FILENO); }

/* Called by the program, never inside malloc: the stream may allocate. */
UMA_EXPORT int malloc_info(int options, FILE *fp) {
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
  uma_stats_t s;
  uma_stats_get(&s);
  char text[512];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "<malloc version=\"uma-preload-1\">\n<total type=\"mapped\" size=\"");
  buf_u64(&b, s.mapped_bytes);
  buf_str(&b, "\"/>\n<total type=\"live\" size=\"");
  buf_u64(&b, s.live_bytes);
  buf_str(&b, "\" count=\"");
  buf_u64(&b, s.live_blocks);
  buf_str(&b, "\"/>\n<total type=\"large\" count=\"");
  buf_u64(&b, s.large_allocs);
  buf_str(&b, "\"/>\n<system type=\"current\" size=\"");
  buf_u64(&b, s.mapped_bytes);
  buf_str(&b, "\"/>\n<system type=\"max\" size=\"");
  buf_u64(&b, s.peak_mapped_bytes);
  buf_str(&b, "\"/>\n</malloc>\n");
  return fputs(text, fp) < 0 ? -1 : 0;
}

/* Names glibc-linked code can reach directly. */
#pragma GCC diagnostic ignored "-Wmissing-attributes"
void *__libc_malloc(size_t size) UMA_ALIAS(malloc);
void __libc_free(void *p) UMA_ALIAS(free);
void *__libc_calloc(size_t n, size_t size) UMA_ALIAS(calloc);
void *__libc_realloc(void *p, size_t size) UMA_ALIAS(realloc);
void *__libc_memalign(size_t alignment, size_t size) UMA_ALIAS(memalign);
void *__libc_valloc(size_t size) UMA_ALIAS(valloc);
void *__libc_pvalloc(size_t size) UMA_ALIAS(pvalloc);
int __posix_memalign(void **out, size_t alignment, size_t size) UMA_ALIAS(posix_memalign);
