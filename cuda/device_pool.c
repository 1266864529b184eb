/* device_pool.c — the GPU device pool: cudaMalloc'd segments cut into
 * blocks with best fit, split and coalesced, one pool per device. Device
 * memory cannot hold our headers, so every block has a host-side descriptor
 * (from OS-mapped slabs) and a table maps addresses to descriptors.
 *
 * Segments follow PyTorch's caching allocator, whose sizes GPU programs are
 * tuned for: a request up to 1 MiB takes a 2 MiB segment, up to 10 MiB a
 * 20 MiB one, larger ones their size rounded to 2 MiB. A block splits when
 * the rest is at least the rounding (blocks up to 1 MiB) or above 1 MiB (larger
 * blocks, so big segments do not crumble into slivers).
 *
 * Reuse is safe by construction: a freed block is only *pending*. Before a
 * pending block is handed out again, the pool fences the device — the
 * backend waits until every piece of work issued so far, on every stream,
 * has finished (cudaDeviceSynchronize) — and only then makes pending blocks
 * ready. Work enqueued before a free is enqueued before the fence, so it
 * can no longer touch the block. The fence runs only when no ready block
 * fits and some are pending: where the alternative was a new cudaMalloc.
 *
 * Expandable segments ([cuda] expandable = yes; PyTorch's
 * expandable_segments): one virtual range per pool, reserved once, backed
 * by device memory on demand (cuMemCreate + cuMemMap) in chunks of whole
 * 2 MiB granules — one chunk per growth, at most CHUNK_MAX, because each
 * call costs about 43 µs (measured on an H200: one call per granule took
 * 44 ms for 2 GiB) — and given back chunk by chunk (a chunk goes back whole,
 * so a larger one could stay mapped for one small live block: hence the cap). Its blocks are all neighbours, so a
 * hole left by a freed block merges with the free space around it and can
 * serve any later request — with separate cudaMalloc segments, two free
 * 30 MiB segments cannot serve a 50 MiB request and a third segment is
 * mapped. Unbacked parts of the range are UNMAPPED blocks, never in a bin.
 * A request goes to the first (lowest) run of free and unbacked blocks large
 * enough, whose unbacked granules are then mapped; when the range cannot
 * serve it, or its calls fail, ordinary segments take over.
 *
 * All CUDA calls go through a back end (backends.h: one per API); the unit
 * tests drive the pool with a fake one. */
#include "../core/base.h"
#include "../core/binmap.h"
#include "../core/fork.h"
#include "../core/addr_table.h"
#include "device_pool.h"
#include "device_share.h"
#include "pool.h"
#include "../core/os.h"
#include "../core/plan.h"
#include "../core/plan_host.h"
#include <string.h>

void pool_note_reserved(dev_pool_t *p) {
  if (p->st.reserved > p->st.peak_reserved) p->st.peak_reserved = p->st.reserved;
  if (p->arena && p->st.reserved > p->st.plan_reserved_peak) p->st.plan_reserved_peak = p->st.reserved;
}

/* Pool `id` serves device id % DEV_MAX through API id / DEV_MAX (runtime
 * or driver): each API's memory goes back through the API that made it. */
static UMA_TABLE dev_pool_t pools[DEV_POOLS];
const dev_backend_t *pool_backends[DEV_APIS];
size_t dev_round = 512;
uint64_t dev_max_reserved;                 /* 0: no cap */
uint64_t dev_release_threshold;            /* 0: keep every cached segment */
bool dev_enabled = true, dev_dlsym_route, dev_expandable;
bool dev_forked_child;                     /* a child of a process whose pools were in use */
UMA_TLS int dev_in_backend;
UMA_TLS int dev_route;
bool dev_cuda_seen;
_Atomic int dev_captures;   /* stream captures begun and not yet ended, in this process */

