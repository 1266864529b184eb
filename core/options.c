/* options.c — the core's runtime options and reading them from the
 * environment. The environment is scanned through `environ` directly:
 * getenv is not safe this early (it may run inside the first malloc).
 * The policy file (issue: policy) will set the same options. */
#include "internal.h"
#include <stdlib.h>

extern char **environ;

/* One row per option: name in the environment, default, range. */
static const struct {
  const char *env;
  int64_t def, min, max;
  const char *help;
} option_table[UMA_OPTION_COUNT] = {
  [UMA_OPTION_PURGE_DELAY_MS] = { "UMA_PURGE_DELAY", 1000, 0, 3600 * 1000,
                                  "how long freed memory stays resident before it goes back to the OS" },
};

int64_t uma_options[UMA_OPTION_COUNT] = {
  [UMA_OPTION_PURGE_DELAY_MS] = 1000,
};

const char *uma_env(const char *name) {
  if (environ == NULL) return NULL;
  for (char **e = environ; *e; e++) {
    const char *s = *e, *n = name;
    while (*n && *s == *n) { s++; n++; }
    if (*n == 0 && *s == '=') return s + 1;
  }
  return NULL;
}

/* "250", "250ms", "2s" → milliseconds; false on anything else. */
static bool parse_duration_ms(const char *s, int64_t *out) {
  if (*s < '0' || *s > '9') return false;
  int64_t v = 0;
  while (*s >= '0' && *s <= '9') {
    if (v > INT64_MAX / 10 - 10) return false;
    v = v * 10 + (*s++ - '0');
  }
  if (*s == 0 || (s[0] == 'm' && s[1] == 's' && s[2] == 0)) { *out = v; return true; }
  if (s[0] == 's' && s[1] == 0 && v <= INT64_MAX / 1000) { *out = v * 1000; return true; }
  return false;
}

static void warn_bad_option(const char *env, const char *value, int64_t def, const char *expected) {
  char text[512];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "uma-preload: ");
  buf_str(&b, env);
  buf_str(&b, "='");
  buf_str(&b, value);
  buf_str(&b, "' is not valid: expected ");
  buf_str(&b, expected);
  buf_str(&b, "; using the default ");
  buf_u64(&b, (uint64_t)def);
  buf_str(&b, "ms (fix or unset the variable)\n");
  uma_write_err(text);
}

void options_read_env(void) {
  for (int i = 0; i < UMA_OPTION_COUNT; i++) {
    const char *v = uma_env(option_table[i].env);
    if (v == NULL) continue;
    int64_t ms;
    if (parse_duration_ms(v, &ms) && ms >= option_table[i].min && ms <= option_table[i].max)
      uma_options[i] = ms;
    else
      warn_bad_option(option_table[i].env, v, option_table[i].def,
                      "a duration from 0 to 3600s, such as 250ms or 2s");
  }
}

void uma_option_set(uma_option_t option, int64_t value) {
  if ((unsigned)option >= UMA_OPTION_COUNT) return;
  if (value < option_table[option].min) value = option_table[option].min;
  if (value > option_table[option].max) value = option_table[option].max;
  uma_options[option] = value;
}

int64_t uma_option_get(uma_option_t option) {
  return (unsigned)option < UMA_OPTION_COUNT ? uma_options[option] : -1;
}
