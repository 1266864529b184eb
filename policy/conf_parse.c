/* conf_parse.c — the INI-style policy file: [section] and [rule NAME]
 * headers, `key = value` lines, '#' and ';' comments. Every problem becomes
 * one diagnostic with file:line:column; parsing goes on so that all of them
 * are reported at once. Also the single-setting entry used by overrides. */
#include "policy.h"
#include "../core/base.h"
#include "../core/fmt.h"
#include "../core/limits.h"
#include "../core/route.h"
#include <string.h>

static const char *plain_sections[] = { "general", "report", "purge", "large", "coalescing", "cuda", "limits", "alias", "plan" };
#define PLAIN_SECTIONS (sizeof plain_sections / sizeof plain_sections[0])
static int section_find(const char *name, size_t len);
static void table_defaults(pol_config_t *cfg, int rule);

void pol_diag(pol_config_t *cfg, bool error, const char *where, int line, int col, const char *msg) {
  if (error) cfg->error_count++;
  if (cfg->diag_count == POL_MAX_DIAGS) {
    cfg->dropped_diags++;
    return;
  }
  pol_diag_t *d = &cfg->diags[cfg->diag_count++];
  d->error = error;
  uma_buf_t b = { d->text, 0, sizeof d->text };
  buf_str(&b, "uma-preload: ");
  buf_str(&b, where);
  if (line > 0) { buf_str(&b, ":"); buf_u64(&b, (uint64_t)line); }
  if (col > 0) { buf_str(&b, ":"); buf_u64(&b, (uint64_t)col); }
  buf_str(&b, error ? ": " : ": warning: ");
  buf_str(&b, msg);
}

static void put_n(uma_buf_t *b, const char *s, size_t n) {
  char tmp[80];
  if (n >= sizeof tmp) n = sizeof tmp - 1;
  memcpy(tmp, s, n);
  tmp[n] = 0;
  buf_str(b, tmp);
}

/* "[purge]" or "[rule big]" for messages. */
static void put_section(uma_buf_t *b, const pol_config_t *cfg, int section, int rule) {
  buf_str(b, "[");
  if (section >= 0) buf_str(b, plain_sections[section]);
  else { buf_str(b, "rule "); buf_str(b, cfg->rules[rule].route.name); }
  buf_str(b, "]");
}

static void put_expected(uma_buf_t *b, pol_key_id_t k, const char *expected) {
  buf_str(b, "expected ");
  buf_str(b, expected);
  if (pol_keys[k].type == POL_ENUM || pol_keys[k].type == POL_SOURCES || pol_keys[k].type == POL_PLACEMENT) {
    buf_str(b, " ");
    for (const char *c = pol_keys[k].choices; *c; c++) {
      if (*c == '|') buf_str(b, ", ");
      else { char one[2] = { *c, 0 }; buf_str(b, one); }
    }
  }
}

/* "[general], [report], ..., [rule NAME]": every section the parser knows. */
static void put_sections(uma_buf_t *b) {
  buf_str(b, " (sections: ");
  for (size_t i = 0; i < PLAIN_SECTIONS; i++) {
    buf_str(b, "[");
    buf_str(b, plain_sections[i]);
    buf_str(b, "], ");
  }
  buf_str(b, "[rule NAME])");
}

static int rule_find(const pol_config_t *cfg, const char *name, size_t len) {
  for (int i = 0; i < cfg->rule_count; i++)
    if (strlen(cfg->rules[i].route.name) == len && memcmp(cfg->rules[i].route.name, name, len) == 0) return i;
  return -1;
}

static int rule_add(pol_config_t *cfg, const char *name, size_t len, const char *where, int line, int col) {
  if (cfg->rule_count == UMA_ROUTE_MAX) {
    pol_diag(cfg, true, where, line, col, "too many rules (at most 255); merge some");
    return -1;
  }
  pol_rule_t *rule = &cfg->rules[cfg->rule_count];
  memset(rule, 0, sizeof *rule);
  table_defaults(cfg, cfg->rule_count);
  memcpy(rule->route.name, name, len);
  rule->route.line = line;
  uma_buf_t b = { rule->origin, 0, sizeof rule->origin };
  buf_str(&b, where);
  if (line > 0) { buf_str(&b, ":"); buf_u64(&b, (uint64_t)line); }
  return cfg->rule_count++;
}

