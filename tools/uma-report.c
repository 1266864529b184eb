/* uma-report — reads the JSON reports uma-preload writes at exit
 * (docs/REPORT-FORMAT.md) and prints a summary, or writes one
 * self-contained HTML file with SVG pictures: the timeline, the size-class
 * histogram with its internal waste, the holes at the peak, fragmentation
 * per pool (and per NUMA node and per GPU where a report has them). Several
 * reports — the processes of one job — become one view, a row per process.
 *
 * With a trace in the report it also packs the trace offline: buffers by
 * decreasing size, each at the best-fitting gap among the buffers whose
 * lifetimes overlap its own. That is the footprint Q a planner that knew
 * the whole run would reach, next to the peak P and the live bytes L.
 *
 *   uma-report [--html OUT.html] [--suggest-config OUT.conf] [--min-peak SIZE]
 *              [--pack-max N] REPORT.json...
 * Exit codes: 0 done, 2 a wrong command line or an unreadable report.
 *
 * JSON is parsed with jansson (Debian's libjansson). */
#include "uma-report.h"
#include "../core/plan.h"
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PACK_MAX_DEFAULT 20000


static void die(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "uma-preload: uma-report: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  exit(2);
}

uint64_t u64(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

double num(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : 0.0;
}

const char *str(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : "";
}

void human(char *out, size_t cap, double v) {
  static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  int u = 0;
  while (v >= 1024 && u < 4) { v /= 1024; u++; }
  snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* ---- offline packing of the trace ---------------------------------------- */

typedef plan_buf_t buf_t;   /* size, t0, t1, off: the preload's own packing (core/plan.h) */

static int by_size_desc(const void *a, const void *b) {
  const buf_t *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

typedef struct event_s { uint64_t t; int64_t delta; } event_t;

static int by_time(const void *a, const void *b) {
  const event_t *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return x->delta < y->delta ? -1 : x->delta > y->delta;   /* frees first at a tie */
}

/* The peak of live bytes over the buffers [0, n). */
static uint64_t peak_live(const buf_t *bufs, size_t n) {
  event_t *ev = malloc(2 * n * sizeof *ev + 1);
  if (!ev) die("out of memory for %s%s", "the trace", "");
  for (size_t i = 0; i < n; i++) {
    ev[2 * i] = (event_t){ bufs[i].t0, (int64_t)bufs[i].size };
    ev[2 * i + 1] = (event_t){ bufs[i].t1, -(int64_t)bufs[i].size };
  }
  qsort(ev, 2 * n, sizeof *ev, by_time);
  int64_t live = 0, peak = 0;
  for (size_t i = 0; i < 2 * n; i++) {
    live += ev[i].delta;
    if (live > peak) peak = live;
  }
  free(ev);
  return (uint64_t)peak;
}

/* The planner's packing (the best of three greedy orderings, core/plan.c);
 * O(n²) in the worst case, hence --pack-max:
 * beyond it the largest buffers are packed and the rest are added at their
 * own peak of live bytes (so Q stays an upper bound of the planner's). */
static void pack(report_t *r, size_t pack_max) {
  json_t *trace = json_object_get(r->root, "trace");
  json_t *data = json_object_get(trace, "data");
  if (!json_is_array(data)) return;
  size_t n = json_array_size(data) / 3;
  uint64_t end = u64(trace, "clock_end") + 1;
  buf_t *bufs = malloc(n * sizeof *bufs + 1);
  if (!bufs) die("out of memory for %s%s", "the trace", "");
  for (size_t i = 0; i < n; i++) {
    bufs[i].size = (uint64_t)json_integer_value(json_array_get(data, 3 * i));
    bufs[i].t0 = (uint64_t)json_integer_value(json_array_get(data, 3 * i + 1));
    uint64_t t1 = (uint64_t)json_integer_value(json_array_get(data, 3 * i + 2));
    bufs[i].t1 = t1 ? t1 : end;
  }
  r->has_trace = 1;
  r->pack_total = n;
  r->pack_l = peak_live(bufs, n);
  /* The preload follows every block even past trace_max: its peak is exact
   * where the records alone would miss the blocks of dropped records. */
  r->exact_l = u64(trace, "peak_live_requested_bytes");
  r->trace_partial = u64(trace, "dropped") > 0 || u64(trace, "untracked") > 0;
  if (r->exact_l == 0) r->exact_l = r->pack_l;
  qsort(bufs, n, sizeof *bufs, by_size_desc);
  size_t m = n < pack_max ? n : pack_max;
  uint32_t *order = malloc(m * sizeof *order + 1);
  if (!order) die("out of memory for %s%s", "the trace", "");
  uint64_t q = plan_pack(bufs, m, order);   /* the preload's own packing (core/plan.c) */
  free(order);
  if (m < n) q += peak_live(bufs + m, n - m);
  r->pack_q = q;
  r->pack_records = m;
  free(bufs);
}

/* ---- the text summary ------------------------------------------------------ */

/* L: the exact peak of live requested bytes when traced, else the
 * preload's peak of live block bytes. */
uint64_t live_of(const report_t *r) {
  json_t *peak = json_object_get(r->root, "peak");
  return r->has_trace ? r->exact_l : u64(peak, "live_bytes");
}

/* Q from a partial trace packs only the recorded allocations: a lower
 * bound of the true Q, which is never below L either. */
static uint64_t q_of(const report_t *r) {
  uint64_t l = live_of(r);
  return r->pack_q > l ? r->pack_q : l;
}

static void print_pools(json_t *walk, const char *title) {
  if (!json_is_object(walk)) return;
  printf("  %s\n    %-10s %12s %12s %14s %12s %9s %12s\n", title, "pool", "in use", "free", "of it returned",
         "largest", "ext.frag", "unusable@4K");
  json_t *pools = json_object_get(walk, "pools");
  size_t i;
  json_t *p;
  json_array_foreach(pools, i, p) {
    if (u64(p, "mappings") == 0) continue;
    char a[32], b[32], c[32], d[32];
    human(d, sizeof d, (double)u64(p, "free_returned_bytes"));
    human(a, sizeof a, (double)u64(p, "live_bytes"));
    human(b, sizeof b, (double)u64(p, "free_bytes"));
    human(c, sizeof c, (double)u64(p, "largest_free"));
    double unusable = 0;
    json_t *ui = json_object_get(p, "unusable_index"), *x;
    size_t k;
    json_array_foreach(ui, k, x) if (u64(x, "request") == 4096) unusable = num(x, "index");
    printf("    %-10s %12s %12s %14s %12s %8.1f%% %11.1f%%\n", str(p, "name"), a, b, d, c,
           100 * num(p, "external_fragmentation"), 100 * unusable);
  }
}

static void print_summary(const report_t *r) {
  json_t *proc = json_object_get(r->root, "process"), *peak = json_object_get(r->root, "peak");
  char p[32], l[32], q[32];
  human(p, sizeof p, (double)u64(peak, "footprint_bytes"));
  uint64_t live = live_of(r);
  human(l, sizeof l, (double)live);
  const char *kind = str(proc, "report_kind");
  printf("%s: pid %llu (%s)%s%s\n", r->path, (unsigned long long)u64(proc, "pid"), str(proc, "command"),
         *kind && strcmp(kind, "exit") ? ", " : "", *kind && strcmp(kind, "exit") ? kind : "");
  printf("  your peak was %s; the live data needed %s (%s bytes%s); P/L %.2f\n", p, l,
         r->has_trace ? "requested" : str(peak, "live_basis"), r->has_trace ? ", exact" : "",
         live ? (double)u64(peak, "footprint_bytes") / (double)live : 0.0);
  if (r->has_trace) {
    human(q, sizeof q, (double)q_of(r));
    if (r->trace_partial)
      printf("  a perfect planner would need at least %s (Q/L >= %.2f): the trace is partial, %llu of its "
             "allocations recorded (raise [report] trace_max for the exact Q)\n",
             q, live ? (double)q_of(r) / (double)live : 0.0, (unsigned long long)r->pack_total);
    else
      printf("  a perfect planner would need %s (Q/L %.2f; %llu of %llu traced allocations packed%s)\n", q,
             live ? (double)q_of(r) / (double)live : 0.0, (unsigned long long)r->pack_records,
             (unsigned long long)r->pack_total, r->pack_records < r->pack_total ? ", the rest at their peak" : "");
  }
  print_pools(json_object_get(r->root, "at_exit"), "fragmentation at exit");
  print_pools(json_object_get(r->root, "at_peak"), "fragmentation at the peak footprint");
  print_sites(r);
  print_advice(r);
}

/* ---- HTML and SVG ------------------------------------------------------------ */

static const char *colors[] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b" };

static void svg_open(FILE *f, const char *title, int w, int h) {
  fprintf(f, "<figure><figcaption>%s</figcaption>\n<svg class=\"pic\" width=\"%d\" height=\"%d\" "
             "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"11\" font-family=\"sans-serif\">\n"
             "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\" stroke=\"#ccc\"/>\n",
          title, w, h, w, h, w, h);
}

static void svg_close(FILE *f) { fprintf(f, "</svg></figure>\n"); }

static void legend(FILE *f, int x, int y, const char *color, const char *text) {
  fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
          x, y, color, x + 14, y + 9, text);
}

static void axis_label(FILE *f, int x, int y, double v, const char *anchor) {
  char t[32];
  human(t, sizeof t, v);
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\">%s</text>\n", x, y, anchor, t);
}

/* A round step for an axis that spans `range`: 1, 2 or 5 times a power of
 * `base` (10 for time; 1024 for bytes) giving 4 to 10 ticks. */
static double tick_step(double range, double base) {
  double unit = 1;
  while (unit * base <= range / 4) unit *= base;
  static const double m[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500 };
  for (int i = 0; i < 9; i++)
    if (range / (unit * m[i]) <= 8) return unit * m[i];
  return unit * base;
}

/* Live, requested, committed and resident bytes over time, drawn as steps:
 * a sample holds until the next (samples are taken on a clock, so a flat
 * stretch is the program holding still, not a gap). */
static void svg_timeline(FILE *f, json_t *root) {
  json_t *tl = json_object_get(root, "timeline");
  json_t *samples = json_object_get(tl, "samples");
  size_t n = json_array_size(samples);
  svg_open(f, "Timeline: bytes over the run (hover a point for its values)", 640, 280);
  if (n == 0) {
    fprintf(f, "<text x=\"20\" y=\"130\">no samples ([report] timeline = 0, or too short a run)</text>\n");
    svg_close(f);
    return;
  }
  double tmax = 1, ymax = 1;
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_array_get(samples, i);
    double t = (double)json_integer_value(json_array_get(s, 0));
    if (t > tmax) tmax = t;
    for (int c = 1; c <= 5; c++) {
      double v = (double)json_integer_value(json_array_get(s, (size_t)c));
      if (c != 4 && v > ymax) ymax = v;   /* mapped can dwarf the rest: left out of the scale */
    }
  }
  const int x0 = 80, y0 = 230, w = 530, h = 190;
  double ystep = tick_step(ymax, 2), tstep = tick_step(tmax, 10);
  ymax = ystep * (double)(int)(ymax / ystep + 0.999);
  for (double v = 0; v <= ymax + 1; v += ystep) {
    double y = y0 - h * v / ymax;
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>\n", x0, y, x0 + w, y);
    axis_label(f, x0 - 4, (int)y + 4, v, "end");
  }
  for (double t = 0; t <= tmax; t += tstep) {
    double x = x0 + w * t / tmax;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\"/>", x, y0, x, y0 + 4);
    if (tmax >= 10000) fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g s</text>\n", x, y0 + 16, t / 1000);
    else fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g ms</text>\n", x, y0 + 16, t);
  }
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", x0, y0, x0 + w, y0);
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", x0, y0, x0, y0 - h);
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time since start</text>\n", x0 + w / 2, y0 + 32);
  static const int cols[] = { 1, 2, 3, 5 };
  static const char *names[] = { "live (block bytes)", "live (requested, est.)", "committed", "resident (process)" };
  for (int k = 0; k < 4; k++) {
    fprintf(f, "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"%s\" points=\"", colors[k]);
    double prev_y = 0;
    for (size_t i = 0; i < n; i++) {
      json_t *s = json_array_get(samples, i);
      double t = (double)json_integer_value(json_array_get(s, 0));
      double v = (double)json_integer_value(json_array_get(s, (size_t)cols[k]));
      double x = x0 + w * t / tmax, y = y0 - h * (v > ymax ? ymax : v) / ymax;
      if (i) fprintf(f, "%.1f,%.1f ", x, prev_y);   /* the step: hold, then move */
      fprintf(f, "%.1f,%.1f ", x, y);
      prev_y = y;
    }
    fprintf(f, "\"/>\n");
    legend(f, x0 + 10 + k * 135, 8, colors[k], names[k]);
  }
  /* hover targets: one invisible column per sample with its values */
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_array_get(samples, i);
    double t = (double)json_integer_value(json_array_get(s, 0));
    char lv[32], cm[32], rs[32];
    human(lv, sizeof lv, (double)json_integer_value(json_array_get(s, 1)));
    human(cm, sizeof cm, (double)json_integer_value(json_array_get(s, 3)));
    human(rs, sizeof rs, (double)json_integer_value(json_array_get(s, 5)));
    fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"3\" height=\"%d\" fill=\"transparent\"><title>%.0f ms: live %s, "
               "committed %s, resident %s</title></rect>\n", x0 + w * t / tmax - 1, y0 - h, h, t, lv, cm, rs);
  }
  svg_close(f);
}

