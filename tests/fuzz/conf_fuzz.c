/* conf_fuzz.c — libFuzzer target for the policy parser: any bytes as a
 * policy file, then the rule checks, the dump and an explain over the
 * result. `make test` runs it for a bounded time (make fuzz for longer). */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "../../policy/policy.h"

static pol_config_t cfg;
static int devnull = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (devnull < 0) devnull = open("/dev/null", O_WRONLY);
  pol_config_defaults(&cfg);
  pol_parse(&cfg, "fuzz.conf", (const char *)data, size);
  pol_check_rules(&cfg);
  pol_write_diags(&cfg, devnull);
  pol_dump(&cfg, devnull);
  size_t probe = 0;
  memcpy(&probe, data, size < sizeof probe ? size : sizeof probe);
  pol_explain(&cfg, UMA_SOURCE_MALLOC, probe, (size_t)16 << (probe % 12), size > 3 ? "libx.so.1" : NULL, devnull);
  /* The same text as one override line: section.key=value */
  const char *eq = memchr(data, '=', size), *dot = memchr(data, '.', size);
  if (eq && dot && dot < eq)
    pol_set(&cfg, "UMA_OPTIONS", (const char *)data, (size_t)(dot - (const char *)data), dot + 1,
            (size_t)(eq - dot - 1), eq + 1, size - (size_t)(eq + 1 - (const char *)data));
  return 0;
}
