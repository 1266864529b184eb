/* init.c — the preload's start and end: the core and the policy before
 * main; at exit (or on SIGTERM/SIGINT when [report] on_signal asks) the
 * text summary to [report] destination and the JSON report to [report]
 * json: "stderr", or a path template (%p pid, %h host, %r rank, %t start
 * time, %% a percent sign), so each process of a job writes its own. */
#include "../policy/policy.h"
#include "interpose.h"
#include "../core/symbols.h"
#include "../core/options.h"
#include "../core/fmt.h"
#include "../core/init.h"
#include "../core/limits.h"
#include "../core/live.h"
#include "../core/numa.h"
#include "../core/os.h"
#include "../core/report.h"
#include "../core/report_file.h"
#include "../core/route.h"
#include "../core/sample.h"
#include "../core/ticker.h"
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>

static void put_2(uma_buf_t *b, unsigned v) {
  char two[3] = { (char)('0' + v / 10 % 10), (char)('0' + v % 10), 0 };
  buf_str(b, two);
}

/* YYYYmmdd-HHMMSS in UTC (days to civil date: Howard Hinnant's method). */
static void put_time(uma_buf_t *b, uint64_t unix_s) {
  int64_t z = (int64_t)(unix_s / 86400) + 719468;
  int64_t era = z / 146097, doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1), m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  buf_u64(b, (uint64_t)(yoe + era * 400 + (m <= 2)));
  put_2(b, m);
  put_2(b, d);
  buf_str(b, "-");
  uint64_t s = unix_s % 86400;
  put_2(b, (unsigned)(s / 3600));
  put_2(b, (unsigned)(s / 60 % 60));
  put_2(b, (unsigned)(s % 60));
}

/* A value from the environment as one file-name component: letters,
 * digits, '-' and '_' kept, anything else ('/', '.', …) made '_', so a
 * RANK of "../x" cannot move the report out of its directory. */
static void put_name(uma_buf_t *b, const char *v) {
  for (int i = 0; v[i] && i < 64; i++) {
    char c = v[i];
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    char one[2] = { ok ? c : '_', 0 };
    buf_str(b, one);
  }
}

static void expand(uma_buf_t *b, const char *tmpl) {
  for (const char *s = tmpl; *s; s++) {
    char c = s[0] == '%' ? s[1] : 0;
    if (c == 'p') buf_u64(b, (uint64_t)os_getpid());
    else if (c == 't') put_time(b, report_start_unix);
    else if (c == '%') buf_str(b, "%");
    else if (c == 'h') {
      char host[72];
      os_hostname(host, sizeof host);
      buf_str(b, host[0] ? host : "localhost");
    } else if (c == 'r') {
      const char *rank = uma_env("RANK");
      if (!rank) rank = uma_env("OMPI_COMM_WORLD_RANK");
      if (!rank) rank = uma_env("PMI_RANK");
      put_name(b, rank ? rank : "0");
    } else {
      char one[2] = { *s, 0 };
      buf_str(b, one);
      continue;
    }
    s++;
  }
}

/* Where a destination template sends a report (core/report_file.c says how). */
static int open_destination(report_file_t *f, const char *dest, const char *key) {
  char path[4096];
  uma_buf_t b = { path, 0, sizeof path };
  expand(&b, dest);
  return report_file_open(f, path, key);
}

/* ---- writing the reports ------------------------------------------------------
 * Once at exit (the destructor, _exit, a fatal signal); as often as asked
 * before that (the periodic snapshot, the dump signal, each replacing the
 * last file). One writer at a time: the report's buffers are static. */
static _Atomic bool reported;            /* the final report is written or being written */
static _Atomic bool writing;
static int pid_at_start;                 /* this process's pid (updated in a forked child) */

/* [report] min_peak and command: is this process one whose report is wanted? */
static bool wanted(const uma_report_data_t *d) {
  const pol_report_extra_t *x = pol_report_extra();
  if (d->peak_committed < x->min_peak) return false;
  return x->command[0] == 0 || route_glob_match(x->command, d->command);
}

