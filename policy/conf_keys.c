/* conf_keys.c — the one table of policy keys: name, type, default, range
 * (their help text is conf_help.c's). The parser, `uma-conf` (explain, dump,
 * defaults), the shipped uma-preload.conf (generated from it and checked by
 * the tests) all read it. */
#include "policy.h"
#include <string.h>

#define MS(s) ((int64_t)(s) * 1000)

const pol_key_t pol_keys[K_COUNT] = {
  [K_GENERAL_ON_ERROR] = { "general", "on_error", POL_ENUM, "abort", 0, 0, "abort|defaults" },
  [K_REPORT_DESTINATION] = { "report", "destination", POL_STRING, "off", 0, 0, NULL },
  [K_REPORT_JSON] = { "report", "json", POL_STRING, "off", 0, 0, NULL },
  [K_REPORT_TIMELINE] = { "report", "timeline", POL_DURATION, "100ms", 0, MS(3600), NULL },
  [K_REPORT_TIMELINE_BYTES] = { "report", "timeline_bytes", POL_SIZE, "0", 0, INT64_MAX, NULL },
  [K_REPORT_TRACE] = { "report", "trace", POL_BOOL, "no", 0, 1, NULL },
  [K_REPORT_TRACE_MAX] = { "report", "trace_max", POL_SIZE, "1M", 1, 64 << 20, NULL },
  [K_REPORT_ON_SIGNAL] = { "report", "on_signal", POL_BOOL, "yes", 0, 1, NULL },
  [K_REPORT_INTERVAL] = { "report", "interval", POL_DURATION, "0", 0, MS(86400), NULL },
  [K_REPORT_LIVE] = { "report", "live", POL_ENUM, "auto", 0, 0, "auto|yes|no" },
  [K_REPORT_DUMP_SIGNAL] = { "report", "dump_signal", POL_ENUM, "off", 0, 0, "off|SIGUSR1|SIGUSR2" },
  [K_REPORT_SAMPLE] = { "report", "sample", POL_SIZE, "1M", 0, 1LL << 40, NULL },
  [K_REPORT_MIN_PEAK] = { "report", "min_peak", POL_SIZE, "0", 0, INT64_MAX, NULL },
  [K_REPORT_COMMAND] = { "report", "command", POL_GLOB, "", 0, 0, NULL },
  [K_PURGE_DELAY] = { "purge", "delay", POL_DURATION, "1s", 0, MS(3600), NULL },
  [K_PURGE_BACKGROUND] = { "purge", "background", POL_BOOL, "yes", 0, 1, NULL },
  [K_PURGE_BACKGROUND_ABOVE] = { "purge", "background_above", POL_SIZE, "16M", 0, INT64_MAX, NULL },
  [K_LARGE_CACHE_MAX] = { "large", "cache_max", POL_SIZE, "128M", 0, INT64_MAX, NULL },

  [K_COALESCING_ABOVE] = { "coalescing", "above", POL_SIZE, "64K", 0, 512 << 10, NULL },
  [K_COALESCING_GRANULARITY] = { "coalescing", "granularity", POL_GRANULARITY, "128K:1K, 512K:4K", 0, 0, NULL },
  [K_COALESCING_FIT] = { "coalescing", "fit", POL_ENUM, "best", 0, 0, "best|first" },

  [K_CUDA_ENABLE] = { "cuda", "enable", POL_BOOL, "yes", 0, 1, NULL },
  [K_CUDA_DLSYM_ROUTE] = { "cuda", "dlsym_route", POL_BOOL, "yes", 0, 1, NULL },
  [K_CUDA_ROUND] = { "cuda", "round", POL_SIZE, "512", 256, 2 << 20, NULL },
  [K_CUDA_MAX_CACHED] = { "cuda", "max_cached", POL_SIZE, "0", 0, INT64_MAX, NULL },
  [K_CUDA_RELEASE_THRESHOLD] = { "cuda", "release_threshold", POL_SIZE, "0", 0, INT64_MAX, NULL },
  [K_CUDA_SHARE_WAIT] = { "cuda", "share_wait", POL_DURATION, "2s", 0, MS(60), NULL },
  [K_CUDA_EXPANDABLE] = { "cuda", "expandable", POL_BOOL, "no", 0, 1, NULL },
  [K_CUDA_PINNED_POOL] = { "cuda", "pinned_pool", POL_BOOL, "yes", 0, 1, NULL },
  [K_CUDA_PINNED] = { "cuda", "pinned", POL_ENUM, "lazy", 0, 0, "off|lazy|eager" },
  [K_CUDA_PINNED_MIN] = { "cuda", "pinned_min", POL_SIZE, "1M", 0, INT64_MAX, NULL },
  [K_CUDA_PINNED_MAX] = { "cuda", "pinned_max", POL_SIZE, "25%", 0, INT64_MAX, NULL },

  [K_LIMITS_HEAP] = { "limits", "heap", POL_SIZE, "0", 0, INT64_MAX, NULL },
  [K_LIMITS_PINNED] = { "limits", "pinned", POL_SIZE, "60%", 0, INT64_MAX, NULL },
  [K_LIMITS_GPU] = { "limits", "gpu", POL_SIZE, "0", 0, INT64_MAX, NULL },
  [K_LIMITS_ALARM] = { "limits", "alarm", POL_PERCENT, "0", 0, 100, NULL },
  [K_LIMITS_ALARM_TO] = { "limits", "alarm_to", POL_STRING, "stderr", 0, 0, NULL },
  [K_LIMITS_ALARM_COMMAND] = { "limits", "alarm_command", POL_STRING, "off", 0, 0, NULL },
  [K_LIMITS_PRESSURE] = { "limits", "pressure", POL_PERCENT, "90", 0, 100, NULL },

  [K_ALIAS_COW_MIN] = { "alias", "cow_min", POL_SIZE, "2M", 8192, INT64_MAX, NULL },
  [K_ALIAS_COW_INTO] = { "alias", "cow_into", POL_ENUM, "fresh", 0, 0, "fresh|any" },
  [K_PLAN_HOST] = { "plan", "host", POL_ENUM, "off", 0, 0, "off|auto" },
  [K_PLAN_DEVICE] = { "plan", "device", POL_ENUM, "off", 0, 0, "off|auto" },
  [K_PLAN_DEVICE_STREAMS] = { "plan", "device_streams", POL_ENUM, "any", 0, 0, "any|one" },
  [K_PLAN_MIN_SIZE] = { "plan", "min_size", POL_SIZE, "1M", 512 << 10, INT64_MAX, NULL },

  [K_RULE_SOURCE] = { "rule", "source", POL_SOURCES, "malloc", 0, 0, "malloc|mmap|cuda-device|cuda-host" },
  [K_RULE_SIZE] = { "rule", "size", POL_SIZE_RANGE, "0..", 0, INT64_MAX, NULL },
  [K_RULE_ALIGNMENT] = { "rule", "alignment", POL_SIZE_RANGE, "0..", 0, INT64_MAX, NULL },
  [K_RULE_CALLER] = { "rule", "caller", POL_GLOB, "", 0, 0, NULL },
  [K_RULE_POOL] = { "rule", "pool", POL_ENUM, "auto", 0, 0, "auto|large" },
  [K_RULE_NUMA] = { "rule", "numa", POL_PLACEMENT, "local", 0, 0,
    "local|bind|preferred|preferred-many|interleave|weighted-interleave|tier|near-gpu" },
  [K_RULE_HUGEPAGES] = { "rule", "hugepages", POL_ENUM, "madvise", 0, 0, "madvise|never|always" },
  [K_RULE_PINNED] = { "rule", "pinned", POL_ENUM, "off", 0, 0, "off|lazy|eager" },
  [K_RULE_ALIAS] = { "rule", "alias", POL_ENUM, "mremap", 0, 0, "mremap|off|cow" },
  [K_RULE_PURGE_DELAY] = { "rule", "purge_delay", POL_DURATION, "default", -1, MS(3600), NULL },
  [K_RULE_TRACK] = { "rule", "track", POL_BOOL, "yes", 0, 1, NULL },
};

