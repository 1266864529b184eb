/* cow.c — copies that share pages instead of moving bytes (a rule's
 * `alias = cow`). Large blocks of such a rule are backed by one memory file
 * (memfd) instead of anonymous memory: a fresh block maps its own range of
 * the file shared, so what the program writes lands in the file. A copy of
 * at least [alias] cow_min between two such blocks whose addresses agree
 * modulo the page size maps the source's whole pages at the destination
 * copy-on-write (MAP_PRIVATE of the same file pages) and turns the source's
 * mapping private too: both read the same frozen physical pages, and the
 * first write to either side copies that one page. Edge bytes are copied.
 *
 * Each block describes its pages as extents (page, count, file page,
 * shared or private), kept in its header page after uma_large_t. A file
 * page counts the extents that map it (refs[]); when the count reaches zero
 * its range is punched out of the file (the memory goes back) and the
 * offsets are reused. A source page the program already wrote since it went
 * private holds its data in an anonymous page, not in the file: such pages
 * are found in /proc/self/pagemap and copied byte by byte.
 *
 * What the program can do to such memory and still see anonymous-memory
 * behaviour: MADV_DONTNEED reads zeros after (interpose/mmap.c maps fresh
 * file pages there), MADV_FREE is accepted; fork: the child copies every
 * block into a file of its own before either process goes on (a punch in
 * one would otherwise zero the other's unbroken pages) — the fork pays
 * for the bytes of all aliasable blocks. Anything else the alias cannot
 * keep exact (overlap, misaligned pages, registered with CUDA, too many
 * extents or mappings, no pagemap) is a plain copy, and so is a copy into
 * a destination that is mostly resident already (unless [alias] cow_into
 * = any): overwriting resident pages beats unmapping them and faulting the
 * aliases in. */
#include "base.h"
#include "stats.h"
#include "large.h"
#include "fork.h"
#include "bytes.h"
#include "cow.h"
#include "fmt.h"
#include "json.h"
#include "layout.h"
#include "os.h"
#include <string.h>

#define PG UMA_OS_PAGE
#define FILE_PAGES (1ULL << 28)          /* 1 TiB of file offsets (sparse) */
#define FREE_MAX 16384                   /* free file ranges remembered */
#define MAPPINGS_MAX 30000               /* extents in all, well under vm.max_map_count */
#define EXTENTS_AT 128                   /* header bytes before the extent array */
#define PRIVATE_BIT (1ULL << 63)

typedef struct { uint32_t page, count; uint64_t file; } extent_t;   /* file: first file page | PRIVATE_BIT */
#define ANON (PRIVATE_BIT | (PRIVATE_BIT - 1))   /* an extent of anonymous pages, in no file (cow_detach) */
#define EXTENTS_MAX ((PG - EXTENTS_AT) / sizeof(extent_t))

uint64_t cow_min = UINT64_MAX;           /* [alias] cow_min where a rule has alias = cow */
bool cow_into_resident;                  /* [alias] cow_into = any */
cow_stats_t cow_stats;
static pthread_mutex_t cow_lock = PTHREAD_MUTEX_INITIALIZER;
static int file_fd = -1, pagemap_fd = -1;
static uint16_t *refs;                   /* per file page: extents mapping it */
static uint64_t file_top;                /* file pages ever handed out */
static struct { uint64_t page, count; } *free_ranges;
static int free_count;
static uma_large_t *live;                /* aliasable blocks, for fork and the report */
static int mappings;                     /* extents of all live blocks */

static extent_t *extents(uma_large_t *lg) { return (extent_t *)((uint8_t *)lg + EXTENTS_AT); }
static uint8_t *user_page(uma_large_t *lg, uint64_t page) { return (uint8_t *)lg + PG + page * PG; }
static uint64_t file_of(const extent_t *e) { return e->file & ~PRIVATE_BIT; }
static bool is_anon(const extent_t *e) { return e->file == ANON; }

