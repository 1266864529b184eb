/* report.c — the fragmentation report: what is gathered at exit, and the
 * text summary for people (report_json.c writes the same for tools). All of
 * it runs on raw write(2) and static storage, so it works at exit, in a
 * signal handler and after fork, and allocates nothing from the heap it
 * describes. docs/REPORT-FORMAT.md defines every figure. */
#include "base.h"
#include "options.h"
#include "cow.h"
#include "../cuda/device_pool.h"
#include "fmt.h"
#include "frag.h"
#include "heap.h"
#include "limits.h"
#include "numa_report.h"
#include "os.h"
#include "../cuda/pinned.h"
#include "plan_host.h"
#include "report.h"
#include "route.h"
#include "sample.h"
#include "size_class.h"
#include "stats.h"
#include "timeline.h"
#include "trace.h"
#include <fcntl.h>

uint64_t report_start_unix;

/* Called by the policy at start-up: the timeline, the peak snapshots and
 * the trace run only when a report will be written. */
void report_configure(bool on, uint64_t timeline_ms, uint64_t timeline_bytes, uint64_t trace_records,
                      uint64_t sample_bytes) {
  report_start_unix = os_unix_time();
  if (!on) return;
  frag_watch_peaks();
  sample_configure(sample_bytes);
  if (timeline_ms || timeline_bytes) timeline_start(timeline_ms, timeline_bytes);
  if (trace_records && !trace_on && !trace_start(trace_records))
    uma_write_err("uma-preload: cannot map memory for the allocation trace; tracing is off "
                  "(lower [report] trace_max)\n");
}

/* Settling (not in a signal handler, which may have cut a thread holding
 * the heap lock): the calling thread's cached blocks and the frees other
 * threads made into exited threads' heaps are taken in first, so "in use"
 * in the walk is the live blocks, not live plus frees still in transit. */
void report_gather(uma_report_data_t *d, report_kind_t kind) {
  __builtin_memset(d, 0, sizeof *d);
  d->kind = kind;
  if (kind == REPORT_EXIT || kind == REPORT_ON_DEMAND) {
    if (uma_tls_heap) heap_collect_own_if_free(uma_tls_heap);
    heap_collect_abandoned(false);
    sample_collect();
  }
  d->t_ms = timeline_start_ms ? os_now_ms() - timeline_start_ms : 0;
  timeline_final();
  stats_totals(&d->totals);
  stats_get_from(&d->totals, &d->stats);   /* one snapshot: classes add up to the totals */
  d->exit_walk = frag_scan(&frag_at_exit, true) ? &frag_at_exit : NULL;
  numa_census_mmap();
  d->peak_walk = frag_at_peak.valid ? &frag_at_peak : NULL;
  d->committed = atomic_load_explicit(&stats_committed, memory_order_relaxed);
  d->peak_committed = atomic_load_explicit(&stats_peak_committed, memory_order_relaxed);
  d->process_resident = timeline_process_resident();
  d->process_peak_rss = os_peak_rss();
  d->heaps = d->stats.heaps_created;
  d->metadata = d->heaps * sizeof(uma_heap_t);
  if (d->exit_walk)
    for (int p = 0; p < FRAG_POOLS; p++) d->metadata += d->exit_walk->pool[p].metadata;
  if (trace_on) {
    d->peak_live = trace_peak_live;
    d->live_is_requested = true;
  } else {
    d->peak_live = d->stats.peak_live_bytes;
  }
  for (int id = 0; id < DEV_POOLS; id++) {
    typeof(d->gpus[0]) *g = &d->gpus[d->gpu_count];
    if (dev_summary(id, &g->st, &g->free)) {
      g->id = id;
      d->gpu_count++;
    }
  }
  /* A program can reach CUDA by routes we do not see (a statically linked
   * runtime with [cuda] dlsym_route = no, a driver found some other way):
   * then the driver is mapped but not one call came to us. */
  d->cuda_unseen = dev_enabled && !dev_cuda_seen && os_file_contains("/proc/self/maps", "/libcuda.so");
  os_command(d->command, sizeof d->command);
}

/* ---- the text summary ------------------------------------------------------ */

static void row(uma_buf_t *b, const char *label, uint64_t value, bool bytes) {
  buf_str(b, "  ");
  buf_str(b, label);
  buf_pad(b, 24);
  if (bytes) buf_bytes(b, value);
  else buf_count(b, value);
}

static void percent(uma_buf_t *b, uint64_t part, uint64_t whole) {
  uint64_t tenths = whole ? (uint64_t)((double)part * 1000.0 / (double)whole + 0.5) : 0;
  buf_u64(b, tenths / 10);
  char frac[3] = { '.', (char)('0' + tenths % 10), 0 };
  buf_str(b, frac);
  buf_str(b, " %");
}