void dev_capture_began(void) { atomic_fetch_add(&dev_captures, 1); }
void dev_capture_ended(void) {
  int n = atomic_load(&dev_captures);
  while (n > 0 && !atomic_compare_exchange_weak(&dev_captures, &n, n - 1)) {}
}
const char *const dev_route_names[DEV_ROUTES] = { "plt", "cuGetProcAddress", "cudaGetDriverEntryPoint", "dlsym" };
const char *const dev_pass_names[DEV_PASSES] = { "stream_ordered", "pitched", "managed", "cuMemCreate" };

static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static void *free_meta;                    /* descriptors of both kinds, recycled */
static uint8_t *meta_cur, *meta_end;

/* fork: CUDA does not survive it (a child of a process that used CUDA
 * must not call it), so in the child every pool stops — the program's
 * calls go straight to CUDA, which answers as it would without us — and
 * the locks are made new (a thread in the middle of a pool call does not
 * exist there). Registered at the first pool's initialisation, as the
 * first step of fork.h's order: a pool's lock (held across cudaMalloc,
 * which may call malloc) is always taken before the heap's. */
static void dev_fork_prepare(void) {
  for (int i = 0; i < DEV_POOLS; i++) pthread_mutex_lock(&pools[i].lock);
  pthread_mutex_lock(&meta_lock);
}
static void dev_fork_parent(void) {
  pthread_mutex_unlock(&meta_lock);
  for (int i = DEV_POOLS - 1; i >= 0; i--) pthread_mutex_unlock(&pools[i].lock);
}
static void dev_fork_child(void) {
  pthread_mutex_init(&meta_lock, NULL);
  for (int i = 0; i < DEV_POOLS; i++) pthread_mutex_init(&pools[i].lock, NULL);
  dev_enabled = false;
  dev_forked_child = true;
  dev_share_fork_child();
}
static void dev_fork_register(void) {
  for (int i = 0; i < DEV_POOLS; i++) pthread_mutex_init(&pools[i].lock, NULL);
  fork_register(FORK_DEVICE, dev_fork_prepare, dev_fork_parent, dev_fork_child);
}
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

void dev_pool_init(int api, const dev_backend_t *be) {
  pthread_once(&fork_once, dev_fork_register);
  pool_backends[api] = be;
}

/* ---- descriptors ---------------------------------------------------------- */

#define META_SIZE (sizeof(dev_block_t) > sizeof(dev_seg_t) ? sizeof(dev_block_t) : sizeof(dev_seg_t))

void *pool_meta_new(void) {
  pthread_mutex_lock(&meta_lock);
  void *m = free_meta;
  if (m) {
    free_meta = *(void **)m;
  } else {
    if (meta_cur == NULL || meta_cur + META_SIZE > meta_end) {
      meta_cur = os_map(1 << 20);
      meta_end = meta_cur ? meta_cur + (1 << 20) : NULL;
    }
    if (meta_cur) {
      m = meta_cur;
      meta_cur += META_SIZE;
    }
  }
  pthread_mutex_unlock(&meta_lock);
  if (m) memset(m, 0, META_SIZE);
  return m;
}

static void meta_free(void *m) {
  pthread_mutex_lock(&meta_lock);
  *(void **)m = free_meta;
  free_meta = m;
  pthread_mutex_unlock(&meta_lock);
}

/* ---- bins of ready blocks ------------------------------------------------------ */

static const binmap_shape_t shape = { 0, FL_COUNT, SL_BITS };
static void mapping(size_t size, unsigned *fl, unsigned *sl) { binmap_bin(&shape, size, fl, sl); }

void pool_bin_insert(dev_pool_t *p, dev_block_t *b) {
  unsigned fl, sl;
  mapping(b->size, &fl, &sl);
  b->state = DB_READY;
  b->prev = NULL;
  b->next = p->bins[fl][sl];
  if (b->next) b->next->prev = b;
  p->bins[fl][sl] = b;
  binmap_set(&p->map, fl, sl);
  p->st.cached += b->size;
}

void pool_bin_remove(dev_pool_t *p, dev_block_t *b) {
  unsigned fl, sl;
  mapping(b->size, &fl, &sl);
  if (b->prev) b->prev->next = b->next;
  else p->bins[fl][sl] = b->next;
  if (b->next) b->next->prev = b->prev;
  if (p->bins[fl][sl] == NULL) binmap_clear(&p->map, fl, sl);
  p->st.cached -= b->size;
}