/* Store one checked value. `rule` < 0 for plain sections. Returns false
 * (with a diagnostic) when the value is not valid for the key. */
/* A report path template: 'off', 'stderr', or a path whose % escapes are
 * ones the report knows (interpose/init.c expands them). */
static bool set_path(pol_config_t *cfg, char *dst, const char *value, size_t len,
                     const char *where, int line, int col) {
  while (len && (value[len - 1] == ' ' || value[len - 1] == '\t')) len--;
  while (len && (*value == ' ' || *value == '\t')) { value++; len--; }
  if (len == 3 && memcmp(value, "off", 3) == 0) len = 0;
  for (size_t i = 0; i < len; i++) {
    if (value[i] != '%') continue;
    char c = i + 1 < len ? value[i + 1] : 0;
    if (c == 'p' || c == 'h' || c == 'r' || c == 't' || c == '%') {
      i++;
      continue;
    }
    pol_diag(cfg, true, where, line, col + (int)i,
             "unknown escape in a report path: use %p (pid), %h (host), %r (rank), "
             "%t (start time) or %% (a percent sign)");
    return false;
  }
  memcpy(dst, value, len);
  dst[len] = 0;
  return true;
}

static bool store(pol_config_t *cfg, int section, int rule, pol_key_id_t k, const char *value, size_t len,
                  const char *where, int line, int col) {
  pol_value_t v;
  const char *expected;
  char origin[POL_ORIGIN_LEN];
  uma_buf_t ob = { origin, 0, sizeof origin };
  buf_str(&ob, where);
  if (line > 0) { buf_str(&ob, ":"); buf_u64(&ob, (uint64_t)line); }
  if (!pol_value_parse(k, value, len, &v, &expected)) {
    char msg[300];
    uma_buf_t b = { msg, 0, sizeof msg };
    buf_str(&b, "bad value '");
    put_n(&b, value, len);
    buf_str(&b, "' for '");
    buf_str(&b, pol_keys[k].name);
    buf_str(&b, "' in ");
    put_section(&b, cfg, section, rule);
    buf_str(&b, ": ");
    put_expected(&b, k, expected);
    pol_diag(cfg, true, where, line, col, msg);
    return false;
  }
  if (rule < 0) {
    switch (k) {
    case K_GENERAL_ON_ERROR: cfg->on_error = v.num; break;
    case K_REPORT_DESTINATION:
    case K_REPORT_JSON:
      if (!set_path(cfg, k == K_REPORT_JSON ? cfg->report_json : cfg->report_destination,
                    value, len, where, line, col))
        return false;
      break;
    case K_REPORT_LIVE: cfg->report_live = v.num; break;
    case K_REPORT_TIMELINE: cfg->report_timeline_ms = v.num; break;
    case K_REPORT_TIMELINE_BYTES: cfg->report_timeline_bytes = v.num; break;
    case K_REPORT_TRACE: cfg->report_trace = v.num; break;
    case K_REPORT_TRACE_MAX: cfg->report_trace_max = v.num; break;
    case K_REPORT_ON_SIGNAL: cfg->report_on_signal = v.num; break;
    case K_REPORT_INTERVAL: cfg->report_interval_ms = v.num; break;
    case K_REPORT_DUMP_SIGNAL: cfg->report_dump_signal = v.num; break;
    case K_REPORT_SAMPLE: cfg->report_sample = v.num; break;
    case K_REPORT_MIN_PEAK: cfg->report_min_peak = v.num; break;
    case K_REPORT_COMMAND: strcpy(cfg->report_command, v.text); break;
    case K_PURGE_DELAY: cfg->purge_delay_ms = v.num; break;
    case K_LARGE_CACHE_MAX: cfg->large_cache_max = v.num; break;
    case K_PURGE_BACKGROUND: cfg->purge_background = v.num; break;
    case K_PURGE_BACKGROUND_ABOVE: cfg->purge_background_above = v.num; break;
    case K_COALESCING_GRANULARITY:
      memcpy(cfg->coalescing_granularity, v.steps, sizeof v.steps);
      break;
    case K_COALESCING_FIT: cfg->coalescing_fit = v.num; break;
    case K_COALESCING_ABOVE: cfg->coalescing_above = v.num; break;
    case K_CUDA_ENABLE: cfg->cuda_enable = v.num; break;
    case K_CUDA_DLSYM_ROUTE: cfg->cuda_dlsym_route = v.num; break;
    case K_CUDA_ROUND: cfg->cuda_round = v.num; break;
    case K_CUDA_MAX_CACHED: cfg->cuda_max_cached = v.num; break;
    case K_CUDA_RELEASE_THRESHOLD: cfg->cuda_release_threshold = v.num; break;
    case K_CUDA_SHARE_WAIT: cfg->cuda_share_wait_ms = v.num; break;
    case K_LIMITS_HEAP: cfg->limit_heap = v.num; break;
    case K_LIMITS_PINNED: cfg->limit_pinned = v.num; break;
    case K_LIMITS_GPU: cfg->limit_gpu = v.num; break;
    case K_LIMITS_ALARM: cfg->limit_alarm = v.num; break;
    case K_LIMITS_PRESSURE: cfg->limit_pressure = v.num; break;
    case K_LIMITS_ALARM_TO:
    case K_LIMITS_ALARM_COMMAND: {
      char *dst = k == K_LIMITS_ALARM_TO ? cfg->limit_alarm_to : cfg->limit_alarm_command;
      memcpy(dst, value, len);
      dst[len] = 0;
      break;
    }
    case K_CUDA_EXPANDABLE: cfg->cuda_expandable = v.num; break;
    case K_CUDA_PINNED_POOL: cfg->cuda_pinned_pool = v.num; break;
    case K_CUDA_PINNED: cfg->cuda_pinned = v.num; break;
    case K_CUDA_PINNED_MIN: cfg->cuda_pinned_min = v.num; break;
    case K_CUDA_PINNED_MAX: cfg->cuda_pinned_max = v.num; break;
    case K_ALIAS_COW_MIN: cfg->alias_cow_min = v.num; break;
    case K_ALIAS_COW_INTO: cfg->alias_cow_into = v.num; break;
    case K_PLAN_HOST: cfg->plan_host = v.num; break;
    case K_PLAN_DEVICE: cfg->plan_device = v.num; break;
    case K_PLAN_DEVICE_STREAMS: cfg->plan_device_streams = v.num; break;
    case K_PLAN_MIN_SIZE: cfg->plan_min_size = v.num; break;
    default: break;
    }
    strcpy(cfg->origin[k], origin);
    return true;
  }
  uma_route_t *r = &cfg->rules[rule].route;
  switch (k) {
  case K_RULE_SOURCE: r->sources = (uint32_t)v.num; break;
  case K_RULE_SIZE: r->size_lo = v.lo; r->size_hi = v.hi; break;
  case K_RULE_ALIGNMENT: r->align_lo = v.lo; r->align_hi = v.hi; break;
  case K_RULE_CALLER: strcpy(r->caller, v.text); break;
  case K_RULE_POOL: r->pool = (uint8_t)v.num; break;
  case K_RULE_NUMA: strcpy(r->numa, v.text); break;
  case K_RULE_HUGEPAGES: r->hugepages = (uint8_t)v.num; break;
  case K_RULE_PINNED: r->pinned = (uint8_t)v.num; break;
  case K_RULE_ALIAS: r->alias = (uint8_t)v.num; break;
  case K_RULE_PURGE_DELAY: r->purge_delay_ms = v.num; break;
  case K_RULE_TRACK: r->track = v.num != 0; break;
  default: break;
  }
  strcpy(cfg->rules[rule].set_origin[k], origin);
  return true;
}

