/* os.c — memory and files from the kernel through raw system calls.
 * Raw calls never touch errno (free() must preserve it), never allocate, and
 * never reach an interposed mmap, so routing mmap later cannot recurse. */
#include "base.h"
#include "options.h"
#include "os.h"
#include <sys/syscall.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>

#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif

_Atomic uint64_t os_mapped_bytes, os_peak_mapped_bytes, os_purged_bytes;

/* Returns the kernel's result: a value in [-4095, -1] is -errno. */
static long os_syscall6(long n, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
#else
#error "uma-preload: raw system calls are written for x86_64 and aarch64 only"
#endif
}
static inline bool sys_failed(long r) { return (unsigned long)r > -4096UL; }

/* Mappings made and given back. Under ThreadSanitizer (make tsan) through
 * the C library, whose calls it intercepts: it must see a range unmapped
 * and mapped again, or it takes the new owner's first writes for races
 * with the old owner's last reads. Elsewhere raw, like every call here. */
#ifdef __SANITIZE_THREAD__
#include <errno.h>
extern void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...);
static long map_call(long n, long a, long b, long c, long d, long e, long f) {
  void *r = n == SYS_mmap     ? mmap((void *)a, (size_t)b, (int)c, (int)d, (int)e, (off_t)f)
          : n == SYS_mremap   ? mremap((void *)a, (size_t)b, (size_t)c, (int)d, (void *)e)
          : (void *)(long)munmap((void *)a, (size_t)b);
  return r == MAP_FAILED || (n == SYS_munmap && r != 0) ? -(long)errno : (long)r;
}
#else
#define map_call os_syscall6
#endif

/* make fault: a build whose mappings, madvise and mbind fail every n-th call
 * (UMA_FAULT_EVERY=n in the environment; 0 or unset: never), to show that
 * each failure reaches the program as NULL + ENOMEM and loses nothing
 * (tests/fuzz/fault-inject). Never in a normal build. */
#ifdef UMA_FAULT_INJECT
static bool fault_now(void) {
  static long every = -1;
  static _Atomic unsigned long calls;
  if (every < 0) {
    const char *v = uma_env("UMA_FAULT_EVERY");
    long n = 0;
    while (v && *v >= '0' && *v <= '9') n = n * 10 + (*v++ - '0');
    every = n;
  }
  return every > 0 && atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) % (unsigned long)every == 0;
}
static long faulty_map_call(long n, long a, long b, long c, long d, long e, long f) {
  if (n != SYS_munmap && fault_now()) return -12;   /* ENOMEM */
  return map_call(n, a, b, c, d, e, f);
}
#undef map_call
#define map_call faulty_map_call
#define FAULT_NOW() fault_now()
#else
#define FAULT_NOW() false
#endif
static long advise_call(void *p, size_t size, int advice) {
  if (FAULT_NOW()) return -22;   /* EINVAL, as for locked pages */
  return os_syscall6(SYS_madvise, (long)p, (long)size, advice, 0, 0, 0);
}

static void mapped_add(size_t n) {
  uint64_t now = atomic_fetch_add_explicit(&os_mapped_bytes, n, memory_order_relaxed) + n;
  uint64_t peak = atomic_load_explicit(&os_peak_mapped_bytes, memory_order_relaxed);
  while (now > peak &&
         !atomic_compare_exchange_weak_explicit(&os_peak_mapped_bytes, &peak, now,
                                                memory_order_relaxed, memory_order_relaxed)) {}
}

/* No MAP_NORESERVE: the kernel's overcommit policy must judge every
 * mapping as it judges glibc's (a request far beyond RAM + swap fails with
 * ENOMEM under the default heuristic, and every mapping counts under
 * vm.overcommit_memory = 2), and RLIMIT_AS applies as always. */
void *os_map(size_t size) {
  long r = map_call(SYS_mmap, 0, (long)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sys_failed(r)) return NULL;
  mapped_add(size);
  return (void *)r;
}

