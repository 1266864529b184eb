/* limits.c — per-process quotas and their alarms ([limits]).
 *
 * Quotas: `heap` bounds the footprint P (bytes committed: pages in use or
 * dirty, large mappings). It is enforced where the heap would take more
 * from the OS — a fresh 4 MiB segment, a new large mapping: past it the
 * request fails, the allocator gives its caches back (alloc_generic's
 * purge-and-retry) and tries once more, then malloc returns NULL with
 * ENOMEM. Pages inside segments already mapped are not checked one by one
 * (that would put a test on the refill path), so P may pass the quota by
 * what those segments have left. `pinned` bounds page-locked host memory:
 * the pinned pool's chunks (cudaHostAlloc fails past it, after the pool
 * gave its cache back) and transparent registrations (left pageable past
 * it). `gpu` is the device pool's per-device quota (device_pool.c).
 *
 * Alarms: with `alarm` = N (percent), each quota's use is looked at by the
 * helper thread (ticker.c) every 100 ms; the first look at or above N % of
 * the quota fires once — one line to `alarm_to` (stderr, syslog or a file,
 * appended) and `alarm_command` run by /bin/sh with UMA_ALARM_* in its
 * environment — and the alarm re-arms only when the use falls below N − 10
 * %. Nothing here runs inside malloc. */
#include "internal.h"
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

uint64_t limit_heap, limit_pinned;
unsigned limit_alarm_pct;
char limit_alarm_to[256] = "stderr";
char limit_alarm_command[256];
limit_stats_t limit_stats;

/* ---- the heap ------------------------------------------------------------------ */

bool limits_heap_allows(size_t more) {
  if (limit_heap == 0) return true;
  if (atomic_load_explicit(&stats_committed, memory_order_relaxed) + more <= limit_heap) return true;
  atomic_fetch_add_explicit(&limit_stats.heap_refusals, 1, memory_order_relaxed);
  return false;
}

/* ---- page-locked host memory ------------------------------------------------------ */

uint64_t limits_pinned_in_use(void) { return dev_host_reserved() + __atomic_load_n(&pin_stats.bytes, __ATOMIC_RELAXED); }

bool limits_pinned_allows(size_t more) {
  if (limit_pinned == 0 || limits_pinned_in_use() + more <= limit_pinned) return true;
  atomic_fetch_add_explicit(&limit_stats.pinned_refusals, 1, memory_order_relaxed);
  return false;
}

/* ---- alarms ---------------------------------------------------------------------- */

enum { WATCH_HEAP, WATCH_PINNED, WATCH_GPU0, WATCHES = WATCH_GPU0 + DEV_MAX };
static bool fired[WATCHES];
static pid_t commands[8];   /* alarm commands not yet reaped */

static void say(const char *line, size_t len) {
  if (__builtin_strcmp(limit_alarm_to, "syslog") == 0) {
    syslog(LOG_WARNING, "%.*s", (int)len - 1, line);
    return;
  }
  if (__builtin_strcmp(limit_alarm_to, "stderr") == 0 || limit_alarm_to[0] == 0) {
    os_write(2, line, len);
    return;
  }
  /* A file, appended: never through a link, never another user's file. */
  int fd = os_open(limit_alarm_to, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0600);
  struct stat st;
  if (fd >= 0 && os_stat(fd, NULL, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
    os_write(fd, line, len);
    os_close(fd);
    return;
  }
  if (fd >= 0) os_close(fd);
  static const char why[] = "uma-preload: [limits] alarm_to: cannot append to that file (a link, not a regular file, "
                            "or not yours); the alarm goes to stderr\n";
  os_write(2, why, sizeof why - 1);
  os_write(2, line, len);
}

static void run_command(const char *what, uint64_t used, uint64_t limit) {
  for (int i = 0; i < 8; i++)   /* reap the ones that ended (never blocks) */
    if (commands[i] > 0 && waitpid(commands[i], NULL, WNOHANG) != 0) commands[i] = 0;
  int slot = -1;
  for (int i = 0; i < 8 && slot < 0; i++)
    if (commands[i] == 0) slot = i;
  if (slot < 0) return;   /* eight still running: this one is dropped rather than piling up */
  char e_what[64], e_used[48], e_limit[48], e_pid[32];
  snprintf(e_what, sizeof e_what, "UMA_ALARM_WHAT=%s", what);
  snprintf(e_used, sizeof e_used, "UMA_ALARM_BYTES=%llu", (unsigned long long)used);
  snprintf(e_limit, sizeof e_limit, "UMA_ALARM_LIMIT=%llu", (unsigned long long)limit);
  snprintf(e_pid, sizeof e_pid, "UMA_ALARM_PID=%d", os_getpid());
  char *env[] = { e_what, e_used, e_limit, e_pid, "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
  char *argv[] = { "/bin/sh", "-c", limit_alarm_command, NULL };
  pid_t pid;
  if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, env) == 0) commands[slot] = pid;
}

