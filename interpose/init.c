/* init.c — the preload's start and end: the core and the policy before
 * main; at exit (or on SIGTERM/SIGINT when [report] on_signal asks) the
 * text summary to [report] destination and the JSON report to [report]
 * json: "stderr", or a path template (%p pid, %h host, %r rank, %t start
 * time, %% a percent sign), so each process of a job writes its own. */
#include "../policy/policy.h"
#include "interpose.h"
#include <fcntl.h>
#include <signal.h>

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

static _Atomic bool reported;

static void write_reports(void) {
  const char *text = pol_report_destination(), *json = pol_report_json();
  if ((text == NULL && json == NULL) || atomic_exchange(&reported, true)) return;
  static UMA_TABLE uma_report_data_t d;
  report_gather(&d);
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

/* SA_RESETHAND restored the default action; the signal, blocked while this
 * runs, is delivered again on return and ends the program as it would have. */
static void on_signal(int sig) {
  write_reports();
  raise(sig);
}

static void install_signal_handlers(void) {
  static const int sigs[] = { SIGTERM, SIGINT };
  for (unsigned i = 0; i < 2; i++) {
    struct sigaction old, sa;
    if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL) continue;
    __builtin_memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sigs[i], &sa, NULL);
  }
}

/* The policy file and the UMA_* environment (policy/load.c); a bad policy
 * stops the program here, before main, unless it says on_error = defaults. */
__attribute__((constructor(101))) static void preload_start(void) {
  copy_init();   /* before the policy can turn aliasing on */
  uma_ensure_init();
  libc_heap_init();
  pol_startup();
  numa_topology_discover();   /* hwloc: tiers, GPU locality; needs malloc working */
  if (pol_report_on_signal()) install_signal_handlers();
}

/* Destructors with the lowest priority run last: after the program's own. */
__attribute__((destructor(101))) static void preload_end(void) { write_reports(); }