static void ratio2(uma_buf_t *b, uint64_t part, uint64_t whole) {
  uint64_t hundredths = whole ? (uint64_t)((double)part * 100.0 / (double)whole + 0.5) : 0;
  buf_u64(b, hundredths / 100);
  char frac[4] = { '.', (char)('0' + hundredths / 10 % 10), (char)('0' + hundredths % 10), 0 };
  buf_str(b, frac);
}

/* One line per pool and a total: in use, free (and the part of it already
 * given back to the OS), largest free extent, external fragmentation, the
 * share of free space a 4 KiB request cannot use, resident. */
static void write_pools(int fd, const uma_frag_t *w, const char *title) {
  char text[2048];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "  ");
  buf_str(&b, title);
  buf_str(&b, "\n    pool        in use        free          of it returned  largest free  ext. frag  unusable@4K  resident\n");
  uma_frag_pool_t total = { 0 };
  for (int p = 0; p <= FRAG_POOLS; p++) {
    const uma_frag_pool_t *x = p < FRAG_POOLS ? &w->pool[p] : &total;
    if (p < FRAG_POOLS) {
      if (x->mappings == 0) continue;
      total.live_bytes += x->live_bytes;
      total.free_bytes += x->free_bytes;
      total.free_returned += x->free_returned;
      total.usable[1] += x->usable[1];
      total.resident += x->resident;
      if (x->largest_free > total.largest_free) total.largest_free = x->largest_free;
    }
    buf_str(&b, "    ");
    buf_str(&b, p < FRAG_POOLS ? frag_pool_names[p] : "total");
    buf_pad(&b, 16); buf_bytes(&b, x->live_bytes);
    buf_pad(&b, 30); buf_bytes(&b, x->free_bytes);
    buf_pad(&b, 44); buf_bytes(&b, x->free_returned);
    buf_pad(&b, 60); buf_bytes(&b, x->largest_free);
    buf_pad(&b, 74); percent(&b, x->free_bytes - (x->free_bytes ? x->largest_free : 0), x->free_bytes);
    buf_pad(&b, 85); percent(&b, x->free_bytes - x->usable[1], x->free_bytes);
    buf_pad(&b, 98);
    if (w->resident_known) buf_bytes(&b, x->resident);
    else buf_str(&b, "-");
    buf_str(&b, "\n");
  }
  os_write(fd, text, b.len);
}

/* Two lines per GPU whose device pool was used. */
static void write_gpu(int fd, const typeof(((uma_report_data_t *)0)->gpus[0]) *g) {
  char text[1024];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "  gpu");
  buf_u64(&b, (uint64_t)(g->id % DEV_MAX));
  int api = g->id / DEV_MAX;
  buf_str(&b, api == DEV_API_RUNTIME ? " cudaMalloc pool" : api == DEV_API_DRIVER ? " cuMemAlloc pool" : " pinned host pool");
  buf_pad(&b, 24);
  buf_str(&b, "reserved "); buf_bytes(&b, g->st.reserved);
  buf_str(&b, " (peak "); buf_bytes(&b, g->st.peak_reserved);
  buf_str(&b, "), in use "); buf_bytes(&b, g->st.allocated);
  buf_str(&b, " (peak "); buf_bytes(&b, g->st.peak_allocated);
  buf_str(&b, ")\n");
  buf_pad(&b, 24);
  buf_count(&b, g->st.allocs); buf_str(&b, " allocations, "); buf_count(&b, g->st.hits);
  buf_str(&b, " from cache, "); buf_count(&b, g->st.segments_mapped); buf_str(&b, " segments, ");
  buf_count(&b, g->st.fences); buf_str(&b, " fences; largest free "); buf_bytes(&b, g->free.largest_free);
  buf_str(&b, " of "); buf_bytes(&b, g->free.free_bytes);
  buf_str(&b, "\n");
  /* How the allocations reached the pool, when not all by the plain call;
   * what CUDA served itself (never pooled), when anything. */
  if (g->st.route_allocs[DEV_ROUTE_PLT] != g->st.allocs) {
    static const char *const said[DEV_ROUTES] = { "direct calls", "cuGetProcAddress", "cudaGetDriverEntryPoint", "dlsym" };
    buf_pad(&b, 24);
    buf_str(&b, "reached by");
    for (int r = 0; r < DEV_ROUTES; r++)
      if (g->st.route_allocs[r]) { buf_str(&b, " "); buf_str(&b, said[r]); buf_str(&b, " "); buf_count(&b, g->st.route_allocs[r]); }
    buf_str(&b, "\n");
  }
  if (g->st.passthrough_allocs) {
    static const char *const said[DEV_PASSES] = { "stream-ordered", "pitched", "managed", "cuMemCreate" };
    buf_pad(&b, 24);
    buf_str(&b, "not pooled (CUDA's own):");
    for (int k = 0; k < DEV_PASSES; k++)
      if (g->st.pass_allocs[k]) {
        buf_str(&b, " "); buf_count(&b, g->st.pass_allocs[k]); buf_str(&b, " "); buf_str(&b, said[k]);
        buf_str(&b, " ("); buf_bytes(&b, g->st.pass_bytes[k]); buf_str(&b, ")");
      }
    buf_str(&b, "\n");
  }
  if (g->st.quota_refusals) {
    buf_pad(&b, 24);
    buf_str(&b, "[limits] gpu "); buf_bytes(&b, dev_quota); buf_str(&b, ": ");
    buf_count(&b, g->st.quota_refusals); buf_str(&b, " segments refused (the program saw out-of-memory where the pool could not make room)\n");
  }
  if (g->st.share_waits || g->st.share_released) {   /* the GPU shared with other processes ([cuda] share_wait) */
    buf_pad(&b, 24);
    buf_str(&b, "shared GPU: gave "); buf_bytes(&b, g->st.share_released);
    buf_str(&b, " back when other processes ran out; waited for theirs "); buf_count(&b, g->st.share_waits);
    buf_str(&b, " times\n");
  }
  os_write(fd, text, b.len);
}

