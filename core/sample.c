/* sample.c — sampled allocation call sites ([report] sample): on average
 * one allocation per `sample` bytes requested is sampled (a countdown of
 * bytes with random, exponentially distributed intervals, as tcmalloc
 * does, so every byte has the same chance and big blocks are not missed),
 * its call stack is walked and counted against its site. Each sample stands
 * for size / (1 − e^(−size/mean)) bytes, an unbiased estimate of the bytes
 * allocated there. Sites keep estimated bytes allocated (churn), live now,
 * their own peak, and live at the report's peak snapshot; the report lists
 * them with return addresses and the process's executable mappings, and
 * uma-report names the functions and lines (nothing is symbolised here).
 *
 * A sampled block must be recognised at free without costing the fast
 * path anything: small and medium sampled blocks come from a heap of their
 * own that no thread owns, so every free of one takes free's slow path
 * (another heap's block), where sample_free looks it up; blocks of the
 * coalescing pool and large blocks reach the slow path anyway.
 *
 * The stack walk is glibc's backtrace() (libgcc's unwinder, through
 * _dl_find_object on glibc 2.35+: no lock, no allocation after its first
 * call, which sample_start makes before main). Memory comes from the OS. */
#define _GNU_SOURCE
#include "base.h"
#include "bytes.h"
#include "fork.h"
#include "addr_table.h"
#include "alloc.h"
#include "fmt.h"
#include "heap.h"
#include "json.h"
#include "numa.h"
#include "os.h"
#include "sample.h"
#include "size_class.h"
#include "stats.h"
#include "tlsf.h"
#include "alloc_fast.h"
#include <execinfo.h>
#include <link.h>

uint64_t sample_mean;                          /* 0: off */
static bool ready;                             /* the unwinder loaded, the heap made */
/* One sampling heap per NUMA node, made at a sample's first need: a
 * sampled block sits on its thread's node like its unsampled neighbours
 * (one shared heap put every sampled block on the node of the thread that
 * started sampling, which the NUMA guests' local checks caught). */
static uma_heap_t *sample_heaps[256];
static uintptr_t self_lo, self_hi;             /* this library's text: frames to skip */
static _Atomic bool lock;
static _Atomic uint64_t rng = 0x2545F4914F6CDD1DULL;   /* shared; a lost update only repeats an interval */

UMA_TABLE sample_site_t sample_sites[SAMPLE_SITES];
uint32_t sample_site_count;
uint64_t sample_count, sample_lost;            /* samples taken; sites that did not fit */
_Atomic uint64_t sample_live_blocks;           /* sampled blocks not yet freed */
static addr_table_t live;                      /* block → (site, weight) */

static void sample_lock(void) { while (atomic_exchange_explicit(&lock, true, memory_order_acquire)) os_yield(); }
static void sample_unlock(void) { atomic_store_explicit(&lock, false, memory_order_release); }

void sample_configure(uint64_t mean_bytes) { sample_mean = mean_bytes; }

/* e^(−x) for x ≥ 0, within 1e-6: 2^(−x/ln 2) by its integer part and a
 * series for the rest (no libm in the preload). */
static double exp_neg(double x) {
  if (x > 700) return 0;
  double y = x * 1.4426950408889634;   /* log2(e) */
  int n = (int)y;
  double f = (y - n) * 0.6931471805599453, term = 1, sum = 1;
  for (int k = 1; k < 14; k++) { term *= -f / k; sum += term; }
  while (n-- > 0) sum *= 0.5;
  return sum;
}

/* −ln(u) for u in (0, 1]: ln by the exponent and an atanh series. */
static double neg_log(double u) {
  int e = 0;
  while (u < 0.5) { u *= 2; e++; }
  double t = (u - 1) / (u + 1), t2 = t * t, sum = 0, p = t;
  for (int k = 1; k < 30; k += 2) { sum += p / k; p *= t2; }
  return e * 0.6931471805599453 - 2 * sum;
}