void os_unmap(void *p, size_t size) {
  if (size == 0) return;
  if (!sys_failed(map_call(SYS_munmap, (long)p, (long)size, 0, 0, 0, 0)))
    atomic_fetch_sub_explicit(&os_mapped_bytes, size, memory_order_relaxed);
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Where the last aligned mapping went. The kernel hands out addresses top
 * down, so the aligned spot just below it is usually free: one mmap instead
 * of three system calls (map, trim head, trim tail). */
static _Atomic uintptr_t aligned_hint;

static void *map_at_hint(size_t size, size_t align) {
  uintptr_t hint = atomic_load_explicit(&aligned_hint, memory_order_relaxed);
  if (hint == 0 || hint < size + align) return NULL;
  uintptr_t want = (hint - size) & ~(uintptr_t)(align - 1);
  long r = map_call(SYS_mmap, (long)want, (long)size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (sys_failed(r)) return NULL;
  if ((uintptr_t)r != want) {   /* a kernel before 4.17 took the flag as a hint only */
    map_call(SYS_munmap, r, (long)size, 0, 0, 0, 0);
    return NULL;
  }
  mapped_add(size);
  atomic_store_explicit(&aligned_hint, want, memory_order_relaxed);
  return (void *)r;
}

/* A mapping of `size` bytes whose address + offset is a multiple of `align`:
 * over-map, then give back the head and the tail. */
void *os_map_aligned_at_offset(size_t size, size_t align, size_t offset) {
  size_t over = size + align;
  if (over < size) return NULL;
  uint8_t *raw = os_map(over);
  if (raw == NULL) return NULL;
  uintptr_t user = ((uintptr_t)raw + offset + align - 1) & ~(uintptr_t)(align - 1);
  uint8_t *base = (uint8_t *)(user - offset);
  size_t head = (size_t)(base - raw);
  size_t tail = over - head - size;
  if (head) os_unmap(raw, head);
  if (tail) os_unmap(base + size, tail);
  return base;
}

void *os_map_aligned(size_t size, size_t align) {
  void *p = map_at_hint(size, align);
  if (p) return p;
  p = os_map_aligned_at_offset(size, align, 0);
  if (p) atomic_store_explicit(&aligned_hint, (uintptr_t)p, memory_order_relaxed);
  return p;
}

/* Resident pages go back to the kernel now; the range reads as zero after.
 * False when the kernel refused (pages locked by mlock/mlockall: EINVAL):
 * the range is unchanged then. */
bool os_purge(void *p, size_t size) {
  if (size == 0) return true;
  if (sys_failed(advise_call(p, size, MADV_DONTNEED))) return false;
  atomic_fetch_add_explicit(&os_purged_bytes, size, memory_order_relaxed);
  return true;
}

/* Transparent huge pages for a fresh mapping, before its first touch:
 * ALWAYS asks for them, NEVER forbids them, MADVISE leaves the system's
 * setting in charge (no call). */
void os_populate(void *p, size_t size) { os_syscall6(SYS_madvise, (long)p, (long)size, 23 /* MADV_POPULATE_WRITE */, 0, 0, 0); }

void os_advise_hugepages(void *p, size_t size, int mode) {
  if (mode == UMA_HUGEPAGES_ALWAYS) os_syscall6(SYS_madvise, (long)p, (long)size, MADV_HUGEPAGE, 0, 0, 0);
  else if (mode == UMA_HUGEPAGES_NEVER) os_syscall6(SYS_madvise, (long)p, (long)size, MADV_NOHUGEPAGE, 0, 0, 0);
}

bool os_remap_in_place(void *p, size_t old_size, size_t new_size) {
  long r = map_call(SYS_mremap, (long)p, (long)old_size, (long)new_size, 0, 0, 0);
  if (sys_failed(r)) return false;
  if (new_size > old_size) mapped_add(new_size - old_size);
  else atomic_fetch_sub_explicit(&os_mapped_bytes, old_size - new_size, memory_order_relaxed);
  return true;
}

/* Moves the pages of [p, p+old_size) to `target` (whose mapping of new_size
 * bytes the kernel replaces): no byte is copied. */
bool os_remap_to(void *p, size_t old_size, size_t new_size, void *target) {
  long r = map_call(SYS_mremap, (long)p, (long)old_size, (long)new_size,
                       MREMAP_MAYMOVE | MREMAP_FIXED, (long)target, 0);
  if (sys_failed(r)) return false;
  /* target's reservation (new_size) is replaced; the old range is gone. */
  atomic_fetch_sub_explicit(&os_mapped_bytes, old_size, memory_order_relaxed);
  return true;
}

uint64_t os_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);   /* vDSO: no system call, no allocation */
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t os_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The helper threads' sleep (ticker.c, device_share.c). */
void os_sleep_ms(uint64_t ms) {
  struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
  while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0) {}
}

