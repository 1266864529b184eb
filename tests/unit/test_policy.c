/* The policy layer: values with units, the INI parser and its messages,
 * environment overrides, and the rules compiled into the route table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../policy/policy.h"
#include "route.h"
#include "size_class.h"
#include "os.h"
#include "options.h"
#include "device_pool.h"
#include "device_share.h"
#include "pinned.h"
#include "plan_host.h"

static pol_config_t cfg;

static void parse(const char *text) {
  pol_config_defaults(&cfg);
  pol_parse(&cfg, "t.conf", text, strlen(text));
  pol_check_rules(&cfg);
}

static bool has_diag(const char *text) {
  for (int i = 0; i < cfg.diag_count; i++)
    if (strstr(cfg.diags[i].text, text)) return true;
  return false;
}

Test(policy_values, sizes_with_units_and_shares_of_ram) {
  pol_value_t v;
  const char *why;
  cr_assert(pol_value_parse(K_LARGE_CACHE_MAX, "64K", 3, &v, &why));
  cr_assert_eq(v.num, 64 << 10);
  cr_assert(pol_value_parse(K_LARGE_CACHE_MAX, " 2MiB ", 6, &v, &why));
  cr_assert_eq(v.num, 2 << 20);
  cr_assert(pol_value_parse(K_LARGE_CACHE_MAX, "1g", 2, &v, &why));
  cr_assert_eq(v.num, 1ll << 30);
  cr_assert(pol_value_parse(K_LARGE_CACHE_MAX, "50%", 3, &v, &why));
  cr_assert_eq((uint64_t)v.num, pol_ram_bytes() / 100 * 50);
  cr_assert_not(pol_value_parse(K_LARGE_CACHE_MAX, "12Q", 3, &v, &why));
  cr_assert_not(pol_value_parse(K_LARGE_CACHE_MAX, "101%", 4, &v, &why));
  cr_assert_not(pol_value_parse(K_LARGE_CACHE_MAX, "99999999999999999999", 20, &v, &why));
}

Test(policy_values, durations_booleans_ranges_lists) {
  pol_value_t v;
  const char *why;
  cr_assert(pol_value_parse(K_PURGE_DELAY, "250ms", 5, &v, &why) && v.num == 250);
  cr_assert(pol_value_parse(K_PURGE_DELAY, "2s", 2, &v, &why) && v.num == 2000);
  cr_assert(pol_value_parse(K_PURGE_DELAY, "1m", 2, &v, &why) && v.num == 60000);
  cr_assert_not(pol_value_parse(K_PURGE_DELAY, "2h", 2, &v, &why), "above the 1h range");
  cr_assert(pol_value_parse(K_RULE_PURGE_DELAY, "default", 7, &v, &why) && v.num == -1);
  cr_assert(pol_value_parse(K_RULE_TRACK, "Off", 3, &v, &why) && v.num == 0);
  cr_assert(pol_value_parse(K_RULE_SIZE, "1M..16M", 7, &v, &why) && v.lo == 1 << 20 && v.hi == 16 << 20);
  cr_assert(pol_value_parse(K_RULE_SIZE, "..4K", 4, &v, &why) && v.lo == 0 && v.hi == 4096);
  cr_assert(pol_value_parse(K_RULE_SIZE, "64M..", 5, &v, &why) && v.lo == 64 << 20 && v.hi == SIZE_MAX);
  cr_assert_not(pol_value_parse(K_RULE_SIZE, "..", 2, &v, &why));
  cr_assert(pol_value_parse(K_RULE_SOURCE, "malloc, cuda-host", 17, &v, &why));
  cr_assert_eq(v.num, UMA_SOURCE_MALLOC | UMA_SOURCE_CUDA_HOST);
  cr_assert(pol_value_parse(K_RULE_NUMA, "weighted-interleave:0=3,1=1", 27, &v, &why));
  cr_assert(pol_value_parse(K_RULE_NUMA, "bind:0-1,4", 10, &v, &why));
  cr_assert_not(pol_value_parse(K_RULE_NUMA, "tier:medium", 11, &v, &why));
}

Test(policy_parse, reads_sections_rules_and_comments) {
  parse("# comment\n[purge]\ndelay = 250ms   # inline\n; another\n[large]\r\ncache_max = 32M\r\n"
        "[rule big]\nsize = 64M..\nhugepages = always\ntrack = no\n[rule lib]\ncaller = libfoo.so*\n");
  cr_assert_eq(cfg.error_count, 0, "%s", cfg.diag_count ? cfg.diags[0].text : "");
  cr_assert_eq(cfg.purge_delay_ms, 250);
  cr_assert_eq(cfg.large_cache_max, 32 << 20);
  cr_assert_eq(cfg.rule_count, 2);
  cr_assert_str_eq(cfg.rules[0].route.name, "big");
  cr_assert_eq(cfg.rules[0].route.hugepages, UMA_HUGEPAGES_ALWAYS);
  cr_assert_not(cfg.rules[0].route.track);
  cr_assert_str_eq(cfg.rules[1].route.caller, "libfoo.so*");
  cr_assert_str_eq(cfg.origin[K_PURGE_DELAY], "t.conf:3");
  cr_assert_str_eq(cfg.rules[0].set_origin[K_RULE_SIZE], "t.conf:8");
}

Test(policy_parse, reports_every_error_with_line_and_column) {
  parse("[rule big]\n  hugepage = always\nsize = lots\n[nope]\n");
  cr_assert_eq(cfg.error_count, 3);
  cr_assert_str_eq(cfg.diags[0].text,
                   "uma-preload: t.conf:2:3: unknown key 'hugepage' in [rule big] (did you mean 'hugepages'?)");
  cr_assert(has_diag("t.conf:3:8: bad value 'lots' for 'size' in [rule big]"));
  cr_assert(has_diag("t.conf:4:2: unknown section 'nope'"));
}

Test(policy_parse, warns_about_unreachable_and_overlapping_rules) {
  parse("[rule a]\nsize = 1M..\n[rule b]\nsize = 2M..8M\n[rule c]\nsize = 512K..4M\n");
  cr_assert_eq(cfg.error_count, 0);
  cr_assert(has_diag("t.conf:3: warning: rule 'b' can never match: rule 'a' at t.conf:1"));
  cr_assert(has_diag("t.conf:5: warning: rule 'c' overlaps rule 'a' at t.conf:1 for sizes 1M..4M"));
}

Test(policy_env, overrides_by_variable_and_by_options_string) {
  setenv("UMA_PURGE_DELAY", "5s", 1);
  setenv("UMA_OPTIONS", "large.cache_max=1M,rule.fresh.size=1G..,rule.fresh.hugepages=never", 1);
  setenv("UMA_PRELOAD_CONF", "/dev/null", 1);   /* an empty file: every default */
  pol_load(&cfg, NULL);
  cr_assert_eq(cfg.error_count, 0, "%s", cfg.diag_count ? cfg.diags[0].text : "");
  cr_assert_eq(cfg.purge_delay_ms, 5000);
  cr_assert_str_eq(cfg.origin[K_PURGE_DELAY], "UMA_PURGE_DELAY");
  cr_assert_eq(cfg.large_cache_max, 1 << 20);
  cr_assert_eq(cfg.rule_count, 1);
  cr_assert_eq(cfg.rules[0].route.size_lo, 1ull << 30);
  cr_assert_eq(cfg.rules[0].route.hugepages, UMA_HUGEPAGES_NEVER);
  /* values may hold commas: a comma ends an item only before "name.name=" */
  setenv("UMA_OPTIONS", "coalescing.granularity=128K:1K,512K:4K,rule.m.source=mmap,malloc,purge.delay=2s", 1);
  pol_load(&cfg, NULL);
  cr_assert_eq(cfg.error_count, 0, "%s", cfg.diag_count ? cfg.diags[0].text : "");
  cr_assert_eq(cfg.purge_delay_ms, 2000);
  cr_assert_eq(cfg.coalescing_granularity[1].upto, 512 * 1024);
  cr_assert_eq(cfg.rule_count, 1);
  setenv("UMA_OPTIONS", "large.cache_max=1M", 1);
  setenv("UMA_PURGE_DELAY", "soon", 1);
  pol_load(&cfg, NULL);
  cr_assert_eq(cfg.error_count, 1);
  cr_assert(has_diag("uma-preload: UMA_PURGE_DELAY: bad value 'soon' for 'delay' in [purge]"));
}

