/* report_json.c — the report as JSON for tools (tools/uma-report). The
 * schema, with the meaning and unit of every member, is docs/REPORT-FORMAT.md;
 * bump UMA_REPORT_VERSION when a member changes meaning or goes away. */
#include "base.h"
#include "options.h"
#include "cow.h"
#include "../cuda/device_pool.h"
#include "fmt.h"
#include "frag.h"
#include "json.h"
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
#include "tlsf.h"
#include "trace.h"

#define UMA_REPORT_VERSION 1

static void unusable(uma_json_t *j, const uma_frag_pool_t *x) {
  json_open(j, "unusable_index", '[');
  for (unsigned k = 0; k < FRAG_PROBES; k++) {
    json_open(j, NULL, '{');
    json_u64(j, "request", extent_probe_sizes[k]);
    json_ratio(j, "index", x->free_bytes - x->usable[k], x->free_bytes);
    json_close(j, '}');
  }
  json_close(j, ']');
}

static void holes(uma_json_t *j, const uma_frag_pool_t *x) {
  json_open(j, "holes", '[');
  for (unsigned b = 0; b < FRAG_BUCKETS; b++) {
    if (x->hist_count[b] == 0) continue;
    json_open(j, NULL, '{');
    json_u64(j, "size_from", 1ULL << b);
    json_u64(j, "count", x->hist_count[b]);
    json_u64(j, "bytes", x->hist_bytes[b]);
    json_close(j, '}');
  }
  json_close(j, ']');
}

/* The measures of free space shared by CPU pools and GPU pools. */
static void free_space(uma_json_t *j, const uma_frag_pool_t *x) {
  json_u64(j, "free_bytes", x->free_bytes);
  json_u64(j, "free_returned_bytes", x->free_returned);   /* of free_bytes: not committed */
  json_u64(j, "free_extents", x->free_extents);
  json_u64(j, "largest_free", x->largest_free);
  json_ratio(j, "external_fragmentation", x->free_bytes ? x->free_bytes - x->largest_free : 0, x->free_bytes);
  unusable(j, x);
  holes(j, x);   /* free extents by size: [2^b, 2^(b+1)) */
}

static void pool(uma_json_t *j, const char *k, const uma_frag_pool_t *x, const char *name, const uma_totals_t *t, int p,
                 bool resident_known) {
  json_open(j, k, '{');
  json_str(j, "name", name);
  if (t) {   /* cumulative requested and served bytes, by the classes of the pool */
    uint64_t req = 0, served = 0;
    if (p == FRAG_POOL_LARGE) {
      req = t->large_requested;
      served = t->large_bytes;
    } else if (p == FRAG_POOL_COALESCING) {
      req = t->tlsf.requested;
      served = t->tlsf.bytes;
    } else {
      unsigned lo = p == FRAG_POOL_SMALL ? 0 : UMA_SMALL_CLASSES;
      unsigned hi = p == FRAG_POOL_SMALL ? UMA_SMALL_CLASSES : UMA_MEDIUM_CLASSES;
      if (hi > tlsf_first_class) hi = tlsf_first_class;
      for (unsigned c = lo; c < hi; c++) {
        req += t->requested[c];
        served += t->allocs[c] * sc_size(c);
      }
    }
    json_u64(j, "bytes_requested", req);
    json_u64(j, "bytes_served", served);
    json_ratio(j, "internal_fragmentation", served > req ? served - req : 0, served);
  }
  json_u64(j, "mappings", x->mappings);
  json_u64(j, "mapped_bytes", x->mapped);
  if (resident_known) json_u64(j, "resident_bytes", x->resident);
  else json_null(j, "resident_bytes");   /* the walks at the peak skip mincore */
  json_u64(j, "metadata_bytes", x->metadata);
  json_u64(j, "live_bytes", x->live_bytes);
  free_space(j, x);
  json_close(j, '}');
}

