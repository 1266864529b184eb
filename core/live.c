/* live.c — the live view's page: each process under the preload publishes
 * its counters in one shared page, /dev/shm/uma-preload-live.UID/PID, that
 * `uma-top` reads ([report] live). Written by the helper thread (ticker.c)
 * at most every LIVE_EVERY_MS, never from malloc: the program's fast paths
 * do not know it exists. A sequence number, odd while the page is being
 * written, lets a reader take a consistent copy. The directory is made
 * 0700 and checked (a directory of ours, not a link); the file is created
 * with O_EXCL | O_NOFOLLOW and removed at exit; a process killed outright
 * leaves its file, which uma-top removes once the pid is gone. A forked
 * child unmaps its parent's page (MAP_SHARED: writing it would overwrite the
 * parent's numbers) and makes its own, naming its parent's job. */
#include "base.h"
#include "options.h"
#include "fork.h"
#include "ticker.h"
#include "bytes.h"
#include "../cuda/device_pool.h"
#include "fmt.h"
#include "limits.h"
#include "live.h"
#include "os.h"
#include "stats.h"
#include "timeline.h"
#include "live_page.h"
#include "../cuda/pinned.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIVE_EVERY_MS 500

uint8_t live_mode = LIVE_AUTO;
static live_page_t *page;
static int dir_fd = -1;
static uint64_t retry_ms;          /* could not make the page: not before then */
static uint64_t last_ms;
static char job[LIVE_JOB_LEN];     /* from the environment at start, or the parent's */
static int32_t rank = -1, local_rank = -1;

static int env_int(const char *const *names) {
  for (; *names; names++) {
    const char *v = uma_env(*names);
    if (v && *v >= '0' && *v <= '9') return atoi(v);
  }
  return -1;
}

/* The helper thread publishes the page every 500 ms while it runs; it is
 * started for the page alone only when [report] live = yes. */
static uint64_t live_period(void) { return live_mode != LIVE_NO ? 500 : 0; }
static const ticker_job_t live_job = { live_wanted, live_period, live_publish };

/* The job a process belongs to: torchrun's run id, Slurm's job, else none
 * (uma-top then groups a process with the children it forked). */
void live_init(void) {
  ticker_add(&live_job);
  fork_register(FORK_LIVE, NULL, NULL, live_fork_child);
  static const char *const job_vars[] = { "TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", NULL };
  static const char *const rank_vars[] = { "RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID", NULL };
  static const char *const local_vars[] = { "LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", NULL };
  for (const char *const *n = job_vars; *n; n++) {
    const char *v = uma_env(*n);
    if (v && *v) {
      uma_buf_t b = { job, 0, sizeof job };
      buf_str(&b, *n == job_vars[0] ? "torchrun " : *n == job_vars[1] ? "slurm " : "job ");
      buf_str(&b, v);
      job[b.len < sizeof job ? b.len : sizeof job - 1] = 0;
      break;
    }
  }
  rank = env_int(rank_vars);
  local_rank = env_int(local_vars);
}

bool live_wanted(void) { return live_mode == LIVE_YES; }

static bool open_dir(void) {
  char path[64];
  uma_buf_t b = { path, 0, sizeof path };
  buf_str(&b, "/dev/shm/uma-preload-live.");
  buf_u64(&b, (uint64_t)geteuid());
  path[b.len < sizeof path ? b.len : sizeof path - 1] = 0;
  mkdir(path, 0700);   /* there already, or made now: checked below either way */
  int fd = os_open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  struct stat st;
  if (fd < 0 || os_stat(fd, NULL, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
    if (fd >= 0) os_close(fd);
    return false;   /* not ours, or open to others: no live view rather than a shared one */
  }
  dir_fd = fd;
  return true;
}

static bool open_page(uint64_t now_ms) {
  if (now_ms < retry_ms || uma_secure_exec()) return false;   /* a setuid program publishes nothing */
  retry_ms = now_ms + 5000;   /* a failure is tried again in 5 s, not every tick */
  if (dir_fd < 0 && !open_dir()) return false;
  char name[24];
  uma_buf_t b = { name, 0, sizeof name };
  buf_u64(&b, (uint64_t)os_getpid());
  name[b.len] = 0;
  unlinkat(dir_fd, name, 0);   /* a dead process's file of the same pid */
  int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  void *at = os_truncate(fd, LIVE_PAGE_SIZE) ? os_map_shared(fd, LIVE_PAGE_SIZE) : NULL;
  os_close(fd);
  if (at == NULL) {
    unlinkat(dir_fd, name, 0);
    return false;
  }
  page = at;
  page->magic = LIVE_MAGIC;
  page->version = LIVE_VERSION;
  page->pid = os_getpid();
  page->ppid = getppid();
  page->start_unix_ms = os_unix_time() * 1000;
  page->rank = rank;
  page->local_rank = local_rank;
  bytes_copy(page->job, job, sizeof page->job);
  os_command(page->command, sizeof page->command);
  return true;
}

/* From the helper thread: the counters now. */
void live_publish(uint64_t now_ms) {
  if (live_mode == LIVE_NO || now_ms - last_ms < LIVE_EVERY_MS) return;
  last_ms = now_ms;
  if (page == NULL && !open_page(now_ms)) return;
  uma_stats_t s;
  uma_stats_get(&s);
  atomic_fetch_add_explicit(&page->seq, 1, memory_order_acq_rel);   /* odd: being written */
  page->updated_unix_ms = os_unix_time() * 1000;
  page->committed = atomic_load_explicit(&stats_committed, memory_order_relaxed);
  page->peak_committed = atomic_load_explicit(&stats_peak_committed, memory_order_relaxed);
  page->live = s.live_bytes;
  page->peak_live = s.peak_live_bytes;
  page->resident = timeline_process_resident();
  page->pinned = pin_quota_in_use();
  page->limit_heap = stats_heap_limit;
  page->limit_pinned = pin_quota;
  page->limit_gpu = dev_quota;
  page->gpus = 0;
  for (int d = 0; d < LIVE_GPUS; d++) {
    page->gpu_reserved[d] = dev_device_reserved(d);
    page->gpu_idle[d] = page->gpu_reserved[d] ? dev_idle_bytes(d) : 0;
    if (page->gpu_reserved[d]) page->gpus = (uint32_t)d + 1;
  }
  page->alarms = limit_stats.alarms;
  bytes_copy(page->last_alarm, limit_stats.last_alarm, sizeof page->last_alarm);
  page->last_alarm[sizeof page->last_alarm - 1] = 0;
  atomic_fetch_add_explicit(&page->seq, 1, memory_order_acq_rel);   /* even: whole */
}

/* At exit: the process leaves the view. */
void live_close(void) {
  if (page == NULL || dir_fd < 0) return;
  char name[24];
  uma_buf_t b = { name, 0, sizeof name };
  buf_u64(&b, (uint64_t)page->pid);
  name[b.len] = 0;
  if (page->pid == os_getpid()) unlinkat(dir_fd, name, 0);
}

void live_fork_child(void) {
  if (page) os_unmap(page, LIVE_PAGE_SIZE);   /* the parent's: shared, so never written here */
  page = NULL;
  retry_ms = 0;
  last_ms = 0;
  if (job[0] == 0) {   /* a child belongs to its parent's job, or to the parent itself */
    uma_buf_t b = { job, 0, sizeof job };
    buf_str(&b, "pid ");
    buf_u64(&b, (uint64_t)getppid());
    job[b.len] = 0;
  }
}