void report_rule_totals(const uma_report_data_t *d, int r, uma_rule_totals_t *out) {
  const uma_route_t *rt = &route_table[r];
  uint64_t freed = atomic_load_explicit(&rt->large_freed_bytes, memory_order_relaxed);
  out->allocs = atomic_load_explicit(&rt->large_allocs, memory_order_relaxed);
  out->served = atomic_load_explicit(&rt->large_bytes, memory_order_relaxed);
  out->requested = out->free_in_pages = 0;
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++)
    if (route_of_class[c] == r) {
      out->allocs += d->totals.allocs[c];
      out->served += d->totals.allocs[c] * sc_size(c);
      freed += d->totals.frees[c] * sc_size(c);
      out->requested += d->totals.requested[c];
      if (d->exit_walk) out->free_in_pages += d->exit_walk->class_free[c];
    }
  out->live = out->served > freed ? out->served - freed : 0;
}

/* One line per tracked rule. */
static void write_rules(int fd, const uma_report_data_t *d) {
  bool any = false;
  for (int r = 1; r <= route_count; r++) any |= route_table[r].track;
  if (!any) return;
  char text[256];
  for (int r = 1; r <= route_count; r++) {
    const uma_route_t *rt = &route_table[r];
    if (!rt->track) continue;
    uma_rule_totals_t t;
    report_rule_totals(d, r, &t);
    uma_buf_t b = { text, 0, sizeof text };
    buf_str(&b, "  rule '");
    buf_str(&b, rt->name);
    buf_str(&b, "'");
    buf_pad(&b, 24);
    buf_count(&b, t.allocs);
    buf_str(&b, " allocations");
    buf_pad(&b, 44);
    buf_str(&b, "served ");
    buf_bytes(&b, t.served);
    buf_str(&b, ", live ");
    buf_bytes(&b, t.live);
    buf_str(&b, ", free in its pages ");
    buf_bytes(&b, t.free_in_pages);
    buf_str(&b, "\n");
    os_write(fd, text, b.len);
  }
}

