/* explain.c — the policy in words: which rule a request meets and what
 * follows (uma-conf explain), the effective settings with their origins
 * (uma-conf dump), and the shipped, fully commented uma-preload.conf
 * generated from the key table (uma-conf defaults). */
#include "policy.h"
#include "../core/base.h"
#include "../core/fmt.h"
#include "../core/limits.h"
#include "../core/os.h"
#include "../core/route.h"
#include "../core/size_class.h"
#include "../core/tlsf.h"
#include <string.h>

static void out(int fd, uma_buf_t *b) {
  os_write(fd, b->p, b->len);
  b->len = 0;
  b->p[0] = 0;
}


static void put_duration(uma_buf_t *b, int64_t ms) {
  if (ms < 0) { buf_str(b, "default"); return; }
  if (ms && ms % 3600000 == 0) { buf_u64(b, (uint64_t)ms / 3600000); buf_str(b, "h"); }
  else if (ms && ms % 60000 == 0) { buf_u64(b, (uint64_t)ms / 60000); buf_str(b, "m"); }
  else if (ms && ms % 1000 == 0) { buf_u64(b, (uint64_t)ms / 1000); buf_str(b, "s"); }
  else if (ms == 0) buf_str(b, "0");
  else { buf_u64(b, (uint64_t)ms); buf_str(b, "ms"); }
}

static void put_choice(uma_buf_t *b, const char *choices, int64_t index) {
  const char *c = choices;
  for (int64_t i = 0; i < index && c; i++) {
    c = strchr(c, '|');
    if (c) c++;
  }
  if (!c) return;
  while (*c && *c != '|') { char one[2] = { *c++, 0 }; buf_str(b, one); }
}

static void put_range(uma_buf_t *b, size_t lo, size_t hi) {
  if (lo == hi) { buf_size(b, lo); return; }
  buf_size(b, lo);
  buf_str(b, "..");
  if (hi != SIZE_MAX) buf_size(b, hi);
}

const char *pol_source_name(unsigned source_bit) {
  switch (source_bit) {
  case UMA_SOURCE_MALLOC: return "malloc";
  case UMA_SOURCE_MMAP: return "mmap";
  case UMA_SOURCE_CUDA_DEVICE: return "cuda-device";
  case UMA_SOURCE_CUDA_HOST: return "cuda-host";
  }
  return "?";
}

/* The value of rule key k, as it would be written in the file. */
static void put_rule_value(uma_buf_t *b, const uma_route_t *r, pol_key_id_t k) {
  const char *choices = pol_keys[k].choices;
  switch (k) {
  case K_RULE_SOURCE: {
    bool first = true;
    for (unsigned bit = 1; bit <= UMA_SOURCE_CUDA_HOST; bit <<= 1)
      if (r->sources & bit) { if (!first) buf_str(b, ", "); buf_str(b, pol_source_name(bit)); first = false; }
    break;
  }
  case K_RULE_SIZE: put_range(b, r->size_lo, r->size_hi); break;
  case K_RULE_ALIGNMENT: put_range(b, r->align_lo, r->align_hi); break;
  case K_RULE_CALLER: buf_str(b, r->caller[0] ? r->caller : "(any)"); break;
  case K_RULE_POOL: put_choice(b, choices, r->pool); break;
  case K_RULE_NUMA: buf_str(b, r->numa); break;
  case K_RULE_HUGEPAGES: put_choice(b, choices, r->hugepages); break;
  case K_RULE_PINNED: put_choice(b, choices, r->pinned); break;
  case K_RULE_ALIAS: put_choice(b, choices, r->alias); break;
  case K_RULE_PURGE_DELAY: put_duration(b, r->purge_delay_ms); break;
  case K_RULE_TRACK: buf_str(b, r->track ? "yes" : "no"); break;
  default: break;
  }
}

