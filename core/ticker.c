/* ticker.c — the allocator's one helper thread (a CUDA process also gets
 * device_share.c's). It samples the
 * timeline on a clock while a report is written (a program holding still
 * gets samples too, so the timeline shows it flat), writes the periodic
 * snapshot ([report] interval), and runs the purge pass ([purge]
 * background, decay.c) so that memory freed and idle goes back to the OS
 * when the program stops allocating, and looks at the quotas' alarms
 * ([limits] alarm, limits.c). It never allocates: it reads counters
 * and /proc through raw system calls, and sleeps in between.
 *
 * Started from the preload's constructor when a report wants it, else at
 * the end of an allocation slow path once the purge pass is wanted (the
 * footprint reached [purge] background_above); in a forked child (which
 * has no copy of it) at the end of the child's first allocation slow path
 * — never inside one: pthread_create allocates the thread's TLS through
 * malloc. All signals are blocked in it, so the program's signals keep
 * going to the program's threads. */
#include "base.h"
#include "fork.h"
#include "decay.h"
#include "limits.h"
#include "live.h"
#include "os.h"
#include "ticker.h"
#include "timeline.h"
#include "live_page.h"
#include <signal.h>
#define LIMITS_LOOK_MS 100   /* how often quotas' alarms are looked at */

static uint64_t tick_ms;                 /* 0: no ticker wanted */
static void (*snapshot_fn)(void);        /* the periodic report (interpose/init.c) */
static uint64_t snapshot_every_ms;
static _Atomic bool running;             /* a ticker thread exists in this process */
static _Atomic bool starting;

void ticker_configure(uint64_t timeline_ms, uint64_t snapshot_ms, void (*snapshot)(void)) {
  uint64_t t = timeline_ms;
  if (snapshot_ms && (t == 0 || snapshot_ms < t)) t = snapshot_ms;
  tick_ms = t;
  snapshot_fn = snapshot;
  snapshot_every_ms = snapshot ? snapshot_ms : 0;
}

static void *ticker_main(void *arg) {
  (void)arg;
  uint64_t now = os_now_ms();
  uint64_t next_snapshot = snapshot_every_ms ? now + snapshot_every_ms : UINT64_MAX;
  uint64_t next_decay = now + decay_period_ms();
  for (;;) {
    /* the timeline's own interval doubles as its buffer fills */
    uint64_t wait = tick_ms ? (timeline_interval_ms ? timeline_interval_ms : tick_ms) : UINT64_MAX;
    if (snapshot_every_ms && snapshot_every_ms < wait) wait = snapshot_every_ms;
    bool decay = decay_enabled();
    if (decay && decay_period_ms() < wait) wait = decay_period_ms();
    bool alarms = limits_alarms_wanted();
    if (alarms && wait > LIMITS_LOOK_MS) wait = LIMITS_LOOK_MS;
    if (live_mode != LIVE_NO && wait > 500) wait = 500;   /* the live page (live.c) */
    if (wait == UINT64_MAX) wait = 1000;   /* nothing to do now: the policy may change */
    os_sleep_ms(wait);
    now = os_now_ms();
    if (tick_ms) timeline_tick(now, NULL);
    if (now >= next_snapshot) {
      snapshot_fn();
      next_snapshot = now + snapshot_every_ms;
    }
    limits_tick(now);   /* alarms, and the cgroup's pressure (limits.c) */
    live_publish(now);
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
      (tick_ms == 0 && !decay_wanted() && !limits_alarms_wanted() && !live_wanted()))
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
    tick_ms = 0;
    uma_option_set(UMA_OPTION_PURGE_BACKGROUND, 0);
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  atomic_store(&starting, false);
}

bool ticker_running(void) { return atomic_load_explicit(&running, memory_order_relaxed); }

void ticker_fork_child(void) {
  live_fork_child();
  atomic_store(&running, false);
  atomic_store(&starting, false);
}