static bool file_ready(void) {
  if (file_fd >= 0) return true;
  /* Each table is mapped once: a refusal (no memory for one of them, no
   * memfd) must not map the other again at the next try (found by the
   * fault-injection run: 26 GiB of tables leaked). */
  if (refs == NULL) refs = os_map(FILE_PAGES * sizeof *refs);
  if (free_ranges == NULL) free_ranges = os_map(FREE_MAX * sizeof *free_ranges);
  int fd = refs && free_ranges ? os_memfd("uma-preload-cow") : -1;
  if (fd < 0 || !os_truncate(fd, FILE_PAGES * PG)) {
    if (fd >= 0) os_close(fd);
    return false;
  }
  file_fd = fd;
  return true;
}

/* ---- file ranges: first fit among punched ranges, else fresh offsets ---- */

static bool file_take(uint64_t count, uint64_t *page) {
  for (int i = 0; i < free_count; i++)
    if (free_ranges[i].count >= count) {
      *page = free_ranges[i].page;
      free_ranges[i].page += count;
      free_ranges[i].count -= count;
      if (free_ranges[i].count == 0) free_ranges[i] = free_ranges[--free_count];
      return true;
    }
  if (file_top + count > FILE_PAGES) return false;
  *page = file_top;
  file_top += count;
  return true;
}

/* Offsets that read as zero may serve a new block. With the list full,
 * they are simply not reused (the memory went back all the same). */
static void file_return(uint64_t page, uint64_t count) {
  for (int i = 0; i < free_count; i++) {
    if (free_ranges[i].page + free_ranges[i].count == page) {
      free_ranges[i].count += count;
      return;
    }
    if (page + count == free_ranges[i].page) {
      free_ranges[i].page = page;
      free_ranges[i].count += count;
      return;
    }
  }
  if (free_count < FREE_MAX) free_ranges[free_count++] = (typeof(*free_ranges)){ page, count };
}

static void file_give(uint64_t page, uint64_t count) {
  os_punch(file_fd, page * PG, count * PG);
  cow_stats.file_bytes -= count * PG;
  file_return(page, count);
}

/* One reference fewer on each page of [page, page+count); runs that reach
 * zero go back. */
static void refs_drop(uint64_t page, uint64_t count) {
  uint64_t run = 0;
  for (uint64_t p = page; p < page + count; p++) {
    if (--refs[p] == 0) {
      run++;
      continue;
    }
    if (run) file_give(p - run, run);
    run = 0;
  }
  if (run) file_give(page + count - run, run);
}

static bool refs_room(uint64_t page, uint64_t count) {
  for (uint64_t p = page; p < page + count; p++)
    if (refs[p] == UINT16_MAX) return false;
  return true;
}

/* ---- extents ------------------------------------------------------------ */

/* How many extents the block would have with [page, page+count) replaced
 * by one. */
static int count_after_replace(uma_large_t *lg, uint64_t page, uint64_t count) {
  int n = 1;
  extent_t *e = extents(lg);
  for (int i = 0; i < lg->cow_extents; i++) {
    uint64_t a = e[i].page, b = a + e[i].count;
    if (b <= page || a >= page + count) n++;
    else n += (a < page) + (b > page + count);
  }
  return n;
}

/* Replace what maps [page, page+count) by `with` (its mapping is already in
 * place): the old file pages lose a reference. Extents stay sorted. */
