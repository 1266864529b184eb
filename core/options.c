/* options.c — the core's runtime options: storage and bounds. The policy
 * layer (policy/) sets them from the policy file and the environment; until
 * it runs (allocations before the preload's constructor) the defaults hold. */
#include "base.h"
#include "options.h"
#include <sys/auxv.h>

static const struct { int64_t min, max; } option_bounds[UMA_OPTION_COUNT] = {
  [UMA_OPTION_PURGE_DELAY_MS] = { 0, 3600 * 1000 },
  [UMA_OPTION_LARGE_CACHE_MAX] = { 0, INT64_MAX },
  [UMA_OPTION_PURGE_BACKGROUND] = { 0, 1 },
  [UMA_OPTION_PURGE_BACKGROUND_ABOVE] = { 0, INT64_MAX },
};

int64_t uma_options[UMA_OPTION_COUNT] = {
  [UMA_OPTION_PURGE_DELAY_MS] = 1000,
  [UMA_OPTION_LARGE_CACHE_MAX] = 128 << 20,
  /* Off in the core library (a program linking it chooses); the preload's
   * policy turns it on ([purge] background). */
  [UMA_OPTION_PURGE_BACKGROUND] = 0,
  [UMA_OPTION_PURGE_BACKGROUND_ABOVE] = 16 << 20,
};

extern char **environ;

/* A secure-execution process (AT_SECURE: setuid, setgid or file
 * capabilities; the preload reaches one through /etc/ld.so.preload) runs
 * with an environment its invoker chose: nothing in it is read, not UMA_*,
 * not HOME for a user's policy file, not RANK for a report's name. */
bool uma_secure_exec(void) {
  static int secure = -1;
  if (secure < 0) secure = getauxval(AT_SECURE) != 0;
  return secure;
}

/* getenv is not safe this early (it may run inside the first malloc). */
const char *uma_env(const char *name) {
  if (environ == NULL || uma_secure_exec()) return NULL;
  for (char **e = environ; *e; e++) {
    const char *s = *e, *n = name;
    while (*n && *s == *n) { s++; n++; }
    if (*n == 0 && *s == '=') return s + 1;
  }
  return NULL;
}

void uma_option_set(uma_option_t option, int64_t value) {
  if ((unsigned)option >= UMA_OPTION_COUNT) return;
  if (value < option_bounds[option].min) value = option_bounds[option].min;
  if (value > option_bounds[option].max) value = option_bounds[option].max;
  uma_options[option] = value;
}

int64_t uma_option_get(uma_option_t option) {
  return (unsigned)option < UMA_OPTION_COUNT ? uma_options[option] : -1;
}