/* The next countdown: exponential with mean sample_mean (xorshift64*). */
static int64_t next_interval(void) {
  uint64_t x = atomic_load_explicit(&rng, memory_order_relaxed);
  x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
  atomic_store_explicit(&rng, x, memory_order_relaxed);
  double u = (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
  double v = neg_log(u > 0 ? u : 1e-18) * (double)sample_mean;
  return v < 1 ? 1 : v > 4e18 ? (int64_t)4e18 : (int64_t)v;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t me = (uintptr_t)arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo && me < hi) {
      self_lo = lo;
      self_hi = hi;
      return 1;
    }
  }
  return 0;
}

/* A heap's countdowns: random intervals once sampling runs, else never. */
static void arm_class(uma_tcache_t *tc, int64_t n) {
  int32_t v = n > INT32_MAX ? INT32_MAX : (int32_t)n;
  int32_t armed = __atomic_load_n(&tc->sample_armed, __ATOMIC_RELAXED);
  int32_t left = __atomic_load_n(&tc->sample_left, __ATOMIC_RELAXED);
  STAT_ADD(tc->requested, (uint64_t)((int64_t)armed - left));   /* bank what it counted */
  __atomic_store_n(&tc->sample_armed, v, __ATOMIC_RELAXED);
  __atomic_store_n(&tc->sample_left, v, __ATOMIC_RELAXED);
}

void sample_arm(uma_heap_t *heap) {
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) arm_class(&heap->tcache[c], ready ? next_interval() : INT32_MAX);
  heap->sample_left = ready ? next_interval() : INT64_MAX;
}

/* The sampling heap of `node`, made if new: a heap no thread owns, so its
 * blocks' frees take the slow path. Under the lock once sampling runs. */
static uma_heap_t *sample_heap_of(int node) {
  uma_heap_t *heap = sample_heaps[node];
  if (heap == NULL && (heap = heap_borrow_on(node)) != NULL) {
    heap->sampling = true;
    sample_heaps[node] = heap;
  }
  return heap;
}

/* Before main, from the preload's constructor (it may allocate: backtrace's
 * first call loads libgcc_s). */
void sample_start(void) {
  if (sample_mean == 0 || ready) return;
  void *warm[4];
  backtrace(warm, 4);
  dl_iterate_phdr(find_self, (void *)(uintptr_t)sample_start);
  if (sample_heap_of(numa_current_node()) == NULL) return;
  atomic_fetch_xor(&rng, (uint64_t)os_now_ns() * 0x9E3779B97F4A7C15ULL | 1);
  fork_register(FORK_SAMPLE, sample_fork_prepare, sample_fork_parent, sample_fork_child);
  ready = true;
  for (uma_heap_t *h = atomic_load_explicit(&heap_all, memory_order_acquire); h; h = h->all_next) sample_arm(h);
}

/* The site of the stack in `frames`, made if new; under the lock. */
static sample_site_t *site_of(void *const *frames, int depth) {
  uint64_t h = (uint64_t)depth;
  for (int i = 0; i < depth; i++) h = (h ^ (uintptr_t)frames[i]) * 0x100000001B3ULL;
  uint32_t i = (uint32_t)(h >> 20) & (SAMPLE_SITES - 1);
  for (uint32_t probe = 0; probe < SAMPLE_SITES; probe++, i = (i + 1) & (SAMPLE_SITES - 1)) {
    sample_site_t *s = &sample_sites[i];
    if (s->depth == 0) {
      if (sample_site_count + 1 >= SAMPLE_SITES * 3 / 4) break;   /* keep probes short */
      s->hash = h;
      s->depth = (uint8_t)depth;
      bytes_copy(s->frames, frames, (size_t)depth * sizeof *frames);
      sample_site_count++;
      return s;
    }
    if (s->hash == h && s->depth == depth && __builtin_memcmp(s->frames, frames, (size_t)depth * sizeof *frames) == 0)
      return s;
  }
  sample_lost++;
  return NULL;
}

