/* uma-top — every process under uma-preload on this machine (of this user),
 * refreshed like top: footprint P, live bytes L, P/L, RSS, page-locked and
 * GPU memory, quotas and alarms, read from the pages the processes publish
 * (core/live.c, [report] live). Processes of one job (torchrun, Slurm, or a
 * parent and the children it forked: DataLoader workers, multiprocessing)
 * are grouped, ranks in order, with the job's total. Pages of processes
 * that are gone are removed. q or Ctrl-C quits; -b prints plain frames
 * (for scripts and tests). */
#define _GNU_SOURCE
#include "../core/live_page.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef UMA_VERSION
#define UMA_VERSION "unknown"
#endif
#define MAX_PROCS 4096

typedef struct {
  live_page_t p;
  char key[LIVE_JOB_LEN + 16];   /* the group it is shown in */
} row_t;

static row_t rows[MAX_PROCS];
static int nrows;

static void size_str(char *out, size_t cap, uint64_t v) {
  static const char *const units[] = { "B", "K", "M", "G", "T" };
  double d = (double)v;
  int u = 0;
  while (d >= 1024 && u < 4) d /= 1024, u++;
  snprintf(out, cap, u == 0 ? "%.0f%s" : d < 10 ? "%.1f%s" : "%.0f%s", d, units[u]);
}

/* A consistent copy of one page, or false (being written twice in a row,
 * or not a page of ours). */
static bool read_page(int dir, const char *name, live_page_t *out) {
  int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  void *m = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= LIVE_PAGE_SIZE
                ? mmap(NULL, LIVE_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  close(fd);
  if (m == MAP_FAILED) return false;
  live_page_t *p = m;
  bool ok = false;
  for (int tries = 0; tries < 100 && !ok; tries++) {
    uint64_t s1 = atomic_load(&p->seq);
    if (s1 & 1) {
      usleep(100);
      continue;
    }
    memcpy(out, p, sizeof *out);
    ok = atomic_load(&p->seq) == s1;
  }
  munmap(m, LIVE_PAGE_SIZE);
  return ok && out->magic == LIVE_MAGIC && out->version == LIVE_VERSION;
}

static bool alive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

static int by_group(const void *a, const void *b) {
  const row_t *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c) return c;
  if (x->p.rank != y->p.rank) return x->p.rank < y->p.rank ? -1 : 1;
  return x->p.pid - y->p.pid;
}

static void scan(const char *dir_path) {
  nrows = 0;
  int dir = open(dir_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return;
  DIR *d = fdopendir(dup(dir));
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL && nrows < MAX_PROCS) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int pid = atoi(e->d_name);
    if (!alive(pid)) {   /* killed outright: its page stayed */
      unlinkat(dir, e->d_name, 0);
      continue;
    }
    row_t *r = &rows[nrows];
    if (!read_page(dir, e->d_name, &r->p) || r->p.pid != pid) continue;
    /* a process with no job of its own heads the group of its forked children */
    if (r->p.job[0]) memcpy(r->key, r->p.job, strnlen(r->p.job, sizeof r->p.job - 1) + 1), r->key[sizeof r->p.job - 1] = 0;
    else snprintf(r->key, sizeof r->key, "pid %d", pid);
    nrows++;
  }
  if (d) closedir(d);
  close(dir);
  qsort(rows, (size_t)nrows, sizeof rows[0], by_group);
}

static uint64_t gpu_total(const live_page_t *p) {
  uint64_t n = 0;
  for (uint32_t d = 0; d < p->gpus && d < LIVE_GPUS; d++) n += p->gpu_reserved[d];
  return n;
}

static void line(const live_page_t *p, const char *label, bool total) {
  char P[16], peak[16], L[16], rss[16], pin[16], gpu[16], pl[16], quota[40] = "";
  size_str(P, sizeof P, p->committed);
  size_str(peak, sizeof peak, p->peak_committed);
  size_str(L, sizeof L, p->live);
  size_str(rss, sizeof rss, p->resident);
  size_str(pin, sizeof pin, p->pinned);
  size_str(gpu, sizeof gpu, gpu_total(p));
  if (p->peak_live) snprintf(pl, sizeof pl, "%.2f", (double)p->peak_committed / (double)p->peak_live);
  else snprintf(pl, sizeof pl, "-");
  if (!total && p->limit_heap) {
    char q[16];
    size_str(q, sizeof q, p->limit_heap);
    snprintf(quota, sizeof quota, "heap %s %.0f%%", q, 100.0 * (double)p->committed / (double)p->limit_heap);
  }
  printf("%-22s %7s %7s %7s %6s %7s %7s %7s %4llu  %s\n", label, P, peak, L, pl, rss, pin, gpu,
         (unsigned long long)p->alarms, quota);
}