/* This process's command name (/proc/self/comm, up to 15 characters). */
void os_command(char *out, size_t cap) {
  long n = 0;
  int fd = os_open("/proc/self/comm", O_RDONLY, 0);
  if (fd >= 0) {
    n = os_read(fd, out, cap - 1);
    os_close(fd);
  }
  if (n > 0 && out[n - 1] == '\n') n--;
  out[n > 0 ? n : 0] = 0;
}

/* The first `size` bytes of the file, mapped shared at an address of ours
 * (the pages processes publish to each other: device_share.c, live.c); NULL
 * when it cannot be. */
void *os_map_shared(int fd, size_t size) {
  size_t len = (size + UMA_OS_PAGE - 1) & ~(size_t)(UMA_OS_PAGE - 1);
  void *at = os_map(len);
  if (at && os_map_file_at(at, len, true, fd, 0)) return at;
  if (at) os_unmap(at, len);
  return NULL;
}

long os_write(int fd, const void *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    long r = os_syscall6(SYS_write, fd, (long)((const char *)buf + done), (long)(len - done), 0, 0, 0);
    if (r == -4 /* EINTR */) continue;
    if (sys_failed(r) || r == 0) return -1;
    done += (size_t)r;
  }
  return (long)done;
}

int os_open(const char *path, int flags, int mode) {
  long r = os_syscall6(SYS_openat, AT_FDCWD, (long)path, flags | O_CLOEXEC, mode, 0, 0);
  return sys_failed(r) ? -1 : (int)r;
}

bool os_file_contains(const char *path, const char *needle) {
  size_t n = 0;
  while (needle[n]) n++;
  int fd = os_open(path, O_RDONLY, 0);
  if (fd < 0 || n == 0 || n >= 256) {
    if (fd >= 0) os_close(fd);
    return false;
  }
  char buf[4096];
  size_t have = 0;
  bool found = false;
  for (long got; !found && (got = os_read(fd, buf + have, sizeof buf - have)) > 0;) {
    have += (size_t)got;
    for (size_t i = 0; i + n <= have && !found; i++) found = __builtin_memcmp(buf + i, needle, n) == 0;
    if (have > n) {   /* keep the last n-1 bytes: a match may straddle two reads */
      for (size_t i = 0; i < n - 1; i++) buf[i] = buf[have - (n - 1) + i];
      have = n - 1;
    }
  }
  os_close(fd);
  return found;
}

long os_read(int fd, void *buf, size_t len) {
  long r = os_syscall6(SYS_read, fd, (long)buf, (long)len, 0, 0, 0);
  return sys_failed(r) ? -1 : r;
}

void os_close(int fd) { os_syscall6(SYS_close, fd, 0, 0, 0, 0, 0); }
void os_yield(void) { os_syscall6(SYS_sched_yield, 0, 0, 0, 0, 0, 0); }
int os_getpid(void) { return (int)os_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0); }
/* The process ends here, as _exit would, without the preload's own _exit
 * (interpose/init.c), which writes reports first. */
_Noreturn void os_exit(int code) {
  for (;;) os_syscall6(SYS_exit_group, code, 0, 0, 0, 0, 0);
}

/* Resident pages of [p, p+size): mincore in 4 MiB steps (a 1 KiB vector on
 * the stack). Unmapped parts count as not resident. */
uint64_t os_resident(const void *p, size_t size) {
  unsigned char vec[UMA_SEG_SIZE / UMA_OS_PAGE];
  uint64_t pages = 0;
  for (size_t off = 0; off < size; off += UMA_SEG_SIZE) {
    size_t len = size - off < UMA_SEG_SIZE ? size - off : UMA_SEG_SIZE;
    if (sys_failed(os_syscall6(SYS_mincore, (long)((const uint8_t *)p + off), (long)len, (long)vec, 0, 0, 0)))
      continue;
    for (size_t i = 0; i < (len + UMA_OS_PAGE - 1) / UMA_OS_PAGE; i++) pages += vec[i] & 1;
  }
  return pages * UMA_OS_PAGE;
}

/* The process's high-water resident set (getrusage ru_maxrss), in bytes. */
uint64_t os_peak_rss(void) {
  struct { long utime[2], stime[2]; long maxrss; long rest[13]; } ru;
  if (sys_failed(os_syscall6(SYS_getrusage, 0 /* RUSAGE_SELF */, (long)&ru, 0, 0, 0, 0))) return 0;
  return (uint64_t)ru.maxrss * 1024u;
}

uint64_t os_unix_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec;
}

