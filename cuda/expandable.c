/* expandable.c — the device pool's expandable segments ([cuda] expandable
 * = yes): one virtual range reserved per pool through the back end
 * (CUDA's virtual memory API, vmm.c), backed in chunks of at most 64 MiB as
 * the pool grows and given back chunk by chunk, so reserved memory follows
 * what is in use without one segment per size. Called by device_pool.c
 * under the pool's lock. */
#include "pool.h"
#include "../core/os.h"

bool expandable_init(dev_pool_t *p, int id) {
  if (p->xseg || p->x_failed) return p->xseg != NULL;
  p->x_failed = true;   /* until it worked */
  size_t size = 0, granule = 0;
  uintptr_t va = 0;
  if (BACKEND(id)->reserve == NULL || BACKEND(id)->reserve(DEVICE(id), &size, &va, &granule) != 0 || granule == 0 ||
      size < granule)
    return false;
  size = size / granule * granule;
  size_t n = size / granule;
  if (n > UINT32_MAX) n = UINT32_MAX, size = n * granule;
  uint8_t *book = os_map(n * (sizeof(uint64_t) + 2 * sizeof(uint32_t)));
  dev_seg_t *seg = pool_meta_new();
  dev_block_t *b = pool_meta_new();
  if (book == NULL || seg == NULL || b == NULL) return false;   /* the range stays reserved, unused */
  seg->base = va;
  seg->size = size;
  seg->first = b;
  b->addr = va;
  b->size = size;
  b->seg = seg;
  b->state = DB_UNMAPPED;
  p->xseg = seg;
  p->granule = granule;
  p->handles = (uint64_t *)book;
  p->chunk_of = (uint32_t *)(book + n * sizeof(uint64_t));
  p->chunk_len = p->chunk_of + n;
  p->st.expandable_va = size;
  p->x_failed = false;
  return true;
}

static dev_block_t *block_at(dev_seg_t *seg, uintptr_t a) {
  dev_block_t *b = seg->first;
  while (b && b->addr + b->size <= a) b = b->next_phys;
  return b;
}

/* Back [b->addr, b->addr + len) — the head of an UNMAPPED block, granule
 * multiples — with device memory, in chunks of at most CHUNK_MAX; it becomes
 * ready (merged with its ready neighbours). On failure the chunks mapped so
 * far stay, as a ready block. */
static int expandable_map(dev_pool_t *p, int id, dev_block_t *b, size_t len) {
  if (pool_over_quota(p, id, len)) return OUT_OF_MEMORY;
  if (len < b->size) {   /* the rest stays unbacked */
    if (pool_block_split(b, len) == NULL) return -1;
    b->next_phys->state = DB_UNMAPPED;
  }
  size_t done = 0, chunk_max = CHUNK_MAX / p->granule * p->granule;
  int err = 0;
  while (done < len) {
    size_t n = len - done < chunk_max ? len - done : chunk_max;
    uint32_t g = (uint32_t)((b->addr + done - p->xseg->base) / p->granule);
    if ((err = BACKEND(id)->map_range(DEVICE(id), b->addr + done, n, &p->handles[g])) != 0) break;
    p->chunk_len[g] = (uint32_t)(n / p->granule);
    for (uint32_t i = 0; i < p->chunk_len[g]; i++) p->chunk_of[g + i] = g;
    p->st.chunks_mapped++;
    done += n;
  }
  if (done < len) {
    if (done == 0) return err;
    if (pool_block_split(b, done) == NULL) {   /* cannot describe the split: give the mapped part back */
      for (size_t off = 0; off < done;) {
        uint32_t g = (uint32_t)((b->addr + off - p->xseg->base) / p->granule);
        BACKEND(id)->unmap_range(DEVICE(id), b->addr + off, p->chunk_len[g] * p->granule, p->handles[g]);
        off += p->chunk_len[g] * p->granule;
      }
      return err;
    }
    b->next_phys->state = DB_UNMAPPED;
  }
  p->st.reserved += done;
  pool_note_reserved(p);
  p->st.granules_mapped += done / p->granule;
  pool_make_ready(p, b);
  return err;
}