static void walk(uma_json_t *j, const char *k, const uma_frag_t *w, const uma_totals_t *t) {
  json_open(j, k, '{');
  json_u64(j, "t_ms", w->t_ms >= timeline_start_ms && timeline_start_ms ? w->t_ms - timeline_start_ms : 0);
  json_u64(j, "committed_bytes", w->committed);
  json_open(j, "pools", '[');
  uma_frag_pool_t total;
  __builtin_memset(&total, 0, sizeof total);
  for (int p = 0; p < FRAG_POOLS; p++) {
    const uma_frag_pool_t *x = &w->pool[p];
    pool(j, NULL, x, frag_pool_names[p], t, p, w->resident_known);
    total.mappings += x->mappings;
    total.mapped += x->mapped;
    total.resident += x->resident;
    total.metadata += x->metadata;
    total.live_bytes += x->live_bytes;
    total.free_bytes += x->free_bytes;
    total.free_returned += x->free_returned;
    total.free_extents += x->free_extents;
    if (x->largest_free > total.largest_free) total.largest_free = x->largest_free;
    for (unsigned k2 = 0; k2 < FRAG_PROBES; k2++) total.usable[k2] += x->usable[k2];
    for (unsigned b = 0; b < FRAG_BUCKETS; b++) {
      total.hist_count[b] += x->hist_count[b];
      total.hist_bytes[b] += x->hist_bytes[b];
    }
  }
  json_close(j, ']');
  pool(j, "total", &total, "total", NULL, 0, w->resident_known);
  json_close(j, '}');
}

static void classes(uma_json_t *j, const uma_report_data_t *d) {
  json_open(j, "classes", '[');
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) {
    const uma_totals_t *t = &d->totals;
    if (t->allocs[c] == 0) continue;
    json_open(j, NULL, '{');
    json_u64(j, "class", c);
    json_u64(j, "size", sc_size(c));
    json_str(j, "pool", frag_pool_names[c >= tlsf_first_class ? 2 : c < UMA_SMALL_CLASSES ? 0 : 1]);
    json_u64(j, "allocations", t->allocs[c]);
    json_u64(j, "frees", t->frees[c]);
    json_u64(j, "bytes_requested", t->requested[c]);
    /* The coalescing pool serves the request rounded to its granularity, not the class size. */
    json_u64(j, "bytes_served", c < tlsf_first_class ? t->allocs[c] * sc_size(c) : t->requested[c]);
    json_u64(j, "live_bytes", d->exit_walk ? d->exit_walk->class_live[c] : 0);
    json_u64(j, "free_bytes", d->exit_walk ? d->exit_walk->class_free[c] : 0);
    json_close(j, '}');
  }
  json_close(j, ']');
}

static void rules(uma_json_t *j, const uma_report_data_t *d) {
  json_open(j, "rules", '[');
  for (int r = 1; r <= route_count; r++) {
    const uma_route_t *rt = &route_table[r];
    uma_rule_totals_t t;
    report_rule_totals(d, r, &t);
    json_open(j, NULL, '{');
    json_str(j, "name", rt->name);
    json_u64(j, "line", (uint64_t)rt->line);
    json_bool(j, "tracked", rt->track);
    json_u64(j, "allocations", t.allocs);
    json_u64(j, "pooled_bytes_requested", t.requested);
    json_u64(j, "bytes_served", t.served);
    json_u64(j, "live_bytes", t.live);
    json_u64(j, "free_bytes_in_pages", t.free_in_pages);
    json_close(j, '}');
  }
  json_close(j, ']');
}

static void timeline(uma_json_t *j) {
  json_open(j, "timeline", '{');
  json_u64(j, "interval_ms", timeline_interval_ms);
  json_u64(j, "interval_bytes", timeline_interval_bytes);
  json_open(j, "columns", '[');
  static const char *const cols[] = { "t_ms", "live_bytes", "requested_live_bytes", "committed_bytes",
                                      "mapped_bytes", "resident_bytes" };
  for (unsigned i = 0; i < 6; i++) json_str(j, NULL, cols[i]);
  json_close(j, ']');
  json_open(j, "samples", '[');
  uint32_t n = atomic_load_explicit(&timeline_count, memory_order_acquire);
  for (uint32_t i = 0; i < n; i++) {
    const uma_sample_t *x = &timeline_samples[i];
    json_open(j, NULL, '[');
    json_u64(j, NULL, x->t_ms);
    json_u64(j, NULL, x->live);
    json_u64(j, NULL, x->requested_live);
    json_u64(j, NULL, x->committed);
    json_u64(j, NULL, x->mapped);
    json_u64(j, NULL, x->resident);
    json_close(j, ']');
  }
  json_close(j, ']');
  json_close(j, '}');
}

static void trace(uma_json_t *j) {
  if (!trace_on) {
    json_null(j, "trace");
    return;
  }
  json_open(j, "trace", '{');
  json_str(j, "clock", "events");
  json_u64(j, "clock_end", trace_clock);
  json_u64(j, "records", trace_len);
  json_u64(j, "dropped", trace_dropped);
  json_u64(j, "peak_live_requested_bytes", trace_peak_live);
  json_u64(j, "untracked", trace_untracked);   /* > 0: the peak is a lower bound */
  json_open(j, "columns", '[');
  json_str(j, NULL, "size");
  json_str(j, NULL, "alloc");
  json_str(j, NULL, "free");
  json_close(j, ']');
  json_open(j, "data", '[');   /* flat: size, alloc, free (0: live at exit), … */
  for (uint64_t i = 0; i < trace_len; i++) {
    json_u64(j, NULL, trace_recs[i].size);
    json_u64(j, NULL, trace_recs[i].t_alloc);
    json_u64(j, NULL, trace_recs[i].t_free);
  }
  json_close(j, ']');
  json_close(j, '}');
}

