/* ticker.c — the allocator's one helper thread (a CUDA process also gets
 * device_share.c's). It runs the purge pass ([purge] background, decay.c)
 * so that memory freed and idle goes back to the OS when the program stops
 * allocating. It never allocates: it reads counters and /proc through raw
 * system calls, and sleeps in between.
 *
 * What it does besides purging is a list of jobs (ticker.h) the timeline,
 * the periodic report, the quotas and the live page add as they start.
 *
 * Started from the preload's constructor when a job wants it, else at
 * the end of an allocation slow path once the purge pass is wanted (the
 * footprint reached [purge] background_above); in a forked child (which
 * has no copy of it) at the end of the child's first allocation slow path
 * — never inside one: pthread_create allocates the thread's TLS through
 * malloc. All signals are blocked in it, so the program's signals keep
 * going to the program's threads. */
#include "base.h"
#include "fork.h"
#include "decay.h"
#include "fmt.h"
#include "os.h"
#include "ticker.h"
#include <signal.h>

static _Atomic(const ticker_job_t *) jobs[TICKER_JOBS];
static _Atomic bool running;             /* a ticker thread exists in this process */
static _Atomic bool starting;

void ticker_add(const ticker_job_t *job) {
  for (int i = 0; i < TICKER_JOBS; i++) {
    const ticker_job_t *expected = NULL;
    if (atomic_load(&jobs[i]) == job || atomic_compare_exchange_strong(&jobs[i], &expected, job)) return;
  }
  UMA_ASSERT(!"more ticker jobs than TICKER_JOBS");
}

/* The shortest period any job allows now; 0: none limits the sleep. */
static uint64_t jobs_period(void) {
  uint64_t wait = 0;
  for (int i = 0; i < TICKER_JOBS; i++) {
    const ticker_job_t *job = atomic_load_explicit(&jobs[i], memory_order_acquire);
    uint64_t p = job ? job->period() : 0;
    if (p && (wait == 0 || p < wait)) wait = p;
  }
  return wait;
}

static bool jobs_wanted(void) {
  for (int i = 0; i < TICKER_JOBS; i++) {
    const ticker_job_t *job = atomic_load_explicit(&jobs[i], memory_order_acquire);
    if (job && job->wanted()) return true;
  }
  return false;
}

static void *ticker_main(void *arg) {
  (void)arg;
  uint64_t now = os_now_ms();
  uint64_t next_decay = now + decay_period_ms();
  for (;;) {
    uint64_t wait = jobs_period();
    if (wait == 0) wait = UINT64_MAX;
    bool decay = decay_enabled();
    if (decay && decay_period_ms() < wait) wait = decay_period_ms();
    if (wait == UINT64_MAX) wait = 1000;   /* nothing to do now: the policy may change */
    os_sleep_ms(wait);
    now = os_now_ms();
    for (int i = 0; i < TICKER_JOBS; i++) {   /* each keeps its own clock: the run may be early for it */
      const ticker_job_t *job = atomic_load_explicit(&jobs[i], memory_order_acquire);
      if (job) job->run(now);
    }
    if (decay && now >= next_decay) {
      decay_pass();
      next_decay = now + decay_period_ms();
    }
  }
  return NULL;
}

/* Starts the thread if one is wanted and none runs; cheap when it does. */
void ticker_ensure(void) {
  if (atomic_load_explicit(&running, memory_order_relaxed) ||
      (!decay_wanted() && !jobs_wanted()))
    return;
  if (atomic_exchange(&starting, true)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);   /* the new thread inherits the mask */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  fork_register(FORK_TICKER, NULL, NULL, ticker_fork_child);
  if (pthread_create(&t, &attr, ticker_main, NULL) == 0) atomic_store(&running, true);
  else {   /* no thread (RLIMIT_NPROC, a sandbox): samples and purges stay on slow paths */
    for (int i = 0; i < TICKER_JOBS; i++) atomic_store(&jobs[i], NULL);
    uma_option_set(UMA_OPTION_PURGE_BACKGROUND, 0);
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  atomic_store(&starting, false);
}

bool ticker_running(void) { return atomic_load_explicit(&running, memory_order_relaxed); }

void ticker_fork_child(void) {
  atomic_store(&running, false);
  atomic_store(&starting, false);
}
