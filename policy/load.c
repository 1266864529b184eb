/* load.c — where the policy comes from and what happens to it: the search
 * order of files, the UMA_* environment overrides, on_error, and applying
 * the result to the core (options and route table). Runs in the preload's
 * constructor, before main: raw system calls only, no heap. */
#include "policy.h"
#include "../core/base.h"
#include "../core/options.h"
#include "../core/cow.h"
#include "../cuda/device_pool.h"
#include "../cuda/device_share.h"
#include "../core/fmt.h"
#include "../core/limits.h"
#include "../core/live.h"
#include "../core/os.h"
#include "../cuda/pinned.h"
#include "../core/plan_host.h"
#include "../core/report.h"
#include "../core/route.h"
#include "../core/stats.h"
#include "../core/tlsf.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <signal.h>

#define MAX_FILE (1u << 20)

/* Opens a policy file for reading: a regular file only, and without
 * blocking (a FIFO opened plainly waits for a writer, before main). *why
 * says what is wrong when it returns -1. */
static int open_policy(const char *path, const char **why, struct stat *st) {
  int fd = os_open(path, O_RDONLY | O_NONBLOCK, 0);
  if (fd < 0) {
    *why = "cannot be opened (missing or unreadable)";
    return -1;
  }
  bool dev_null = os_stat(fd, NULL, st) == 0 && S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
  if (dev_null) st->st_size = 0;   /* UMA_PRELOAD_CONF=/dev/null: an empty policy */
  else if (os_stat(fd, NULL, st) != 0 || !S_ISREG(st->st_mode)) {
    os_close(fd);
    *why = "is not a regular file (a FIFO, a device or a terminal such as /dev/stdin is never read: "
           "it could block or take the program's input)";
    return -1;
  }
  return fd;
}

static bool readable(const char *path) {
  const char *why;
  struct stat st;
  int fd = open_policy(path, &why, &st);
  if (fd < 0) return false;
  os_close(fd);
  return true;
}

/* UMA_PRELOAD_CONF; else $XDG_CONFIG_HOME/uma-preload.conf or
 * ~/.config/uma-preload.conf; else SYSCONFDIR/uma-preload.conf. */
const char *pol_find_file(char *path, size_t cap) {
  uma_buf_t b = { path, 0, cap };
  const char *explicit_path = uma_env("UMA_PRELOAD_CONF");
  if (explicit_path && *explicit_path) {
    buf_str(&b, explicit_path);
    return path;
  }
  const char *xdg = uma_env("XDG_CONFIG_HOME"), *home = uma_env("HOME");
  if ((xdg && *xdg) || (home && *home)) {
    if (xdg && *xdg) buf_str(&b, xdg);
    else { buf_str(&b, home); buf_str(&b, "/.config"); }
    buf_str(&b, "/uma-preload.conf");
    if (readable(path)) return path;
  }
  b.len = 0;
  buf_str(&b, UMA_SYSCONFDIR "/uma-preload.conf");
  if (readable(path)) return path;
  return NULL;
}

/* Read with pread from offset 0: a file shared with the program (its
 * stdin redirected from the same file) keeps its offset. */
char *pol_read_file(const char *path, size_t *len, const char **why) {
  struct stat st;
  int fd = open_policy(path, why, &st);
  if (fd < 0) return NULL;
  if ((uint64_t)st.st_size > MAX_FILE) {
    os_close(fd);
    *why = "is over 1 MiB (the most a policy file may hold)";
    return NULL;
  }
  char *text = os_map(MAX_FILE + 1);
  size_t n = 0;
  long r = 0;
  if (text) {
    while (n <= MAX_FILE && (r = os_pread(fd, text + n, MAX_FILE + 1 - n, n)) > 0) n += (size_t)r;
  }
  os_close(fd);
  if (text == NULL || r < 0 || n > MAX_FILE) {
    if (text) os_unmap(text, MAX_FILE + 1);
    *why = text == NULL ? "cannot be read: out of memory" : r < 0 ? "cannot be read (an I/O error)"
                                                                  : "is over 1 MiB (the most a policy file may hold)";
    return NULL;
  }
  *len = n;
  return text;
}

