/* fmt.c — text for messages and reports without stdio: a caller-provided
 * buffer, numbers formatted by hand, output by raw write(2). Safe inside
 * malloc, in a forked child and at exit. */
#include "base.h"
#include "fmt.h"
#include "layout.h"
#include "os.h"
#include <stdlib.h>

void buf_str(uma_buf_t *b, const char *s) {
  while (*s && b->len + 1 < b->cap) b->p[b->len++] = *s++;
  b->p[b->len] = 0;
}

static void put_decimal(uma_buf_t *b, uint64_t v, bool grouped) {
  char tmp[32];
  int n = 0, digits = 0;
  do {
    if (grouped && digits && digits % 3 == 0) tmp[n++] = ',';
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
    digits++;
  } while (v);
  char out[32];
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = 0;
  buf_str(b, out);
}

void buf_u64(uma_buf_t *b, uint64_t v) { put_decimal(b, v, false); }
void buf_count(uma_buf_t *b, uint64_t v) { put_decimal(b, v, true); }

void buf_hex(uma_buf_t *b, uintptr_t v) {
  char out[2 + 16 + 1] = "0x";
  int n = 2;
  bool started = false;
  for (int shift = 60; shift >= 0; shift -= 4) {
    unsigned d = (unsigned)(v >> shift) & 15;
    if (d || started || shift == 0) { out[n++] = "0123456789abcdef"[d]; started = true; }
  }
  out[n] = 0;
  buf_str(b, out);
}

/* "12.3 MiB" with one decimal; plain bytes below 1 KiB. */
void buf_bytes(uma_buf_t *b, uint64_t v) {
  static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  if (v < 1024) { buf_u64(b, v); buf_str(b, " B"); return; }
  unsigned u = 0;
  uint64_t whole = v, scale = 1;
  while (whole >= 1024 && u < 4) { whole /= 1024; scale *= 1024; u++; }
  uint64_t tenth = (v % scale) * 10 / scale;
  buf_u64(b, whole);
  char frac[3] = { '.', (char)('0' + tenth), 0 };
  buf_str(b, frac);
  buf_str(b, " ");
  buf_str(b, units[u]);
}

/* A size as the policy file writes it: "64M", "4K", "100". */
void buf_size(uma_buf_t *b, uint64_t v) {
  static const char *units[] = { "", "K", "M", "G", "T" };
  int u = 0;
  while (u < 4 && v && v % 1024 == 0) { v /= 1024; u++; }
  buf_u64(b, v);
  buf_str(b, units[u]);
}

void buf_pad(uma_buf_t *b, size_t column) {
  size_t start = b->len;
  while (start > 0 && b->p[start - 1] != '\n') start--;
  while (b->len - start < column && b->len + 1 < b->cap) b->p[b->len++] = ' ';
  b->p[b->len] = 0;
}

void uma_write_err(const char *msg) {
  size_t n = 0;
  while (msg[n]) n++;
  os_write(2, msg, n);
}

void uma_fatal(const char *what, const void *p) {
  char text[256];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "uma-preload: fatal: ");
  buf_str(&b, what);
  if (p) { buf_str(&b, " ("); buf_hex(&b, (uintptr_t)p); buf_str(&b, ")"); }
  buf_str(&b, "; aborting\n");
  uma_write_err(text);
  abort();
}

/* A free block's sealed link does not match: the program wrote into a
 * block after freeing it, or past the end of the block before it. */
void block_corrupt(const uma_block_t *b) {
  char text[320];
  uma_buf_t t = { text, 0, sizeof text };
  buf_str(&t, "uma-preload: malloc(): the free block at ");
  buf_hex(&t, (uintptr_t)b);
  buf_str(&t, " was overwritten (a write after free, or an overflow of the block before it); aborting "
              "(run under valgrind or ASan to find the write)\n");
  uma_write_err(text);
  abort();
}

/* One line naming the call, the pointer and what is wrong with it, then abort:
 * going on would corrupt the heap silently. */
void uma_invalid_pointer(const char *func, const void *p, const char *why) {
  char text[320];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "uma-preload: ");
  buf_str(&b, func);
  buf_str(&b, "(): pointer ");
  buf_hex(&b, (uintptr_t)p);
  buf_str(&b, " ");
  buf_str(&b, why);
  buf_str(&b, "; aborting (run under gdb or valgrind to find the caller)\n");
  uma_write_err(text);
  abort();
}