/* Best fit in the request's own bin, else the first block of the next
 * non-empty bin (all of whose blocks fit). */
dev_block_t *pool_find_ready(dev_pool_t *p, size_t size) {
  unsigned fl, sl;
  mapping(size, &fl, &sl);
  dev_block_t *best = NULL;
  for (dev_block_t *b = p->bins[fl][sl]; b; b = b->next)
    if (b->size >= size && (best == NULL || b->size < best->size)) best = b;
  if (best) return best;
  sl++;   /* the next bins: every block there fits */
  return binmap_find(&p->map, &shape, &fl, &sl) ? p->bins[fl][sl] : NULL;
}

/* Cut b at offset `at`: b keeps the head, the new block (returned, its state
 * for the caller to set) the rest. NULL when no descriptor can be had. */
dev_block_t *pool_block_split(dev_block_t *b, size_t at) {
  dev_block_t *rest = pool_meta_new();
  if (rest == NULL) return NULL;
  rest->addr = b->addr + at;
  rest->size = b->size - at;
  rest->seg = b->seg;
  rest->prev_phys = b;
  rest->next_phys = b->next_phys;
  if (rest->next_phys) rest->next_phys->prev_phys = rest;
  b->next_phys = rest;
  b->size = at;
  return rest;
}

/* ---- segments ------------------------------------------------------------------- */

static size_t segment_size_for(size_t size) {
  if (size <= MiB) return 2 * MiB;
  if (size < 10 * MiB) return 20 * MiB;
  return (size + 2 * MiB - 1) & ~(2 * MiB - 1);
}

/* [limits] gpu: the device memory this process's pools may hold on one
 * device, both APIs together (other pools' counters read without their
 * locks: a quota is not exact to the byte under races). */
uint64_t dev_quota;

uint64_t dev_device_reserved(int device) {
  uint64_t n = 0;
  for (int api = 0; api < DEV_DEVICE_APIS; api++)
    n += __atomic_load_n(&pools[api * DEV_MAX + device].st.reserved, __ATOMIC_RELAXED);
  return n;
}
/* The pinned pools' chunks, every GPU's ([limits] pinned). */
uint64_t dev_host_reserved(void) {
  uint64_t n = 0;
  for (int d = 0; d < DEV_MAX; d++) n += __atomic_load_n(&pools[DEV_API_HOST * DEV_MAX + d].st.reserved, __ATOMIC_RELAXED);
  return n;
}

bool pool_over_quota(dev_pool_t *p, int id, size_t more) {
  if (dev_quota == 0 || id / DEV_MAX >= DEV_DEVICE_APIS || dev_device_reserved(DEVICE(id)) + more <= dev_quota) return false;
  p->st.quota_refusals++;
  return true;
}

static dev_block_t *segment_new(dev_pool_t *p, int id, size_t size, int *err) {
  size_t seg_size = segment_size_for(size);
  uintptr_t base = 0;
  if (pool_over_quota(p, id, seg_size)) {
    *err = OUT_OF_MEMORY;
    return NULL;
  }
  *err = BACKEND(id)->map(DEVICE(id), seg_size, &base);
  if (*err) return NULL;
  dev_seg_t *seg = pool_meta_new();
  dev_block_t *b = pool_meta_new();
  if (seg == NULL || b == NULL) {
    BACKEND(id)->unmap(DEVICE(id), base);
    *err = -1;
    return NULL;
  }
  seg->base = base;
  seg->size = seg_size;
  seg->first = b;
  seg->next = p->segs;
  if (p->segs) p->segs->prev = seg;
  p->segs = seg;
  b->addr = base;
  b->size = seg_size;
  b->seg = seg;
  p->st.reserved += seg_size;
  pool_note_reserved(p);
  p->st.segments_mapped++;
  pool_bin_insert(p, b);
  return b;
}

