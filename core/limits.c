/* limits.c — per-process quotas and their alarms ([limits]).
 *
 * Quotas: `heap` bounds the footprint P (bytes committed: pages in use or
 * dirty, large mappings). It is enforced where the heap would take more
 * from the OS — a new or grown large mapping, a fresh 4 MiB segment (pages'
 * or the coalescing pool's, mapped only while P is under the quota), a cow
 * block, the planner's arena: past it the
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
 * %. Nothing here runs inside malloc.
 *
 * Degradation: an alarm, or the process's cgroup nearing its memory.max
 * (`pressure`, % of it, looked at every second; cgroup v2), runs these
 * steps in order from the helper thread, each counted in the report:
 * (1) free pages and cached mappings go back to the OS now; (2) the pinned
 * pools give their free chunks back; (3) the GPU pools give their idle
 * segments back; (4) transparent pinning stops and registered mappings
 * leave the cache (the program's copies stay correct, at pageable speed).
 * (5) is failing cleanly: malloc's NULL + ENOMEM past the heap quota after
 * its own purge-and-retry, CUDA's out-of-memory past the others. A heap or
 * cgroup trigger runs 1, 2, 4; a pinned one 2, 4; a GPU one 3. */
#include "base.h"
#include "ticker.h"
#include "bytes.h"
#include "decay.h"
#include "../cuda/device_pool.h"
#include "fmt.h"
#include "json.h"
#include "large.h"
#include "limits.h"
#include "os.h"
#include "../cuda/pinned.h"
#include "route.h"
#include "stats.h"
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#define LIMITS_LOOK_MS 100   /* how often quotas' alarms are looked at */

unsigned limit_alarm_pct;
unsigned limit_pressure_pct = 90;
char limit_alarm_to[256] = "stderr";
char limit_alarm_command[256];
limit_stats_t limit_stats;

/* ---- the heap ------------------------------------------------------------------ */

/* ---- page-locked host memory ------------------------------------------------------ */


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

/* One NAME=VALUE string (the text, else the number) at the end of b. */
static char *env_var(uma_buf_t *b, const char *name, const char *text, uint64_t number) {
  char *start = b->p + b->len;
  buf_str(b, name);
  if (text) buf_str(b, text);
  else buf_u64(b, number);
  b->p[b->len] = 0;
  b->len++;
  b->cap++;   /* the NUL is past the cap each string was written within */
  return start;
}

static void run_command(const char *what, uint64_t used, uint64_t limit) {
  for (int i = 0; i < 8; i++)   /* reap the ones that ended (never blocks) */
    if (commands[i] > 0 && waitpid(commands[i], NULL, WNOHANG) != 0) commands[i] = 0;
  int slot = -1;
  for (int i = 0; i < 8 && slot < 0; i++)
    if (commands[i] == 0) slot = i;
  if (slot < 0) return;   /* eight still running: this one is dropped rather than piling up */
  char vars[256];   /* NAME=VALUE strings one after the other (no stdio in the library) */
  uma_buf_t b = { vars, 0, sizeof vars - 4 };
  char *env[] = { env_var(&b, "UMA_ALARM_WHAT=", what, 0), env_var(&b, "UMA_ALARM_BYTES=", NULL, used),
                  env_var(&b, "UMA_ALARM_LIMIT=", NULL, limit), env_var(&b, "UMA_ALARM_PID=", NULL, (uint64_t)os_getpid()),
                  "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
  char *argv[] = { "/bin/sh", "-c", limit_alarm_command, NULL };
  pid_t pid;
  if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, env) == 0) commands[slot] = pid;
}

/* ---- degradation ------------------------------------------------------------------ */

enum { STEP_PURGE = 1, STEP_PINNED_POOL = 2, STEP_GPU = 4, STEP_PAGEABLE = 8, STEPS_HOST = 1 | 2 | 8 };

static void degrade(const char *why, unsigned steps) {
  limit_stats.degrade_passes++;
  uma_buf_t b = { limit_stats.last_degrade, 0, sizeof limit_stats.last_degrade };
  buf_str(&b, why);
  limit_stats.last_degrade[b.len < sizeof limit_stats.last_degrade ? b.len : sizeof limit_stats.last_degrade - 1] = 0;
  if (steps & STEP_PURGE) {
    uint64_t before = atomic_load_explicit(&stats_committed, memory_order_relaxed);
    decay_purge_all();
    uint64_t after = atomic_load_explicit(&stats_committed, memory_order_relaxed);
    limit_stats.purged_bytes += before > after ? before - after : 0;
  }
  bool cuda = dev_enabled && !dev_forked_child && dev_cuda_seen;   /* only where CUDA is in use already */
  if ((steps & STEP_PINNED_POOL) && cuda) limit_stats.pinned_pool_bytes += dev_release_host_idle();
  if ((steps & STEP_GPU) && cuda)
    for (int d = 0; d < DEV_MAX; d++) {
      uint64_t before = dev_device_reserved(d);
      if (before == 0 || dev_idle_bytes(d) == 0) continue;
      dev_release_idle(d);
      uint64_t after = dev_device_reserved(d);
      limit_stats.gpu_bytes += before > after ? before - after : 0;
    }
  if ((steps & STEP_PAGEABLE) && (pin_stats.peak_bytes || pin_mode != UMA_PINNED_OFF)) {
    pin_pageable_only = true;
    limit_stats.pageable_only = true;
    limit_stats.unpinned_bytes += large_cache_drop_pinned();
  }
}