Test(policy_routes, first_match_in_file_order_and_per_class_routing) {
  parse("[rule lib]\ncaller = libtorch*.so*\nsize = 1M..\npool = large\n"
        "[rule big]\nsize = 64M..\n[rule aligned]\nalignment = 4K..\nsize = ..64K\n"
        "[rule tiny]\nsize = ..64\npool = large\n");
  cr_assert_eq(cfg.error_count, 0);
  uma_route_t routes[8];
  for (int i = 0; i < cfg.rule_count; i++) routes[i] = cfg.rules[i].route;
  uma_malloc(1);   /* the core is initialised */
  route_install(routes, cfg.rule_count);
  cr_assert_eq(route_match(UMA_SOURCE_MALLOC, 100 << 20, 16, NULL), 2, "no caller: 'big'");
  cr_assert_eq(route_match(UMA_SOURCE_MALLOC, 3 << 20, 16, NULL), 0);
  cr_assert_eq(route_match(UMA_SOURCE_MALLOC, 8192, 4096, NULL), 3);
  cr_assert_eq(route_match(UMA_SOURCE_MMAP, 100 << 20, 16, NULL), 0, "malloc rules only");
  cr_assert_eq(route_of_class[sc_of(64)], 4);
  cr_assert_eq(route_of_class[sc_of(65)], 0);
  cr_assert(route_class_to_large[sc_of(40)]);
  /* pool = large: a 40-byte request gets a mapping of its own */
  void *p = uma_malloc(40);
  cr_assert_eq(uma_usable_size(p) % 4096, 0, "usable %zu", uma_usable_size(p));
  uma_free(p);
  route_install(NULL, 0);
}