static void write_reports(report_kind_t kind) {
  const char *text = pol_report_destination(), *json = pol_report_json();
  if (text == NULL && json == NULL) return;
  /* A vfork child shares the parent's memory and ran no fork handler:
   * a report here would describe the parent and use up its one exit report. */
  if (os_getpid() != pid_at_start) return;
  /* The final report is written whole: a SIGTERM arriving meanwhile (a
   * multiprocessing pool terminates workers that are already exiting)
   * waits until it is done instead of leaving half a file. */
  sigset_t all, old;
  bool final = kind == REPORT_EXIT || kind == REPORT_FATAL_SIGNAL;
  if (final) {
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (atomic_exchange(&reported, true)) {
      pthread_sigmask(SIG_SETMASK, &old, NULL);
      return;
    }
    int spins = 0;   /* a snapshot being written finishes first (bounded: a signal may have cut one) */
    while (atomic_exchange(&writing, true) && ++spins < 2000) os_yield();
  } else {
    if (atomic_load(&reported) || atomic_exchange(&writing, true)) return;
  }
  static UMA_TABLE uma_report_data_t d;
  report_gather(&d, kind);
  if (wanted(&d)) {
    static report_file_t f;   /* 8 KiB of paths: not on a signal handler's stack */
    if (text) {
      report_write_text(open_destination(&f, text, "destination"), &d);
      report_file_close(&f);
    }
    if (json) {
      report_write_json(open_destination(&f, json, "json"), &d);
      report_file_close(&f);
    }
  }
  atomic_store(&writing, false);
  if (final) pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void write_snapshot(void) { write_reports(REPORT_SNAPSHOT); }

/* SA_RESETHAND restored the default action; the signal, blocked while this
 * runs, is delivered again on return and ends the program as it would have. */
static void on_signal(int sig) {
  write_reports(REPORT_FATAL_SIGNAL);
  raise(sig);
}

/* [report] dump_signal: a snapshot, and the program runs on. errno is kept
 * for the code the signal interrupted. */
static void on_dump_signal(int sig) {
  (void)sig;
  int saved = errno;
  write_reports(REPORT_SNAPSHOT);
  errno = saved;
}

/* [report] interval: a snapshot on the helper thread's clock. */
static uint64_t snapshot_every_ms, snapshot_next_ms;
static bool snapshot_wanted(void) { return snapshot_every_ms != 0; }
static uint64_t snapshot_period(void) { return snapshot_every_ms; }
static void snapshot_run(uint64_t now) {
  if (snapshot_next_ms == 0) snapshot_next_ms = now + snapshot_every_ms;
  if (now < snapshot_next_ms) return;
  write_snapshot();
  snapshot_next_ms = now + snapshot_every_ms;
}
static const ticker_job_t snapshot_job = { snapshot_wanted, snapshot_period, snapshot_run };

static void install(int sig, void (*handler)(int), int flags) {
  struct sigaction old, sa;
  if (sigaction(sig, NULL, &old) != 0 || old.sa_handler != SIG_DFL) return;   /* the program's own */
  __builtin_memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* _exit and _Exit end a process without its destructors: Python's
 * multiprocessing workers and forked children end that way. The report is
 * written first, then the kernel's exit_group. glibc's own calls (a failed
 * posix_spawn child) use its internal alias and never come here. */
__attribute__((noreturn)) static void exit_now(int status) {
  write_reports(REPORT_EXIT);
  live_close();
  for (;;) syscall(SYS_exit_group, status);
}
UMA_EXPORT __attribute__((noreturn)) void _exit(int status) { exit_now(status); }
UMA_EXPORT __attribute__((noreturn)) void _Exit(int status) { exit_now(status); }

static void child_after_fork(void) {
  pid_at_start = os_getpid();
  atomic_store(&reported, false);
  atomic_store(&writing, false);
}

/* The policy file and the UMA_* environment (policy/load.c); a bad policy
 * stops the program here, before main, unless it says on_error = defaults. */
__attribute__((constructor(101))) static void preload_start(void) {
  copy_init();   /* before the policy can turn aliasing on */
  uma_ensure_init();
  libc_heap_init();
  pol_startup();
  numa_topology_discover(dlsym_raw);   /* hwloc: tiers, GPU locality; needs malloc working */
  route_resolve_numa();      /* the rules' placements again, with the tiers and GPUs told apart */
  pid_at_start = os_getpid();
  live_init();
  if (limits_alarms_wanted() || live_wanted()) ticker_ensure();   /* alarms and the live page: the helper thread's */
  if (pol_report_destination() == NULL && pol_report_json() == NULL) return;
  pthread_atfork(NULL, NULL, child_after_fork);
  const pol_report_extra_t *x = pol_report_extra();
  if (pol_report_on_signal()) {
    install(SIGTERM, on_signal, SA_RESETHAND | SA_RESTART);
    install(SIGINT, on_signal, SA_RESETHAND | SA_RESTART);
  }
  if (x->dump_signal) install(x->dump_signal, on_dump_signal, SA_RESTART);
  sample_start();   /* call-site sampling: the unwinder loaded now, outside malloc */
  snapshot_every_ms = x->interval_ms;
  if (snapshot_every_ms) ticker_add(&snapshot_job);
  ticker_ensure();
}

/* Destructors with the lowest priority run last: after the program's own. */
__attribute__((destructor(101))) static void preload_end(void) {
  write_reports(REPORT_EXIT);
  live_close();
}
