/* helpers.h — shared by the unit tests: resident-page counting with mincore. */
#ifndef UMA_TEST_HELPERS_H
#define UMA_TEST_HELPERS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* Pages of [p, p+len) that are resident; an unmapped range counts as 0. */
static inline size_t resident_pages(const void *p, size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = (uintptr_t)p & ~(page - 1);
  size_t n = ((uintptr_t)p + len - start + page - 1) / page;
  unsigned char vec[n];
  if (mincore((void *)start, n * page, vec) != 0) return 0;
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += vec[i] & 1;
  return count;
}
#endif