Test(policy_routes, glob_matching) {
  cr_assert(route_glob_match("libtorch_cpu.so*", "libtorch_cpu.so.2.11"));
  cr_assert(route_glob_match("lib?ython3.[0-9]*", "libpython3.11.so.1.0"));
  cr_assert_not(route_glob_match("libfoo.so", "libfoo.so.1"));
  cr_assert(route_glob_match("*", ""));
  cr_assert_not(route_glob_match("[!a]*", "abc"));
}

Test(policy_defaults, shipped_file_parses_to_the_table_defaults) {
  pol_config_defaults(&cfg);
  pol_parse(&cfg, "embedded", pol_embedded_conf, pol_embedded_conf_len);
  cr_assert_eq(cfg.error_count, 0);
  cr_assert_eq(cfg.rule_count, 0);
  cr_assert_eq(cfg.purge_delay_ms, 1000);
  for (int k = 0; k < K_COUNT; k++) {
    pol_value_t v;
    const char *why;
    const char *def = pol_keys[k].def;
    if (def[0]) cr_assert(pol_value_parse((pol_key_id_t)k, def, strlen(def), &v, &why), "default of %s", pol_keys[k].name);
  }
}

/* The shipped file shows every key with its value commented out ("# round
 * = 512"): that text, set, reads back (as `uma-conf dump` prints it) as the
 * built-in defaults do — which are the key table's texts (conf_parse.c). A
 * default changed in one place and not the other fails here. */
