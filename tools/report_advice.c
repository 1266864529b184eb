/* report_advice.c — "what to change", computed from one report: each piece
 * of advice names the figure that prompted it, the policy key to change,
 * the value to try and what it costs. --suggest-config writes the same as a
 * policy file that `uma-conf check` accepts (settings only: rules stay the
 * user's). */
#include "uma-report.h"
#include <string.h>

typedef struct advice_s {
  char text[512];
  const char *section, *key;
  char value[32];
} advice_t;

static json_t *pool_named(json_t *walk, const char *name) {
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(walk, "pools"), i, p) if (strcmp(str(p, "name"), name) == 0) return p;
  return NULL;
}

static void size_text(char *out, size_t cap, uint64_t v) {
  if (v >= (1ULL << 20) && v % (1ULL << 20) == 0) snprintf(out, cap, "%lluM", (unsigned long long)(v >> 20));
  else if (v >= 1024 && v % 1024 == 0) snprintf(out, cap, "%lluK", (unsigned long long)(v >> 10));
  else snprintf(out, cap, "%llu", (unsigned long long)v);
}

/* Up to 8 pieces of advice; returns how many. */
static int advise(const report_t *r, advice_t *out) {
  int n = 0;
  json_t *root = r->root, *peak = json_object_get(root, "peak"), *set = json_object_get(root, "settings");
  json_t *at_peak = json_object_get(root, "at_peak"), *tot = json_object_get(root, "totals");
  uint64_t p = u64(peak, "footprint_bytes"), l = live_of(r);
  char a[32], b[32];
  /* Freed large blocks held in the cache at the peak count in P. */
  json_t *large = pool_named(at_peak, "large");
  uint64_t large_free = large ? u64(large, "free_bytes") - u64(large, "free_returned_bytes") : 0;
  if (p && large_free * 20 > p) {
    /* the cache holds at most cache_max: a quarter of what it held at the peak */
    uint64_t cur = u64(set, "large_cache_max"), want = (large_free / 4) & ~((1ULL << 20) - 1);
    if (want < (1ULL << 20)) want = 1ULL << 20;
    if (want > cur) want = cur;
    human(a, sizeof a, (double)large_free);
    advice_t *x = &out[n++];
    size_text(x->value, sizeof x->value, want);
    snprintf(x->text, sizeof x->text,
             "%s of freed large blocks sat in the large-block cache at the peak. Lower [large] cache_max to %s: "
             "P falls by up to the difference; a later large request may map fresh memory instead of reusing it.",
             a, x->value);
    x->section = "large";
    x->key = "cache_max";
  }
  /* Free pages waiting out the purge delay at the peak count in P. */
  uint64_t dirty = 0;
  size_t i;
  json_t *pl;
  json_array_foreach(json_object_get(at_peak, "pools"), i, pl) if (strcmp(str(pl, "name"), "large") != 0)
    dirty += u64(pl, "free_bytes") - u64(pl, "free_returned_bytes");
  uint64_t delay = u64(set, "purge_delay_ms");
  if (p && dirty * 5 > p && delay > 100) {
    human(a, sizeof a, (double)dirty);
    advice_t *x = &out[n++];
    snprintf(x->value, sizeof x->value, "100ms");
    snprintf(x->text, sizeof x->text,
             "%s of free space in the pools was still resident at the peak (%.0f%% of P). Shorten [purge] delay "
             "from %llu ms to 100ms: free pages go back sooner, at the cost of page faults when they are reused.",
             a, 100.0 * (double)dirty / (double)p, (unsigned long long)delay);
    x->section = "purge";
    x->key = "delay";
  }
  /* Rounding waste. */
  double waste = num(tot, "internal_fragmentation");
  if (waste > 0.10 && u64(set, "coalescing_above") > 256) {
    advice_t *x = &out[n++];
    snprintf(x->value, sizeof x->value, "256");
    snprintf(x->text, sizeof x->text,
             "%.1f%% of the bytes served were rounding inside blocks. Set [coalescing] above = 256: requests above "
             "256 B are then served to 1 KiB granularity from the coalescing pool (slower than the size classes).",
             100 * waste);
    x->section = "coalescing";
    x->key = "above";
  }
  /* Python's own allocator hides small objects. */
  const char *cmd = str(json_object_get(root, "process"), "command");
  const char *pym = str(set, "PYTHONMALLOC");
  if (strncmp(cmd, "python", 6) == 0 && strcmp(pym, "malloc") != 0 && n < 8) {
    advice_t *x = &out[n++];
    snprintf(x->text, sizeof x->text,
             "This is Python with its own small-object allocator (pymalloc): objects up to 512 B live in its 1 MiB "
             "arenas, which this report sees as opaque blocks. Run with PYTHONMALLOC=malloc to have them placed "
             "and reported one by one.");
    x->section = x->key = NULL;
  }
  if (l && p > 2 * l && n == 0) {
    human(a, sizeof a, (double)p);
    human(b, sizeof b, (double)l);
    advice_t *x = &out[n++];
    snprintf(x->text, sizeof x->text,
             "P (%s) is more than twice L (%s) with no cache or delay to blame: blocks of different lifetimes share "
             "pages. Where the program repeats, [plan] host = auto packs its large buffers by lifetime.", a, b);
    x->section = x->key = NULL;
  }
  return n;
}

void print_advice(const report_t *r) {
  advice_t adv[8];
  int n = advise(r, adv);
  printf("  what to change%s\n", n ? "" : ": nothing stands out (P is close to what the live data needs)");
  for (int i = 0; i < n; i++) printf("    - %s\n", adv[i].text);
}

void html_advice(FILE *f, const report_t *r) {
  advice_t adv[8];
  int n = advise(r, adv);
  fprintf(f, "<h3>What to change</h3>\n<ul>\n");
  if (n == 0) fprintf(f, "<li>Nothing stands out: P is close to what the live data needs.</li>\n");
  for (int i = 0; i < n; i++) fprintf(f, "<li>%s</li>\n", adv[i].text);
  fprintf(f, "</ul>\n");
}

/* 0 on success. */
int write_suggested_config(const char *out, const report_t *r) {
  advice_t adv[8];
  int n = advise(r, adv);
  FILE *f = fopen(out, "w");
  if (!f) return -1;
  fprintf(f, "# uma-preload.conf suggested by uma-report from %s\n# Check it with: uma-conf check %s\n", r->path, out);
  const char *sections[] = { "purge", "large", "coalescing" };
  int any = 0;
  for (int s = 0; s < 3; s++) {
    int opened = 0;
    for (int i = 0; i < n; i++) {
      if (!adv[i].section || strcmp(adv[i].section, sections[s]) != 0) continue;
      if (!opened) fprintf(f, "\n[%s]\n", sections[s]);
      opened = any = 1;
      fprintf(f, "%s = %s\n", adv[i].key, adv[i].value);
    }
  }
  if (!any) fprintf(f, "\n# nothing to change: P is close to what the live data needs\n");
  return fclose(f) == 0 ? 0 : -1;
}