void pol_free_file(char *text, size_t len) {
  (void)len;
  os_unmap(text, MAX_FILE + 1);
}

/* Does an UMA_OPTIONS item start here ("name.name…=")? A comma ends an
 * item only before one, so values may hold commas themselves
 * (rule.gpu.nodes=0,1,purge.delay=1s is two items). */
static bool starts_item(const char *s) {
  int dots = 0;
  const char *c = s;
  for (; *c && *c != '=' && *c != ','; c++) {
    bool word = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
    if (*c == '.') dots++;
    else if (!word) return false;
  }
  return *c == '=' && dots > 0 && c > s && s[0] != '.';
}

/* UMA_<SECTION>_<KEY>=value for the plain keys, e.g. UMA_PURGE_DELAY=250ms. */
static void env_overrides(pol_config_t *cfg) {
  for (int k = 0; k < K_FIRST_RULE_KEY; k++) {
    char var[64];
    uma_buf_t b = { var, 0, sizeof var };
    buf_str(&b, "UMA_");
    buf_str(&b, pol_keys[k].section);
    buf_str(&b, "_");
    buf_str(&b, pol_keys[k].name);
    for (char *c = var; *c; c++)
      if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 32);
    const char *v = uma_env(var);
    if (v) {
      const char *sec = pol_keys[k].section, *key = pol_keys[k].name;
      pol_set(cfg, var, sec, strlen(sec), key, strlen(key), v, strlen(v));
    }
  }
  const char *report = uma_env("UMA_REPORT");   /* shorthand for UMA_REPORT_DESTINATION */
  if (report && !uma_env("UMA_REPORT_DESTINATION"))
    pol_set(cfg, "UMA_REPORT", "report", 6, "destination", 11, report, strlen(report));

  /* UMA_OPTIONS="purge.delay=250ms,rule.big.hugepages=always" */
  const char *opts = uma_env("UMA_OPTIONS");
  while (opts && *opts) {
    const char *end = opts;
    while (*end && !(*end == ',' && starts_item(end + 1))) end++;
    const char *eq = opts;
    while (eq < end && *eq != '=') eq++;
    const char *dot = eq;
    while (dot > opts && dot[-1] != '.') dot--;
    if (eq == end || dot == opts) {
      pol_diag(cfg, true, "UMA_OPTIONS", 0, 0,
               "expected section.key=value items separated by commas (e.g. purge.delay=250ms)");
      break;
    }
    pol_set(cfg, "UMA_OPTIONS", opts, (size_t)(dot - 1 - opts), dot, (size_t)(eq - dot), eq + 1,
            (size_t)(end - eq - 1));
    opts = *end ? end + 1 : end;
  }
}

/* An override that names a rule the file lacks makes a new rule; one that
 * sets none of what a rule matches on would match every allocation. That
 * is almost always a misspelt or missing rule name, so it is an error; a
 * deliberate catch-all says so with `rule.NAME.size=0..`. */
static void new_rules_say_what_they_match(pol_config_t *cfg, int file_rules) {
  static const pol_key_id_t matchers[] = { K_RULE_SOURCE, K_RULE_SIZE, K_RULE_ALIGNMENT, K_RULE_CALLER };
  for (int i = file_rules; i < cfg->rule_count; i++) {
    const pol_rule_t *r = &cfg->rules[i];
    bool says = false;
    for (size_t m = 0; m < sizeof matchers / sizeof matchers[0]; m++) says |= r->set_origin[matchers[m]][0] != 0;
    if (says) continue;
    char msg[400];
    uma_buf_t b = { msg, 0, sizeof msg };
    buf_str(&b, "there is no rule '");
    buf_str(&b, r->route.name);
    buf_str(&b, "' in ");
    buf_str(&b, cfg->source_name);
    buf_str(&b, ", and this new one sets none of source, size, alignment or caller, so it would match "
                "every allocation; fix the rule's name, or add rule.");
    buf_str(&b, r->route.name);
    buf_str(&b, ".size=0.. to mean every allocation");
    pol_diag(cfg, true, r->origin, 0, 0, msg);
  }
}