void pol_put_value(uma_buf_t *b, const pol_config_t *cfg, pol_key_id_t k) {
  switch (k) {
  case K_GENERAL_ON_ERROR: put_choice(b, pol_keys[k].choices, cfg->on_error); break;
  case K_REPORT_LIVE: buf_str(b, cfg->report_live == 1 ? "yes" : cfg->report_live == 2 ? "no" : "auto"); break;
  case K_REPORT_DESTINATION: buf_str(b, cfg->report_destination[0] ? cfg->report_destination : "off"); break;
  case K_REPORT_JSON: buf_str(b, cfg->report_json[0] ? cfg->report_json : "off"); break;
  case K_REPORT_TIMELINE: put_duration(b, cfg->report_timeline_ms); break;
  case K_REPORT_TIMELINE_BYTES: buf_size(b, (uint64_t)cfg->report_timeline_bytes); break;
  case K_REPORT_TRACE: buf_str(b, cfg->report_trace ? "yes" : "no"); break;
  case K_REPORT_TRACE_MAX: buf_size(b, (uint64_t)cfg->report_trace_max); break;
  case K_REPORT_ON_SIGNAL: buf_str(b, cfg->report_on_signal ? "yes" : "no"); break;
  case K_REPORT_INTERVAL: put_duration(b, cfg->report_interval_ms); break;
  case K_REPORT_DUMP_SIGNAL: put_choice(b, pol_keys[k].choices, cfg->report_dump_signal); break;
  case K_REPORT_SAMPLE: buf_size(b, (uint64_t)cfg->report_sample); break;
  case K_REPORT_MIN_PEAK: buf_size(b, (uint64_t)cfg->report_min_peak); break;
  case K_REPORT_COMMAND: buf_str(b, cfg->report_command[0] ? cfg->report_command : "(any)"); break;
  case K_PURGE_DELAY: put_duration(b, cfg->purge_delay_ms); break;
  case K_LARGE_CACHE_MAX: buf_size(b, (uint64_t)cfg->large_cache_max); break;
  case K_PURGE_BACKGROUND: buf_str(b, cfg->purge_background ? "yes" : "no"); break;
  case K_PURGE_BACKGROUND_ABOVE: buf_size(b, (uint64_t)cfg->purge_background_above); break;
  case K_COALESCING_GRANULARITY:
    for (int i = 0; i < TLSF_GRANULARITY_MAX && cfg->coalescing_granularity[i].upto; i++) {
      if (i) buf_str(b, ", ");
      buf_size(b, cfg->coalescing_granularity[i].upto);
      buf_str(b, ":");
      buf_size(b, cfg->coalescing_granularity[i].step);
    }
    break;
  case K_COALESCING_ABOVE: buf_size(b, (uint64_t)cfg->coalescing_above); break;
  case K_CUDA_ENABLE: buf_str(b, cfg->cuda_enable ? "yes" : "no"); break;
  case K_CUDA_DLSYM_ROUTE: buf_str(b, cfg->cuda_dlsym_route ? "yes" : "no"); break;
  case K_CUDA_ROUND: buf_size(b, (uint64_t)cfg->cuda_round); break;
  case K_CUDA_MAX_CACHED: buf_size(b, (uint64_t)cfg->cuda_max_cached); break;
  case K_CUDA_RELEASE_THRESHOLD: buf_size(b, (uint64_t)cfg->cuda_release_threshold); break;
  case K_CUDA_SHARE_WAIT: put_duration(b, cfg->cuda_share_wait_ms); break;
  case K_LIMITS_HEAP: buf_size(b, (uint64_t)cfg->limit_heap); break;
  case K_LIMITS_PINNED: buf_size(b, (uint64_t)cfg->limit_pinned); break;
  case K_LIMITS_GPU: buf_size(b, (uint64_t)cfg->limit_gpu); break;
  case K_LIMITS_ALARM: buf_u64(b, (uint64_t)cfg->limit_alarm); buf_str(b, "%"); break;
  case K_LIMITS_ALARM_TO: buf_str(b, cfg->limit_alarm_to); break;
  case K_LIMITS_PRESSURE: buf_u64(b, (uint64_t)cfg->limit_pressure); buf_str(b, "%"); break;
  case K_LIMITS_ALARM_COMMAND: buf_str(b, cfg->limit_alarm_command); break;
  case K_CUDA_EXPANDABLE: buf_str(b, cfg->cuda_expandable ? "yes" : "no"); break;
  case K_CUDA_PINNED_POOL: buf_str(b, cfg->cuda_pinned_pool ? "yes" : "no"); break;
  case K_CUDA_PINNED: put_choice(b, pol_keys[k].choices, cfg->cuda_pinned); break;
  case K_CUDA_PINNED_MIN: buf_size(b, (uint64_t)cfg->cuda_pinned_min); break;
  case K_CUDA_PINNED_MAX: buf_size(b, (uint64_t)cfg->cuda_pinned_max); break;
  case K_ALIAS_COW_MIN: buf_size(b, (uint64_t)cfg->alias_cow_min); break;
  case K_ALIAS_COW_INTO: put_choice(b, pol_keys[k].choices, cfg->alias_cow_into); break;
  case K_PLAN_HOST: put_choice(b, pol_keys[k].choices, cfg->plan_host); break;
  case K_PLAN_DEVICE: put_choice(b, pol_keys[k].choices, cfg->plan_device); break;
  case K_PLAN_DEVICE_STREAMS: put_choice(b, pol_keys[k].choices, cfg->plan_device_streams); break;
  case K_PLAN_MIN_SIZE: buf_size(b, (uint64_t)cfg->plan_min_size); break;
  case K_COALESCING_FIT: put_choice(b, pol_keys[k].choices, cfg->coalescing_fit); break;
  default: break;
  }
}