void report_write_text(int fd, const uma_report_data_t *d) {
  const uma_stats_t *s = &d->stats;
  char text[3072];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, d->kind == REPORT_EXIT ? "uma-preload: exit summary of pid "
              : d->kind == REPORT_FATAL_SIGNAL ? "uma-preload: summary at a fatal signal, pid "
              : "uma-preload: snapshot of pid ");
  buf_u64(&b, (uint64_t)os_getpid());
  if (d->command[0]) { buf_str(&b, " ("); buf_str(&b, d->command); buf_str(&b, ")"); }
  if (d->kind == REPORT_SNAPSHOT || d->kind == REPORT_ON_DEMAND) {
    buf_str(&b, " at ");
    buf_count(&b, d->t_ms);
    buf_str(&b, " ms (the program runs on)");
  }
  buf_str(&b, "\n");
  row(&b, "allocations", s->allocs, false);
  buf_pad(&b, 44); buf_str(&b, "frees "); buf_count(&b, s->frees); buf_str(&b, "\n");
  row(&b, "bytes requested", s->bytes_requested, true); buf_str(&b, "\n");
  row(&b, "bytes served", s->bytes_served, true);
  buf_pad(&b, 44); buf_str(&b, "internal waste ");
  percent(&b, s->bytes_served > s->bytes_requested ? s->bytes_served - s->bytes_requested : 0, s->bytes_served);
  buf_str(&b, "\n");
  row(&b, "peak footprint P", d->peak_committed, true);
  buf_pad(&b, 44); buf_str(&b, "peak live L "); buf_bytes(&b, d->peak_live);
  buf_str(&b, ", P/L "); ratio2(&b, d->peak_committed, d->peak_live);
  buf_str(&b, d->live_is_requested ? " (L: requested bytes, traced)\n" : " (L: block bytes)\n");
  row(&b, "live at exit", s->live_bytes, true);
  buf_pad(&b, 44); buf_str(&b, "in "); buf_count(&b, s->live_blocks); buf_str(&b, " blocks\n");
  row(&b, "committed at exit", d->committed, true);
  buf_pad(&b, 44); buf_str(&b, "mapped "); buf_bytes(&b, s->mapped_bytes);
  buf_str(&b, ", metadata "); buf_bytes(&b, d->metadata); buf_str(&b, "\n");
  row(&b, "process resident", d->process_resident, true);
  buf_pad(&b, 44); buf_str(&b, "peak RSS "); buf_bytes(&b, d->process_peak_rss); buf_str(&b, "\n");
  row(&b, "large blocks", s->large_allocs, false);
  buf_pad(&b, 44); buf_str(&b, "grown by mremap "); buf_count(&b, s->large_remaps); buf_str(&b, "\n");
  row(&b, "returned to the OS", s->purged_bytes, true);
  buf_pad(&b, 44); buf_str(&b, "purge delay "); buf_count(&b, (uint64_t)uma_options[UMA_OPTION_PURGE_DELAY_MS]);
  buf_str(&b, " ms\n");
  row(&b, "  of it inside pages", s->purged_in_use_bytes, true);
  buf_pad(&b, 44); buf_str(&b, "helper passes "); buf_count(&b, s->purge_passes); buf_str(&b, "\n");
  row(&b, "thread heaps", s->heaps_created, false);
  buf_pad(&b, 44); buf_str(&b, "reused "); buf_count(&b, s->heaps_adopted);
  buf_str(&b, ", waiting "); buf_count(&b, s->heaps_abandoned); buf_str(&b, "\n");
  if (trace_on) {
    row(&b, "trace", trace_len, false);
    buf_str(&b, " records");
    if (trace_dropped) { buf_str(&b, ", "); buf_count(&b, trace_dropped); buf_str(&b, " dropped (raise [report] trace_max)"); }
    buf_str(&b, "\n");
  }
  os_write(fd, text, b.len);
  for (int i = 0; i < d->gpu_count; i++) write_gpu(fd, &d->gpus[i]);
  if (d->exit_walk) write_pools(fd, d->exit_walk, "fragmentation at exit");
  if (d->peak_walk) write_pools(fd, d->peak_walk, "fragmentation at the peak footprint");
  write_rules(fd, d);
  limits_write_text(fd);
  pin_write_text(fd);
  cow_write_text(fd);
  plan_host_write_text(fd);
  sample_write_text(fd);
  numa_write_text(fd);
  static const char terms[] =
    "  terms: P = the most memory held at once (blocks in use, free space not yet returned, metadata);\n"
    "    L = the most bytes live at once; P/L 1.00 is perfect. in use = blocks handed out; free = held\n"
    "    but unused (\"of it returned\": already given back, not in P); ext. frag = 1 - largest free / free;\n"
    "    unusable@4K = the share of free space a 4 KiB request cannot use. docs/REPORT-FORMAT.md has all.\n";
  os_write(fd, terms, sizeof terms - 1);
  if (d->cuda_unseen) {
    static const char note[] =
      "  note: this process loaded the CUDA driver (libcuda.so), but none of its CUDA calls reached\n"
      "    uma-preload, so its GPU memory is not in this report: a statically linked CUDA runtime\n"
      "    with [cuda] dlsym_route = no, or CUDA reached another way (docs/ARCHITECTURE.md: CUDA routes).\n";
    os_write(fd, note, sizeof note - 1);
  }
  /* CPython serves objects up to 512 B from its own arenas (pymalloc)
   * unless PYTHONMALLOC=malloc; the numbers above then count 256 KiB arenas
   * and big objects, not the program's objects. Said where it is read. */
  if (__builtin_memcmp(d->command, "python", 6) == 0 && !uma_env("PYTHONMALLOC")) {
    static const char note[] =
      "  note: this Python allocates objects up to 512 B from its own arenas (pymalloc), which this\n"
      "    report sees only as 256 KiB blocks; run it with PYTHONMALLOC=malloc (uma-run --python) so\n"
      "    every object goes through uma-preload and is counted.\n";
    os_write(fd, note, sizeof note - 1);
  }
}

/* The public entry (and malloc_stats): the text summary to `fd`. */
void uma_report_write(int fd) {
  static UMA_TABLE uma_report_data_t d;   /* 56 KB: kept off the caller's stack */
  report_gather(&d, REPORT_ON_DEMAND);
  report_write_text(fd, &d);
}