/* A ready block of at least `need` bytes made from the lowest run of free
 * and unbacked blocks that is large enough, or NULL (*err: CUDA's error, or
 * 0 when no run is large enough). */
dev_block_t *expandable_grow(dev_pool_t *p, int id, size_t need, int *err) {
  *err = 0;
  uintptr_t start = 0;
  size_t run = 0;
  for (dev_block_t *b = p->xseg->first; b; b = b->next_phys) {
    if (b->state != DB_READY && b->state != DB_UNMAPPED) {
      run = 0;
      continue;
    }
    if (run == 0) start = b->addr;
    run += b->size;
    if (run >= need) break;
  }
  if (run < need) return NULL;
  if (dev_max_reserved && p->st.reserved + need > dev_max_reserved) return NULL;
  uintptr_t end = start + need, g = p->granule;
  for (uintptr_t a = start; a < end;) {
    dev_block_t *b = block_at(p->xseg, a);
    uintptr_t b_end = b->addr + b->size;
    if (b->state == DB_UNMAPPED) {
      uintptr_t hi = (end + g - 1) / g * g;
      if (hi > b_end) hi = b_end;
      if ((*err = expandable_map(p, id, b, hi - b->addr)) != 0) return NULL;
      b_end = hi;
    }
    a = b_end;
  }
  return pool_find_ready(p, need);
}

/* Give back the whole chunks inside ready blocks while more than `keep`
 * bytes are cached; their blocks become UNMAPPED (merged with unbacked
 * neighbours), what is left at their ends stays ready. */
void expandable_release(dev_pool_t *p, int id, uint64_t keep) {
  uintptr_t g = p->granule, base = p->xseg->base;
  for (dev_block_t *b = p->xseg->first; b && p->st.cached > keep;) {
    uintptr_t lo = (b->addr + g - 1) / g * g, hi = (b->addr + b->size) / g * g;
    if (b->state == DB_READY && hi > lo) {   /* to the chunks wholly inside */
      uint32_t g_lo = (uint32_t)((lo - base) / g), g_hi = (uint32_t)((hi - base) / g);
      if (p->chunk_of[g_lo] != g_lo) g_lo = p->chunk_of[g_lo] + p->chunk_len[p->chunk_of[g_lo]];
      if (g_hi > g_lo) {
        uint32_t c = p->chunk_of[g_hi - 1];
        if (c + p->chunk_len[c] > g_hi) g_hi = c;
      }
      lo = base + (uintptr_t)g_lo * g;
      hi = g_hi > g_lo ? base + (uintptr_t)g_hi * g : lo;
    }
    if (b->state != DB_READY || hi <= lo) {
      b = b->next_phys;
      continue;
    }
    pool_bin_remove(p, b);
    dev_block_t *mid = b;
    if (lo > b->addr && (mid = pool_block_split(b, lo - b->addr)) == NULL) { pool_bin_insert(p, b); break; }
    if (mid != b) pool_bin_insert(p, b);
    if (hi < mid->addr + mid->size) {
      dev_block_t *tail = pool_block_split(mid, hi - mid->addr);
      if (tail == NULL) { pool_make_ready(p, mid); break; }
      pool_bin_insert(p, tail);
    }
    for (uintptr_t a = lo; a < hi;) {
      uint32_t c = (uint32_t)((a - base) / g);
      BACKEND(id)->unmap_range(DEVICE(id), a, p->chunk_len[c] * g, p->handles[c]);
      a += p->chunk_len[c] * g;
      p->st.chunks_unmapped++;
    }
    p->st.reserved -= hi - lo;
    p->st.granules_unmapped += (hi - lo) / g;
    mid->state = DB_UNMAPPED;
    dev_block_t *n = mid->next_phys, *prev = mid->prev_phys;
    if (n && n->state == DB_UNMAPPED) pool_absorb_next(mid);   /* keep unbacked space in few descriptors */
    if (prev && prev->state == DB_UNMAPPED) {
      pool_absorb_next(prev);
      mid = prev;
    }
    b = mid->next_phys;
  }
}

