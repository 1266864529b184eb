/* device_share.c — one GPU, several processes under the preload. A pool
 * keeps the device memory its program freed, for reuse; with plain CUDA that
 * memory would be back with the driver, free for any process. So that an
 * idle process's cache never makes another's allocation fail where plain
 * CUDA would succeed, the processes of a user share one small page
 * (/dev/shm/uma-preload-gpu.UID, mode 0600, never followed through a link):
 *   - each process publishes, per device, the bytes its pools hold idle;
 *   - a process whose allocation failed even after giving back its own cache
 *     raises the device's pressure count and, if others hold idle bytes
 *     there, waits for them ([cuda] share_wait at most), then tries again;
 *   - in each process a helper thread (started with the first pool, never
 *     allocating on the program's heap, sleeping 20 ms between looks) sees
 *     the count move and gives its idle memory on that device back.
 * Devices are told apart by PCI bus id, so CUDA_VISIBLE_DEVICES may number
 * them differently in each process. A process that dies leaves its row; the
 * next process to claim a row takes the rows of dead pids. No lock is held
 * across processes: every field is one atomic word. */
#include "../core/base.h"
#include "../core/options.h"
#include "device_share.h"
#include "../core/fmt.h"
#include "../core/os.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#define SHARE_DEVS 32
#define SHARE_PROCS 128
#define SHARE_MAGIC 0x554d4153u   /* "UMAS" */
#define SHARE_VERSION 1
#define LOOK_MS 20

typedef struct {
  uint32_t magic, version;
  _Atomic uint64_t dev_key[SHARE_DEVS];     /* hash of the bus id; 0: free */
  _Atomic uint64_t pressure[SHARE_DEVS];    /* raised by a process that ran out */
  struct {
    _Atomic int32_t pid;
    uint32_t unused;
    _Atomic uint64_t idle[SHARE_DEVS];
  } proc[SHARE_PROCS];
} share_page_t;

uint64_t dev_share_wait_ms = 2000;          /* [cuda] share_wait; 0: no sharing */
static share_page_t *page;
static int row = -1;                        /* this process's row, or -1 */
static const dev_share_pools_t *pools;     /* set before the helper starts */
static bool forked;                         /* a child of a CUDA process: nothing to share */
static int slot_of[DEV_MAX];                /* device ordinal → dev_key slot + 1 (0: unknown) */
static uint64_t seen[SHARE_DEVS];           /* pressure counts already answered */
static pthread_mutex_t share_lock = PTHREAD_MUTEX_INITIALIZER;   /* setup; held by a release */
static bool closing;                        /* the program is exiting: CUDA may be going away */
static _Atomic bool helper_started;

static uint64_t hash_bus(const char *s) {
  uint64_t h = 1469598103934665603ULL;       /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)(*s | 0x20)) * 1099511628211ULL;   /* case-blind: CUDA spells hex either way */
  return h ? h : 1;
}

static bool pid_alive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