/* Per size class: bytes requested and bytes served (the difference is the
 * internal waste), on a log scale of bytes. */
static void svg_classes(FILE *f, json_t *root) {
  json_t *classes = json_object_get(root, "classes");
  size_t n = json_array_size(classes);
  svg_open(f, "Size classes: bytes served, and the part requested (the rest is internal waste)", 640, 260);
  if (n == 0) {
    fprintf(f, "<text x=\"20\" y=\"130\">no pooled allocations</text>\n");
    svg_close(f);
    return;
  }
  double vmax = 1;
  for (size_t i = 0; i < n; i++) {
    double v = (double)u64(json_array_get(classes, i), "bytes_served");
    if (v > vmax) vmax = v;
  }
  const int x0 = 70, y0 = 220, w = 540, h = 180;
  double bw = (double)w / (double)n;
  /* bytes per class span decades: a log scale, ticks at powers of 1024 */
  double lmax = log2(vmax + 1);
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", x0, y0, x0 + w, y0);
  for (double v = 1; v <= vmax; v *= 1024) {
    double y = y0 - h * log2(v + 1) / lmax;
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>\n", x0, y, x0 + w, y);
    axis_label(f, x0 - 4, (int)y + 4, v, "end");
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">size class (bytes); bytes on a log scale</text>\n", x0 + w / 2, y0 + 28);
  for (size_t i = 0; i < n; i++) {
    json_t *c = json_array_get(classes, i);
    double served = (double)u64(c, "bytes_served"), req = (double)u64(c, "bytes_requested");
    double hs = h * log2(served + 1) / lmax, hr = h * log2(req + 1) / lmax;
    if (hs < 1 && served > 0) hs = 1;
    double x = x0 + bw * (double)i;
    char sv[32], rq[32];
    human(sv, sizeof sv, served);
    human(rq, sizeof rq, req);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>class %llu B: served %s, requested %s</title></rect>\n",
            x, y0 - hs, bw * 0.9, hs, colors[1], (unsigned long long)u64(c, "size"), sv, rq);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>class %llu B: requested %s</title></rect>\n",
            x, y0 - hr, bw * 0.9, hr, colors[0], (unsigned long long)u64(c, "size"), rq);
    if (i % (n / 12 + 1) == 0) {
      char t[32];
      human(t, sizeof t, (double)u64(c, "size"));
      fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\">%s</text>\n", x + bw / 2, y0 + 12, t);
    }
  }
  legend(f, x0 + 10, 8, colors[0], "requested");
  legend(f, x0 + 120, 8, colors[1], "served (waste on top)");
  svg_close(f);
}