static void put_origin(uma_buf_t *b, const char *origin) {
  buf_pad(b, 44);
  buf_str(b, "# ");
  buf_str(b, origin[0] ? origin : "default");
  buf_str(b, "\n");
}

void pol_dump(const pol_config_t *cfg, int fd) {
  char text[1024];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "# effective uma-preload configuration, from ");
  buf_str(&b, cfg->source_name);
  buf_str(&b, " and the environment\n");
  out(fd, &b);
  const char *section = "";
  for (int k = 0; k < K_FIRST_RULE_KEY; k++) {
    if (strcmp(section, pol_keys[k].section) != 0) {
      section = pol_keys[k].section;
      buf_str(&b, "\n[");
      buf_str(&b, section);
      buf_str(&b, "]\n");
    }
    buf_str(&b, pol_keys[k].name);
    buf_str(&b, " = ");
    pol_put_value(&b, cfg, (pol_key_id_t)k);
    put_origin(&b, cfg->origin[k]);
    out(fd, &b);
  }
  for (int i = 0; i < cfg->rule_count; i++) {
    const pol_rule_t *rule = &cfg->rules[i];
    buf_str(&b, "\n[rule ");
    buf_str(&b, rule->route.name);
    buf_str(&b, "]");
    buf_pad(&b, 44);
    buf_str(&b, "# ");
    buf_str(&b, rule->origin);
    buf_str(&b, ", rule ");
    buf_u64(&b, (uint64_t)i + 1);
    buf_str(&b, " in match order\n");
    out(fd, &b);
    for (int k = K_FIRST_RULE_KEY; k < K_COUNT; k++) {
      buf_str(&b, pol_keys[k].name);
      buf_str(&b, " = ");
      put_rule_value(&b, &rule->route, (pol_key_id_t)k);
      put_origin(&b, rule->set_origin[k]);
      out(fd, &b);
    }
  }
}

