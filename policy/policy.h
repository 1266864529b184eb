/* policy.h — the policy layer: uma-preload.conf and UMA_* environment
 * overrides, parsed without the heap it configures, checked, explained, and
 * compiled into the core's options and route table. Used by the preload's
 * constructor (interpose/init.c) and by tools/uma-conf. */
#ifndef UMA_POLICY_H
#define UMA_POLICY_H

#include "../core/base.h"
#include "../core/fmt.h"
#include "../core/limits.h"
#include "../core/route.h"
#include "../core/tlsf.h"

#ifndef UMA_SYSCONFDIR
#define UMA_SYSCONFDIR "/etc"   /* where the system-wide uma-preload.conf lives */
#endif

/* ---- the key table (conf_keys.c): one row per key ----------------------- */
typedef enum pol_type_e {
  POL_BOOL, POL_SIZE, POL_DURATION, POL_ENUM, POL_STRING, POL_PERCENT,
  POL_SIZE_RANGE, POL_SOURCES, POL_GLOB, POL_PLACEMENT, POL_GRANULARITY,
} pol_type_t;

typedef enum pol_key_id_e {
  /* plain sections */
  K_GENERAL_ON_ERROR, K_REPORT_DESTINATION, K_REPORT_JSON, K_REPORT_TIMELINE, K_REPORT_TRACE,
  K_REPORT_TIMELINE_BYTES, K_REPORT_TRACE_MAX, K_REPORT_ON_SIGNAL, K_REPORT_INTERVAL, K_REPORT_LIVE, K_REPORT_DUMP_SIGNAL,
  K_REPORT_SAMPLE, K_REPORT_MIN_PEAK, K_REPORT_COMMAND, K_PURGE_DELAY, K_PURGE_BACKGROUND, K_PURGE_BACKGROUND_ABOVE, K_LARGE_CACHE_MAX,
  K_COALESCING_ABOVE, K_COALESCING_GRANULARITY, K_COALESCING_FIT,
  K_CUDA_ENABLE, K_CUDA_DLSYM_ROUTE, K_CUDA_ROUND, K_CUDA_MAX_CACHED, K_CUDA_RELEASE_THRESHOLD, K_CUDA_SHARE_WAIT, K_CUDA_EXPANDABLE, K_CUDA_PINNED_POOL, K_CUDA_PINNED, K_CUDA_PINNED_MIN, K_CUDA_PINNED_MAX,
  K_LIMITS_HEAP, K_LIMITS_PINNED, K_LIMITS_GPU, K_LIMITS_ALARM, K_LIMITS_ALARM_TO, K_LIMITS_ALARM_COMMAND, K_LIMITS_PRESSURE,
  K_ALIAS_COW_MIN, K_ALIAS_COW_INTO, K_PLAN_HOST, K_PLAN_DEVICE, K_PLAN_DEVICE_STREAMS, K_PLAN_MIN_SIZE,
  /* [rule NAME] sections */
  K_RULE_SOURCE, K_RULE_SIZE, K_RULE_ALIGNMENT, K_RULE_CALLER, K_RULE_POOL, K_RULE_NUMA,
  K_RULE_HUGEPAGES, K_RULE_PINNED, K_RULE_ALIAS, K_RULE_PURGE_DELAY, K_RULE_TRACK,
  K_COUNT
} pol_key_id_t;
#define K_FIRST_RULE_KEY K_RULE_SOURCE

typedef struct pol_key_s {
  const char *section;     /* "general", "report", "purge", "large", "coalescing", "cuda", "alias", "plan", or "rule" */
  const char *name;
  pol_type_t type;
  const char *def;         /* the default, written as in the file */
  int64_t min, max;        /* sizes in bytes, durations in ms */
  const char *choices;     /* enums: "a|b|c"; the index is the value */
} pol_key_t;

extern const pol_key_t pol_keys[K_COUNT];
extern const char *const pol_key_help[K_COUNT];   /* conf_help.c: for uma-conf only */
int pol_key_find(const char *section, const char *name, size_t name_len);
const char *pol_key_suggest(const char *section, const char *name, size_t name_len);
const char *pol_type_name(pol_type_t type);

/* ---- values (conf_value.c) ------------------------------------------------ */
/* Parse `text[0..len)` as a value of key k. On failure, `expected` says what
 * was wanted (for the message). Sizes accept 64K, 2M, 1G, 60% (of RAM). */
typedef struct pol_value_s {
  int64_t num;             /* bool, size, duration (ms), enum index, source mask */
  size_t lo, hi;           /* size ranges */
  char text[64];           /* strings, globs, placements */
  tlsf_granularity_t steps[TLSF_GRANULARITY_MAX];   /* granularity lists */
} pol_value_t;
bool pol_value_parse(pol_key_id_t k, const char *text, size_t len, pol_value_t *out, const char **expected);
uint64_t pol_ram_bytes(void);

/* ---- a configuration, with where each value came from -------------------- */
#define POL_MAX_DIAGS 64
#define POL_ORIGIN_LEN 96

typedef struct pol_diag_s {
  bool error;              /* otherwise a warning or a note */
  char text[320];          /* the whole line, "uma-preload: file:line:col: …" */
} pol_diag_t;

typedef struct pol_rule_s {
  uma_route_t route;
  char origin[POL_ORIGIN_LEN];          /* "file:line" of the [rule …] header */
  char set_origin[K_COUNT][POL_ORIGIN_LEN];   /* per key, "" = default */
} pol_rule_t;