/* Free extents at the peak by size (power-of-two buckets), per pool. */
static void svg_holes(FILE *f, json_t *root) {
  json_t *walk = json_object_get(root, "at_peak");
  const char *when = "at the peak footprint";
  if (!json_is_object(walk)) { walk = json_object_get(root, "at_exit"); when = "at exit (no peak snapshot)"; }
  char title[128];
  snprintf(title, sizeof title, "Holes %s: free bytes by extent size", when);
  svg_open(f, title, 640, 260);
  json_t *pools = json_object_get(walk, "pools");
  double vmax = 1;
  size_t i, k;
  json_t *p, *hole;
  json_array_foreach(pools, i, p) json_array_foreach(json_object_get(p, "holes"), k, hole) {
    double v = (double)u64(hole, "bytes");
    if (v > vmax) vmax = v;
  }
  const int x0 = 70, y0 = 220, w = 540, h = 180, buckets = 33;   /* 1 B … 4 GiB */
  double bw = (double)w / buckets;
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", x0, y0, x0 + w, y0);
  axis_label(f, x0 - 4, y0 - h + 4, vmax, "end");
  for (int b = 4; b < buckets; b += 4) {
    char t[32];
    human(t, sizeof t, (double)(1ULL << b));
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\">%s</text>\n", x0 + bw * b + bw / 2, y0 + 12, t);
  }
  int npools = (int)json_array_size(pools);
  json_array_foreach(pools, i, p) {
    legend(f, x0 + 10 + (int)i * 90, 8, colors[i % 6], str(p, "name"));
    json_array_foreach(json_object_get(p, "holes"), k, hole) {
      uint64_t from = u64(hole, "size_from");
      int b = from ? 63 - __builtin_clzll(from) : 0;
      if (b >= buckets) b = buckets - 1;
      double hv = h * (double)u64(hole, "bytes") / vmax;
      if (hv < 1) hv = 1;
      double sub = bw / (npools ? npools : 1);
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s: %llu extents from %llu B, %llu B</title></rect>\n",
              x0 + bw * b + sub * (double)i, y0 - hv, sub, hv, colors[i % 6], str(p, "name"),
              (unsigned long long)u64(hole, "count"), (unsigned long long)from, (unsigned long long)u64(hole, "bytes"));
    }
  }
  svg_close(f);
}