void pol_load(pol_config_t *cfg, const char *path) {
  pol_config_defaults(cfg);
  char found[512];
  if (path == NULL) path = pol_find_file(found, sizeof found);
  if (path) {
    size_t len;
    const char *why = NULL;
    char *text = pol_read_file(path, &len, &why);
    if (text == NULL) {
      char msg[300];
      uma_buf_t m = { msg, 0, sizeof msg };
      buf_str(&m, "the policy file ");
      buf_str(&m, why);
      buf_str(&m, "; fix UMA_PRELOAD_CONF or the file");
      pol_diag(cfg, true, path, 0, 0, msg);
    } else {
      uma_buf_t b = { cfg->source_name, 0, sizeof cfg->source_name };
      buf_str(&b, path);
      pol_parse(cfg, path, text, len);
      pol_free_file(text, len);
    }
  } else {
    pol_parse(cfg, "built-in uma-preload.conf", pol_embedded_conf, pol_embedded_conf_len);
  }
  int file_rules = cfg->rule_count;
  env_overrides(cfg);
  new_rules_say_what_they_match(cfg, file_rules);
  pol_check_rules(cfg);
}

/* ---- applying ------------------------------------------------------------ */

static UMA_TABLE uma_route_t apply_routes[UMA_ROUTE_MAX];
static char report_destination[256], report_json[256];
static bool report_on_signal;
static pol_report_extra_t report_extra;

void pol_apply(const pol_config_t *cfg) {
  uma_option_set(UMA_OPTION_PURGE_DELAY_MS, cfg->purge_delay_ms);
  uma_option_set(UMA_OPTION_LARGE_CACHE_MAX, cfg->large_cache_max);
  uma_option_set(UMA_OPTION_PURGE_BACKGROUND, cfg->purge_background);
  uma_option_set(UMA_OPTION_PURGE_BACKGROUND_ABOVE, cfg->purge_background_above);
  memcpy(tlsf_granularity, cfg->coalescing_granularity, sizeof tlsf_granularity);
  tlsf_first_fit = cfg->coalescing_fit == 1;
  tlsf_set_above((size_t)cfg->coalescing_above);
  dev_enabled = cfg->cuda_enable != 0;
  dev_dlsym_route = cfg->cuda_dlsym_route != 0;
  dev_round = (size_t)cfg->cuda_round;
  dev_max_reserved = (uint64_t)cfg->cuda_max_cached;
  dev_release_threshold = (uint64_t)cfg->cuda_release_threshold;
  dev_share_wait_ms = (uint64_t)cfg->cuda_share_wait_ms;
  dev_quota = (uint64_t)cfg->limit_gpu;
  live_mode = (uint8_t)cfg->report_live;
  stats_heap_limit = (uint64_t)cfg->limit_heap;
  pin_quota = (uint64_t)cfg->limit_pinned;
  limit_alarm_pct = (unsigned)cfg->limit_alarm;
  limit_pressure_pct = (unsigned)cfg->limit_pressure;
  memcpy(limit_alarm_to, cfg->limit_alarm_to, sizeof limit_alarm_to);
  if (strcmp(cfg->limit_alarm_command, "off") == 0) limit_alarm_command[0] = 0;
  else memcpy(limit_alarm_command, cfg->limit_alarm_command, sizeof limit_alarm_command);
  dev_expandable = cfg->cuda_expandable != 0;
  pin_pool_enabled = cfg->cuda_pinned_pool != 0;
  pin_mode = (uint8_t)cfg->cuda_pinned;
  pin_min = (uint64_t)cfg->cuda_pinned_min;
  pin_max = (uint64_t)cfg->cuda_pinned_max;
  cow_min = UINT64_MAX;   /* the memcpy hook's one test stays false unless a rule aliases */
  for (int i = 0; i < cfg->rule_count; i++)
    if (cfg->rules[i].route.alias == UMA_ALIAS_COW) cow_min = (uint64_t)cfg->alias_cow_min;
  cow_into_resident = cfg->alias_cow_into == 1;
  if (cow_min != UINT64_MAX) cow_install();
  limits_start();
  pin_install();
  plan_host_on = cfg->plan_host == 1;
  if (plan_host_on) plan_host_install();
  plan_device_on = cfg->plan_device == 1;
  plan_device_one_stream = cfg->plan_device_streams == 1;
  plan_min = (uint64_t)cfg->plan_min_size;
  for (int i = 0; i < cfg->rule_count; i++) apply_routes[i] = cfg->rules[i].route;
  route_install(apply_routes, cfg->rule_count);
  memcpy(report_destination, cfg->report_destination, sizeof report_destination);
  memcpy(report_json, cfg->report_json, sizeof report_json);
  report_on_signal = cfg->report_on_signal != 0;
  report_extra.interval_ms = (uint64_t)cfg->report_interval_ms;
  report_extra.dump_signal = cfg->report_dump_signal == 1 ? SIGUSR1 : cfg->report_dump_signal == 2 ? SIGUSR2 : 0;
  report_extra.min_peak = (uint64_t)cfg->report_min_peak;
  memcpy(report_extra.command, cfg->report_command, sizeof report_extra.command);
  bool reporting = report_destination[0] || report_json[0];
  report_configure(reporting, (uint64_t)cfg->report_timeline_ms, (uint64_t)cfg->report_timeline_bytes,
                   cfg->report_trace ? (uint64_t)cfg->report_trace_max : 0,
                   reporting ? (uint64_t)cfg->report_sample : 0);
}

