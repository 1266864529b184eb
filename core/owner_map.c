/* owner_map.c — two bits per 4 MiB slot of the user address space: set
 * while a segment or large mapping of ours starts there, saying whether it
 * is a paged (small or medium) segment (owner_map.h says why bits). free() tests it before it reads any header,
 * so a foreign pointer is diagnosed, never dereferenced, and one compare
 * also tells the fast path's small and medium segments from everything else.
 * The bitmaps (4 MiB each on x86-64) are zero-initialised static storage: valid before any
 * initialisation (free() may come first), and only the pages touched become
 * resident (one 4 KiB page covers 128 GiB of address space).
 *
 * The heap walk of the report (frag.c) finds every segment and large block
 * through this map, while other threads keep allocating. It may read a
 * header only while the mapping exists, hence the handshake with
 * owner_map_release: a walker announces itself (owner_map_scanners) before
 * it tests bits; whoever unmaps clears the bit first and then waits for
 * walkers to finish. Both sides use sequentially consistent operations, so
 * either the walker sees the bit clear or the unmapper sees the walker. */
#include "base.h"
#include "fmt.h"
#include "os.h"
#include "owner_map.h"

UMA_TABLE _Atomic uint8_t owner_ours[OWNER_MAP_SLOTS / 8];
UMA_TABLE _Atomic uint8_t owner_paged[OWNER_MAP_SLOTS / 8];
_Atomic uintptr_t owner_map_lo = OWNER_MAP_SLOTS, owner_map_hi;   /* slots ever set: [lo, hi] */
_Atomic int owner_map_scanners;

/* False when the slot lies beyond the map (an address the map cannot hold). */
bool owner_map_set(const void *slot_base, unsigned owner) {
  uintptr_t slot = (uintptr_t)slot_base >> UMA_SEG_SHIFT;
  UMA_ASSERT(((uintptr_t)slot_base & UMA_SEG_MASK) == 0);
  if (slot >= OWNER_MAP_SLOTS) return false;
  uint8_t bit = (uint8_t)(1u << (slot & 7));   /* a byte is shared with seven other slots */
  bool paged = owner >= OWNER_PAGES_MIN;
  if (paged) atomic_fetch_or(&owner_paged[slot >> 3], bit);   /* the segment's page_shift is set already */
  else atomic_fetch_and(&owner_paged[slot >> 3], (uint8_t)~bit);
  if (owner != OWNER_NONE) atomic_fetch_or(&owner_ours[slot >> 3], bit);
  else atomic_fetch_and(&owner_ours[slot >> 3], (uint8_t)~bit);
  if (owner != OWNER_NONE) {
    uintptr_t lo = atomic_load_explicit(&owner_map_lo, memory_order_relaxed);
    while (slot < lo && !atomic_compare_exchange_weak(&owner_map_lo, &lo, slot)) {}
    uintptr_t hi = atomic_load_explicit(&owner_map_hi, memory_order_relaxed);
    while (slot > hi && !atomic_compare_exchange_weak(&owner_map_hi, &hi, slot)) {}
  }
  return true;
}

/* The mapping at slot_base is about to be unmapped or moved: no walker may
 * be reading it after this returns. Walks take about a millisecond. */
void owner_map_release(const void *slot_base) {
  owner_map_set(slot_base, OWNER_NONE);
  atomic_thread_fence(memory_order_seq_cst);
  while (atomic_load(&owner_map_scanners) != 0) os_yield();
}

_Static_assert(OWNER_MAPPING < OWNER_PAGES_MIN, "owner_map_set: a page shift says a paged segment");