static bool name_is(const char *a, const char *b, size_t blen) {
  return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

/* The key's id, or -1. Rule keys are looked up with section "rule". */
int pol_key_find(const char *section, const char *name, size_t name_len) {
  for (int k = 0; k < K_COUNT; k++)
    if (strcmp(pol_keys[k].section, section) == 0 && name_is(pol_keys[k].name, name, name_len)) return k;
  return -1;
}

static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb) {
  size_t row[64];
  if (la >= 63 || lb >= 63) return 99;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The closest key of the section within two edits, for "did you mean". */
const char *pol_key_suggest(const char *section, const char *name, size_t name_len) {
  const char *best = NULL;
  size_t best_d = 3;
  for (int k = 0; k < K_COUNT; k++) {
    if (strcmp(pol_keys[k].section, section) != 0) continue;
    size_t d = edit_distance(name, name_len, pol_keys[k].name, strlen(pol_keys[k].name));
    if (d < best_d) { best_d = d; best = pol_keys[k].name; }
  }
  return best;
}

const char *pol_type_name(pol_type_t type) {
  switch (type) {
  case POL_BOOL: return "a boolean (yes, no, true, false, on, off, 1, 0)";
  case POL_SIZE: return "a size (bytes, or with K, M, G, T, or a share of RAM like 60%)";
  case POL_DURATION: return "a duration (e.g. 250ms, 2s, 1m; 0 for at once)";
  case POL_ENUM: return "one of";
  case POL_STRING: return "text";
  case POL_PERCENT: return "a percentage from 0 to 100 (80 or 80%)";
  case POL_SIZE_RANGE: return "a size range (LO..HI, LO.., ..HI or one size; e.g. 64M..)";
  case POL_SOURCES: return "a list of sources";
  case POL_GLOB: return "a file-name pattern (*, ?, [...]; up to 63 characters)";
  case POL_PLACEMENT: return "a NUMA placement";
  case POL_GRANULARITY: return "a list of UPTO:STEP sizes (e.g. 128K:1K, 512K:4K)";
  }
  return "a value";
}
