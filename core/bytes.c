/* bytes.c — the core's byte copies (bytes.h): a loop of its own until the
 * preload hands it the C library's functions. Never turned into a call to
 * memcpy by the compiler (that would be the interposed one). */
#include "bytes.h"

__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *bytes_move_loop(void *dst, const void *src,
                                                                                      size_t n) {
  uint8_t *d = dst;
  const uint8_t *s = src;
  if (d < s)
    for (size_t i = 0; i < n; i++) d[i] = s[i];
  else
    for (size_t i = n; i > 0; i--) d[i - 1] = s[i - 1];
  return dst;
}

void *(*bytes_copy)(void *, const void *, size_t) = bytes_move_loop;
void *(*bytes_move)(void *, const void *, size_t) = bytes_move_loop;

void bytes_use_libc(void *(*copy)(void *, const void *, size_t), void *(*move)(void *, const void *, size_t)) {
  if (copy) bytes_copy = copy;
  if (move) bytes_move = move;
}