static void replace(uma_large_t *lg, extent_t with) {
  extent_t out[EXTENTS_MAX], *e = extents(lg);
  int n = 0;
  bool placed = false;
  uint64_t lo = with.page, hi = lo + with.count;
  for (int i = 0; i < lg->cow_extents; i++) {
    uint64_t a = e[i].page, b = a + e[i].count;
    if (!placed && a >= lo) {
      out[n++] = with;
      placed = true;
    }
    if (b <= lo || a >= hi) {
      out[n++] = e[i];
      continue;
    }
    uint64_t cut_a = a > lo ? a : lo, cut_b = b < hi ? b : hi;
    if (!is_anon(&e[i])) refs_drop(file_of(&e[i]) + (cut_a - a), cut_b - cut_a);
    if (a < lo) out[n++] = (extent_t){ (uint32_t)a, (uint32_t)(lo - a), e[i].file };
    if (!placed) {
      out[n++] = with;
      placed = true;
    }
    if (b > hi) out[n++] = (extent_t){ (uint32_t)hi, (uint32_t)(b - hi), is_anon(&e[i]) ? ANON : e[i].file + (hi - a) };
  }
  if (!placed) out[n++] = with;
  mappings += n - lg->cow_extents;
  lg->cow_extents = (uint16_t)n;
  bytes_copy(e, out, (size_t)n * sizeof *e);
}

/* The extent mapping `page`, or NULL. */
static extent_t *extent_at(uma_large_t *lg, uint64_t page) {
  extent_t *e = extents(lg);
  for (int i = 0; i < lg->cow_extents; i++)
    if (page >= e[i].page && page < e[i].page + e[i].count) return &e[i];
  return NULL;
}

/* Turn an extent private: same file pages, so the same contents; from now
 * on a write copies the page instead of changing the file. */
static bool make_private(uma_large_t *lg, extent_t *e) {
  if (e->file & PRIVATE_BIT) return true;
  if (!os_map_file_at(user_page(lg, e->page), (size_t)e->count * PG, false, file_fd, file_of(e) * PG)) return false;
  e->file |= PRIVATE_BIT;
  return true;
}

/* ---- blocks --------------------------------------------------------------- */

uma_large_t *cow_map(size_t size) {
  uint64_t pages = (size + PG - 1) / PG;
  size_t map_size = PG + pages * PG;
  if (pages > UINT32_MAX || !stats_heap_allows(map_size)) return NULL;   /* [limits] heap */
  uma_large_t *lg = os_map_aligned(map_size, UMA_SEG_SIZE);
  if (lg == NULL) return NULL;
  pthread_mutex_lock(&cow_lock);
  uint64_t file = 0;
  bool ok = mappings < MAPPINGS_MAX && file_ready() && file_take(pages, &file);
  if (ok && !os_map_file_at(user_page(lg, 0), pages * PG, true, file_fd, file * PG)) {
    file_return(file, pages);   /* never mapped: still zero */
    ok = false;
  }
  if (ok) {
    for (uint64_t p = file; p < file + pages; p++) refs[p] = 1;
    cow_stats.file_bytes += pages * PG;
    if (cow_stats.file_bytes > cow_stats.file_peak) cow_stats.file_peak = cow_stats.file_bytes;
    lg->cow = 1;
    lg->cow_extents = 1;
    extents(lg)[0] = (extent_t){ 0, (uint32_t)pages, file };
    mappings++;
    lg->cow_prev = NULL;
    lg->cow_next = live;
    if (live) live->cow_prev = lg;
    live = lg;
    cow_stats.blocks++;
  }
  pthread_mutex_unlock(&cow_lock);
  if (!ok) {
    os_unmap(lg, map_size);
    return NULL;
  }
  lg->map_size = map_size;
  return lg;
}

/* Pages of the block's private extents that writes have copied (anonymous
 * now), from pagemap: bit 63 present, bit 62 swapped, bit 61 file page. */
static uint64_t broken_pages(uma_large_t *lg);

void cow_unmap(uma_large_t *lg) {
  uint64_t broken = broken_pages(lg);
  pthread_mutex_lock(&cow_lock);
  cow_stats.broken_pages += broken;
  extent_t *e = extents(lg);
  for (int i = 0; i < lg->cow_extents; i++)
    if (!is_anon(&e[i])) refs_drop(file_of(&e[i]), e[i].count);
  mappings -= lg->cow_extents;
  if (lg->cow_prev) lg->cow_prev->cow_next = lg->cow_next;
  else live = lg->cow_next;
  if (lg->cow_next) lg->cow_next->cow_prev = lg->cow_prev;
  pthread_mutex_unlock(&cow_lock);
  os_unmap(lg, lg->map_size);
}