/* Every key's default is its text in the key table (conf_keys.c), stored
 * as if a file had said it, and marked "default" again: written once. */
static void table_defaults(pol_config_t *cfg, int rule) {
  for (int k = 0; k < K_COUNT; k++) {
    bool rule_key = strcmp(pol_keys[k].section, "rule") == 0;
    if (rule_key != (rule >= 0)) continue;
    const char *def = pol_keys[k].def;
    bool ok = store(cfg, rule_key ? -1 : section_find(pol_keys[k].section, strlen(pol_keys[k].section)), rule,
                    (pol_key_id_t)k, def, strlen(def), "built-in defaults", 0, 0);
    UMA_ASSERT(ok);   /* the test every_default_parses holds every text to its key's type */
    (void)ok;
    if (rule >= 0) cfg->rules[rule].set_origin[k][0] = 0;
    else cfg->origin[k][0] = 0;
  }
}

void pol_config_defaults(pol_config_t *cfg) {
  memset(cfg, 0, offsetof(pol_config_t, diags));
  table_defaults(cfg, -1);
  strcpy(cfg->source_name, "built-in defaults");
}

static void unknown_key(pol_config_t *cfg, int section, int rule, const char *key, size_t klen,
                        const char *where, int line, int col) {
  char msg[300];
  uma_buf_t b = { msg, 0, sizeof msg };
  buf_str(&b, "unknown key '");
  put_n(&b, key, klen);
  buf_str(&b, "' in ");
  put_section(&b, cfg, section, rule);
  const char *hint = pol_key_suggest(section >= 0 ? plain_sections[section] : "rule", key, klen);
  if (hint) { buf_str(&b, " (did you mean '"); buf_str(&b, hint); buf_str(&b, "'?)"); }
  else buf_str(&b, " (uma-conf defaults lists every key)");
  pol_diag(cfg, true, where, line, col, msg);
}