/* Per GPU: the device pool's counters and its free extents (free blocks,
 * ready or waiting for a fence, in cudaMalloc'd segments). */
static void gpus(uma_json_t *j, const uma_report_data_t *d) {
  json_open(j, "gpus", '[');
  for (int i = 0; i < d->gpu_count; i++) {
    const dev_stats_t *st = &d->gpus[i].st;
    const uma_frag_pool_t *x = &d->gpus[i].free;
    int device = d->gpus[i].id % DEV_MAX;
    int api = d->gpus[i].id / DEV_MAX;
    bool driver = api == DEV_API_DRIVER, host = api == DEV_API_HOST;
    char name[16] = "gpu";
    uma_buf_t nb = { name, 3, sizeof name };
    buf_u64(&nb, (uint64_t)device);
    if (driver) buf_str(&nb, "-driver");
    if (host) buf_str(&nb, "-pinned");
    json_open(j, NULL, '{');
    json_str(j, "name", name);
    json_u64(j, "device", (uint64_t)device);
    json_str(j, "api", driver ? "driver" : host ? "pinned" : "runtime");
    json_u64(j, "reserved_bytes", st->reserved);
    json_u64(j, "peak_reserved_bytes", st->peak_reserved);
    json_u64(j, "allocated_bytes", st->allocated);
    json_u64(j, "peak_allocated_bytes", st->peak_allocated);
    json_u64(j, "bytes_requested", st->requested);
    json_u64(j, "cached_bytes", st->cached);
    json_u64(j, "pending_bytes", st->pending);
    json_u64(j, "allocations", st->allocs);
    json_u64(j, "frees", st->frees);
    json_u64(j, "pool_hits", st->hits);
    json_u64(j, "segments_mapped", st->segments_mapped);
    json_u64(j, "segments_released", st->segments_released);
    json_u64(j, "fences", st->fences);
    json_u64(j, "plan_served", st->plan_served);
    json_u64(j, "plan_plans", st->plan_plans);
    json_u64(j, "plan_deviations", st->plan_deviations);
    json_u64(j, "plan_arena_bytes", st->plan_arena);
    json_u64(j, "plan_arena_peak_bytes", st->plan_arena_peak);
    json_u64(j, "plan_live_bound_bytes", st->plan_live_bound);
    json_u64(j, "plan_fences", st->plan_fences);
    json_u64(j, "plan_reserved_before_bytes", st->plan_reserved_before);
    json_u64(j, "plan_reserved_peak_bytes", st->plan_reserved_peak);
    json_u64(j, "oom_retries", st->oom_retries);
    json_u64(j, "share_waits", st->share_waits);
    json_u64(j, "share_released_bytes", st->share_released);
    json_u64(j, "quota_bytes", api == DEV_API_HOST ? 0 : dev_quota);
    json_u64(j, "quota_refusals", st->quota_refusals);
    json_u64(j, "fences_refused", st->fences_refused);
    json_u64(j, "passthrough_allocations", st->passthrough_allocs);
    json_u64(j, "passthrough_bytes", st->passthrough_bytes);
    json_open(j, "passthrough_by_kind", '{');
    for (int k = 0; k < DEV_PASSES; k++) {
      json_open(j, dev_pass_names[k], '{');
      json_u64(j, "allocations", st->pass_allocs[k]);
      json_u64(j, "bytes", st->pass_bytes[k]);
      json_close(j, '}');
    }
    json_close(j, '}');
    json_open(j, "allocations_by_route", '{');
    for (int r = 0; r < DEV_ROUTES; r++) json_u64(j, dev_route_names[r], st->route_allocs[r]);
    json_close(j, '}');
    json_u64(j, "expandable_va_bytes", st->expandable_va);
    json_u64(j, "granules_mapped", st->granules_mapped);
    json_u64(j, "granules_unmapped", st->granules_unmapped);
    json_u64(j, "chunks_mapped", st->chunks_mapped);
    json_u64(j, "chunks_unmapped", st->chunks_unmapped);
    free_space(j, x);
    json_close(j, '}');
  }
  json_close(j, ']');
}

