/* json.c — a streaming JSON writer for the report: a fixed buffer flushed
 * to a file descriptor with write(2), no heap, commas tracked per nesting
 * level. Numbers are integers, or fixed-point with four decimals. */
#include "base.h"
#include "bytes.h"
#include "fmt.h"
#include "json.h"
#include "os.h"

static void flush(uma_json_t *j) {
  if (j->len) os_write(j->fd, j->buf, j->len);
  j->len = 0;
}

static void raw(uma_json_t *j, const char *s, size_t n) {
  while (n) {
    if (j->len == sizeof j->buf) flush(j);
    size_t room = sizeof j->buf - j->len, k = n < room ? n : room;
    bytes_copy(j->buf + j->len, s, k);
    j->len += k;
    s += k;
    n -= k;
  }
}

static void raw_str(uma_json_t *j, const char *s) { raw(j, s, __builtin_strlen(s)); }

static void comma(uma_json_t *j) {
  if (j->need_comma[j->depth]) raw(j, ",", 1);
  j->need_comma[j->depth] = true;
}

static void string(uma_json_t *j, const char *s) {
  raw(j, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = { '\\', (char)c };
      raw(j, e, 2);
    } else if (c < 0x20) {
      char e[6] = { '\\', 'u', '0', '0', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15] };
      raw(j, e, 6);
    } else {
      raw(j, (const char *)&c, 1);
    }
  }
  raw(j, "\"", 1);
}

static void key(uma_json_t *j, const char *k) {
  comma(j);
  if (k) {
    string(j, k);
    raw(j, ":", 1);
  }
}

void json_open(uma_json_t *j, const char *k, char bracket) {
  key(j, k);
  raw(j, &bracket, 1);
  if (j->depth + 1 < (int)sizeof j->need_comma) j->depth++;
  j->need_comma[j->depth] = false;
}

void json_close(uma_json_t *j, char bracket) {
  if (j->depth > 0) j->depth--;
  raw(j, &bracket, 1);
}

void json_u64(uma_json_t *j, const char *k, uint64_t v) {
  key(j, k);
  char text[24];
  int n = 24;
  do {
    text[--n] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  raw(j, text + n, (size_t)(24 - n));
}

void json_i64(uma_json_t *j, const char *k, int64_t v) {
  if (v < 0) {
    key(j, k);
    raw(j, "-", 1);
    j->need_comma[j->depth] = false;
    json_u64(j, NULL, (uint64_t)-v);
  } else {
    json_u64(j, k, (uint64_t)v);
  }
}

/* part / whole with four decimals; 0 when whole is 0. */
void json_ratio(uma_json_t *j, const char *k, uint64_t part, uint64_t whole) {
  key(j, k);
  uint64_t scaled = whole ? (uint64_t)((double)part * 10000.0 / (double)whole + 0.5) : 0;
  char text[32];
  uma_buf_t b = { text, 0, sizeof text };
  buf_u64(&b, scaled / 10000);
  char frac[6] = { '.', (char)('0' + scaled / 1000 % 10), (char)('0' + scaled / 100 % 10),
                   (char)('0' + scaled / 10 % 10), (char)('0' + scaled % 10), 0 };
  buf_str(&b, frac);
  raw(j, text, b.len);
}

void json_str(uma_json_t *j, const char *k, const char *v) {
  key(j, k);
  string(j, v);
}

void json_bool(uma_json_t *j, const char *k, bool v) {
  key(j, k);
  raw_str(j, v ? "true" : "false");
}

void json_null(uma_json_t *j, const char *k) {
  key(j, k);
  raw_str(j, "null");
}

void json_end(uma_json_t *j) {
  raw(j, "\n", 1);
  flush(j);
}