static void watch(int w, const char *what, uint64_t used, uint64_t limit) {
  if (limit == 0 || limit_alarm_pct == 0) return;
  uint64_t pct = used * 100 / limit;
  if (fired[w]) {
    if (pct + 10 < limit_alarm_pct) fired[w] = false;   /* well below again: re-armed */
    return;
  }
  if (pct < limit_alarm_pct) return;
  fired[w] = true;
  atomic_fetch_add_explicit(&limit_stats.alarms, 1, memory_order_relaxed);
  char line[256], cmd[17] = "";
  int fd = os_open("/proc/self/comm", O_RDONLY, 0);
  if (fd >= 0) {
    long n = os_read(fd, cmd, sizeof cmd - 1);
    os_close(fd);
    cmd[n > 0 ? n - (cmd[n - 1] == '\n') : 0] = 0;
  }
  uma_buf_t b = { line, 0, sizeof line };
  buf_str(&b, "uma-preload: alarm: pid ");
  buf_u64(&b, (uint64_t)os_getpid());
  buf_str(&b, " (");
  buf_str(&b, cmd);
  buf_str(&b, "): ");
  buf_str(&b, what);
  buf_str(&b, " ");
  buf_bytes(&b, used);
  buf_str(&b, " is ");
  buf_u64(&b, pct);
  buf_str(&b, " % of its [limits] quota ");
  buf_bytes(&b, limit);
  buf_str(&b, " (alarm at ");
  buf_u64(&b, limit_alarm_pct);
  buf_str(&b, " %)\n");
  say(line, b.len < sizeof line ? b.len : sizeof line);
  if (limit_alarm_command[0]) run_command(what, used, limit);
  /* the last one, for the report and the live view */
  __builtin_memcpy(limit_stats.last_alarm, line + 20, sizeof limit_stats.last_alarm - 1);
  for (size_t i = 0; i < sizeof limit_stats.last_alarm; i++)
    if (limit_stats.last_alarm[i] == '\n') limit_stats.last_alarm[i] = 0;
}

bool limits_alarms_wanted(void) {
  return limit_alarm_pct && (limit_heap || limit_pinned || dev_quota);
}

/* From the helper thread, every 100 ms while alarms are wanted. */
void limits_tick(void) {
  if (!limits_alarms_wanted()) return;
  watch(WATCH_HEAP, "heap", atomic_load_explicit(&stats_committed, memory_order_relaxed), limit_heap);
  watch(WATCH_PINNED, "pinned host memory", limits_pinned_in_use(), limit_pinned);
  if (dev_quota)
    for (int d = 0; d < DEV_MAX; d++) {
      static const char *const names[] = { "gpu0", "gpu1", "gpu2", "gpu3", "gpu4", "gpu5", "gpu6", "gpu7",
                                           "gpu8", "gpu9", "gpu10", "gpu11", "gpu12", "gpu13", "gpu14", "gpu15" };
      watch(WATCH_GPU0 + d, names[d], dev_device_reserved(d), dev_quota);
    }
}

/* ---- the report ---------------------------------------------------------------- */

void limits_write_text(int fd) {
  /* The pinned quota is on by default: said only where page-locked memory was used. */
  bool pinned = limit_pinned && (limit_stats.pinned_refusals || limits_pinned_in_use() || pin_stats.peak_bytes);
  if (!limit_heap && !pinned && !dev_quota) return;
  char text[512];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "  limits");
  buf_pad(&b, 24);
  bool first = true;
  if (limit_heap) {
    buf_str(&b, "heap "); buf_bytes(&b, limit_heap);
    buf_str(&b, " (refused "); buf_count(&b, limit_stats.heap_refusals); buf_str(&b, ")");
    first = false;
  }
  if (pinned) {
    buf_str(&b, first ? "" : ", "); buf_str(&b, "pinned "); buf_bytes(&b, limit_pinned);
    buf_str(&b, " (refused "); buf_count(&b, limit_stats.pinned_refusals); buf_str(&b, ")");
    first = false;
  }
  if (dev_quota) { buf_str(&b, first ? "" : ", "); buf_str(&b, "gpu "); buf_bytes(&b, dev_quota); buf_str(&b, " per device"); }
  if (limit_alarm_pct) {
    buf_str(&b, "; alarms at "); buf_u64(&b, limit_alarm_pct); buf_str(&b, " %: ");
    buf_count(&b, limit_stats.alarms); buf_str(&b, " fired");
  }
  buf_str(&b, "\n");
  if (limit_stats.last_alarm[0]) {
    buf_pad(&b, 24);
    buf_str(&b, "last: ");
    buf_str(&b, limit_stats.last_alarm);
    buf_str(&b, "\n");
  }
  os_write(fd, text, b.len);
}

void limits_write_json(uma_json_t *j) {
  json_open(j, "limits", '{');
  json_u64(j, "heap_bytes", limit_heap);
  json_u64(j, "heap_refusals", limit_stats.heap_refusals);
  json_u64(j, "pinned_bytes", limit_pinned);
  json_u64(j, "pinned_in_use_bytes", limits_pinned_in_use());
  json_u64(j, "pinned_refusals", limit_stats.pinned_refusals);
  json_u64(j, "gpu_bytes", dev_quota);
  json_u64(j, "alarm_percent", limit_alarm_pct);
  json_u64(j, "alarms", limit_stats.alarms);
  json_str(j, "last_alarm", limit_stats.last_alarm);
  json_close(j, '}');
}