void report_write_json(int fd, const uma_report_data_t *d) {
  static UMA_TABLE uma_json_t jw;
  uma_json_t *j = &jw;
  __builtin_memset(j, 0, offsetof(uma_json_t, buf));
  j->fd = fd;
  const uma_stats_t *s = &d->stats;
  json_open(j, NULL, '{');
  json_str(j, "format", "uma-preload-report");
  json_u64(j, "version", UMA_REPORT_VERSION);
  json_open(j, "process", '{');
  json_u64(j, "pid", (uint64_t)os_getpid());
  json_str(j, "command", d->command);
  char host[72];
  os_hostname(host, sizeof host);
  json_str(j, "host", host);
  const char *rank = uma_env("RANK");
  if (!rank) rank = uma_env("OMPI_COMM_WORLD_RANK");
  if (!rank) rank = uma_env("PMI_RANK");
  if (rank) json_str(j, "rank", rank);
  else json_null(j, "rank");
  json_u64(j, "start_unix", report_start_unix);
  json_u64(j, "duration_ms", d->t_ms);
  static const char *const kinds[] = { "exit", "fatal_signal", "snapshot", "on_demand" };
  json_str(j, "report_kind", kinds[d->kind]);
  json_close(j, '}');

  json_open(j, "totals", '{');
  json_u64(j, "allocations", s->allocs);
  json_u64(j, "frees", s->frees);
  json_u64(j, "bytes_requested", s->bytes_requested);
  json_u64(j, "bytes_served", s->bytes_served);
  json_ratio(j, "internal_fragmentation", s->bytes_served > s->bytes_requested ? s->bytes_served - s->bytes_requested : 0,
             s->bytes_served);
  json_u64(j, "live_bytes", s->live_bytes);
  json_u64(j, "live_blocks", s->live_blocks);
  json_u64(j, "committed_bytes", d->committed);
  json_u64(j, "mapped_bytes", s->mapped_bytes);
  json_u64(j, "metadata_bytes", d->metadata);
  json_u64(j, "purged_bytes", s->purged_bytes);
  json_u64(j, "purged_in_use_bytes", s->purged_in_use_bytes);
  json_u64(j, "purge_passes", s->purge_passes);
  json_u64(j, "process_resident_bytes", d->process_resident);
  json_u64(j, "large_allocations", s->large_allocs);
  json_u64(j, "large_remaps", s->large_remaps);
  json_u64(j, "thread_heaps", s->heaps_created);
  json_u64(j, "purge_delay_ms", (uint64_t)uma_options[UMA_OPTION_PURGE_DELAY_MS]);
  json_close(j, '}');

  json_open(j, "settings", '{');   /* what uma-report's advice starts from */
  json_u64(j, "purge_delay_ms", (uint64_t)uma_options[UMA_OPTION_PURGE_DELAY_MS]);
  json_u64(j, "large_cache_max", (uint64_t)uma_options[UMA_OPTION_LARGE_CACHE_MAX]);
  json_u64(j, "coalescing_above", tlsf_first_class < UMA_CLASS_COUNT && tlsf_first_class ? sc_size(tlsf_first_class - 1) : 0);
  const char *pymalloc = uma_env("PYTHONMALLOC");
  if (pymalloc) json_str(j, "PYTHONMALLOC", pymalloc);
  else json_null(j, "PYTHONMALLOC");
  json_close(j, '}');

  json_open(j, "peak", '{');
  json_u64(j, "footprint_bytes", d->peak_committed);
  json_u64(j, "live_bytes", d->peak_live);
  json_str(j, "live_basis", d->live_is_requested ? "requested" : "served");
  json_ratio(j, "footprint_over_live", d->peak_committed, d->peak_live);
  json_u64(j, "process_peak_rss_bytes", d->process_peak_rss);
  json_u64(j, "mapped_bytes", s->peak_mapped_bytes);
  json_close(j, '}');

  if (d->exit_walk) walk(j, "at_exit", d->exit_walk, &d->totals);
  else json_null(j, "at_exit");
  if (d->peak_walk) walk(j, "at_peak", d->peak_walk, NULL);
  else json_null(j, "at_peak");
  classes(j, d);
  rules(j, d);
  gpus(j, d);
  json_bool(j, "cuda_unseen", d->cuda_unseen);
  limits_write_json(j);
  pin_write_json(j);
  cow_write_json(j);
  plan_host_write_json(j);
  numa_write_json(j);
  timeline(j);
  trace(j);
  sample_write_json(j);
  json_close(j, '}');
  json_end(j);
}