/* ---- pagemap ------------------------------------------------------------- */

static bool pagemap_ready(void) {
  if (pagemap_fd < 0) pagemap_fd = os_open("/proc/self/pagemap", 0 /* O_RDONLY */, 0);
  return pagemap_fd >= 0;
}

/* For each of n pages from p: whether its data lives in an anonymous page
 * (written since the mapping went private) rather than in the file. */
static bool anon_pages(const uint8_t *p, uint64_t n, uint8_t *anon) {
  uint64_t entry[128];   /* 1 KiB: this runs inside memcpy, maybe on a small stack */
  for (uint64_t done = 0; done < n;) {
    uint64_t k = n - done < 128 ? n - done : 128;
    uint64_t off = ((uintptr_t)p / PG + done) * sizeof entry[0];
    if (os_pread(pagemap_fd, entry, k * sizeof entry[0], off) != (long)(k * sizeof entry[0])) return false;
    for (uint64_t i = 0; i < k; i++) {
      bool present = entry[i] >> 63 & 1, swapped = entry[i] >> 62 & 1, file = entry[i] >> 61 & 1;
      anon[done + i] = swapped || (present && !file);
    }
    done += k;
  }
  return true;
}

static uint64_t broken_pages(uma_large_t *lg) {
  if (!pagemap_ready()) return 0;
  uint64_t n = 0;
  uint8_t anon[512];
  extent_t *e = extents(lg);
  for (int i = 0; i < lg->cow_extents; i++) {
    if (!(e[i].file & PRIVATE_BIT) || is_anon(&e[i])) continue;
    for (uint64_t p = 0; p < e[i].count; p += 512) {
      uint64_t k = e[i].count - p < 512 ? e[i].count - p : 512;
      if (!anon_pages(user_page(lg, e[i].page + p), k, anon)) return n;
      for (uint64_t j = 0; j < k; j++) n += anon[j];
    }
  }
  return n;
}

/* ---- the alias ------------------------------------------------------------ */

/* Our aliasable block holding all of [p, p+n), or NULL. */
static uma_large_t *cow_block_of(const void *p, size_t n) {
  uma_large_t *lg = large_block_of(p, n);
  return lg && lg->cow && lg->pinned == PIN_NONE && (uintptr_t)p >= (uintptr_t)lg + PG ? lg : NULL;
}

/* Map `count` pages of dst from page `dp` on as private aliases of src's
 * pages from `sp` on, one run of contiguous file pages at a time; pages
 * whose data is anonymous in src are copied after. Returns the pages done
 * (all, or fewer when a mapping failed or the block ran out of extents:
 * the caller copies the rest). */
static uint64_t alias_pages(uma_large_t *dst, uint64_t dp, uma_large_t *src, uint64_t sp, uint64_t count,
                            const uint8_t *anon) {
  uint64_t done = 0;
  while (done < count) {
    extent_t *se = extent_at(src, sp + done);
    if (se == NULL || is_anon(se) || !make_private(src, se)) break;   /* anonymous pages: copied */
    uint64_t in_extent = se->page + se->count - (sp + done);
    uint64_t run = count - done < in_extent ? count - done : in_extent;
    uint64_t file = file_of(se) + (sp + done - se->page);
    if (!refs_room(file, run) || mappings >= MAPPINGS_MAX || count_after_replace(dst, dp + done, run) > (int)EXTENTS_MAX)
      break;
    if (!os_map_file_at(user_page(dst, dp + done), run * PG, false, file_fd, file * PG)) break;
    for (uint64_t p = file; p < file + run; p++) refs[p]++;
    replace(dst, (extent_t){ (uint32_t)(dp + done), (uint32_t)run, file | PRIVATE_BIT });
    for (uint64_t i = 0; i < run; i++)
      if (anon[done + i]) bytes_copy(user_page(dst, dp + done + i), user_page(src, sp + done + i), PG);
    done += run;
  }
  return done;
}