Test(policy_defaults, every_key_shown_in_the_shipped_file_is_its_table_default) {
  static pol_config_t defaults, set;
  static char text[64 * 1024];
  pol_config_defaults(&defaults);
  FILE *f = fopen("uma-preload.conf", "r");   /* the embedded copy has no comments; tests run at the top */
  cr_assert(f, "uma-preload.conf from the source tree's top");
  text[fread(text, 1, sizeof text - 1, f)] = 0;
  fclose(f);
  for (int k = 0; k < K_COUNT; k++) {
    if (strcmp(pol_keys[k].section, "rule") == 0) continue;
    char header[64], line[96];
    snprintf(header, sizeof header, "\n[%s]\n", pol_keys[k].section);
    snprintf(line, sizeof line, "\n# %s = ", pol_keys[k].name);
    const char *sec = strstr(text, header);
    cr_assert(sec, "section [%s] in the shipped file", pol_keys[k].section);
    const char *at = strstr(sec, line), *next = strstr(sec + 1, "\n[");
    cr_assert(at && (!next || at < next), "'# %s = ...' in [%s] of the shipped file", pol_keys[k].name,
              pol_keys[k].section);
    at += strlen(line);
    size_t len = strcspn(at, "\n");
    if (at[0] == '(') continue;   /* "(unset: any)": the empty value, told in words */
    char conf[256];
    snprintf(conf, sizeof conf, "[%s]\n%s = %.*s\n", pol_keys[k].section, pol_keys[k].name, (int)len, at);
    pol_config_defaults(&set);
    pol_parse(&set, "shipped line", conf, strlen(conf));
    cr_assert_eq(set.error_count, 0, "%s", conf);
    char a[256] = "", b[256] = "";
    uma_buf_t ba = { a, 0, sizeof a - 1 }, bb = { b, 0, sizeof b - 1 };
    pol_put_value(&ba, &defaults, (pol_key_id_t)k);
    pol_put_value(&bb, &set, (pol_key_id_t)k);
    a[ba.len] = b[bb.len] = 0;
    cr_assert_str_eq(b, a, "[%s] %s: the shipped file says %.*s, the table %s", pol_keys[k].section,
                     pol_keys[k].name, (int)len, at, pol_keys[k].def);
  }
}

/* Before any policy is applied (libumacore.a on its own, or allocations
 * before the preload's constructor) the core runs on its own initial
 * values: each must be the key table's default. Two are off on purpose in
 * the core library — the helper thread's purge ([purge] background) and
 * transparent pinning ([cuda] pinned): a program linking the core chooses —
 * and the policy turns them on. */
Test(policy_defaults, the_core_starts_on_the_table_defaults) {
  static pol_config_t d;
  pol_config_defaults(&d);
  cr_assert_eq(uma_options[UMA_OPTION_PURGE_DELAY_MS], d.purge_delay_ms);
  cr_assert_eq(uma_options[UMA_OPTION_LARGE_CACHE_MAX], d.large_cache_max);
  cr_assert_eq(uma_options[UMA_OPTION_PURGE_BACKGROUND_ABOVE], d.purge_background_above);
  cr_assert_eq(uma_options[UMA_OPTION_PURGE_BACKGROUND], 0, "off in the core library");
  cr_assert_eq(d.purge_background, 1);
  cr_assert_eq((int64_t)dev_round, d.cuda_round);
  cr_assert_eq(dev_enabled, d.cuda_enable != 0);
  cr_assert_eq((int64_t)dev_share_wait_ms, d.cuda_share_wait_ms);
  cr_assert_eq(pin_pool_enabled, d.cuda_pinned_pool != 0);
  cr_assert_eq((int64_t)pin_min, d.cuda_pinned_min);
  cr_assert_eq(pin_mode, UMA_PINNED_OFF, "off in the core library");
  cr_assert_eq((int64_t)plan_min, d.plan_min_size);
  cr_assert_eq((int64_t)limit_pressure_pct, d.limit_pressure);
  for (int i = 0; i < TLSF_GRANULARITY_MAX; i++)
    cr_assert(tlsf_granularity[i].upto == d.coalescing_granularity[i].upto &&
              tlsf_granularity[i].step == d.coalescing_granularity[i].step, "[coalescing] granularity step %d", i);
}

/* The help text lives in its own table (conf_help.c, for uma-conf only):
 * every key of the key table has a line of it. */
Test(policy_defaults, every_key_has_help) {
  for (int k = 0; k < K_COUNT; k++)
    cr_assert(pol_key_help[k] != NULL && strlen(pol_key_help[k]) > 20, "help of %s.%s",
              pol_keys[k].section, pol_keys[k].name);
}