static void frame(const char *dir_path, bool batch) {
  scan(dir_path);
  time_t now = time(NULL);
  char when[32];
  strftime(when, sizeof when, "%H:%M:%S", localtime(&now));
  if (!batch) printf("\033[H\033[2J");
  printf("uma-top %s — %d process%s under uma-preload (%s)\n", when, nrows, nrows == 1 ? "" : "es", dir_path);
  printf("%-22s %7s %7s %7s %6s %7s %7s %7s %4s  %s\n", "PID RANK COMMAND", "P", "PEAK P", "L", "P/L", "RSS",
         "PINNED", "GPU", "ALRM", "QUOTA");
  for (int i = 0; i < nrows;) {
    int j = i;
    while (j < nrows && strcmp(rows[j].key, rows[i].key) == 0) j++;
    bool group = j - i > 1 || rows[i].p.job[0];
    if (group) printf("job %s (%d process%s)\n", rows[i].key, j - i, j - i == 1 ? "" : "es");
    live_page_t sum = { 0 };
    for (int k = i; k < j; k++) {
      const live_page_t *p = &rows[k].p;
      char label[40];
      if (p->rank >= 0) snprintf(label, sizeof label, "%s%d r%d %s", group ? "  " : "", p->pid, p->rank, p->command);
      else snprintf(label, sizeof label, "%s%d %s", group ? "  " : "", p->pid, p->command);
      line(p, label, false);
      if (p->last_alarm[0]) printf("%s    alarm: %s\n", group ? "  " : "", p->last_alarm);
      sum.committed += p->committed, sum.peak_committed += p->peak_committed, sum.live += p->live;
      sum.peak_live += p->peak_live, sum.resident += p->resident, sum.pinned += p->pinned, sum.alarms += p->alarms;
      for (uint32_t d = 0; d < p->gpus && d < LIVE_GPUS; d++) sum.gpu_reserved[d] += p->gpu_reserved[d];
      if (p->gpus > sum.gpus) sum.gpus = p->gpus;
    }
    if (j - i > 1) line(&sum, "  job total", true);
    i = j;
  }
  fflush(stdout);
}

static struct termios saved;
static bool raw;
static void restore(void) {
  if (raw) tcsetattr(0, TCSANOW, &saved);
}
static void on_signal(int sig) {
  (void)sig;
  restore();
  _exit(0);
}

static void usage(FILE *to) {
  fprintf(to, "usage: uma-top [-b] [-n FRAMES] [-d SECONDS] [DIR]\n"
              "       uma-top --help | --version\n"
              "  every process under uma-preload (with [report] live on; default: those whose helper\n"
              "  thread runs), refreshed like top: footprint P and its peak, live bytes L, P/L, RSS,\n"
              "  page-locked and GPU memory, alarms, the heap quota's use; processes of one job grouped.\n"
              "  -b plain frames (no screen control), -n stop after FRAMES, -d seconds between frames\n"
              "  (default 1); q quits. DIR: /dev/shm/uma-preload-live.UID by default.\n");
}

int main(int argc, char **argv) {
  static const struct option longs[] = { { "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
                                         { NULL, 0, NULL, 0 } };
  bool batch = false;
  long frames = -1;
  double delay = 1.0;
  for (int c; (c = getopt_long(argc, argv, "bn:d:h", longs, NULL)) != -1;) {
    switch (c) {
    case 'b': batch = true; break;
    case 'n': frames = strtol(optarg, NULL, 10); break;
    case 'd': delay = strtod(optarg, NULL); break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("uma-top (uma-preload) %s\n", UMA_VERSION); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (delay <= 0) {
    fprintf(stderr, "uma-top: -d needs a number of seconds above 0 (e.g. -d 0.5)\n");
    return 2;
  }
  char dir[96];
  if (optind < argc) snprintf(dir, sizeof dir, "%s", argv[optind]);
  else snprintf(dir, sizeof dir, "/dev/shm/uma-preload-live.%u", (unsigned)geteuid());
  if (!batch && isatty(0) && tcgetattr(0, &saved) == 0) {
    struct termios t = saved;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw = tcsetattr(0, TCSANOW, &t) == 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
  }
  for (long n = 0; frames < 0 || n < frames; n++) {
    frame(dir, batch);
    if (frames >= 0 && n + 1 >= frames) break;
    struct pollfd in = { 0, POLLIN, 0 };
    if (!batch && poll(&in, 1, (int)(delay * 1000)) > 0) {
      char ch = 0;
      if (read(0, &ch, 1) == 1 && (ch == 'q' || ch == 'Q')) break;
    } else if (batch) {
      usleep((useconds_t)(delay * 1e6));
    }
  }
  restore();
  return 0;
}