bool cow_copy(void *dst, const void *src, size_t n) {
  if (n < cow_min || ((uintptr_t)dst - (uintptr_t)src) % PG != 0) return false;
  if ((uintptr_t)dst < (uintptr_t)src + n && (uintptr_t)src < (uintptr_t)dst + n) return false;   /* overlap */
  uma_large_t *d = cow_block_of(dst, n), *s = d ? cow_block_of(src, n) : NULL;
  if (s == NULL) return false;
  size_t head = (PG - (uintptr_t)dst % PG) % PG;
  uint64_t pages = (n - head) / PG;
  size_t tail = n - head - pages * PG;
  if (pages == 0) return false;
  /* A destination already in memory is cheaper to overwrite than to unmap,
   * give back and fault in again (docs/BENCH.md, "Copy-on-write copies"). */
  if (!cow_into_resident && os_resident((uint8_t *)dst + head, pages * PG) > pages * PG / 4) return false;
  uint64_t t0 = os_now_ns();
  uint64_t dp = ((uintptr_t)dst + head - (uintptr_t)user_page(d, 0)) / PG;
  uint64_t sp = ((uintptr_t)src + head - (uintptr_t)user_page(s, 0)) / PG;
  uint64_t done = 0;
  /* memcpy is async-signal-safe: a copy from a signal handler that
   * interrupted an alias on this thread must not wait for it. Busy: copy. */
  if (pthread_mutex_trylock(&cow_lock) != 0) return false;
  /* Which source pages hold their data outside the file, in windows. */
  uint8_t anon[512];
  if (pagemap_ready()) {
    while (done < pages) {
      uint64_t k = pages - done < 512 ? pages - done : 512;
      /* Private first, so that pagemap describes the mapping we alias. */
      for (uint64_t i = 0; i < k;) {
        extent_t *se = extent_at(s, sp + done + i);
        if (se == NULL || !make_private(s, se)) break;
        i += se->page + se->count - (sp + done + i);
      }
      if (!anon_pages(user_page(s, sp + done), k, anon)) break;
      uint64_t got = alias_pages(d, dp + done, s, sp + done, k, anon);
      done += got;
      if (got < k) break;
    }
  }
  pthread_mutex_unlock(&cow_lock);
  uint8_t *dh = (uint8_t *)dst, *sh = (uint8_t *)src;
  if (head) bytes_copy(dh, sh, head);
  uint64_t rest = (pages - done) * PG + tail;   /* what the alias did not cover */
  if (rest) bytes_copy(dh + head + done * PG, sh + head + done * PG, rest);
  __atomic_fetch_add(&cow_stats.copies, done ? 1 : 0, __ATOMIC_RELAXED);
  __atomic_fetch_add(&cow_stats.fallbacks, done ? 0 : 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&cow_stats.aliased_bytes, done * PG, __ATOMIC_RELAXED);
  __atomic_fetch_add(&cow_stats.copied_bytes, n - done * PG, __ATOMIC_RELAXED);
  __atomic_fetch_add(&cow_stats.alias_ns, os_now_ns() - t0, __ATOMIC_RELAXED);
  return true;
}

/* The program moves [p, p+len) with mremap: pages mapped from the file
 * would take file offsets with them that the block's extents still count
 * (a later punch would zero them at their new address). The whole pages
 * become anonymous copies first, so they move as ordinary memory does. */
void cow_detach(void *p, size_t len) {
  uintptr_t a = (uintptr_t)p & ~(uintptr_t)(PG - 1), b = ((uintptr_t)p + len + PG - 1) & ~(uintptr_t)(PG - 1);
  uma_large_t *lg = b > a ? large_block_of((void *)a, b - a) : NULL;
  if (lg == NULL || !lg->cow || a < (uintptr_t)user_page(lg, 0)) return;
  uint64_t page = (a - (uintptr_t)user_page(lg, 0)) / PG, count = (b - a) / PG;
  pthread_mutex_lock(&cow_lock);
  uint8_t *copy = count_after_replace(lg, page, count) <= (int)EXTENTS_MAX ? os_map(b - a) : NULL;
  if (copy) {
    bytes_copy(copy, (void *)a, b - a);
    if (os_remap_to(copy, b - a, b - a, (void *)a)) {   /* replaces the file pages, atomically */
      replace(lg, (extent_t){ (uint32_t)page, (uint32_t)count, ANON });
    } else {
      os_unmap(copy, b - a);
    }
  }
  pthread_mutex_unlock(&cow_lock);
}