/* Records a sampled block of `size` bytes at `p`. */
static void record(void *p, size_t size) {
  void *raw[SAMPLE_DEPTH + 8];
  int n = backtrace(raw, SAMPLE_DEPTH + 8), first = 0;
  while (first < n && (uintptr_t)raw[first] >= self_lo && (uintptr_t)raw[first] < self_hi) first++;
  int depth = n - first > SAMPLE_DEPTH ? SAMPLE_DEPTH : n - first;
  if (depth <= 0) return;
  double x = (double)size / (double)sample_mean;
  uint64_t weight = (uint64_t)((double)size / (1.0 - exp_neg(x)) + 0.5);
  sample_lock();
  sample_count++;
  sample_site_t *s = site_of(raw + first, depth);
  if (s) {
    s->samples++;
    s->allocated += weight;
    s->live += weight;
    if (s->live > s->peak_live) s->peak_live = s->live;
    if (addr_table_put(&live, (uintptr_t)p, (uint64_t)(s - sample_sites), weight))
      atomic_fetch_add_explicit(&sample_live_blocks, 1, memory_order_relaxed);
    else
      s->live -= weight;   /* no room to follow it: counted as allocated only */
  }
  sample_unlock();
}

/* A countdown ran out (the fast path's per class, or a slow path's per
 * heap): re-arm it and serve the request, sampled when sampling is on. */
void *sample_alloc(size_t size, size_t align, bool zero, const void *ra, uma_tcache_t *tc) {
  uma_heap_t *heap = uma_tls_heap;
  /* The countdown counted this request; the path serving it counts it too. */
  if (tc) tcache_sample_give_back(tc, size);
  int64_t next = ready ? next_interval() : INT64_MAX;
  if (tc) arm_class(tc, next);
  else if (heap) heap->sample_left = next;
  if (!ready) return alloc_generic(size, align, zero, ra);
  void *p;
  uint64_t snapshots = atomic_load_explicit(&stats_peak_walks, memory_order_relaxed);
  if (size <= UMA_TCACHE_MAX_SIZE && sc_of(size) < tlsf_first_class && align <= UMA_OS_PAGE && heap) {
    sample_lock();
    uma_heap_t *sampling = sample_heap_of(heap->node);
    uma_tls_heap = sampling;   /* its pages, so the block's free reaches sample_free */
    p = sampling ? alloc_in_heap(sampling, size, align, zero, ra) : NULL;
    uma_tls_heap = heap;
    sample_unlock();
    /* Out of memory (a quota, RLIMIT_AS): the ordinary path purges, retries
     * and says ENOMEM — malloc's fast path returns what this returns. */
    if (p == NULL) return alloc_generic(size, align, zero, ra);
  } else {
    p = alloc_generic(size, align, zero, ra);
  }
  if (p) record(p, size);
  /* the block made a new peak: the snapshot's sites must include it */
  if (atomic_load_explicit(&stats_peak_walks, memory_order_relaxed) != snapshots) sample_note_peak();
  return p;
}

/* Counts a request that did not pass malloc's fast path (calloc, aligned,
 * realloc's new block, sizes above the thread caches). */
void *sample_maybe(size_t size, size_t align, bool zero, const void *ra) {
  uma_heap_t *heap = uma_tls_heap;
  if (heap == NULL || (heap->sample_left -= (int64_t)size) >= 0) return NULL;
  return sample_alloc(size, align, zero, ra, NULL);
}

/* free's slow path: is `p` a sampled block? Then its site's live bytes fall. */
void sample_free_slow(const void *p) {
  sample_lock();
  addr_slot_t slot;
  if (addr_table_take(&live, (uintptr_t)p, &slot)) {
    sample_sites[slot.a].live -= slot.b;
    atomic_fetch_sub_explicit(&sample_live_blocks, 1, memory_order_relaxed);
  }
  sample_unlock();
}

bool sample_heap_is(const uma_heap_t *heap) { return heap != NULL && heap->sampling; }

/* The report's peak snapshot: each site's live bytes at that moment. */
void sample_note_peak(void) {
  if (!ready) return;
  sample_lock();
  for (uint32_t i = 0; i < SAMPLE_SITES; i++)
    if (sample_sites[i].depth) sample_sites[i].live_at_peak = sample_sites[i].live;
  sample_unlock();
}

/* Exit: frees other threads made into the sampling heap's pages come in. */
void sample_collect(void) {
  if (!ready) return;
  sample_lock();
  for (size_t n = 0; n < sizeof sample_heaps / sizeof sample_heaps[0]; n++)
    if (sample_heaps[n]) heap_collect_all(sample_heaps[n], false);
  sample_unlock();
}