typedef struct pol_config_s {
  int64_t on_error;                     /* 0 abort, 1 defaults */
  char report_destination[256];         /* "" = off */
  char report_json[256];                /* "" = off */
  int64_t report_timeline_ms;           /* 0 = off */
  int64_t report_timeline_bytes;        /* 0 = off */
  int64_t report_trace, report_trace_max, report_on_signal;
  int64_t report_interval_ms;           /* 0 = no periodic snapshot */
  int64_t report_live;                  /* LIVE_AUTO, LIVE_YES, LIVE_NO */
  int64_t report_dump_signal;           /* 0 off, 1 SIGUSR1, 2 SIGUSR2 */
  int64_t report_sample;                /* mean bytes between sampled call sites; 0 = off */
  int64_t report_min_peak;              /* reports of processes whose peak footprint is below are not written */
  char report_command[64];              /* glob on the command name; "" = every process */
  int64_t purge_delay_ms;
  int64_t large_cache_max;
  int64_t purge_background, purge_background_above;
  tlsf_granularity_t coalescing_granularity[TLSF_GRANULARITY_MAX];
  int64_t coalescing_fit;               /* 0 best, 1 first */
  int64_t coalescing_above;
  int64_t cuda_enable, cuda_dlsym_route, cuda_round, cuda_max_cached, cuda_release_threshold, cuda_share_wait_ms, cuda_expandable;
  int64_t limit_heap, limit_pinned, limit_gpu, limit_alarm, limit_pressure;
  char limit_alarm_to[256], limit_alarm_command[256];
  int64_t cuda_pinned_pool, cuda_pinned, cuda_pinned_min, cuda_pinned_max;
  int64_t alias_cow_min, alias_cow_into;
  int64_t plan_host, plan_device, plan_device_streams, plan_min_size;
  char origin[K_FIRST_RULE_KEY][POL_ORIGIN_LEN];   /* "" = default */
  int rule_count;
  char source_name[256];                /* the file it was read from, or "built-in defaults" */
  int diag_count, error_count, dropped_diags;
  /* The big arrays last: pol_config_defaults clears only what precedes them
   * (entries are cleared as they are used), so the 430 KB of a static
   * configuration stay untouched — and out of every process's RSS. */
  pol_diag_t diags[POL_MAX_DIAGS];
  pol_rule_t rules[UMA_ROUTE_MAX];
} pol_config_t;

void pol_config_defaults(pol_config_t *cfg);
void pol_diag(pol_config_t *cfg, bool error, const char *where, int line, int col, const char *msg);

/* ---- parsing (conf_parse.c) ----------------------------------------------- */
/* Adds the file's settings and rules to cfg; problems go to cfg->diags. */
void pol_parse(pol_config_t *cfg, const char *name, const char *text, size_t len);
/* One "section.key=value" or "rule.NAME.key=value" setting from `origin`. */
bool pol_set(pol_config_t *cfg, const char *origin, const char *section, size_t section_len,
             const char *key, size_t key_len, const char *value, size_t value_len);

/* ---- rule checks (rules_check.c) ------------------------------------------ */
void pol_check_rules(pol_config_t *cfg);

/* ---- loading (load.c) ----------------------------------------------------- */
extern const char pol_embedded_conf[];          /* the shipped uma-preload.conf */
extern const size_t pol_embedded_conf_len;
/* The file the search order finds: UMA_PRELOAD_CONF, then the user's, then
 * the system's; NULL means the built-in defaults. Writes it to `path`. */
const char *pol_find_file(char *path, size_t cap);
/* Load `path` (NULL: the search order) plus the environment overrides. */
void pol_load(pol_config_t *cfg, const char *path);
/* Read a regular file of at most 1 MiB into an OS-mapped buffer; NULL with
 * *why set if it cannot be read. */
char *pol_read_file(const char *path, size_t *len, const char **why);
void pol_free_file(char *text, size_t len);
void pol_apply(const pol_config_t *cfg);
void pol_write_diags(const pol_config_t *cfg, int fd);
/* The preload's start-up: load, report problems, apply or stop (on_error). */
void pol_startup(void);
const char *pol_report_destination(void);
const char *pol_report_json(void);
bool pol_report_on_signal(void);
/* The report's other keys, as the preload's entry points use them. */
typedef struct pol_report_extra_s {
  uint64_t interval_ms;    /* periodic snapshot; 0 = off */
  int dump_signal;         /* SIGUSR1, SIGUSR2 or 0 */
  uint64_t min_peak;       /* no report below this peak footprint */
  char command[64];        /* glob on /proc/self/comm; "" = any */
} pol_report_extra_t;
const pol_report_extra_t *pol_report_extra(void);

/* ---- explaining (explain.c) ----------------------------------------------- */
/* A plain section's key as the configuration holds it, as `uma-conf dump` prints it. */
void pol_put_value(uma_buf_t *b, const pol_config_t *cfg, pol_key_id_t k);
void pol_explain(const pol_config_t *cfg, unsigned source, size_t size, size_t align, const char *caller, int fd);
void pol_dump(const pol_config_t *cfg, int fd);
void pol_write_defaults(int fd);   /* the shipped, fully commented file, from the key table */
const char *pol_source_name(unsigned source_bit);

#endif
