/* owner_map.c — one bit per 4 MiB slot of the 48-bit address space: set while
 * a segment or large mapping of ours starts there. free() tests it before it
 * reads any header, so a foreign pointer is diagnosed, never dereferenced.
 * The 8 MiB bitmap is zero-initialised static storage: valid before any
 * initialisation (free() may come first), and only the words touched become
 * resident. */
#include "internal.h"

_Atomic uint64_t owner_map_bits[OWNER_MAP_SLOTS / 64];

/* False when the slot lies beyond the map (an address the map cannot hold). */
bool owner_map_set(const void *slot_base, bool owned) {
  uintptr_t slot = (uintptr_t)slot_base >> UMA_SEG_SHIFT;
  UMA_ASSERT(((uintptr_t)slot_base & UMA_SEG_MASK) == 0);
  if (slot >= OWNER_MAP_SLOTS) return false;
  uint64_t bit = 1ULL << (slot & 63);
  if (owned) atomic_fetch_or_explicit(&owner_map_bits[slot >> 6], bit, memory_order_release);
  else atomic_fetch_and_explicit(&owner_map_bits[slot >> 6], ~bit, memory_order_release);
  return true;
}