void sample_fork_prepare(void) { if (ready) sample_lock(); }
void sample_fork_parent(void) { if (ready) sample_unlock(); }
void sample_fork_child(void) { if (ready) sample_unlock(); }

/* ---- the report ------------------------------------------------------------ */

/* The executable file mappings, from /proc/self/maps, so uma-report can
 * turn a return address into a file and an offset (and then a line). */
static void modules(uma_json_t *j) {
  static const size_t cap = 1 << 20;
  char *text = os_map(cap);
  json_open(j, "modules", '[');
  int fd = text ? os_open("/proc/self/maps", 0, 0) : -1;
  size_t len = 0;
  if (fd >= 0) {
    long r;
    while (len < cap - 1 && (r = os_read(fd, text + len, cap - 1 - len)) > 0) len += (size_t)r;
    os_close(fd);
  }
  for (size_t at = 0; at < len;) {
    char *line = text + at, *nl = line;
    while (nl < text + len && *nl != '\n') nl++;
    *nl = 0;
    at = (size_t)(nl - text) + 1;
    /* start-end perms offset dev inode path */
    char *s = line;
    uint64_t lo = 0, hi = 0, off = 0;
    while (*s && *s != '-') { lo = lo * 16 + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 32) - 'a' + 10); s++; }
    if (*s) s++;
    while (*s && *s != ' ') { hi = hi * 16 + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 32) - 'a' + 10); s++; }
    while (*s == ' ') s++;
    bool exec = s[0] && s[1] && s[2] == 'x';
    while (*s && *s != ' ') s++;
    while (*s == ' ') s++;
    while (*s && *s != ' ') { off = off * 16 + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 32) - 'a' + 10); s++; }
    for (int field = 0; field < 2; field++) {   /* dev, inode */
      while (*s == ' ') s++;
      while (*s && *s != ' ') s++;
    }
    while (*s == ' ') s++;
    if (!exec || *s != '/') continue;
    json_open(j, NULL, '{');
    json_str(j, "path", s);
    json_u64(j, "start", lo);
    json_u64(j, "end", hi);
    json_u64(j, "offset", off);
    json_close(j, '}');
  }
  json_close(j, ']');
  if (text) os_unmap(text, cap);
}

void sample_write_json(uma_json_t *j) {
  if (!ready) {
    json_null(j, "sites");
    return;
  }
  json_open(j, "sites", '{');
  json_u64(j, "mean_bytes", sample_mean);
  json_u64(j, "samples", sample_count);
  json_u64(j, "sites_lost", sample_lost);
  json_open(j, "list", '[');
  for (uint32_t i = 0; i < SAMPLE_SITES; i++) {
    const sample_site_t *s = &sample_sites[i];
    if (s->depth == 0) continue;
    json_open(j, NULL, '{');
    json_u64(j, "samples", s->samples);
    json_u64(j, "allocated_bytes", s->allocated);
    json_u64(j, "live_bytes", s->live);
    json_u64(j, "peak_live_bytes", s->peak_live);
    json_u64(j, "live_at_peak_bytes", s->live_at_peak);
    json_open(j, "frames", '[');
    for (int f = 0; f < s->depth; f++) json_u64(j, NULL, (uint64_t)(uintptr_t)s->frames[f]);
    json_close(j, ']');
    json_close(j, '}');
  }
  json_close(j, ']');
  modules(j);
  json_close(j, '}');
}

/* One line: how many samples, and the site with the most bytes live now. */
void sample_write_text(int fd) {
  if (!ready) return;
  char text[256];
  uma_buf_t b = { text, 0, sizeof text };
  uint64_t live = 0;
  for (uint32_t i = 0; i < SAMPLE_SITES; i++) live += sample_sites[i].depth ? sample_sites[i].live : 0;
  buf_str(&b, "  call sites");
  buf_pad(&b, 24);
  buf_count(&b, sample_count);
  buf_str(&b, " samples (one per ");
  buf_size(&b, sample_mean);
  buf_str(&b, " on average) at ");
  buf_count(&b, sample_site_count);
  buf_str(&b, " sites; ~");
  buf_bytes(&b, live);
  buf_str(&b, " live by estimate: uma-report names them\n");
  os_write(fd, text, b.len);
}