static void segment_release(dev_pool_t *p, int id, dev_seg_t *seg) {
  dev_block_t *b = seg->first;
  pool_bin_remove(p, b);
  meta_free(b);
  if (seg->prev) seg->prev->next = seg->next;
  else p->segs = seg->next;
  if (seg->next) seg->next->prev = seg->prev;
  BACKEND(id)->unmap(DEVICE(id), seg->base);
  p->st.reserved -= seg->size;
  p->st.segments_released++;
  meta_free(seg);
}

static bool segment_empty(const dev_block_t *b) { return b->state == DB_READY && b->size == b->seg->size; }

/* Give back every segment that is one ready block; `keep` bytes of cache
 * may stay. */
static void release_free_segments(dev_pool_t *p, int id, uint64_t keep) {
  if (p->xseg) expandable_release(p, id, keep);
  dev_seg_t *next;
  for (dev_seg_t *seg = p->segs; seg && p->st.cached > keep; seg = next) {
    next = seg->next;
    if (segment_empty(seg->first)) segment_release(p, id, seg);
  }
}

/* ---- pending → ready ------------------------------------------------------------- */

/* b takes in its next neighbour, whose descriptor goes. */
void pool_absorb_next(dev_block_t *b) {
  dev_block_t *n = b->next_phys;
  b->size += n->size;
  b->next_phys = n->next_phys;
  if (b->next_phys) b->next_phys->prev_phys = b;
  meta_free(n);
}

void pool_make_ready(dev_pool_t *p, dev_block_t *b) {
  dev_block_t *n = b->next_phys, *prev = b->prev_phys;
  if (n && n->state == DB_READY) {
    pool_bin_remove(p, n);
    pool_absorb_next(b);
  }
  if (prev && prev->state == DB_READY) {
    pool_bin_remove(p, prev);
    pool_absorb_next(prev);
    b = prev;
  }
  pool_bin_insert(p, b);
}

/* While a stream is being captured into a graph, waiting for the device is
 * forbidden (CUDA would invalidate the capture: measured on an H100, a
 * cudaMalloc from PyTorch's relaxed-mode capture whose pool needed a fence
 * broke the capture), so no fence runs: the pending blocks stay pending and
 * the caller maps new memory instead. A fence that fails for another reason
 * proves nothing either. */
static void fence_and_collect(dev_pool_t *p, int id) {
  if (p->pending == NULL) return;
  if (atomic_load(&dev_captures) > 0) {
    p->st.fences_refused++;
    return;
  }
  if (BACKEND(id)->fence(DEVICE(id)) != 0) {
    BACKEND(id)->clear_error();
    p->st.fences_refused++;
    return;
  }
  p->st.fences++;
  dev_block_t *b = p->pending, *next;
  p->pending = NULL;
  for (; b; b = next) {
    next = b->next;
    p->st.pending -= b->size;
    pool_make_ready(p, b);
  }
  if (dev_release_threshold && p->st.cached > dev_release_threshold)
    release_free_segments(p, id, dev_release_threshold);
}

/* ---- the API ----------------------------------------------------------------------- */

static size_t round_up(size_t size) {
  size_t r = dev_round;
  size_t n = (size + r - 1) / r * r;
  return n ? n : r;
}

/* ---- lifetime-planned reuse ([plan] device = auto) ------------------------ */

bool plan_device_on, plan_device_one_stream;

/* A planned range: does it reuse addresses freed since the last fence? */
static bool reuses_recent(dev_pool_t *p, uint64_t off, uint64_t size) {
  if (p->recent_count == (int)(sizeof p->recent / sizeof p->recent[0])) return true;   /* lost track: assume so */
  for (int i = 0; i < p->recent_count; i++)
    if (p->recent[i].off < off + size && off < p->recent[i].off + p->recent[i].size) return true;
  return false;
}

/* Under the pool's lock: the arena's address for this request, or 0 (the
 * ordinary pool serves it; *seq numbers it for the planner). */
