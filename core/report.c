/* report.c — the exit summary: one screen of totals written with raw
 * write(2), so it works at exit, after fork and inside a dying process.
 * The fragmentation report (issue: fragmentation) grows from these counters. */
#include "internal.h"
#include <fcntl.h>

/* Reads a small /proc file into buf; returns its length, 0 on failure. */
static size_t read_proc(const char *path, char *buf, size_t cap) {
  int fd = os_open(path, O_RDONLY, 0);
  if (fd < 0) return 0;
  long n = os_read(fd, buf, cap - 1);
  os_close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  return (size_t)n;
}

static uint64_t resident_bytes(void) {
  char text[128];
  if (read_proc("/proc/self/statm", text, sizeof text) == 0) return 0;
  const char *s = text;
  while (*s && *s != ' ') s++;   /* skip the size field: the second is resident pages */
  uint64_t pages = 0;
  while (*s == ' ') s++;
  while (*s >= '0' && *s <= '9') pages = pages * 10 + (uint64_t)(*s++ - '0');
  return pages * UMA_OS_PAGE;
}

static void row(uma_buf_t *b, const char *label, uint64_t value, bool bytes) {
  buf_str(b, "  ");
  buf_str(b, label);
  buf_pad(b, 24);
  if (bytes) buf_bytes(b, value);
  else buf_count(b, value);
}

static void percent(uma_buf_t *b, uint64_t part, uint64_t whole) {
  uint64_t tenths = whole ? part * 1000 / whole : 0;
  buf_u64(b, tenths / 10);
  char frac[3] = { '.', (char)('0' + tenths % 10), 0 };
  buf_str(b, frac);
  buf_str(b, " %");
}

/* One line per tracked rule: pooled sizes counted per class, large blocks
 * by the rule's own counters. */
static void report_rules(int fd) {
  bool any = false;
  for (int r = 1; r <= route_count; r++) any |= route_table[r].track;
  if (!any) return;
  uma_totals_t t;
  stats_totals(&t);
  const uint64_t *allocs = t.allocs, *frees = t.frees;
  char text[256];
  for (int r = 1; r <= route_count; r++) {
    const uma_route_t *rt = &route_table[r];
    if (!rt->track) continue;
    uint64_t n = atomic_load_explicit(&rt->large_allocs, memory_order_relaxed);
    uint64_t served = atomic_load_explicit(&rt->large_bytes, memory_order_relaxed);
    uint64_t freed = atomic_load_explicit(&rt->large_freed_bytes, memory_order_relaxed);
    for (unsigned c = 0; c < UMA_CLASS_COUNT; c++)
      if (route_of_class[c] == r) {
        n += allocs[c];
        served += allocs[c] * sc_size(c);
        freed += frees[c] * sc_size(c);
      }
    uma_buf_t b = { text, 0, sizeof text };
    buf_str(&b, "  rule '");
    buf_str(&b, rt->name);
    buf_str(&b, "'");
    buf_pad(&b, 24);
    buf_count(&b, n);
    buf_str(&b, " allocations");
    buf_pad(&b, 44);
    buf_str(&b, "served ");
    buf_bytes(&b, served);
    buf_str(&b, ", live ");
    buf_bytes(&b, served > freed ? served - freed : 0);
    buf_str(&b, "\n");
    os_write(fd, text, b.len);
  }
}

void uma_report_write(int fd) {
  uma_stats_t s;
  uma_stats_get(&s);
  char comm[64];
  size_t n = read_proc("/proc/self/comm", comm, sizeof comm);
  if (n && comm[n - 1] == '\n') comm[n - 1] = 0;

  char text[2048];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "uma-preload: exit summary of pid ");
  buf_u64(&b, (uint64_t)os_getpid());
  if (n) { buf_str(&b, " ("); buf_str(&b, comm); buf_str(&b, ")"); }
  buf_str(&b, "\n");
  row(&b, "allocations", s.allocs, false);
  buf_pad(&b, 44); buf_str(&b, "frees "); buf_count(&b, s.frees); buf_str(&b, "\n");
  row(&b, "bytes requested", s.bytes_requested, true); buf_str(&b, "\n");
  row(&b, "bytes served", s.bytes_served, true);
  buf_pad(&b, 44); buf_str(&b, "internal waste ");
  percent(&b, s.bytes_served > s.bytes_requested ? s.bytes_served - s.bytes_requested : 0, s.bytes_served);
  buf_str(&b, "\n");
  row(&b, "peak live", s.peak_live_bytes, true);
  buf_pad(&b, 44); buf_str(&b, "peak mapped "); buf_bytes(&b, s.peak_mapped_bytes); buf_str(&b, "\n");
  row(&b, "live at exit", s.live_bytes, true);
  buf_pad(&b, 44); buf_str(&b, "in "); buf_count(&b, s.live_blocks); buf_str(&b, " blocks\n");
  row(&b, "mapped at exit", s.mapped_bytes, true);
  buf_pad(&b, 44); buf_str(&b, "resident "); buf_bytes(&b, resident_bytes()); buf_str(&b, " (whole process)\n");
  row(&b, "large blocks", s.large_allocs, false);
  buf_pad(&b, 44); buf_str(&b, "grown by mremap "); buf_count(&b, s.large_remaps); buf_str(&b, "\n");
  row(&b, "returned to the OS", s.purged_bytes, true);
  buf_pad(&b, 44); buf_str(&b, "purge delay "); buf_count(&b, (uint64_t)uma_options[UMA_OPTION_PURGE_DELAY_MS]);
  buf_str(&b, " ms\n");
  row(&b, "thread heaps", s.heaps_created, false);
  buf_pad(&b, 44); buf_str(&b, "reused "); buf_count(&b, s.heaps_adopted);
  buf_str(&b, ", waiting "); buf_count(&b, s.heaps_abandoned); buf_str(&b, "\n");
  os_write(fd, text, b.len);
  report_rules(fd);
}