/* Per pool (and per NUMA node / GPU when present): external fragmentation
 * and the unusable index for 4 KiB requests, as bars in percent. */
static void svg_frag_bars(FILE *f, const char *title, json_t *items) {
  size_t n = json_array_size(items);
  svg_open(f, title, 640, 200);
  const int x0 = 70, y0 = 170, w = 540, h = 140;
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", x0, y0, x0 + w, y0);
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">100 %%</text>\n", x0 - 4, y0 - h + 4);
  double gw = n ? (double)w / (double)n : w;
  size_t i;
  json_t *p;
  json_array_foreach(items, i, p) {
    double ext = num(p, "external_fragmentation"), unusable = 0;
    size_t k;
    json_t *x;
    json_array_foreach(json_object_get(p, "unusable_index"), k, x) if (u64(x, "request") == 4096) unusable = num(x, "index");
    double bx = x0 + gw * (double)i + gw * 0.1, bw = gw * 0.35;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", bx, y0 - h * ext, bw,
            h * ext + 0.5, colors[0]);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", bx + bw, y0 - h * unusable,
            bw, h * unusable + 0.5, colors[3]);
    const char *name = str(p, "name");
    char label[64];
    if (!*name) snprintf(label, sizeof label, "#%zu", i);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", bx + bw, y0 + 14, *name ? name : label);
  }
  legend(f, x0 + 10, 8, colors[0], "external fragmentation");
  legend(f, x0 + 180, 8, colors[3], "unusable for 4 KiB requests");
  svg_close(f);
}