/* ---- the cgroup ---------------------------------------------------------------- */

static uint64_t read_number(const char *path);

/* The memory limit of this process's cgroup under `root` (/sys/fs/cgroup)
 * and the path of its current usage: cgroup v2 (the "0::" line;
 * memory.max, memory.current), else v1's memory controller (the ":memory:"
 * line; memory.limit_in_bytes, memory.usage_in_bytes). 0: no limit. */
uint64_t limits_cgroup_max(const char *root, char *current_path, size_t cap) {
  char text[1024];
  int fd = os_open("/proc/self/cgroup", O_RDONLY, 0);
  if (fd < 0) return 0;
  long n = os_read(fd, text, sizeof text - 1);
  os_close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  for (int version = 2; version >= 1; version--) {
    const char *tag = version == 2 ? "\n0::" : ":memory:";
    char *rel = version == 2 && __builtin_strncmp(text, "0::", 3) == 0 ? text - 1 : __builtin_strstr(text, tag);
    if (rel == NULL) continue;
    rel += version == 2 ? 4 : 8;
    size_t rel_len = 0;
    while (rel[rel_len] && rel[rel_len] != '\n') rel_len++;
    char path[700];
    uma_buf_t b = { path, 0, sizeof path };
    buf_str(&b, root);
    if (version == 1) buf_str(&b, "/memory");
    if (!(rel_len == 1 && rel[0] == '/'))
      for (size_t k = 0; k < rel_len && b.len + 1 < sizeof path; k++) path[b.len++] = rel[k];
    size_t dir_len = b.len;
    buf_str(&b, version == 2 ? "/memory.max" : "/memory.limit_in_bytes");
    if (b.len >= sizeof path) continue;
    path[b.len] = 0;
    uint64_t max = read_number(path);
    if (max == 0 || max >= 1ULL << 60) continue;   /* "max", v1's "unlimited" (2^63 rounded), or unreadable */
    b.len = dir_len;
    buf_str(&b, version == 2 ? "/memory.current" : "/memory.usage_in_bytes");
    if (b.len >= cap || b.len >= sizeof path) continue;
    path[b.len] = 0;
    bytes_copy(current_path, path, b.len + 1);
    return max;
  }
  return 0;
}

static uint64_t read_number(const char *path) {
  char v[32];
  int fd = os_open(path, O_RDONLY, 0);
  if (fd < 0) return 0;
  long n = os_read(fd, v, sizeof v - 1);
  os_close(fd);
  uint64_t x = 0;
  for (long i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++) x = x * 10 + (uint64_t)(v[i] - '0');
  return x;
}

static void watch_cgroup(uint64_t now_ms) {
  static bool looked, pressed;
  static char current[600];
  static uint64_t next_ms;
  if (limit_pressure_pct == 0 || now_ms < next_ms) return;
  next_ms = now_ms + 1000;
  if (!looked) {
    looked = true;
    limit_stats.cgroup_max = limits_cgroup_max("/sys/fs/cgroup", current, sizeof current);
  }
  if (limit_stats.cgroup_max == 0) return;
  uint64_t pct = read_number(current) * 100 / limit_stats.cgroup_max;
  if (pressed) {
    if (pct + 10 < limit_pressure_pct) pressed = false;
    return;
  }
  if (pct < limit_pressure_pct) return;
  pressed = true;
  limit_stats.cgroup_pressures++;
  degrade("the cgroup's memory near memory.max", STEPS_HOST);
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
  char line[256], cmd[17];
  os_command(cmd, sizeof cmd);
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
  degrade(w == WATCH_HEAP ? "heap alarm" : w == WATCH_PINNED ? "pinned alarm" : "GPU alarm",
          w == WATCH_HEAP ? STEPS_HOST : w == WATCH_PINNED ? STEP_PINNED_POOL | STEP_PAGEABLE : STEP_GPU);
  /* the last one, for the report and the live view */
  bytes_copy(limit_stats.last_alarm, line + 20, sizeof limit_stats.last_alarm - 1);
  for (size_t i = 0; i < sizeof limit_stats.last_alarm; i++)
    if (limit_stats.last_alarm[i] == '\n') limit_stats.last_alarm[i] = 0;
}

bool limits_alarms_wanted(void) {
  return limit_alarm_pct && (stats_heap_limit || pin_quota || dev_quota);
}

/* From the helper thread, every 100 ms while alarms are wanted, and on
 * every tick for the cgroup (once a second). */
