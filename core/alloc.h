/* alloc.h — the allocation API (alloc.c): uma_* are public aliases of these. */
#ifndef UMA_ALLOC_H
#define UMA_ALLOC_H
#include "base.h"
#include "heap.h"

/* `ra` is the program's return address (rules may match the calling library). */
UMA_HIDDEN void *alloc_malloc(size_t size, const void *ra);
UMA_HIDDEN void *alloc_calloc(size_t count, size_t size, const void *ra);
UMA_HIDDEN void *alloc_realloc(void *p, size_t size, const void *ra);
UMA_HIDDEN void *alloc_aligned(size_t alignment, size_t size, const void *ra);
UMA_HIDDEN void alloc_free(void *p);
UMA_HIDDEN size_t alloc_usable_size(const void *p);
UMA_HIDDEN bool alloc_owns(const void *p);
UMA_HIDDEN bool alloc_purge_for_retry(size_t size);
/* Another allocator whose blocks may reach our free (the preload sets it
 * to glibc's: interpose/libc_heap.c): asked only about pointers the core
 * does not own, before it diagnoses them. NULL in libumacore.a. */
typedef struct uma_foreign_heap_s {
  bool (*owns)(const void *p);
  void (*free)(void *p);
  void *(*realloc)(void *p, size_t size);
  size_t (*usable)(const void *p);
} uma_foreign_heap_t;
UMA_HIDDEN extern const uma_foreign_heap_t *uma_foreign_heap;

UMA_HIDDEN void alloc_count_large_in_place(size_t old_bytes, size_t new_request, size_t new_bytes);
UMA_HIDDEN void *alloc_malloc_slow(size_t size, const void *ra);
UMA_HIDDEN void *alloc_in_heap(uma_heap_t *heap, size_t size, size_t align, bool zero, const void *ra);

#endif
