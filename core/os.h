/* os.h — OS memory and files through raw syscalls (os.c). */
#ifndef UMA_OS_H
#define UMA_OS_H
#include "base.h"

UMA_HIDDEN void *os_map(size_t size);
UMA_HIDDEN void *os_map_aligned(size_t size, size_t align);
UMA_HIDDEN void *os_map_aligned_at_offset(size_t size, size_t align, size_t offset);
UMA_HIDDEN void os_unmap(void *p, size_t size);
UMA_HIDDEN bool os_purge(void *p, size_t size);
UMA_HIDDEN void os_populate(void *p, size_t size);   /* fault it in now, writable (Linux 5.14; else on touch) */
enum { UMA_HUGEPAGES_MADVISE = 0, UMA_HUGEPAGES_NEVER = 1, UMA_HUGEPAGES_ALWAYS = 2 };   /* a rule's hugepages */
UMA_HIDDEN void os_advise_hugepages(void *p, size_t size, int mode);   /* UMA_HUGEPAGES_* */
UMA_HIDDEN bool os_remap_in_place(void *p, size_t old_size, size_t new_size);
UMA_HIDDEN bool os_remap_to(void *p, size_t old_size, size_t new_size, void *target);
UMA_HIDDEN uint64_t os_now_ms(void);
UMA_HIDDEN uint64_t os_now_ns(void);   /* CLOCK_MONOTONIC, for measuring costs */
UMA_HIDDEN long os_write(int fd, const void *buf, size_t len);
UMA_HIDDEN void os_sleep_ms(uint64_t ms);
UMA_HIDDEN void os_command(char *out, size_t cap);        /* /proc/self/comm, without its newline */
UMA_HIDDEN void *os_map_shared(int fd, size_t size);      /* a file's first bytes, shared; NULL: failed */
UMA_HIDDEN int os_open(const char *path, int flags, int mode);
UMA_HIDDEN bool os_file_contains(const char *path, const char *needle);   /* a /proc file, read without malloc */
UMA_HIDDEN long os_read(int fd, void *buf, size_t len);
UMA_HIDDEN void os_close(int fd);
UMA_HIDDEN int os_getpid(void);
UMA_HIDDEN _Noreturn void os_exit(int code);
UMA_HIDDEN void os_yield(void);
UMA_HIDDEN uint64_t os_resident(const void *p, size_t size);
UMA_HIDDEN uint64_t os_peak_rss(void);
UMA_HIDDEN uint64_t os_unix_time(void);
UMA_HIDDEN void os_hostname(char *out, size_t cap);
UMA_HIDDEN long os_mbind(void *p, size_t len, int mode, uint64_t mask, unsigned flags);
UMA_HIDDEN long os_get_mempolicy(int *mode, uint64_t *mask, void *addr, unsigned long flags);
UMA_HIDDEN long os_page_nodes(unsigned long count, void **pages, int *status);
UMA_HIDDEN int os_memfd(const char *name);
UMA_HIDDEN bool os_truncate(int fd, uint64_t size);
UMA_HIDDEN bool os_punch(int fd, uint64_t off, uint64_t len);
UMA_HIDDEN bool os_map_file_at(void *p, size_t len, bool shared, int fd, uint64_t off);
UMA_HIDDEN long os_pread(int fd, void *buf, size_t len, uint64_t off);
UMA_HIDDEN long os_pwrite(int fd, const void *buf, size_t len, uint64_t off);
UMA_HIDDEN bool os_pipe(int fds[2]);
struct stat;
UMA_HIDDEN long os_stat(int fd, const char *path, struct stat *st);
UMA_HIDDEN bool os_rename(const char *from, const char *to);

UMA_HIDDEN extern _Atomic uint64_t os_mapped_bytes, os_peak_mapped_bytes, os_purged_bytes;
UMA_HIDDEN long os_raw_syscall(long n, long a, long b, long c, long d, long e, long f);

#endif
