/* libc_heap.c — blocks of glibc's own malloc that reach our free, realloc
 * or malloc_usable_size. A library dlopen()ed with RTLD_DEEPBIND binds
 * malloc to glibc's (its own dependencies come before the global scope, and
 * the preload is in the global scope), and the program then frees those
 * blocks with ours. Without this they were "not allocated here" and the
 * program stopped. The core asks here (uma_foreign_heap) only for pointers
 * it does not own, before it diagnoses one.
 *
 * A pointer is glibc's when glibc has memory at all (mallinfo2) and its
 * chunk header says so the way glibc's own free checks it: a main-arena
 * chunk inside the brk heap, an mmapped chunk whose mapping is page-exact,
 * or a chunk of a non-main arena inside its 64 MiB heap. Headers are read
 * only on pages mincore says are mapped, so a wild pointer is still
 * diagnosed, never dereferenced. Not handled: a DEEPBIND library freeing
 * our blocks with glibc's free (glibc stops the program then). */
#include "interpose.h"
#include "../core/symbols.h"
#include "../core/alloc.h"
#include "../core/os.h"
#include <dlfcn.h>
#include <malloc.h>
#include <sys/syscall.h>

#define CHUNK_HEADER 16
#define IS_MMAPPED 2
#define NON_MAIN_ARENA 4
#define ARENA_HEAP_MAX (64UL << 20)   /* glibc's HEAP_MAX_SIZE on 64-bit */

static void (*libc_free)(void *);
static void *(*libc_realloc)(void *, size_t);
static size_t (*libc_usable)(void *);
static struct mallinfo2 (*libc_mallinfo2)(void);
static uintptr_t brk_start;

static bool mapped(uintptr_t addr) {
  unsigned char v;
  return os_raw_syscall(SYS_mincore, (long)(addr & ~(UMA_OS_PAGE - 1)), (long)UMA_OS_PAGE, (long)&v, 0, 0, 0) == 0;
}

static bool libc_owns(const void *p) {
  uintptr_t a = (uintptr_t)p, c = a - CHUNK_HEADER;
  if (libc_free == NULL || (a & 15) || a < UMA_OS_PAGE || !mapped(c)) return false;
  struct mallinfo2 mi = libc_mallinfo2();
  if (mi.arena == 0 && mi.hblkhd == 0) return false;   /* glibc never handed out memory */
  size_t word = ((const size_t *)c)[1], size = word & ~(size_t)7;
  if (size < 32 || (size & 15)) return false;
  if (word & IS_MMAPPED) {
    size_t before = ((const size_t *)c)[0];
    return ((c - before) & (UMA_OS_PAGE - 1)) == 0 && ((before + size) & (UMA_OS_PAGE - 1)) == 0;
  }
  if (word & NON_MAIN_ARENA) {
    uintptr_t heap = c & ~(ARENA_HEAP_MAX - 1);
    if (!mapped(heap)) return false;
    const size_t *info = (const size_t *)heap;   /* heap_info: ar_ptr, prev, size, … */
    return info[0] != 0 && c + size <= heap + info[2];
  }
  uintptr_t brk_now = (uintptr_t)os_raw_syscall(SYS_brk, 0, 0, 0, 0, 0, 0);
  return brk_start && c >= brk_start && c + size <= brk_now;
}

static void foreign_free(void *p) { libc_free(p); }
static void *foreign_realloc(void *p, size_t n) { return libc_realloc(p, n); }
static size_t foreign_usable(const void *p) { return libc_usable((void *)p); }

static const uma_foreign_heap_t libc_heap = { libc_owns, foreign_free, foreign_realloc, foreign_usable };

/* From the constructor: the brk heap glibc would grow from starts here
 * (nothing allocates from glibc before: the preload's malloc is bound first). */
void libc_heap_init(void) {
  brk_start = (uintptr_t)os_raw_syscall(SYS_brk, 0, 0, 0, 0, 0, 0);
  libc_free = (void (*)(void *))dlsym_raw(RTLD_NEXT, "free");
  libc_realloc = (void *(*)(void *, size_t))dlsym_raw(RTLD_NEXT, "realloc");
  libc_usable = (size_t (*)(void *))dlsym_raw(RTLD_NEXT, "malloc_usable_size");
  libc_mallinfo2 = (struct mallinfo2 (*)(void))dlsym_raw(RTLD_NEXT, "mallinfo2");
  if (libc_free && libc_realloc && libc_usable && libc_mallinfo2) uma_foreign_heap = &libc_heap;
}