static uintptr_t planned_alloc(dev_pool_t *p, int id, size_t size, uint64_t *seq) {
  *seq = 0;
  if (!plan_device_on || size < plan_min) return 0;
  if (p->planner == NULL && (p->planner = plan_new()) == NULL) return 0;
  uint64_t off = 0, need = 0, s = 0;
  bool served = plan_alloc(p->planner, size, p->arena_size, 512, &off, &s, &need);
  if (!served && need) {   /* a period starts with nothing in the arena: (re)map it */
    /* The segments the pool kept while learning would sit beside the
     * arena: give the free ones back first. */
    if (p->st.plan_reserved_before == 0) p->st.plan_reserved_before = p->st.peak_reserved;
    fence_and_collect(p, id);
    release_free_segments(p, id, 0);
    if (p->arena) {
      BACKEND(id)->fence(DEVICE(id));   /* nothing may still use the old one */
      BACKEND(id)->unmap(DEVICE(id), p->arena);
      p->st.reserved -= p->arena_size;
      p->arena = 0;
      p->arena_size = 0;
    }
    uintptr_t a;
    dev_in_backend++;
    int err = BACKEND(id)->map(DEVICE(id), need, &a);
    dev_in_backend--;
    if (err == 0) {
      p->arena = a;
      p->arena_size = need;
      p->recent_count = 0;
      p->st.reserved += need;
      pool_note_reserved(p);
      if (need > p->st.plan_arena_peak) p->st.plan_arena_peak = need;
    } else {
      BACKEND(id)->clear_error();
    }
    served = plan_alloc(p->planner, size, p->arena_size, 512, &off, &s, &need);   /* without an arena: ends the plan */
  }
  if (!served) {
    *seq = s + 1;
    return 0;
  }
  if (!plan_device_one_stream && reuses_recent(p, off, size)) {
    BACKEND(id)->fence(DEVICE(id));
    p->st.plan_fences++;
    p->recent_count = 0;
  }
  p->st.plan_served++;
  return p->arena + off;
}

static bool planned_free(dev_pool_t *p, uintptr_t addr) {
  if (p->arena == 0 || addr < p->arena || addr >= p->arena + p->arena_size) return false;
  uint64_t size = plan_planned(p->planner, addr - p->arena, true);
  if (size == 0) return false;
  int room = (int)(sizeof p->recent / sizeof p->recent[0]);   /* full: reuses_recent assumes the worst */
  if (p->recent_count < room) {
    p->recent[p->recent_count].off = addr - p->arena;
    p->recent[p->recent_count].size = size;
    p->recent_count++;
  }
  return true;
}

/* 0 and *out set, or the backend's error (the program sees CUDA's). */
static int alloc_once(int id, size_t size, uintptr_t *out) {
  dev_pool_t *p = &pools[id];
  size_t need = round_up(size);
  if (need < size) return -1;
  pthread_mutex_lock(&p->lock);
  uint64_t plan_seq = 0;
  uintptr_t planned = planned_alloc(p, id, size, &plan_seq);
  if (planned) {
    p->st.allocs++;
    p->st.route_allocs[dev_route < DEV_ROUTES ? dev_route : 0]++;
    p->st.requested += size;
    *out = planned;
    pthread_mutex_unlock(&p->lock);
    return 0;
  }
  dev_block_t *b = pool_find_ready(p, need);
  if (b == NULL && p->pending) {
    fence_and_collect(p, id);
    b = pool_find_ready(p, need);
  }
  if (b) {
    p->st.hits++;
  } else {
    int err = 0;
    if (dev_max_reserved && p->st.reserved + segment_size_for(need) > dev_max_reserved)
      release_free_segments(p, id, 0);
    bool expandable = dev_expandable && expandable_init(p, id);
    if (expandable) b = expandable_grow(p, id, need, &err);
    if (b == NULL) b = segment_new(p, id, need, &err);   /* also when the range cannot serve it */
    if (b == NULL && err > 0) {   /* out of memory: give back what is cached and try again */
      p->st.oom_retries++;
      fence_and_collect(p, id);
      release_free_segments(p, id, 0);
      b = pool_find_ready(p, need);
      if (b == NULL && expandable) b = expandable_grow(p, id, need, &err);
      if (b == NULL) b = segment_new(p, id, need, &err);
      if (b) BACKEND(id)->clear_error();   /* the first failure must not linger as cudaGetLastError's */
    }
    if (b == NULL) {
      pthread_mutex_unlock(&p->lock);
      return err ? err : -1;
    }
  }
  pool_bin_remove(p, b);
  size_t min_rest = need <= MiB ? dev_round : MiB + 1;
  if (b->size - need >= min_rest) {
    dev_block_t *rest = pool_block_split(b, need);
    if (rest) pool_bin_insert(p, rest);
  }
  b->state = DB_USED;
  b->requested = size;
  b->plan_seq = plan_seq;
  if (!addr_table_put(&p->used, b->addr, (uintptr_t)b, 0)) {   /* no memory for the table: undo, report OOM */
    pool_make_ready(p, b);
    pthread_mutex_unlock(&p->lock);
    return -1;
  }
  p->st.allocs++;
  p->st.route_allocs[dev_route < DEV_ROUTES ? dev_route : 0]++;
  p->st.allocated += b->size;
  p->st.requested += size;
  if (p->st.allocated > p->st.peak_allocated) p->st.peak_allocated = p->st.allocated;
  *out = b->addr;
  pthread_mutex_unlock(&p->lock);
  return 0;
}

