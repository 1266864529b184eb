/* owner_map.h — the ownership map: which 4 MiB slots are ours (owner_map.c). */
#ifndef UMA_OWNER_MAP_H
#define UMA_OWNER_MAP_H
#include "base.h"

/* One byte per 4 MiB slot of the address space the kernel hands out without
 * an address hint (ours never give one): what starts there. x86-64 stays
 * below 2^47 even with 5-level paging; arm64 maps up to 2^48. */
#if defined(__x86_64__)
#define OWNER_MAP_VA_BITS 47
#else
#define OWNER_MAP_VA_BITS 48
#endif
#define OWNER_MAP_SLOTS (1UL << (OWNER_MAP_VA_BITS - UMA_SEG_SHIFT))
/* A paged segment's byte is its page shift, so free finds the page without
 * reading the segment: any value ≥ OWNER_PAGES_MIN is one. */
enum { OWNER_NONE = 0, OWNER_MAPPING = 1 /* coalescing pool or large block */,
       OWNER_PAGES_MIN = UMA_SMALL_PAGE_SHIFT /* small (16) or medium (19) segment */ };
/* Two bits a slot, in two bitmaps (4 MiB each on x86-64; a byte a slot
 * was 32 MiB of address space, and programs under a small `ulimit -v`
 * failed): `ours` — a segment or mapping of ours starts there; `paged` —
 * it is a small or medium segment, whose blocks free's fast path serves.
 * The fast path tests one bit and takes the page shift from the segment
 * (page_shift, on the line of seg->heap it reads anyway; the load can
 * start with the bitmap's, so the chain is no longer). Measured: a
 * two-level map of bytes cost 20 % on the pair loop (its second load waits
 * on the first), a 2-bit code 5–13 % (a shift by a variable count). */
UMA_HIDDEN extern _Atomic uint8_t owner_ours[OWNER_MAP_SLOTS / 8], owner_paged[OWNER_MAP_SLOTS / 8];
UMA_HIDDEN extern _Atomic uintptr_t owner_map_lo, owner_map_hi;
UMA_HIDDEN extern _Atomic int owner_map_scanners;
UMA_HIDDEN bool owner_map_set(const void *slot_base, unsigned owner);   /* OWNER_* or a page shift */
UMA_HIDDEN void owner_map_release(const void *slot_base);   /* before unmapping or moving it */
static inline bool owner_bit(_Atomic uint8_t *map, uintptr_t slot, memory_order order) {
  return (atomic_load_explicit(&map[slot >> 3], order) >> (slot & 7)) & 1;
}
/* OWNER_NONE or OWNER_MAPPING (a paged segment is one too: test kind). */
static inline unsigned owner_map_get(const void *slot_base) {
  uintptr_t slot = (uintptr_t)slot_base >> UMA_SEG_SHIFT;
  if (uma_unlikely(slot >= OWNER_MAP_SLOTS)) return OWNER_NONE;
  return owner_bit(owner_ours, slot, memory_order_relaxed) ? OWNER_MAPPING : OWNER_NONE;
}
static inline bool owner_map_test(const void *slot_base) { return owner_map_get(slot_base) != OWNER_NONE; }

#endif
