/* binmap.h — the free-block index of a two-level segregated fit (TLSF,
 * Masmano et al., 2004): a size maps to a bin (first level: its power of
 * two; second level: 1 << sl_bits steps within it), and two bitmaps say
 * which bins hold free blocks, so the first non-empty bin at or above a
 * size is two bit scans. The coalescing pool (tlsf.c) and the GPU pools
 * (cuda/device_pool.c) keep their own lists in their own blocks; this is
 * where both look. */
#ifndef UMA_BINMAP_H
#define UMA_BINMAP_H
#include "base.h"

#define BINMAP_FL_MAX 64
typedef struct binmap_s {
  uint64_t fl;                   /* bit f: some bin of first level f is not empty */
  uint8_t sl[BINMAP_FL_MAX];     /* per first level, bit s: bin (f, s) is not empty */
} binmap_t;

/* The shape of one index: sizes below 2^fl_min share the first level 0,
 * sizes from 2^(fl_min + fl_count - 1) up share the last. sl_bits <= 3. */
typedef struct binmap_shape_s { unsigned fl_min, fl_count, sl_bits; } binmap_shape_t;

static inline void binmap_bin(const binmap_shape_t *s, size_t size, unsigned *fl, unsigned *sl) {
  unsigned f = 63u - (unsigned)__builtin_clzll(size);
  unsigned l = f < s->fl_min ? 0 : f - s->fl_min;
  *fl = l < s->fl_count ? l : s->fl_count - 1;
  *sl = f >= s->sl_bits ? (unsigned)(size >> (f - s->sl_bits)) & ((1u << s->sl_bits) - 1) : 0;
}
static inline void binmap_set(binmap_t *m, unsigned fl, unsigned sl) {
  m->fl |= 1ULL << fl;
  m->sl[fl] |= (uint8_t)(1u << sl);
}
static inline void binmap_clear(binmap_t *m, unsigned fl, unsigned sl) {
  m->sl[fl] &= (uint8_t)~(1u << sl);
  if (m->sl[fl] == 0) m->fl &= ~(1ULL << fl);
}
/* The first non-empty bin at or above (fl, sl), in *fl and *sl; false: none. */
static inline bool binmap_find(const binmap_t *m, const binmap_shape_t *s, unsigned *fl, unsigned *sl) {
  unsigned f = *fl;
  uint32_t here = f < s->fl_count && *sl < 8 ? m->sl[f] & (~0u << *sl) : 0;
  if (here == 0) {
    uint64_t above = f + 1 < s->fl_count ? m->fl & (~0ULL << (f + 1)) : 0;
    if (above == 0) return false;
    f = (unsigned)__builtin_ctzll(above);
    here = m->sl[f];
  }
  *fl = f;
  *sl = (unsigned)__builtin_ctz(here);
  return true;
}

#endif
