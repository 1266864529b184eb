/* addr_table.h — open-addressing tables keyed by address (addr_table.c). */
#ifndef UMA_ADDR_TABLE_H
#define UMA_ADDR_TABLE_H
#include "base.h"

typedef struct addr_slot_s { uintptr_t key; uint64_t a, b; } addr_slot_t;   /* key 0: empty */
typedef struct addr_table_s { addr_slot_t *slots; uint64_t mask, used; } addr_table_t;
UMA_HIDDEN bool addr_table_put(addr_table_t *t, uintptr_t key, uint64_t a, uint64_t b);
UMA_HIDDEN bool addr_table_has(const addr_table_t *t, uintptr_t key);
UMA_HIDDEN bool addr_table_take(addr_table_t *t, uintptr_t key, addr_slot_t *out);
UMA_HIDDEN void addr_table_clear(addr_table_t *t);

#endif