static int section_find(const char *name, size_t len) {
  for (unsigned i = 0; i < PLAIN_SECTIONS; i++)
    if (strlen(plain_sections[i]) == len && memcmp(plain_sections[i], name, len) == 0) return (int)i;
  return -1;
}

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

bool pol_set(pol_config_t *cfg, const char *origin, const char *section, size_t section_len,
             const char *key, size_t key_len, const char *value, size_t value_len) {
  int sec = -1, rule = -1;
  if (section_len > 5 && memcmp(section, "rule.", 5) == 0) {
    const char *name = section + 5;
    size_t n = section_len - 5;
    if (n >= sizeof cfg->rules[0].route.name) {
      pol_diag(cfg, true, origin, 0, 0, "rule name too long (at most 47 characters)");
      return false;
    }
    rule = rule_find(cfg, name, n);
    if (rule < 0) rule = rule_add(cfg, name, n, origin, 0, 0);
    if (rule < 0) return false;
  } else {
    sec = section_find(section, section_len);
    if (sec < 0) {
      char msg[200];
      uma_buf_t b = { msg, 0, sizeof msg };
      buf_str(&b, "unknown section '");
      put_n(&b, section, section_len);
      buf_str(&b, "'");
      put_sections(&b);
      pol_diag(cfg, true, origin, 0, 0, msg);
      return false;
    }
  }
  int k = pol_key_find(sec >= 0 ? plain_sections[sec] : "rule", key, key_len);
  if (k < 0) {
    unknown_key(cfg, sec, rule, key, key_len, origin, 0, 0);
    return false;
  }
  return store(cfg, sec, rule, (pol_key_id_t)k, value, value_len, origin, 0, 0);
}

/* ---- the file ---------------------------------------------------------- */

typedef struct { int line; } seen_t;