/* The device's identity for device_share.c, once per device and API. */
static bool capturing(void) { return atomic_load(&dev_captures) > 0; }
static const dev_share_pools_t share_pools = { dev_idle_bytes, dev_release_idle, capturing };

static void share_attach(int id) {
  static bool attached[DEV_POOLS];
  if (__atomic_load_n(&attached[id], __ATOMIC_ACQUIRE) || dev_share_wait_ms == 0 || BACKEND(id)->bus_id == NULL) return;
  char bus[32] = "";
  if (BACKEND(id)->bus_id(DEVICE(id), bus, sizeof bus) == 0) dev_share_attach(DEVICE(id), bus, &share_pools);
  __atomic_store_n(&attached[id], true, __ATOMIC_RELEASE);
}

int dev_alloc(int id, size_t size, uintptr_t *out) {
  if (id < 0 || id >= DEV_POOLS || BACKEND(id) == NULL) return -1;
  bool device_memory = id / DEV_MAX < DEV_DEVICE_APIS;
  if (device_memory) share_attach(id);
  int e = alloc_once(id, size, out);
  /* Out of memory with our own cache given back: other processes' idle
   * caches on this GPU may be what plain CUDA would have had free. */
  bool quota_bound = dev_quota && dev_device_reserved(DEVICE(id)) + size > dev_quota;   /* others' memory would not help */
  if (e > 0 && device_memory && !quota_bound && dev_share_wait(DEVICE(id), size)) {
    pthread_mutex_lock(&pools[id].lock);
    pools[id].st.share_waits++;
    pthread_mutex_unlock(&pools[id].lock);
    int again = alloc_once(id, size, out);
    if (again == 0) BACKEND(id)->clear_error();   /* the first failure must not linger */
    if (again >= 0) e = again;
  }
  if (device_memory) dev_share_publish(DEVICE(id));
  return e;
}

/* Memory pressure (limits.c, the helper thread): the pinned pools give
 * their wholly free chunks back (they are page-locked: the machine cannot
 * reclaim them). Pending chunks wait for their fence as always. */
uint64_t dev_release_host_idle(void) {
  uint64_t freed = 0;
  if (atomic_load(&dev_captures) > 0) return 0;
  for (int d = 0; d < DEV_MAX; d++) {
    int id = DEV_API_HOST * DEV_MAX + d;
    dev_pool_t *p = &pools[id];
    if (BACKEND(id) == NULL || p->used.slots == NULL) continue;
    pthread_mutex_lock(&p->lock);
    uint64_t before = p->st.reserved;
    release_free_segments(p, id, 0);
    freed += before - p->st.reserved;
    pthread_mutex_unlock(&p->lock);
  }
  return freed;
}