static void html_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '&') fputs("&amp;", f);
    else fputc(*s, f);
  }
}

/* One row of the job table: a process, or the job's total. */
static void html_row(FILE *f, const char *pid, const char *rank, const char *cmd, uint64_t p, uint64_t l, const char *q,
                     double waste, uint64_t free_exit, uint64_t rss, int bold) {
  char ps[32], ls[32], fr[32], rs[32];
  human(ps, sizeof ps, (double)p);
  human(ls, sizeof ls, (double)l);
  human(fr, sizeof fr, (double)free_exit);
  human(rs, sizeof rs, (double)rss);
  fprintf(f, "<tr%s><td>%s</td><td>%s</td><td class=\"l\">", bold ? " class=\"total\"" : "", pid, rank);
  html_escape(f, cmd);
  fprintf(f, "</td><td>%s</td><td>%s</td><td>%.2f</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", ps, ls,
          l ? (double)p / (double)l : 0.0, q, waste >= 0 ? (snprintf(fr + 16, 16, "%.1f %%", 100 * waste), fr + 16) : "",
          fr, rs);
}

static void write_html(const char *out, report_t *reports, int n) {
  FILE *f = fopen(out, "w");
  if (!f) die("cannot write '%s'%s: check the directory exists and is writable", out, "");
  fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>uma-preload report</title>\n"
             "<style>body{font-family:sans-serif;margin:20px;color:#222}table{border-collapse:collapse;margin:8px 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}td.l,th.l{text-align:left}"
             "tr.total td{font-weight:bold;background:#f6f6f6}.row{display:flex;flex-wrap:wrap;gap:12px}"
             "figure{margin:0}figcaption{font-size:13px;margin:4px 0}dl{font-size:13px}dt{font-weight:bold;float:left;"
             "width:9em}dd{margin-left:10em}</style>\n</head><body>\n<h1>uma-preload report</h1>\n");
  fprintf(f, "<table><tr><th>pid</th><th>rank</th><th class=\"l\">command</th><th>peak P</th><th>live L</th><th>P/L</th>"
             "<th>planner Q</th><th>internal waste</th><th>free at exit</th><th>peak RSS</th></tr>\n");
  uint64_t tp = 0, tl = 0, tf = 0, trss = 0;
  for (int i = 0; i < n; i++) {
    json_t *root = reports[i].root, *proc = json_object_get(root, "process"), *peak = json_object_get(root, "peak");
    json_t *exit_total = json_object_get(json_object_get(root, "at_exit"), "total");
    char q[48] = "—", pid[24], rank[24];
    if (reports[i].has_trace) {
      human(q, sizeof q, (double)q_of(&reports[i]));
      if (reports[i].trace_partial) { memmove(q + 2, q, strlen(q) + 1); q[0] = '>'; q[1] = '='; }
    }
    snprintf(pid, sizeof pid, "%llu", (unsigned long long)u64(proc, "pid"));
    snprintf(rank, sizeof rank, "%s", str(proc, "rank"));
    uint64_t p = u64(peak, "footprint_bytes"), l = live_of(&reports[i]);
    html_row(f, pid, rank, str(proc, "command"), p, l, q, num(json_object_get(root, "totals"), "internal_fragmentation"),
             u64(exit_total, "free_bytes"), u64(peak, "process_peak_rss_bytes"), 0);
    tp += p; tl += l; tf += u64(exit_total, "free_bytes"); trss += u64(peak, "process_peak_rss_bytes");
  }
  if (n > 1) {
    char procs[32];
    snprintf(procs, sizeof procs, "%d processes", n);
    html_row(f, "job", "", procs, tp, tl, "—", -1, tf, trss, 1);
  }
  fprintf(f, "</table>\n<dl><dt>peak P</dt><dd>the most memory the allocator held at once (its footprint: blocks "
             "in use, free space not yet returned, metadata)</dd><dt>live L</dt><dd>the most bytes the program "
             "had allocated at once (exact when traced)</dd><dt>P/L</dt><dd>1.00 is perfect; above it, free space "
             "held at the peak</dd><dt>planner Q</dt><dd>what an allocator that knew every lifetime in advance "
             "would need (with a trace)</dd><dt>job total</dt><dd>the sums over the processes: P and L of processes "
             "that ran at different times add up to more than was ever held at once</dd></dl>\n");
  for (int i = 0; i < n; i++) {
    json_t *root = reports[i].root, *proc = json_object_get(root, "process");
    fprintf(f, "<h2>pid %llu: ", (unsigned long long)u64(proc, "pid"));
    html_escape(f, str(proc, "command"));
    fprintf(f, " <small>(");
    html_escape(f, reports[i].path);
    fprintf(f, ")</small></h2>\n<div class=\"row\">\n");
    svg_timeline(f, root);
    svg_classes(f, root);
    svg_holes(f, root);
    json_t *walk = json_object_get(root, "at_peak");
    if (!json_is_object(walk)) walk = json_object_get(root, "at_exit");
    svg_frag_bars(f, "Fragmentation per pool (at the peak)", json_object_get(walk, "pools"));
    if (json_array_size(json_object_get(root, "numa")))
      svg_frag_bars(f, "Fragmentation per NUMA node", json_object_get(root, "numa"));
    if (json_array_size(json_object_get(root, "gpus")))
      svg_frag_bars(f, "Fragmentation per GPU", json_object_get(root, "gpus"));
    fprintf(f, "</div>\n");
    html_flame(f, &reports[i]);
    html_sites(f, &reports[i]);
    html_advice(f, &reports[i]);
  }
  /* Marks a complete render: the test reads the title back from Chromium. */
  fprintf(f, "<script>\nvar pics = document.querySelectorAll('svg.pic');\nvar drawn = 0;\n"
             "pics.forEach(function (s) { if (s.querySelectorAll('rect,polyline').length > 1) drawn++; });\n"
             "document.title = 'uma-report: ' + drawn + ' of ' + pics.length + ' pictures drawn';\n</script>\n"
             "</body></html>\n");
  if (fclose(f) != 0) die("cannot write '%s'%s", out, "");
}