/* MADV_DONTNEED over [p, p+len): anonymous memory reads zeros after; file
 * pages would read their old contents, so the block's whole pages in the
 * range get fresh (zero) file pages. */
void cow_discard(void *p, size_t len) {
  uintptr_t a = ((uintptr_t)p + PG - 1) & ~(uintptr_t)(PG - 1), b = ((uintptr_t)p + len) & ~(uintptr_t)(PG - 1);
  if (b <= a) return;
  uma_large_t *lg = large_block_of((void *)a, b - a);
  if (lg == NULL || !lg->cow || a < (uintptr_t)user_page(lg, 0)) return;
  uint64_t page = (a - (uintptr_t)user_page(lg, 0)) / PG, count = (b - a) / PG;
  pthread_mutex_lock(&cow_lock);
  uint64_t file;
  if (count_after_replace(lg, page, count) <= (int)EXTENTS_MAX && file_take(count, &file) &&
      os_map_file_at((void *)a, count * PG, true, file_fd, file * PG)) {
    for (uint64_t f = file; f < file + count; f++) refs[f] = 1;
    cow_stats.file_bytes += count * PG;
    replace(lg, (extent_t){ (uint32_t)page, (uint32_t)count, file });
  } else {
    memset((void *)a, 0, b - a);   /* the same result, by hand */
  }
  pthread_mutex_unlock(&cow_lock);
}

/* ---- fork ------------------------------------------------------------------
 * Before: every block's mapping goes private (the file's pages stop
 * changing; the parent's later writes copy pages). After, in the child:
 * each block's contents go into a new file of the child's own, mapped
 * shared over the block, so that neither process can punch the other's
 * pages; the parent waits for that (a pipe) before it may punch again. */
static int fork_pipe[2] = { -1, -1 };

void cow_fork_prepare(void) {
  pthread_mutex_lock(&cow_lock);
  if (live == NULL || !os_pipe(fork_pipe)) {
    fork_pipe[0] = fork_pipe[1] = -1;
    return;
  }
  for (uma_large_t *lg = live; lg; lg = lg->cow_next)
    for (int i = 0; i < lg->cow_extents; i++) make_private(lg, &extents(lg)[i]);
  cow_stats.forks++;
}

void cow_fork_parent(void) {
  if (fork_pipe[0] >= 0) {
    os_close(fork_pipe[1]);
    char done;
    while (os_read(fork_pipe[0], &done, 1) < 0) {}   /* the child's copy is complete (or it died) */
    os_close(fork_pipe[0]);
    fork_pipe[0] = fork_pipe[1] = -1;
  }
  pthread_mutex_unlock(&cow_lock);
}