/* Another process on this GPU ran out (device_share.c's helper thread):
 * give back every wholly free segment of the device's pools, pending ones
 * after a fence. */
void dev_release_idle(int device) {
  for (int api = 0; api < DEV_DEVICE_APIS; api++) {
    int id = api * DEV_MAX + device;
    dev_pool_t *p = &pools[id];
    if (BACKEND(id) == NULL || p->used.slots == NULL) continue;
    if (BACKEND(id)->foreign_thread) BACKEND(id)->foreign_thread(device, true);
    pthread_mutex_lock(&p->lock);
    uint64_t before = p->st.reserved;
    fence_and_collect(p, id);
    release_free_segments(p, id, 0);
    p->st.share_released += before - p->st.reserved;
    pthread_mutex_unlock(&p->lock);
    if (BACKEND(id)->foreign_thread) BACKEND(id)->foreign_thread(device, false);
  }
}

/* True when addr was ours (it is now pending), false when the caller must
 * pass it on. */
bool dev_free(int id, uintptr_t addr) {
  if (id < 0 || id >= DEV_POOLS) return false;
  dev_pool_t *p = &pools[id];
  pthread_mutex_lock(&p->lock);
  if (planned_free(p, addr)) {
    p->st.frees++;
    pthread_mutex_unlock(&p->lock);
    return true;
  }
  addr_slot_t slot;
  dev_block_t *b = addr_table_take(&p->used, addr, &slot) ? (dev_block_t *)(uintptr_t)slot.a : NULL;
  if (b) {
    if (b->plan_seq && p->planner) plan_free(p->planner, b->plan_seq - 1);
    b->plan_seq = 0;
    b->state = DB_PENDING;
    b->prev = NULL;
    b->next = p->pending;
    p->pending = b;
    p->st.frees++;
    p->st.allocated -= b->size;
    p->st.pending += b->size;
  }
  pthread_mutex_unlock(&p->lock);
  if (b && id / DEV_MAX < DEV_DEVICE_APIS) dev_share_publish(DEVICE(id));
  return b != NULL;
}

/* Which pool of the API holds addr, or -1. */
int dev_owner(int api, uintptr_t addr) {
  for (int d = api * DEV_MAX; d < (api + 1) * DEV_MAX; d++) {
    dev_pool_t *p = &pools[d];
    if (p->used.slots == NULL) continue;
    pthread_mutex_lock(&p->lock);
    bool mine = addr_table_has(&p->used, addr) || (p->arena && addr >= p->arena && addr < p->arena + p->arena_size);
    pthread_mutex_unlock(&p->lock);
    if (mine) return d;
  }
  return -1;
}

/* A block freed while another device is current, or through the other API
 * (CUDA lets either free it): find its pool. */
bool dev_free_any(uintptr_t addr) {
  for (int api = 0; api < DEV_DEVICE_APIS; api++) {
    int owner = dev_owner(api, addr);
    if (owner >= 0 && dev_free(owner, addr)) return true;
  }
  return false;
}

bool dev_free_host(uintptr_t addr) {
  int owner = dev_owner(DEV_API_HOST, addr);
  return owner >= 0 && dev_free(owner, addr);
}

/* cudaMemGetInfo / cuMemGetInfo: the pools' idle bytes are free to the
 * program; never more than the total. Under a quota the device looks as
 * big as the quota (frameworks size themselves by it: JAX preallocates a
 * share of it, PyTorch's allocator stops there), and what the pools hold in
 * use counts against it. */
void dev_add_idle(int device, size_t *free_bytes, size_t *total_bytes) {
  uint64_t idle = dev_idle_bytes(device);
  uint64_t n = *free_bytes + idle;
  if (dev_quota && device >= 0 && device < DEV_MAX) {
    uint64_t in_use = dev_device_reserved(device) - (idle < dev_device_reserved(device) ? idle : dev_device_reserved(device));
    uint64_t left = dev_quota > in_use ? dev_quota - in_use : 0;
    if (n > left) n = left;
    if (total_bytes && *total_bytes > dev_quota) *total_bytes = dev_quota;
  }
  *free_bytes = total_bytes && n > *total_bytes ? *total_bytes : n;
}