/* The host name (uname's nodename), or "" when the kernel will not say. */
void os_hostname(char *out, size_t cap) {
  struct { char sysname[65], nodename[65], rest[65 * 4]; } u;
  out[0] = 0;
  if (cap == 0 || sys_failed(os_syscall6(SYS_uname, (long)&u, 0, 0, 0, 0, 0))) return;
  size_t i = 0;
  for (; i + 1 < cap && u.nodename[i]; i++) out[i] = u.nodename[i];
  out[i] = 0;
}

/* ---- NUMA placement (numa.c) --------------------------------------------
 * Node masks are one 64-bit word: the kernel reads maxnode − 1 bits. Each
 * returns 0 or −errno. */
long os_mbind(void *p, size_t len, int mode, uint64_t mask, unsigned flags) {
  if (FAULT_NOW()) return -12;
  long r = os_syscall6(SYS_mbind, (long)p, (long)len, mode, (long)(mask ? &mask : NULL), mask ? 65 : 0, flags);
  return sys_failed(r) ? r : 0;
}

long os_get_mempolicy(int *mode, uint64_t *mask, void *addr, unsigned long flags) {
  long r = os_syscall6(SYS_get_mempolicy, (long)mode, (long)mask, mask ? 65 : 0, (long)addr, (long)flags, 0);
  return sys_failed(r) ? r : 0;
}

/* The node of each page (status[i] ≥ 0), or −errno for a page not present
 * (−ENOENT) or not mapped (−EFAULT). */
long os_page_nodes(unsigned long count, void **pages, int *status) {
  long r = os_syscall6(SYS_move_pages, 0, (long)count, (long)pages, 0, (long)status, 0);
  return sys_failed(r) ? r : 0;
}

/* The program's own mmap, munmap and mremap (interpose/mmap.c) go to the
 * kernel through here: −errno on failure, errno untouched. */
long os_raw_syscall(long n, long a, long b, long c, long d, long e, long f) {
  return os_syscall6(n, a, b, c, d, e, f);
}

/* ---- the memory file behind copy-on-write aliasing (cow.c) -------------- */

int os_memfd(const char *name) {
  long r = os_syscall6(SYS_memfd_create, (long)name, 1 /* MFD_CLOEXEC */, 0, 0, 0, 0);
  return sys_failed(r) ? -1 : (int)r;
}

bool os_truncate(int fd, uint64_t size) { return !sys_failed(os_syscall6(SYS_ftruncate, fd, (long)size, 0, 0, 0, 0)); }

/* Give a file range's pages back: it reads as zeros after. */
bool os_punch(int fd, uint64_t off, uint64_t len) {
  return !sys_failed(os_syscall6(SYS_fallocate, fd, 3 /* FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE */, (long)off,
                                 (long)len, 0, 0));
}

/* Map [off, off+len) of the file over [p, p+len): shared (writes reach the
 * file) or private (copy-on-write of the file's pages). */
bool os_map_file_at(void *p, size_t len, bool shared, int fd, uint64_t off) {
  long r = map_call(SYS_mmap, (long)p, (long)len, PROT_READ | PROT_WRITE,
                       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd, (long)off);
  return !sys_failed(r);
}

long os_pread(int fd, void *buf, size_t len, uint64_t off) {
  long r = os_syscall6(SYS_pread64, fd, (long)buf, (long)len, (long)off, 0, 0);
  return sys_failed(r) ? -1 : r;
}

long os_pwrite(int fd, const void *buf, size_t len, uint64_t off) {
  long r = os_syscall6(SYS_pwrite64, fd, (long)buf, (long)len, (long)off, 0, 0);
  return sys_failed(r) ? -1 : r;
}

/* What a path names, without following a final symbolic link (lstat), or
 * what an open descriptor names (path NULL): 0, or −errno. */
long os_stat(int fd, const char *path, struct stat *st) {
  long r = path ? os_syscall6(SYS_newfstatat, AT_FDCWD, (long)path, (long)st, AT_SYMLINK_NOFOLLOW, 0, 0)
                : os_syscall6(SYS_fstat, fd, (long)st, 0, 0, 0, 0);
  return sys_failed(r) ? r : 0;
}

bool os_rename(const char *from, const char *to) {
  return !sys_failed(os_syscall6(SYS_renameat, AT_FDCWD, (long)from, AT_FDCWD, (long)to, 0, 0));
}

bool os_pipe(int fds[2]) { return !sys_failed(os_syscall6(SYS_pipe2, (long)fds, O_CLOEXEC, 0, 0, 0, 0)); }