void pol_explain(const pol_config_t *cfg, unsigned source, size_t size, size_t align, const char *caller, int fd) {
  char text[1024];
  uma_buf_t b = { text, 0, sizeof text };
  /* The same first-match walk as the allocator's route table. */
  int hit = -1;
  size_t eff_align = align < UMA_ALIGN_MIN ? UMA_ALIGN_MIN : align;
  bool pooled = source == UMA_SOURCE_MALLOC && size <= UMA_BLOCK_MAX && eff_align <= UMA_OS_PAGE;
  size_t match_size = pooled && align <= UMA_ALIGN_MIN ? sc_size(sc_of(size)) : size;
  const char *known_caller = pooled ? NULL : (caller ? caller : "");   /* pooled sizes never see callers */
  for (int i = 0; i < cfg->rule_count && hit < 0; i++)
    if (route_rule_matches(&cfg->rules[i].route, source, match_size, eff_align, known_caller)) hit = i;
  buf_str(&b, "request: ");
  buf_str(&b, pol_source_name(source));
  buf_str(&b, " of ");
  buf_size(&b, size);
  buf_str(&b, " (");
  buf_u64(&b, size);
  buf_str(&b, " bytes), alignment ");
  buf_u64(&b, eff_align);
  if (caller) { buf_str(&b, ", called from '"); buf_str(&b, caller); buf_str(&b, "'"); }
  buf_str(&b, "\npolicy:  ");
  buf_str(&b, cfg->source_name);
  buf_str(&b, "\n");
  out(fd, &b);
  uma_route_t defaults;
  memset(&defaults, 0, sizeof defaults);
  defaults.purge_delay_ms = -1;
  strcpy(defaults.numa, "local");
  const uma_route_t *r = hit >= 0 ? &cfg->rules[hit].route : &defaults;
  if (hit >= 0) {
    buf_str(&b, "matched: rule '");
    buf_str(&b, r->name);
    buf_str(&b, "' at ");
    buf_str(&b, cfg->rules[hit].origin);
    buf_str(&b, " (first match in file order)\n");
  } else {
    buf_str(&b, "matched: no rule; the defaults apply\n");
  }
  if (source != UMA_SOURCE_MALLOC) {
    buf_str(&b, "note:    this build routes malloc requests only; ");
    buf_str(&b, pol_source_name(source));
    buf_str(&b, " requests pass through unchanged\n");
  }
  out(fd, &b);

  buf_str(&b, "  pool         ");
  if (r->pool == UMA_POOL_LARGE || !pooled) {
    buf_str(&b, "a whole mapping of its own");
    if (r->pool != UMA_POOL_LARGE) buf_str(&b, " (above 512K or aligned above 4K)");
  } else {
    unsigned c = align <= UMA_ALIGN_MIN ? sc_of(size) : sc_of(size < align ? align : size);
    if (c >= tlsf_first_class && align <= UMA_ALIGN_MIN) {
      buf_str(&b, "the coalescing pool (best fit in shared 4M segments; see [coalescing])");
    } else if (c >= tlsf_first_class) {
      buf_str(&b, "a whole mapping of its own (aligned above 16 in the coalescing range)");
    } else {
      buf_str(&b, "size class ");
      buf_u64(&b, c);
      buf_str(&b, " (");
      buf_size(&b, sc_size(c));
      buf_str(&b, " blocks on ");
      buf_str(&b, c < UMA_SMALL_CLASSES ? "64K" : "512K");
      buf_str(&b, " pages, thread-cached)");
    }
  }
  buf_str(&b, "\n  hugepages    ");
  put_rule_value(&b, r, K_RULE_HUGEPAGES);
  buf_str(&b, r->hugepages == UMA_HUGEPAGES_ALWAYS ? " (MADV_HUGEPAGE)"
              : r->hugepages == UMA_HUGEPAGES_NEVER ? " (MADV_NOHUGEPAGE)" : " (the system setting decides)");
  if (pooled && r->pool != UMA_POOL_LARGE) buf_str(&b, "; applies to large blocks only");
  buf_str(&b, "\n  numa         ");
  buf_str(&b, r->numa);
  if (strcmp(r->numa, "local") != 0 && pooled && r->pool != UMA_POOL_LARGE)
    buf_str(&b, "; applies to large blocks only (pooled sizes come from node-local pools)");
  buf_str(&b, "\n  pinned       ");
  put_rule_value(&b, r, K_RULE_PINNED);
  if (r->pinned == UMA_PINNED_EAGER) buf_str(&b, " (registered with CUDA at the first CUDA call after it is made; large blocks only)");
  else if (r->pinned == UMA_PINNED_LAZY) buf_str(&b, " (registered with CUDA at the first copy; large blocks only)");
  buf_str(&b, "\n  alias        ");
  put_rule_value(&b, r, K_RULE_ALIAS);
  buf_str(&b, r->alias == UMA_ALIAS_OFF    ? " (realloc copies bytes)"
              : r->alias == UMA_ALIAS_COW ? " (large blocks over a memory file: realloc and big copies between them share pages)"
                                          : " (realloc of a large block moves pages)");
  buf_str(&b, "\n  purge delay  ");
  put_duration(&b, r->purge_delay_ms >= 0 ? r->purge_delay_ms : cfg->purge_delay_ms);
  buf_str(&b, r->purge_delay_ms >= 0 ? " (the rule's)" : " ([purge] delay)");
  if (r->purge_delay_ms >= 0 && pooled && r->pool != UMA_POOL_LARGE)
    buf_str(&b, "; a rule's delay applies to its large blocks only, pooled pages use [purge] delay");
  buf_str(&b, "\n  report       ");
  if (hit >= 0 && r->track) { buf_str(&b, "listed as '"); buf_str(&b, r->name); buf_str(&b, "'"); }
  else buf_str(&b, "counted in the totals only");
  buf_str(&b, "\n");
  out(fd, &b);
}

