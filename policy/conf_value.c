/* conf_value.c — turning the text of a value into a number, a range, a
 * mask or checked text, for a given key of the table (conf_keys.c). No heap
 * and no stdio: this runs inside the preload's start-up. */
#include "policy.h"
#include "../core/base.h"
#include "../core/tlsf.h"
#include <string.h>
#include <sys/sysinfo.h>

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static void trim(const char **s, size_t *len) {
  while (*len && is_space(**s)) { (*s)++; (*len)--; }
  while (*len && is_space((*s)[*len - 1])) (*len)--;
}

static bool word_is(const char *s, size_t len, const char *word) {
  return strlen(word) == len && memcmp(s, word, len) == 0;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

uint64_t pol_ram_bytes(void) {
  struct sysinfo si;
  if (sysinfo(&si) != 0) return 0;
  return (uint64_t)si.totalram * si.mem_unit;
}

/* The leading decimal number of s (at least one digit, no overflow); *used
 * is how many characters it took. */
static bool parse_number(const char *s, size_t len, uint64_t *out, size_t *used) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  *used = i;
  return i > 0;
}

/* "123", "64K", "2M", "1G", "1T", "60%" (of RAM); case-insensitive suffix,
 * an optional "B"/"iB" after it. */
static bool parse_size(const char *s, size_t len, uint64_t *out) {
  trim(&s, &len);
  uint64_t v;
  size_t i;
  if (!parse_number(s, len, &v, &i)) return false;
  const char *u = s + i;
  size_t ul = len - i;
  if (ul == 1 && u[0] == '%') {
    if (v > 100) return false;
    *out = pol_ram_bytes() / 100 * v;
    return true;
  }
  unsigned shift = 0;
  if (ul > 0) {
    switch (lower(u[0])) {
    case 'b': shift = 0; break;
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: return false;
    }
    if (lower(u[0]) != 'b') {   /* "K", "KB", "KiB" */
      if (!(ul == 1 || (ul == 2 && lower(u[1]) == 'b') || (ul == 3 && u[1] == 'i' && lower(u[2]) == 'b')))
        return false;
    } else if (ul != 1) {
      return false;
    }
  }
  if (shift && v > (UINT64_MAX >> shift)) return false;
  *out = v << shift;
  return true;
}

/* "250ms", "2s", "1m", "1h", a bare number of milliseconds. */
static bool parse_duration(const char *s, size_t len, int64_t *out) {
  trim(&s, &len);
  uint64_t n;
  size_t i;
  if (!parse_number(s, len, &n, &i) || n > INT64_MAX) return false;
  int64_t v = (int64_t)n;
  const char *u = s + i;
  size_t ul = len - i;
  int64_t mul;
  if (ul == 0 || word_is(u, ul, "ms")) mul = 1;
  else if (word_is(u, ul, "s")) mul = 1000;
  else if (word_is(u, ul, "m") || word_is(u, ul, "min")) mul = 60 * 1000;
  else if (word_is(u, ul, "h")) mul = 3600 * 1000;
  else return false;
  if (v > INT64_MAX / mul) return false;
  *out = v * mul;
  return true;
}

static int enum_index(const char *choices, const char *s, size_t len) {
  int idx = 0;
  const char *c = choices;
  while (*c) {
    const char *end = strchr(c, '|');
    size_t n = end ? (size_t)(end - c) : strlen(c);
    if (n == len && memcmp(c, s, len) == 0) return idx;
    idx++;
    if (!end) break;
    c = end + 1;
  }
  return -1;
}

static bool parse_range(const char *s, size_t len, size_t *lo, size_t *hi) {
  trim(&s, &len);
  const char *dots = NULL;
  for (size_t i = 0; i + 1 < len; i++)
    if (s[i] == '.' && s[i + 1] == '.') { dots = s + i; break; }
  uint64_t a = 0, b = SIZE_MAX;
  if (dots == NULL) {
    if (!parse_size(s, len, &a)) return false;
    b = a;
  } else {
    size_t left = (size_t)(dots - s), right = len - left - 2;
    if (left && !parse_size(s, left, &a)) return false;
    if (right && !parse_size(dots + 2, right, &b)) return false;
    if (!left && !right) return false;
  }
  *lo = a;   /* LO > HI is the caller's error, with its own message */
  *hi = b;
  return true;
}

/* A node list: "0", "0,2", "0-3", "0-1,4". */
static bool parse_nodes(const char *s, size_t len) {
  trim(&s, &len);
  if (len == 0) return false;
  size_t i = 0;
  while (i < len) {
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    if (i == start || i - start > 4) return false;
    if (i < len && s[i] == '-') {
      i++;
      size_t s2 = i;
      while (i < len && s[i] >= '0' && s[i] <= '9') i++;
      if (i == s2) return false;
    }
    if (i < len && s[i] != ',') return false;
    if (i < len) i++;
  }
  return s[len - 1] != ',';
}