void cow_fork_child(void) {
  if (pagemap_fd >= 0) os_close(pagemap_fd);   /* it reads the parent's page table */
  pagemap_fd = -1;
  if (fork_pipe[0] >= 0) {
    os_close(fork_pipe[0]);
    int fd = os_memfd("uma-preload-cow");
    bool ok = fd >= 0 && os_truncate(fd, FILE_PAGES * PG);
    uint64_t top = 0;
    for (uma_large_t *lg = live; ok && lg; lg = lg->cow_next) {
      uint64_t pages = (lg->map_size - PG) / PG;
      ok = os_pwrite(fd, user_page(lg, 0), pages * PG, top * PG) == (long)(pages * PG) &&
           os_map_file_at(user_page(lg, 0), pages * PG, true, fd, top * PG);
      mappings -= lg->cow_extents - 1;
      lg->cow_extents = 1;
      extents(lg)[0] = (extent_t){ 0, (uint32_t)pages, top };
      top += pages;
    }
    if (!ok) {
      uma_write_err("uma-preload: fork: the child could not copy its aliasable blocks into a memory file of its "
                    "own (out of memory?); stopping the child. Rules with alias = mremap avoid this copy.\n");
      os_raw_syscall(231 /* exit_group */, 127, 0, 0, 0, 0, 0);
    }
    os_close(file_fd);
    file_fd = fd;
    os_unmap(refs, FILE_PAGES * sizeof *refs);
    refs = os_map(FILE_PAGES * sizeof *refs);
    for (uint64_t p = 0; p < top && refs; p++) refs[p] = 1;
    file_top = top;
    free_count = 0;
    cow_stats.file_bytes = top * PG;
    os_close(fork_pipe[1]);   /* the parent goes on */
    fork_pipe[0] = fork_pipe[1] = -1;
  }
  pthread_mutex_init(&cow_lock, NULL);
}

/* ---- the report ------------------------------------------------------------ */

void cow_snapshot(cow_stats_t *out) {
  pthread_mutex_lock(&cow_lock);
  *out = cow_stats;
  for (uma_large_t *lg = live; lg; lg = lg->cow_next) out->broken_pages += broken_pages(lg);
  pthread_mutex_unlock(&cow_lock);
}

/* What one aliased page saves: copying it at the memcpy rate measured on
 * the 2-core development VM (about 10 GB/s, docs/BENCH.md). */
#define COPY_BYTES_PER_S 10.0e9

void cow_write_text(int fd) {
  cow_stats_t s;
  cow_snapshot(&s);
  if (s.blocks == 0) return;
  char text[400];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "  aliased (cow)");
  buf_pad(&b, 24);
  buf_count(&b, s.copies);
  buf_str(&b, " copies shared ");
  buf_bytes(&b, s.aliased_bytes);
  buf_str(&b, " in ");
  buf_u64(&b, s.alias_ns / 1000000);
  buf_str(&b, " ms (a copy: about ");
  buf_u64(&b, (uint64_t)((double)s.aliased_bytes / COPY_BYTES_PER_S * 1e3));
  buf_str(&b, " ms); ");
  buf_count(&b, s.broken_pages);
  buf_str(&b, " pages copied since by writes; ");
  buf_count(&b, s.fallbacks);
  buf_str(&b, " copies not aliasable\n");
  os_write(fd, text, b.len);
}

void cow_write_json(uma_json_t *j) {
  cow_stats_t s;
  cow_snapshot(&s);
  json_open(j, "alias", '{');
  json_u64(j, "cow_min", cow_min == UINT64_MAX ? 0 : cow_min);
  json_u64(j, "blocks", s.blocks);
  json_u64(j, "copies", s.copies);
  json_u64(j, "aliased_bytes", s.aliased_bytes);
  json_u64(j, "copied_bytes", s.copied_bytes);
  json_u64(j, "fallbacks", s.fallbacks);
  json_u64(j, "alias_ns", s.alias_ns);
  json_u64(j, "copy_estimate_ns", (uint64_t)((double)s.aliased_bytes / COPY_BYTES_PER_S * 1e9));
  json_u64(j, "broken_pages", s.broken_pages);
  json_u64(j, "file_bytes", s.file_bytes);
  json_u64(j, "file_peak_bytes", s.file_peak);
  json_u64(j, "forks", s.forks);
  json_close(j, '}');
}

/* A rule asks for alias = cow: the large pool maps such blocks over the
 * memory file, and realloc's copies between them alias pages. */
void cow_install(void) {
  large_hooks.shared_unmap = cow_unmap;
  large_hooks.copy = cow_copy;
  fork_register(FORK_COW, cow_fork_prepare, cow_fork_parent, cow_fork_child);
  large_hooks.shared_map = cow_map;   /* last: what it maps, the others can undo */
}