/* Wrap `text` as "# " comment lines of at most 78 columns. */
static void put_comment(uma_buf_t *b, int fd, const char *text) {
  while (*text) {
    size_t n = strlen(text), cut = n;
    if (n > 76) {
      cut = 76;
      while (cut > 0 && text[cut] != ' ') cut--;
      if (cut == 0) cut = 76;
    }
    char line[80];
    memcpy(line, text, cut);
    line[cut] = 0;
    buf_str(b, "# ");
    buf_str(b, line);
    buf_str(b, "\n");
    out(fd, b);
    text += cut;
    while (*text == ' ') text++;
  }
}

void pol_write_defaults(int fd) {
  char text[1024];
  uma_buf_t b = { text, 0, sizeof text };
  put_comment(&b, fd, "uma-preload.conf — the uma-preload policy, with every key at its default. "
                      "Generated from the key table by `uma-conf defaults`; `uma-conf check` validates "
                      "a file, `uma-conf explain` shows what a request would get, `uma-conf dump` the "
                      "effective settings and where each came from.");
  buf_str(&b, "#\n");
  out(fd, &b);
  put_comment(&b, fd, "Where it is read from, the first that exists: $UMA_PRELOAD_CONF, "
                      "$XDG_CONFIG_HOME/uma-preload.conf (else ~/.config/uma-preload.conf), "
                      "SYSCONFDIR/uma-preload.conf (/etc for an install with PREFIX=/usr, else "
                      "PREFIX/etc); otherwise this file's built-in copy. Only the first is read; "
                      "keys it leaves out keep these defaults.");
  buf_str(&b, "#\n");
  out(fd, &b);
  put_comment(&b, fd, "Environment overrides for one run, applied after the file: "
                      "UMA_<SECTION>_<KEY>=value (e.g. UMA_PURGE_DELAY=250ms; UMA_REPORT is short for "
                      "UMA_REPORT_DESTINATION), then UMA_OPTIONS=\"section.key=value,rule.NAME.key=value\". "
                      "Children of a preloaded program inherit both.");
  buf_str(&b, "#\n");
  out(fd, &b);
  put_comment(&b, fd, "Syntax: [section] headers, key = value lines, comments from '#' or ';' (after a "
                      "space when inline). Sizes: 4096, 64K, 2M, 1G, 60% (of RAM). Durations: 250ms, "
                      "2s, 1m. Booleans: yes/no, true/false, on/off, 1/0.");
  out(fd, &b);
  const char *section = "";
  for (int k = 0; k < K_COUNT; k++) {
    bool first_in_section = strcmp(section, pol_keys[k].section) != 0;
    if (first_in_section) {
      section = pol_keys[k].section;
      if (k == K_FIRST_RULE_KEY) {
        buf_str(&b, "\n");
        out(fd, &b);
        put_comment(&b, fd, "Rules route requests. Each [rule NAME] section matches on source, size, "
                            "alignment and (above 512K) the calling library, and sets actions; a "
                            "request takes the first rule that matches, in file order, and a key a rule "
                            "leaves out has the default shown. Pooled sizes (up to 512K) are routed by "
                            "their size class. Example:");
        buf_str(&b, "#\n# [rule big-arrays]\n# size = 64M..\n# hugepages = always\n#\n"
                    "# Every rule key, at its default:\n#\n# [rule NAME]\n");
        out(fd, &b);
      } else {
        buf_str(&b, "\n[");
        buf_str(&b, section);
        buf_str(&b, "]\n");
        out(fd, &b);
      }
    }
    if (!first_in_section) buf_str(&b, k >= K_FIRST_RULE_KEY ? "#\n" : "\n");
    out(fd, &b);
    put_comment(&b, fd, pol_key_help[k]);
    buf_str(&b, "# ");
    buf_str(&b, pol_keys[k].name);
    buf_str(&b, " = ");
    buf_str(&b, pol_keys[k].def[0] ? pol_keys[k].def : "(unset: any)");
    buf_str(&b, "\n");
    out(fd, &b);
  }
}