void limits_tick(uint64_t now_ms) {
  watch_cgroup(now_ms);
  if (!limits_alarms_wanted()) return;
  watch(WATCH_HEAP, "heap", atomic_load_explicit(&stats_committed, memory_order_relaxed), stats_heap_limit);
  watch(WATCH_PINNED, "pinned host memory", pin_quota_in_use(), pin_quota);
  if (dev_quota)
    for (int d = 0; d < DEV_MAX; d++) {
      char name[8];
      uma_buf_t b = { name, 0, sizeof name };
      buf_str(&b, "gpu");
      buf_u64(&b, (uint64_t)d);
      name[b.len] = 0;
      watch(WATCH_GPU0 + d, name, dev_device_reserved(d), dev_quota);
    }
}

/* ---- the report ---------------------------------------------------------------- */

/* The degradation passes, when there were any (also without quotas: the
 * cgroup's pressure). */
static void limits_write_degradation(int fd) {
  if (limit_stats.degrade_passes == 0) return;
  char text[400];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "  under pressure");
  buf_pad(&b, 24);
  buf_count(&b, limit_stats.degrade_passes);
  buf_str(&b, " passes (last: ");
  buf_str(&b, limit_stats.last_degrade);
  buf_str(&b, "): 1 purged ");
  buf_bytes(&b, limit_stats.purged_bytes);
  buf_str(&b, ", 2 pinned pool ");
  buf_bytes(&b, limit_stats.pinned_pool_bytes);
  buf_str(&b, ", 3 GPU pools ");
  buf_bytes(&b, limit_stats.gpu_bytes);
  buf_str(&b, ", 4 ");
  if (limit_stats.pageable_only) {
    buf_str(&b, "pinning stopped, ");
    buf_bytes(&b, limit_stats.unpinned_bytes);
    buf_str(&b, " unpinned");
  } else {
    buf_str(&b, "pinning kept");
  }
  buf_str(&b, "\n");
  os_write(fd, text, b.len);
}

void limits_write_text(int fd) {
  /* The pinned quota is on by default: said only where page-locked memory was used. */
  bool pinned = pin_quota && (pin_quota_refusals || pin_quota_in_use() || pin_stats.peak_bytes);
  if (!stats_heap_limit && !pinned && !dev_quota) {
    limits_write_degradation(fd);
    return;
  }
  char text[512];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "  limits");
  buf_pad(&b, 24);
  bool first = true;
  if (stats_heap_limit) {
    buf_str(&b, "heap "); buf_bytes(&b, stats_heap_limit);
    buf_str(&b, " (refused "); buf_count(&b, stats_heap_refusals); buf_str(&b, ")");
    first = false;
  }
  if (pinned) {
    buf_str(&b, first ? "" : ", "); buf_str(&b, "pinned "); buf_bytes(&b, pin_quota);
    buf_str(&b, " (refused "); buf_count(&b, pin_quota_refusals); buf_str(&b, ")");
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
  limits_write_degradation(fd);
}

void limits_write_json(uma_json_t *j) {
  json_open(j, "limits", '{');
  json_u64(j, "heap_bytes", stats_heap_limit);
  json_u64(j, "heap_refusals", stats_heap_refusals);
  json_u64(j, "pinned_bytes", pin_quota);
  json_u64(j, "pinned_in_use_bytes", pin_quota_in_use());
  json_u64(j, "pinned_refusals", pin_quota_refusals);
  json_u64(j, "gpu_bytes", dev_quota);
  json_u64(j, "alarm_percent", limit_alarm_pct);
  json_u64(j, "alarms", limit_stats.alarms);
  json_str(j, "last_alarm", limit_stats.last_alarm);
  json_u64(j, "pressure_percent", limit_pressure_pct);
  json_u64(j, "cgroup_memory_max_bytes", limit_stats.cgroup_max);
  json_u64(j, "cgroup_pressures", limit_stats.cgroup_pressures);
  json_open(j, "degradation", '{');
  json_u64(j, "passes", limit_stats.degrade_passes);
  json_str(j, "last_reason", limit_stats.last_degrade);
  json_u64(j, "purged_bytes", limit_stats.purged_bytes);
  json_u64(j, "pinned_pool_bytes", limit_stats.pinned_pool_bytes);
  json_u64(j, "gpu_bytes", limit_stats.gpu_bytes);
  json_bool(j, "pinning_stopped", limit_stats.pageable_only);
  json_u64(j, "unpinned_bytes", limit_stats.unpinned_bytes);
  json_close(j, '}');
  json_close(j, '}');
}

/* The helper thread looks every 100 ms while alarms are wanted, and at
 * each of its wake-ups for the cgroup's pressure. */
static uint64_t look_period(void) { return limits_alarms_wanted() ? LIMITS_LOOK_MS : 0; }
static const ticker_job_t look_job = { limits_alarms_wanted, look_period, limits_tick };
void limits_start(void) { ticker_add(&look_job); }