/* The placement grammar the NUMA layer will apply. */
static bool parse_placement(const char *s, size_t len) {
  const char *colon = memchr(s, ':', len);
  size_t mode_len = colon ? (size_t)(colon - s) : len;
  const char *arg = colon ? colon + 1 : NULL;
  size_t arg_len = colon ? len - mode_len - 1 : 0;
  if (word_is(s, mode_len, "local")) return colon == NULL;
  if (!colon) return false;
  if (word_is(s, mode_len, "bind") || word_is(s, mode_len, "preferred-many") ||
      word_is(s, mode_len, "interleave"))
    return parse_nodes(arg, arg_len);
  if (word_is(s, mode_len, "preferred") || word_is(s, mode_len, "near-gpu")) {
    if (arg_len == 0 || arg_len > 4) return false;
    for (size_t i = 0; i < arg_len; i++)
      if (arg[i] < '0' || arg[i] > '9') return false;
    return true;
  }
  if (word_is(s, mode_len, "tier")) return word_is(arg, arg_len, "fast") || word_is(arg, arg_len, "slow");
  if (word_is(s, mode_len, "weighted-interleave")) {   /* N=W,N=W */
    size_t i = 0;
    while (i < arg_len) {
      size_t st = i;
      while (i < arg_len && arg[i] >= '0' && arg[i] <= '9') i++;
      if (i == st || i >= arg_len || arg[i] != '=') return false;
      st = ++i;
      while (i < arg_len && arg[i] >= '0' && arg[i] <= '9') i++;
      if (i == st || (i < arg_len && arg[i] != ',')) return false;
      if (i < arg_len) i++;
    }
    return arg_len > 0 && arg[arg_len - 1] != ',';
  }
  return false;
}

/* "128K:1K, 512K:4K": increasing UPTO, the last 512K; each STEP a power of
 * two in [16, 64K]. */
static bool parse_granularity(const char *s, size_t len, tlsf_granularity_t *steps) {
  int n = 0;
  size_t i = 0;
  while (i < len) {
    while (i < len && (is_space(s[i]) || s[i] == ',')) i++;
    size_t st = i;
    while (i < len && s[i] != ',') i++;
    const char *item = s + st, *colon = memchr(item, ':', i - st);
    if (i == st) break;
    if (colon == NULL || n == TLSF_GRANULARITY_MAX) return false;
    uint64_t upto, step;
    if (!parse_size(item, (size_t)(colon - item), &upto) ||
        !parse_size(colon + 1, (size_t)(s + i - colon - 1), &step))
      return false;
    if (step < 16 || step > 65536 || (step & (step - 1)) || upto > UMA_BLOCK_MAX ||
        (n > 0 && upto <= steps[n - 1].upto))
      return false;
    steps[n++] = (tlsf_granularity_t){ upto, step };
  }
  return n > 0 && steps[n - 1].upto == UMA_BLOCK_MAX;
}

bool pol_value_parse(pol_key_id_t k, const char *s, size_t len, pol_value_t *out, const char **expected) {
  const pol_key_t *key = &pol_keys[k];
  memset(out, 0, sizeof *out);
  trim(&s, &len);
  *expected = pol_type_name(key->type);
  switch (key->type) {
  case POL_BOOL: {
    char w[8];
    if (len == 0 || len >= sizeof w) return false;
    for (size_t i = 0; i < len; i++) w[i] = lower(s[i]);
    if (word_is(w, len, "yes") || word_is(w, len, "true") || word_is(w, len, "on") || word_is(w, len, "1")) out->num = 1;
    else if (word_is(w, len, "no") || word_is(w, len, "false") || word_is(w, len, "off") || word_is(w, len, "0")) out->num = 0;
    else return false;
    return true;
  }
  case POL_SIZE: {
    uint64_t v;
    if (!parse_size(s, len, &v) || v > (uint64_t)key->max || (int64_t)v < key->min) return false;
    out->num = (int64_t)v;
    return true;
  }
  case POL_DURATION:
    if (key->min < 0 && word_is(s, len, "default")) { out->num = -1; return true; }
    if (!parse_duration(s, len, &out->num)) return false;
    if (out->num > key->max) { *expected = "a duration of at most 1h"; return false; }
    return true;
  case POL_ENUM:
    out->num = enum_index(key->choices, s, len);
    return out->num >= 0;
  case POL_STRING:
    if (len == 0 || len >= 256) { *expected = "text of 1 to 255 characters"; return false; }
    return true;
  case POL_PERCENT: {   /* "80" or "80%" */
    uint64_t v;
    size_t used;
    trim(&s, &len);
    if (!parse_number(s, len, &v, &used) || !(used == len || (used + 1 == len && s[used] == '%')) || v > 100) return false;
    out->num = (int64_t)v;
    return true;
  }
  case POL_SIZE_RANGE:
    if (!parse_range(s, len, &out->lo, &out->hi)) return false;
    if (out->lo > out->hi) {
      *expected = "a size range LO..HI with LO not above HI (here LO > HI: swap them)";
      return false;
    }
    return true;
  case POL_SOURCES: {   /* "malloc, mmap" */
    out->num = 0;
    size_t i = 0;
    while (i < len) {
      while (i < len && (is_space(s[i]) || s[i] == ',')) i++;
      size_t st = i;
      while (i < len && s[i] != ',' && !is_space(s[i])) i++;
      if (i == st) break;
      int idx = enum_index(key->choices, s + st, i - st);
      if (idx < 0) return false;
      out->num |= 1 << idx;
    }
    return out->num != 0;
  }
  case POL_GLOB:
    if (len >= sizeof out->text) return false;
    memcpy(out->text, s, len);
    return true;
  case POL_PLACEMENT:
    if (len >= sizeof out->text || !parse_placement(s, len)) return false;
    memcpy(out->text, s, len);
    return true;
  case POL_GRANULARITY:
    return parse_granularity(s, len, out->steps);
  }
  return false;
}
