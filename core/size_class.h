/* size_class.h — size classes: from a request size to its class and back (size_class.c). */
#ifndef UMA_SIZE_CLASS_H
#define UMA_SIZE_CLASS_H
#include "base.h"

/* 16-byte steps up to 128 B, then 8 classes per doubling (16 from 4 to
 * 8 KiB; size_class.c says why). Up to 64 KiB a class is one table load. */
#define SC_SMALL_MAX 1024                     /* sizes up to this: sc_small_table */
#define SC_SMALL_ENTRIES (SC_SMALL_MAX / 16 + 1)
static inline size_t sc_small_index(size_t size) { return (size + 15) >> 4; }
UMA_HIDDEN extern const uint8_t sc_small_table[SC_SMALL_ENTRIES];
UMA_HIDDEN extern const uint8_t sc_mid_table[1025];
static inline unsigned sc_of(size_t size) {
  if (uma_likely(size <= SC_SMALL_MAX)) return sc_small_table[sc_small_index(size)];   /* most requests */
  if (size <= 65536) return sc_mid_table[(size + 63) >> 6];
  size_t m = size - 1;
  unsigned b = 63u - (unsigned)__builtin_clzl(m);
  return 88u + (b - 16u) * 8u + (unsigned)((m >> (b - 3u)) & 7u);
}
UMA_HIDDEN extern const uint32_t sc_size_table[UMA_CLASS_COUNT];
static inline size_t sc_size(unsigned cls) { return sc_size_table[cls]; }

#endif