static share_page_t *open_page(void) {
  char path[64];
  uma_buf_t b = { path, 0, sizeof path };
  buf_str(&b, "/dev/shm/uma-preload-gpu.");
  buf_u64(&b, (uint64_t)geteuid());
  path[b.len < sizeof path ? b.len : sizeof path - 1] = 0;
  int fd = os_open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
  if (fd < 0) return NULL;
  struct stat st;
  share_page_t *p = NULL;
  if (os_stat(fd, NULL, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
      ((uint64_t)st.st_size >= sizeof *p || os_truncate(fd, sizeof *p)))
    p = os_map_shared(fd, sizeof *p);
  os_close(fd);
  if (p == NULL) return NULL;
  uint32_t zero = 0;   /* a new file is all zeros: the first process stamps it */
  __atomic_compare_exchange_n(&p->magic, &zero, SHARE_MAGIC, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  if (p->version == 0) p->version = SHARE_VERSION;
  return p->magic == SHARE_MAGIC && p->version == SHARE_VERSION ? p : NULL;   /* another layout: stay alone */
}

static int claim_row(share_page_t *p) {
  int32_t me = os_getpid();
  for (int i = 0; i < SHARE_PROCS; i++) {
    int32_t who = atomic_load(&p->proc[i].pid);
    if ((who == 0 || !pid_alive(who)) && atomic_compare_exchange_strong(&p->proc[i].pid, &who, me)) {
      for (int s = 0; s < SHARE_DEVS; s++) atomic_store(&p->proc[i].idle[s], 0);
      return i;
    }
  }
  return -1;   /* 128 processes already: this one neither waits nor answers */
}

static int claim_slot(share_page_t *p, uint64_t key) {
  for (int n = 0, s = (int)(key % SHARE_DEVS); n < SHARE_DEVS; n++, s = (s + 1) % SHARE_DEVS) {
    uint64_t cur = atomic_load(&p->dev_key[s]);
    if (cur == key) return s;
    if (cur == 0 && (atomic_compare_exchange_strong(&p->dev_key[s], &cur, key) || cur == key)) return s;
  }
  return -1;
}

/* ---- the helper: answers other processes' pressure ------------------------- */

static void *helper_main(void *arg) {
  (void)arg;
  for (;;) {
    os_sleep_ms(LOOK_MS);
    for (int d = 0; d < DEV_MAX; d++) {
      int s = slot_of[d] - 1;
      if (s < 0) continue;
      uint64_t now = atomic_load(&page->pressure[s]);
      if (now == seen[s] || pools->capturing()) continue;   /* a capture: CUDA calls could break it; later */
      seen[s] = now;
      if (atomic_load(&page->proc[row].idle[s]) == 0) continue;
      pthread_mutex_lock(&share_lock);
      if (!closing) pools->release(d);
      pthread_mutex_unlock(&share_lock);
      dev_share_publish(d);
    }
  }
  return NULL;
}

/* At exit, before CUDA's own teardown (registered after CUDA's, so run
 * before it): no release may start or still run while CUDA goes away. */
static void share_at_exit(void) {
  pthread_mutex_lock(&share_lock);
  closing = true;
  pthread_mutex_unlock(&share_lock);
  if (page && row >= 0) atomic_store(&page->proc[row].pid, 0);
}

static void start_helper(void) {
  if (atomic_exchange(&helper_started, true)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);   /* the program's signals stay with its threads */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 512 * 1024);   /* CUDA's calls run on it */
  pthread_t t;
  if (pthread_create(&t, &attr, helper_main, NULL) == 0) atexit(share_at_exit);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The first time this process's pool uses `device`: its row, the device's
 * slot (bus id from the backend), the helper. Never under a pool's lock. */
void dev_share_attach(int device, const char *bus_id, const dev_share_pools_t *with) {
  if (dev_share_wait_ms == 0 || forked || device < 0 || device >= DEV_MAX || bus_id == NULL || !bus_id[0] ||
      uma_secure_exec())   /* a setuid program shares nothing with the user's processes */
    return;
  if (__atomic_load_n(&slot_of[device], __ATOMIC_ACQUIRE)) return;
  __atomic_store_n(&pools, with, __ATOMIC_RELEASE);
  pthread_mutex_lock(&share_lock);
  if (page == NULL && row == -1) {
    page = open_page();
    row = page ? claim_row(page) : -2;
    if (row < 0) row = -2;   /* tried: alone */
  }
  if (row >= 0 && slot_of[device] == 0) {
    int s = claim_slot(page, hash_bus(bus_id));
    if (s >= 0) {
      seen[s] = atomic_load(&page->pressure[s]);
      __atomic_store_n(&slot_of[device], s + 1, __ATOMIC_RELEASE);
    }
  }
  bool helper = row >= 0;
  pthread_mutex_unlock(&share_lock);
  if (helper) start_helper();
}

void dev_share_publish(int device) {
  int s = device >= 0 && device < DEV_MAX ? __atomic_load_n(&slot_of[device], __ATOMIC_ACQUIRE) - 1 : -1;
  if (s < 0 || row < 0) return;
  atomic_store(&page->proc[row].idle[s], pools->idle(device));
}

/* Idle bytes other live processes hold on the device. */
static uint64_t others_idle(int s) {
  uint64_t n = 0;
  for (int i = 0; i < SHARE_PROCS; i++) {
    if (i == row) continue;
    int32_t who = atomic_load(&page->proc[i].pid);
    if (who && pid_alive(who)) n += atomic_load(&page->proc[i].idle[s]);
  }
  return n;
}

/* After an allocation failed with this process's own cache given back: if
 * others hold idle memory on the device, ask them for it and wait until
 * they gave at least `need` bytes back or share_wait passed. True: try
 * again. */
bool dev_share_wait(int device, size_t need) {
  int s = device >= 0 && device < DEV_MAX ? __atomic_load_n(&slot_of[device], __ATOMIC_ACQUIRE) - 1 : -1;
  if (s < 0 || row < 0) return false;
  uint64_t before = others_idle(s);
  if (before == 0) return false;   /* nobody holds any: plain CUDA would fail too */
  atomic_fetch_add(&page->pressure[s], 1);
  for (uint64_t waited = 0; waited < dev_share_wait_ms; waited += 5) {
    os_sleep_ms(5);
    uint64_t now = others_idle(s);
    if (now == 0 || before - (now < before ? now : before) >= need) return true;
  }
  return others_idle(s) < before;
}

/* A forked child neither publishes nor answers: the row is the parent's. */
void dev_share_fork_child(void) {
  forked = true;
  page = NULL;
  row = -2;
  for (int d = 0; d < DEV_MAX; d++) slot_of[d] = 0;
  pthread_mutex_init(&share_lock, NULL);
  atomic_store(&helper_started, false);
}