/* Bytes the pool holds but the program does not use: cudaMemGetInfo adds
 * them to the device's free memory. */
uint64_t dev_idle_bytes(int device) {
  if (device < 0 || device >= DEV_MAX) return 0;
  uint64_t n = 0;
  for (int api = 0; api < DEV_DEVICE_APIS; api++) {   /* both APIs' pools are on this device */
    dev_pool_t *p = &pools[api * DEV_MAX + device];
    pthread_mutex_lock(&p->lock);
    n += p->st.cached + p->st.pending;
    pthread_mutex_unlock(&p->lock);
  }
  return n;
}

/* Counters and the free extents (ready blocks) of one device, for the
 * report; false when the pool is busy (the report must not wait) or unused. */
bool dev_summary(int id, dev_stats_t *st, uma_frag_pool_t *extents) {
  if (dev_forked_child) return false;   /* the parent's pools: its report shows them */
  dev_pool_t *p = &pools[id];
  if (pthread_mutex_trylock(&p->lock) != 0) return false;
  *st = p->st;
  if (p->planner) {
    plan_stats_t ps;
    plan_snapshot(p->planner, &ps);
    st->plan_plans = ps.plans;
    st->plan_deviations = ps.deviations;
    st->plan_live_bound = ps.live_bound;
    st->plan_arena = p->arena_size;
  }
  memset(extents, 0, sizeof *extents);
  for (dev_seg_t *seg = p->xseg ? p->xseg : p->segs; seg; seg = seg == p->xseg ? p->segs : seg->next) {
    extents->mappings++;
    extents->mapped += seg == p->xseg ? 0 : seg->size;   /* the expandable range: its backed blocks, below */
    for (dev_block_t *b = seg->first; b; b = b->next_phys) {
      if (b->state == DB_UNMAPPED) continue;
      if (seg == p->xseg) extents->mapped += b->size;
      if (b->state == DB_USED) {
        extents->live_bytes += b->size;
        continue;
      }
      extents_add(extents, b->size, 1);   /* ready or pending: both are free extents */
    }
  }
  pthread_mutex_unlock(&p->lock);
  return st->allocs != 0 || st->passthrough_allocs != 0;
}

/* cudaDeviceReset freed every allocation of the device behind our back:
 * forget its pool (descriptors leak by design: a reset is rare). */
void dev_forget(int id) {
  if (id < 0 || id >= DEV_POOLS) return;
  dev_pool_t *p = &pools[id];
  pthread_mutex_lock(&p->lock);
  dev_stats_t keep = p->st;
  memset(p->bins, 0, sizeof p->bins);
  memset(&p->map, 0, sizeof p->map);
  p->pending = NULL;
  p->segs = NULL;
  p->xseg = NULL;      /* the reset released its virtual range and granules too */
  p->x_failed = false;
  addr_table_clear(&p->used);
  p->arena = 0;        /* freed by the reset too: the plan starts over */
  p->arena_size = 0;
  p->recent_count = 0;
  if (p->planner) plan_reset(p->planner);
  p->st.reserved = p->st.allocated = p->st.cached = p->st.pending = 0;
  p->st.segments_released += keep.segments_mapped - keep.segments_released;
  pthread_mutex_unlock(&p->lock);
}

void dev_count_passthrough(int id, int kind, size_t bytes) {
  if (id < 0 || id >= DEV_POOLS || kind < 0 || kind >= DEV_PASSES) return;
  dev_pool_t *p = &pools[id];
  pthread_mutex_lock(&p->lock);
  p->st.passthrough_allocs++;
  p->st.passthrough_bytes += bytes;
  p->st.pass_allocs[kind]++;
  p->st.pass_bytes[kind] += bytes;
  pthread_mutex_unlock(&p->lock);
}
