/* mmap.c — the program's mmap, mmap64, munmap, mremap and madvise. Anonymous private
 * writable mappings the program asks for go through the policy (source
 * `mmap`: placement, huge pages, accounting; core/mmap_track.c); file and
 * shared mappings, MAP_FIXED, stacks, huge-TLB and PROT_NONE reservations
 * (runtimes reserve address space that way and commit it later) pass
 * through untouched. madvise matters only for blocks over the memory file
 * of copy-on-write aliasing (core/cow.c): there MADV_DONTNEED must still
 * leave zeros and MADV_FREE must not fail. Every call reaches the kernel by a raw system call, as
 * glibc's would; errno is set as glibc sets it. */
#define _GNU_SOURCE
#include "interpose.h"
#include "../core/cow.h"
#include "../core/mmap_track.h"
#include "../core/os.h"
#include "../cuda/pinned.h"
#include "../core/large.h"
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define RA __builtin_return_address(0)

static long fail(long r) {
  errno = (int)-r;
  return -1;
}
static bool failed(long r) { return (unsigned long)r > -4096UL; }

static bool routed(int prot, int flags) {
  return (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE && (prot & PROT_WRITE) &&
         !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_STACK | MAP_GROWSDOWN | MAP_HUGETLB));
}

static void *do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, const void *ra) {
  long r = os_raw_syscall(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
  if (failed(r)) return (void *)fail(r);
  if (routed(prot, flags)) mmap_track_new((void *)r, len, ra);
  else if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) mmap_track_gone((void *)r, len);   /* replaced */
  return (void *)r;
}

UMA_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  return do_mmap(addr, len, prot, flags, fd, off, RA);
}
UMA_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  return do_mmap(addr, len, prot, flags, fd, off, RA);
}

UMA_EXPORT int munmap(void *addr, size_t len) {
  long r = os_raw_syscall(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0);
  if (failed(r)) return (int)fail(r);
  mmap_track_gone(addr, len);
  return 0;
}

UMA_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...) {
  void *target = NULL;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    target = va_arg(ap, void *);
    va_end(ap);
  }
  if (cow_min != UINT64_MAX && old_len) cow_detach(old, old_len);   /* aliased pages move as anonymous ones */
  long r = os_raw_syscall(SYS_mremap, (long)old, (long)old_len, (long)new_len, flags, (long)target, 0);
  if (r == -EFAULT && old_len && mmap_track_unify_advice(old, old_len))
    r = os_raw_syscall(SYS_mremap, (long)old, (long)old_len, (long)new_len, flags, (long)target, 0);
  if (failed(r)) return (void *)fail(r);
  /* MREMAP_DONTUNMAP leaves the old range mapped (empty): only the new one moves. */
  if (old_len == 0) return (void *)r;   /* a second mapping of shared memory */
  mmap_track_moved(old, old_len, (void *)r, new_len);
  return (void *)r;
}

/* Within one aliasable block: MADV_FREE may drop the pages or keep them,
 * and keeping them is what a file mapping can do; MADV_DONTNEED must leave
 * zeros, which cow_discard maps there. Everything else as the kernel says. */
UMA_EXPORT int madvise(void *addr, size_t len, int advice) {
  bool aliasable = cow_min != UINT64_MAX && (advice == MADV_DONTNEED || advice == MADV_FREE) && len &&
                   large_block_of(addr, len) && large_block_of(addr, len)->cow;
  if (aliasable && advice == MADV_FREE) return ((uintptr_t)addr & (UMA_OS_PAGE - 1)) ? (int)fail(-EINVAL) : 0;
  long r = os_raw_syscall(SYS_madvise, (long)addr, (long)len, advice, 0, 0, 0);
  if (failed(r)) return (int)fail(r);
  if (aliasable) cow_discard(addr, len);
  return 0;
}