const char *pol_report_destination(void) { return report_destination[0] ? report_destination : NULL; }
const char *pol_report_json(void) { return report_json[0] ? report_json : NULL; }
bool pol_report_on_signal(void) { return report_on_signal; }
const pol_report_extra_t *pol_report_extra(void) { return &report_extra; }

void pol_write_diags(const pol_config_t *cfg, int fd) {
  for (int i = 0; i < cfg->diag_count; i++) {
    os_write(fd, cfg->diags[i].text, strlen(cfg->diags[i].text));
    os_write(fd, "\n", 1);
  }
  if (cfg->dropped_diags) {
    char text[96];
    uma_buf_t b = { text, 0, sizeof text };
    buf_str(&b, "uma-preload: … and ");
    buf_u64(&b, (uint64_t)cfg->dropped_diags);
    buf_str(&b, " more\n");
    os_write(fd, text, b.len);
  }
}

static UMA_TABLE pol_config_t startup_cfg;

/* A preloaded program prints only errors (uma-conf check shows warnings).
 * In a secure-execution process (uma_secure_exec) it never stops before
 * main and never echoes the file's text: one line, then the defaults. */
void pol_startup(void) {
  pol_config_t *cfg = &startup_cfg;
  pol_load(cfg, NULL);
  if (cfg->error_count == 0) {
    pol_apply(cfg);
    return;
  }
  bool secure = uma_secure_exec();
  if (secure) {
    uma_write_err("uma-preload: the system policy file has errors (check it with uma-conf check); "
                  "running on the built-in defaults in this setuid/setgid program\n");
  } else {
    int shown = 0;
    for (int i = 0; i < cfg->diag_count; i++)
      if (cfg->diags[i].error) {
        os_write(2, cfg->diags[i].text, strlen(cfg->diags[i].text));
        os_write(2, "\n", 1);
        shown++;
      }
    if (cfg->error_count > shown) {
      char text[96];
      uma_buf_t b = { text, 0, sizeof text };
      buf_str(&b, "uma-preload: … and ");
      buf_u64(&b, (uint64_t)(cfg->error_count - shown));
      buf_str(&b, " more errors\n");
      os_write(2, text, b.len);
    }
  }
  if (cfg->on_error == 0 && !secure) {
    uma_write_err("uma-preload: stopping before main because of the errors above; fix them, "
                  "or set on_error = defaults in [general] (or UMA_GENERAL_ON_ERROR=defaults) "
                  "to run on the built-in defaults\n");
    os_exit(1);
  }
  if (!secure)
    uma_write_err("uma-preload: running on the built-in defaults because of the errors above "
                  "(on_error = defaults)\n");
  pol_config_defaults(cfg);
  pol_parse(cfg, "built-in uma-preload.conf", pol_embedded_conf, pol_embedded_conf_len);
  pol_apply(cfg);
}
