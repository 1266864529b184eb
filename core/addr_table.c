/* addr_table.c — a table from addresses to two words, for the metadata that
 * cannot live next to what it describes: the trace's live blocks (size,
 * record) and the device pool's blocks (descriptor). Open addressing with
 * linear probing, doubled when half full, backward-shift deletion (no
 * tombstones); memory from the OS. Callers hold their own lock. */
#include "base.h"
#include "addr_table.h"
#include "os.h"

static uint64_t home_of(const addr_table_t *t, uintptr_t key) {
  return ((key * 0x9E3779B97F4A7C15ULL) >> 20) & t->mask;
}

static uint64_t find(const addr_table_t *t, uintptr_t key) {
  uint64_t i = home_of(t, key);
  while (t->slots[i].key != 0 && t->slots[i].key != key) i = (i + 1) & t->mask;
  return i;
}

static bool grow(addr_table_t *t) {
  addr_slot_t *old = t->slots;
  uint64_t old_n = old ? t->mask + 1 : 0, n = old ? 2 * old_n : 4096;
  addr_slot_t *fresh = os_map(n * sizeof *fresh);
  if (fresh == NULL) return false;
  t->slots = fresh;
  t->mask = n - 1;
  for (uint64_t i = 0; i < old_n; i++)
    if (old[i].key) t->slots[find(t, old[i].key)] = old[i];
  if (old) os_unmap(old, old_n * sizeof *old);
  return true;
}

/* Insert or replace; false when the OS refuses memory to grow. */
bool addr_table_put(addr_table_t *t, uintptr_t key, uint64_t a, uint64_t b) {
  if ((t->slots == NULL || 2 * (t->used + 1) > t->mask + 1) && !grow(t)) return false;
  uint64_t i = find(t, key);
  if (t->slots[i].key == 0) t->used++;
  t->slots[i] = (addr_slot_t){ key, a, b };
  return true;
}

bool addr_table_has(const addr_table_t *t, uintptr_t key) {
  return t->slots != NULL && key != 0 && t->slots[find(t, key)].key == key;
}

/* Remove key, its words to *out; false when absent. */
bool addr_table_take(addr_table_t *t, uintptr_t key, addr_slot_t *out) {
  if (t->slots == NULL || key == 0) return false;
  uint64_t i = find(t, key);
  if (t->slots[i].key == 0) return false;
  *out = t->slots[i];
  uint64_t hole = i;
  for (uint64_t j = (i + 1) & t->mask; t->slots[j].key != 0; j = (j + 1) & t->mask) {
    uint64_t home = home_of(t, t->slots[j].key);
    if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
      t->slots[hole] = t->slots[j];
      hole = j;
    }
  }
  t->slots[hole].key = 0;
  t->used--;
  return true;
}

/* Forget everything (the slots go back to the OS). */
void addr_table_clear(addr_table_t *t) {
  if (t->slots) os_unmap(t->slots, (t->mask + 1) * sizeof *t->slots);
  t->slots = NULL;
  t->mask = t->used = 0;
}