void pol_parse(pol_config_t *cfg, const char *name, const char *text, size_t len) {
  int sec = -2, rule = -1;           /* -2: before any section */
  bool section_bad = false;
  seen_t seen[K_COUNT];
  memset(seen, 0, sizeof seen);
  int line = 0;
  size_t pos = 0;
  while (pos < len) {
    line++;
    size_t start = pos;
    while (pos < len && text[pos] != '\n') pos++;
    size_t end = pos;
    if (pos < len) pos++;
    if (end > start && text[end - 1] == '\r') end--;
    const char *s = text + start;
    size_t n = end - start, i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i == n || s[i] == '#' || s[i] == ';') continue;
    for (size_t j = i; j < n; j++)
      if (s[j] == 0) {
        pol_diag(cfg, true, name, line, (int)j + 1, "NUL byte in the file (is it a text file?)");
        goto next_line;
      }
    /* an inline comment starts at '#' or ';' after a space */
    for (size_t j = i + 1; j < n; j++)
      if ((s[j] == '#' || s[j] == ';') && (s[j - 1] == ' ' || s[j - 1] == '\t')) { n = j; break; }
    while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;

    if (s[i] == '[') {
      memset(seen, 0, sizeof seen);
      section_bad = true;
      rule = -1;
      sec = -1;
      if (s[n - 1] != ']') {
        pol_diag(cfg, true, name, line, (int)n + 1, "section header without its closing ']'");
        continue;
      }
      size_t a = i + 1, b = n - 1;
      while (a < b && s[a] == ' ') a++;
      while (b > a && s[b - 1] == ' ') b--;
      size_t w = a;
      while (w < b && s[w] != ' ') w++;
      if (w - a == 4 && memcmp(s + a, "rule", 4) == 0) {
        size_t na = w;
        while (na < b && s[na] == ' ') na++;
        if (na == b) {
          pol_diag(cfg, true, name, line, (int)a + 1, "a rule needs a name: [rule NAME]");
          continue;
        }
        for (size_t c = na; c < b; c++)
          if (!name_char(s[c])) {
            pol_diag(cfg, true, name, line, (int)c + 1,
                     "rule names use letters, digits, '_', '-' and '.' only");
            goto next_line;
          }
        if (b - na >= sizeof cfg->rules[0].route.name) {
          pol_diag(cfg, true, name, line, (int)na + 1, "rule name too long (at most 47 characters)");
          continue;
        }
        int dup = rule_find(cfg, s + na, b - na);
        if (dup >= 0) {
          char msg[200];
          uma_buf_t mb = { msg, 0, sizeof msg };
          buf_str(&mb, "a second rule named '");
          put_n(&mb, s + na, b - na);
          buf_str(&mb, "' (the first is at ");
          buf_str(&mb, cfg->rules[dup].origin);
          buf_str(&mb, "); rule names must be unique");
          pol_diag(cfg, true, name, line, (int)na + 1, msg);
          continue;
        }
        rule = rule_add(cfg, s + na, b - na, name, line, (int)i + 1);
        section_bad = rule < 0;
        continue;
      }
      sec = w == b ? section_find(s + a, b - a) : -1;
      if (sec < 0) {
        char msg[200];
        uma_buf_t mb = { msg, 0, sizeof msg };
        buf_str(&mb, "unknown section '");
        put_n(&mb, s + a, b - a);
        buf_str(&mb, "'");
        put_sections(&mb);
        pol_diag(cfg, true, name, line, (int)a + 1, msg);
        continue;
      }
      section_bad = false;
      continue;
    }

    /* key = value */
    size_t k0 = i, k1 = i;
    while (k1 < n && name_char(s[k1])) k1++;
    size_t eq = k1;
    while (eq < n && (s[eq] == ' ' || s[eq] == '\t')) eq++;
    if (k1 == k0 || eq == n || s[eq] != '=') {
      pol_diag(cfg, true, name, line, (int)(k1 == k0 ? k0 : eq) + 1, "expected 'key = value' or a [section] header");
      continue;
    }
    size_t v0 = eq + 1;
    while (v0 < n && (s[v0] == ' ' || s[v0] == '\t')) v0++;
    if (sec == -2) {
      pol_diag(cfg, true, name, line, (int)k0 + 1, "a setting before any [section] header");
      continue;
    }
    if (section_bad) continue;   /* its header was already reported */
    if (v0 == n) {
      pol_diag(cfg, true, name, line, (int)eq + 2, "missing value after '='");
      continue;
    }
    int k = pol_key_find(rule >= 0 ? "rule" : plain_sections[sec], s + k0, k1 - k0);
    if (k < 0) {
      unknown_key(cfg, rule >= 0 ? -1 : sec, rule, s + k0, k1 - k0, name, line, (int)k0 + 1);
      continue;
    }
    if (seen[k].line) {
      char msg[200];
      uma_buf_t mb = { msg, 0, sizeof msg };
      buf_str(&mb, "'");
      buf_str(&mb, pol_keys[k].name);
      buf_str(&mb, "' is set twice in ");
      put_section(&mb, cfg, rule >= 0 ? -1 : sec, rule);
      buf_str(&mb, " (first at line ");
      buf_u64(&mb, (uint64_t)seen[k].line);
      buf_str(&mb, "); keep one");
      pol_diag(cfg, true, name, line, (int)k0 + 1, msg);
      continue;
    }
    seen[k].line = line;
    store(cfg, rule >= 0 ? -1 : sec, rule, (pol_key_id_t)k, s + v0, n - v0, name, line, (int)v0 + 1);
  next_line:;
  }
}