/* "16M", "1G", "4096": bytes. */
static uint64_t parse_size(const char *s) {
  char *end;
  double v = strtod(s, &end);
  int shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
  if (v < 0 || (*end && !shift) || (shift && end[1] && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0))
    die("'%s' is not a size%s (try 16M)", s, "");
  return (uint64_t)(v * (double)(1ULL << shift));
}

static void usage(FILE *to) {
  fprintf(to, "usage: uma-report [--html OUT.html] [--suggest-config OUT.conf] [--min-peak SIZE] [--pack-max N] REPORT.json...\n"
              "       uma-report --help | --version\n"
              "  prints a summary of each JSON report (the preload's [report] json), or writes\n"
              "  --html one page of pictures, --suggest-config a policy tuned to one report;\n"
              "  several reports (the processes of a job) give a row each and the job's total;\n"
              "  --min-peak leaves out processes whose peak footprint stayed below SIZE (e.g. 16M);\n"
              "  --pack-max: trace records packed offline at most (default %d). See uma-report(1).\n",
          PACK_MAX_DEFAULT);
}

int main(int argc, char **argv) {
  const char *html = NULL, *suggest = NULL;
  size_t pack_max = PACK_MAX_DEFAULT;
  uint64_t min_peak = 0;
  report_t *reports = calloc((size_t)argc, sizeof *reports);
  int n = 0;
  static const struct option longopts[] = {
    { "html", required_argument, NULL, 'o' },     { "suggest-config", required_argument, NULL, 's' },
    { "min-peak", required_argument, NULL, 'm' }, { "pack-max", required_argument, NULL, 'k' },
    { "help", no_argument, NULL, 'h' },           { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'o': html = optarg; break;
    case 's': suggest = optarg; break;
    case 'm': min_peak = parse_size(optarg); break;
    case 'k': {
      char *end;
      pack_max = (size_t)strtoull(optarg, &end, 10);
      if (*end || !*optarg) die("--pack-max '%s' is not a count%s", optarg, "");
      break;
    }
    case 'h': usage(stdout); return 0;
    case 'V': printf("uma-report (uma-preload) %s\n", UMA_VERSION); return 0;
    default: usage(stderr); return 2;   /* getopt said what was wrong */
    }
  }
  for (int i = optind; i < argc; i++) reports[n++].path = argv[i];
  if (n == 0) die("no report given%s%s (usage: uma-report [--html OUT.html] REPORT.json...)", "", "");
  int kept = 0, small = 0;
  for (int i = 0; i < n; i++) {
    json_error_t err;
    reports[i].root = json_load_file(reports[i].path, 0, &err);
    if (!reports[i].root) {
      char where[256];
      snprintf(where, sizeof where, "%s:%d:%d", reports[i].path, err.line, err.column);
      die("%s: not valid JSON: %s", where, err.text);
    }
    if (strcmp(str(reports[i].root, "format"), "uma-preload-report") != 0)
      die("%s: not a uma-preload report (no \"format\": \"uma-preload-report\")%s", reports[i].path, "");
    if (u64(reports[i].root, "version") != 1)
      die("%s: report version not understood by this uma-report (expected 1)%s", reports[i].path, "");
    if (u64(json_object_get(reports[i].root, "peak"), "footprint_bytes") < min_peak) {
      small++;
      continue;
    }
    pack(&reports[i], pack_max);
    reports[kept++] = reports[i];
  }
  if (small) fprintf(stderr, "uma-report: %d report%s below --min-peak left out\n", small, small == 1 ? "" : "s");
  if (kept == 0) die("every report is below --min-peak%s%s", "", "");
  if (suggest) {
    if (kept != 1) die("--suggest-config needs one report (it tunes one program)%s%s", "", "");
    if (write_suggested_config(suggest, &reports[0]) != 0) die("cannot write '%s'%s", suggest, "");
    printf("uma-report: wrote %s (check it with uma-conf check %s)\n", suggest, suggest);
  }
  if (html) {
    write_html(html, reports, kept);
    printf("uma-report: wrote %s (%d report%s)\n", html, kept, kept == 1 ? "" : "s");
  } else if (!suggest) {
    for (int i = 0; i < kept; i++) print_summary(&reports[i]);
    if (kept > 1) {
      uint64_t tp = 0, tl = 0;
      printf("job: %d processes\n  %-8s %-6s %-16s %12s %12s %6s\n", kept, "pid", "rank", "command", "peak P", "live L", "P/L");
      for (int i = 0; i < kept; i++) {
        json_t *proc = json_object_get(reports[i].root, "process");
        uint64_t p = u64(json_object_get(reports[i].root, "peak"), "footprint_bytes"), l = live_of(&reports[i]);
        char ps[32], ls[32];
        human(ps, sizeof ps, (double)p);
        human(ls, sizeof ls, (double)l);
        printf("  %-8llu %-6s %-16s %12s %12s %6.2f\n", (unsigned long long)u64(proc, "pid"), str(proc, "rank"),
               str(proc, "command"), ps, ls, l ? (double)p / (double)l : 0.0);
        tp += p;
        tl += l;
      }
      char ps[32], ls[32];
      human(ps, sizeof ps, (double)tp);
      human(ls, sizeof ls, (double)tl);
      printf("  %-8s %-6s %-16s %12s %12s %6.2f\n", "total", "", "", ps, ls, tl ? (double)tp / (double)tl : 0.0);
    }
  }
  return 0;
}
