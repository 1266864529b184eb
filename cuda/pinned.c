/* pinned.c — transparent pinning of large blocks: which large block a
 * copy's host pointer lies in, whether its rule wants it pinned, and giving
 * a registration back before the block's mapping is unmapped or moved (a
 * registration names virtual addresses: after mremap it would describe
 * pages that are no longer there). The CUDA calls themselves go through
 * the host back end (host_backend.c), which interpose/cuda_copy.c sets as
 * pin_backend before it calls pin_drain from its entry points. */
#include "../core/base.h"
#include "../core/fork.h"
#include "../core/fmt.h"
#include "../core/json.h"
#include "../core/large.h"
#include "../core/layout.h"
#include "../core/os.h"
#include "../core/owner_map.h"
#include "pinned.h"
#include "../core/route.h"
#include "../core/stats.h"
#include "device_pool.h"
#include <string.h>

pin_stats_t pin_stats;
pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
/* [limits] pinned: the pinned pools' chunks and the blocks registered
 * here, together (0: no quota). */
uint64_t pin_quota;
_Atomic uint64_t pin_quota_refusals;

uint64_t pin_quota_in_use(void) { return dev_host_reserved() + __atomic_load_n(&pin_stats.bytes, __ATOMIC_RELAXED); }

bool pin_quota_allows(size_t more) {
  if (pin_quota == 0 || pin_quota_in_use() + more <= pin_quota) return true;
  atomic_fetch_add_explicit(&pin_quota_refusals, 1, memory_order_relaxed);
  return false;
}

uint8_t pin_mode = UMA_PINNED_OFF;
bool pin_pool_enabled = true;
uint64_t pin_min = 1 << 20, pin_max;
bool pin_pageable_only;
const dev_backend_t *pin_backend;

/* The block's rule decides; blocks no rule governs follow [cuda] pinned. */
uint8_t pin_mode_for(const uma_large_t *lg) {
  return lg->route ? route_table[lg->route].pinned : pin_mode;
}

static uma_large_t *retired, *wanted;   /* see pin_drain */
/* The program's own registrations answered by ours (pin_program_register). */
#define BORROWED_MAX 1024
static struct { uintptr_t start, end; } borrowed[BORROWED_MAX];   /* under pin_lock */
static int borrowed_count;

static void unlink_wanted(uma_large_t *lg) {
  for (uma_large_t **at = &wanted; *at; at = &(*at)->pin_next)
    if (*at == lg) {
      *at = lg->pin_next;
      return;
    }
}

/* Under pin_lock: take the block for registration (PIN_BUSY, its bytes held
 * against the cap while CUDA works), or refuse it over the cap. */
static bool claim_locked(uma_large_t *lg) {
  if (lg->pinned == PIN_WANTED) unlink_wanted(lg);
  else if (lg->pinned != PIN_NONE) return false;
  if ((pin_max && pin_stats.bytes + lg->map_size > pin_max) || !pin_quota_allows(lg->map_size) || pin_pageable_only) {
    lg->pinned = PIN_REFUSED;
    pin_stats.over_cap++;
    return false;
  }
  lg->pinned = PIN_BUSY;
  pin_stats.bytes += lg->map_size;
  return true;
}

/* CUDA is called without pin_lock: it may allocate, and a large malloc
 * takes pin_lock (pin_on_alloc). */
static bool register_claimed(uma_large_t *lg) {
  size_t size = lg->map_size;
  uint64_t t0 = os_now_ns();
  int r = pin_backend->register_range(lg, size);
  uint64_t ns = os_now_ns() - t0;
  pthread_mutex_lock(&pin_lock);
  pin_stats.register_ns += ns;
  if (r == 0) {
    pin_stats.registrations++;
    if (pin_stats.bytes > pin_stats.peak_bytes) pin_stats.peak_bytes = pin_stats.bytes;
  } else {
    pin_stats.bytes -= size;
    if (r == PIN_ALREADY) pin_stats.program_first++;   /* the program registered part of it first: its call stands */
    else pin_stats.refused++;
  }
  __atomic_store_n(&lg->pinned, r == 0 ? PIN_YES : PIN_REFUSED, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&pin_lock);
  return r == 0;
}

/* Register the block's whole mapping once, within the cap; the block
 * remembers the answer. Its mapping does not move while it is registered,
 * so the registration stays valid until the block is retired (pin_retire). */
bool pin_block(uma_large_t *lg) {
  pthread_mutex_lock(&pin_lock);
  bool go = claim_locked(lg);
  pthread_mutex_unlock(&pin_lock);
  if (go) return register_claimed(lg);
  return __atomic_load_n(&lg->pinned, __ATOMIC_ACQUIRE) == PIN_YES;
}

/* Two lists through uma_large_t.pin_next, both worked off by pin_drain at
 * the program's next CUDA call (never inside malloc or free, where calling
 * CUDA could deadlock with CUDA's own locks: its threads call free too):
 * - retired: registered blocks leaving (unmap). The registration must go
 *   before the pages do, so the block waits, mapped and counted;
 * - wanted: eager blocks made since the last CUDA call, to be registered. */
bool pin_retire(uma_large_t *lg) {
  if (lg->pinned != PIN_YES || pin_backend == NULL) return false;
  lg->is_free = 1;   /* gone for the program: a second free is diagnosed */
  pthread_mutex_lock(&pin_lock);
  lg->pin_next = retired;
  retired = lg;
  pthread_mutex_unlock(&pin_lock);
  return true;
}

/* A mapping reused from the cache may be registered (it stays so); one
 * refused earlier is tried again (the cap may have room now). */
void pin_on_alloc(uma_large_t *lg, bool reused) {
  if (!reused) lg->pinned = PIN_NONE;
  else if (lg->pinned == PIN_REFUSED) lg->pinned = PIN_NONE;
  if (lg->cow || lg->pinned != PIN_NONE || pin_mode_for(lg) != UMA_PINNED_EAGER || large_usable(lg) < pin_min) return;
  pthread_mutex_lock(&pin_lock);
  lg->pinned = PIN_WANTED;
  lg->pin_next = wanted;
  wanted = lg;
  pthread_mutex_unlock(&pin_lock);
}

static void forget_borrowed_in(const uma_large_t *lg);

void pin_on_release(uma_large_t *lg) {
  uint8_t state = __atomic_load_n(&lg->pinned, __ATOMIC_ACQUIRE);
  if (state == PIN_YES && __atomic_load_n(&borrowed_count, __ATOMIC_RELAXED)) {
    pthread_mutex_lock(&pin_lock);
    forget_borrowed_in(lg);
    pthread_mutex_unlock(&pin_lock);
  }
  if (state != PIN_WANTED && state != PIN_BUSY) return;
  pthread_mutex_lock(&pin_lock);
  if (lg->pinned == PIN_WANTED) {
    unlink_wanted(lg);
    lg->pinned = PIN_NONE;
  }
  pthread_mutex_unlock(&pin_lock);
  /* Being registered right now (a drain, or a copy racing the free): the
   * mapping must not be unmapped or moved under CUDA. */
  while (__atomic_load_n(&lg->pinned, __ATOMIC_ACQUIRE) == PIN_BUSY) os_yield();
}

void pin_drain(void) {
  if (__atomic_load_n(&retired, __ATOMIC_RELAXED) == NULL && __atomic_load_n(&wanted, __ATOMIC_RELAXED) == NULL)
    return;
  pthread_mutex_lock(&pin_lock);
  uma_large_t *list = retired;
  retired = NULL;
  pthread_mutex_unlock(&pin_lock);
  while (list) {
    uma_large_t *lg = list;
    list = lg->pin_next;
    size_t size = lg->map_size;
    pin_backend->unregister_range(lg);
    pthread_mutex_lock(&pin_lock);
    pin_stats.bytes -= size;
    pthread_mutex_unlock(&pin_lock);
    stats_commit(-(int64_t)size);
    owner_map_release(lg);
    os_unmap(lg, size);
  }
  /* One at a time, claimed under the lock (a free meanwhile waits for
   * the registration: pin_on_release). */
  for (;;) {
    pthread_mutex_lock(&pin_lock);
    uma_large_t *lg = wanted;
    bool go = lg && claim_locked(lg);
    pthread_mutex_unlock(&pin_lock);
    if (lg == NULL) break;
    if (go) register_claimed(lg);
  }
}

/* ---- the program's own registrations inside our blocks ------------------------
 * A program may cudaHostRegister a buffer it malloc'd (PyTorch's
 * pinned_use_cuda_host_register does). If we already registered the block
 * holding it, CUDA would refuse the program's call (712, already
 * registered) where plain CUDA succeeds: the range is DMA-ready already, so
 * the call is answered here and remembered, and the program's
 * cudaHostUnregister of it is answered here too — it must not undo ours.
 * Entries die with the block's use (pin_on_release). */

int pin_program_register(void *p, size_t size) {
  uma_large_t *lg = large_block_of(p, size);
  if (lg == NULL) return PIN_PASS;
  while (__atomic_load_n(&lg->pinned, __ATOMIC_ACQUIRE) == PIN_BUSY) os_yield();   /* ours is being decided */
  uintptr_t start = (uintptr_t)p, end = start + size;
  int answer = PIN_PASS;
  pthread_mutex_lock(&pin_lock);
  if (lg->pinned == PIN_YES) {
    answer = PIN_ANSWERED;
    for (int i = 0; i < borrowed_count; i++)
      if (start < borrowed[i].end && borrowed[i].start < end) answer = PIN_ALREADY;   /* CUDA's answer to an overlap */
    if (answer == PIN_ANSWERED && borrowed_count < BORROWED_MAX) {
      borrowed[borrowed_count].start = start;
      borrowed[borrowed_count].end = end;
      borrowed_count++;
      pin_stats.program_registrations++;
    } else if (answer == PIN_ANSWERED) {
      answer = PIN_PASS;   /* table full: CUDA answers (712) — never seen in practice */
    }
  } else if (lg->pinned == PIN_WANTED) {
    unlink_wanted(lg);   /* the program's registration stands; ours would be refused */
    lg->pinned = PIN_NONE;
  }
  pthread_mutex_unlock(&pin_lock);
  return answer;
}

/* Inside a block we registered, the answers plain CUDA would give the
 * program: PIN_ANSWERED for the start of one of its answered ranges (now
 * forgotten), PIN_INVALID for a pointer inside one, PIN_NOT_REGISTERED
 * elsewhere (CUDA would see our registration and say "invalid value");
 * PIN_PASS outside our registered blocks: CUDA's to answer. */
int pin_program_unregister(void *p) {
  uma_large_t *lg = large_block_of(p, 1);
  if (lg == NULL || __atomic_load_n(&lg->pinned, __ATOMIC_ACQUIRE) != PIN_YES) return PIN_PASS;
  uintptr_t a = (uintptr_t)p;
  int answer = PIN_NOT_REGISTERED;
  pthread_mutex_lock(&pin_lock);
  for (int i = 0; i < borrowed_count && answer != PIN_ANSWERED; i++)
    if (borrowed[i].start == a) {
      borrowed[i] = borrowed[--borrowed_count];
      answer = PIN_ANSWERED;
    } else if (a > borrowed[i].start && a < borrowed[i].end) {
      answer = PIN_INVALID;
    }
  pthread_mutex_unlock(&pin_lock);
  return answer;
}

static void forget_borrowed_in(const uma_large_t *lg) {
  uintptr_t lo = (uintptr_t)lg, hi = lo + lg->map_size;
  for (int i = 0; i < borrowed_count;)
    if (borrowed[i].start >= lo && borrowed[i].start < hi) borrowed[i] = borrowed[--borrowed_count];
    else i++;
}

/* ---- fork ----------------------------------------------------------------------
 * CUDA does not survive fork: a child of a process that used CUDA cannot
 * call it, and owns no registration (they are the parent's). In such a
 * child our blocks are plain memory: no registration is given back, the
 * blocks that were waiting for that are unmapped now, and nothing is
 * registered again (the device pools stop too: dev_fork_child). */
void pin_fork_prepare(void) { pthread_mutex_lock(&pin_lock); }
void pin_fork_parent(void) { pthread_mutex_unlock(&pin_lock); }
void pin_fork_child(void) {
  pthread_mutex_init(&pin_lock, NULL);
  if (pin_backend == NULL) return;   /* the parent never used CUDA through us */
  pin_backend = NULL;
  borrowed_count = 0;
  wanted = NULL;
  for (uma_large_t *lg = retired, *next; lg; lg = next) {
    next = lg->pin_next;
    stats_commit(-(int64_t)lg->map_size);
    owner_map_release(lg);
    os_unmap(lg, lg->map_size);
  }
  retired = NULL;
  memset(&pin_stats, 0, sizeof pin_stats);   /* the parent's registrations and copies: its report shows them */
}

/* ---- the report -------------------------------------------------------------- */

/* Pageable rates measured on an H200 (PCIe Gen5 x16, docs/BENCH.md): what
 * the copies would have cost without the registration, for the estimate. */
#define PAGEABLE_H2D_BYTES_PER_S 8.0e9
#define PAGEABLE_D2H_BYTES_PER_S 13.5e9

static uint64_t pageable_estimate_ns(const pin_stats_t *s) {
  return (uint64_t)((double)s->h2d_bytes / PAGEABLE_H2D_BYTES_PER_S * 1e9 +
                    (double)s->d2h_bytes / PAGEABLE_D2H_BYTES_PER_S * 1e9);
}

void pin_write_text(int fd) {
  pin_stats_t s;
  pthread_mutex_lock(&pin_lock);
  s = pin_stats;
  pthread_mutex_unlock(&pin_lock);
  if (s.registrations == 0 && s.refused == 0 && s.over_cap == 0 && s.program_first == 0) return;
  char text[512];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "  pinned by uma-preload");
  buf_pad(&b, 24);
  buf_count(&b, s.registrations);
  buf_str(&b, " blocks registered in ");
  buf_u64(&b, s.register_ns / 1000000);
  buf_str(&b, " ms (now ");
  buf_bytes(&b, s.bytes);
  buf_str(&b, ", peak ");
  buf_bytes(&b, s.peak_bytes);
  buf_str(&b, ")");
  if (s.over_cap || s.refused) {
    buf_str(&b, "; left pageable: ");
    buf_count(&b, s.over_cap);
    buf_str(&b, " over [cuda] pinned_max, ");
    buf_count(&b, s.refused);
    buf_str(&b, " refused by CUDA");
  }
  if (s.program_registrations || s.program_first) {
    buf_str(&b, "\n");
    buf_pad(&b, 24);
    buf_str(&b, "the program's own cudaHostRegister: ");
    buf_count(&b, s.program_registrations);
    buf_str(&b, " inside blocks registered here (answered, ours kept), ");
    buf_count(&b, s.program_first);
    buf_str(&b, " blocks it had registered first (left to it)");
  }
  buf_str(&b, "\n");
  buf_pad(&b, 24);
  buf_count(&b, s.copies);
  buf_str(&b, " copies, ");
  buf_bytes(&b, s.copy_bytes);
  buf_str(&b, " in ");
  buf_u64(&b, s.copy_ns / 1000000);
  buf_str(&b, " ms; from pageable memory about ");
  buf_u64(&b, pageable_estimate_ns(&s) / 1000000);
  buf_str(&b, " ms\n");
  os_write(fd, text, b.len);
}

void pin_write_json(uma_json_t *j) {
  pin_stats_t s;
  pthread_mutex_lock(&pin_lock);
  s = pin_stats;
  pthread_mutex_unlock(&pin_lock);
  json_open(j, "pinned", '{');
  json_str(j, "mode", pin_mode == UMA_PINNED_OFF ? "off" : pin_mode == UMA_PINNED_EAGER ? "eager" : "lazy");
  json_u64(j, "min_bytes", pin_min);
  json_u64(j, "max_bytes", pin_max);
  json_u64(j, "registrations", s.registrations);
  json_u64(j, "register_ns", s.register_ns);
  json_u64(j, "bytes", s.bytes);
  json_u64(j, "peak_bytes", s.peak_bytes);
  json_u64(j, "refused", s.refused);
  json_u64(j, "program_registrations", s.program_registrations);
  json_u64(j, "program_first", s.program_first);
  json_u64(j, "over_cap", s.over_cap);
  json_u64(j, "copies", s.copies);
  json_u64(j, "copy_bytes", s.copy_bytes);
  json_u64(j, "host_to_device_bytes", s.h2d_bytes);
  json_u64(j, "device_to_host_bytes", s.d2h_bytes);
  json_u64(j, "copy_ns", s.copy_ns);
  json_u64(j, "pageable_estimate_ns", pageable_estimate_ns(&s));
  json_close(j, '}');
}

/* From the policy's start-up, whatever it says: the program's own
 * cudaHostRegister may reach blocks of ours, and a rule or [cuda] pinned
 * may pin them; until CUDA is seen the hooks find nothing to do. */
void pin_install(void) {
  large_hooks.on_release = pin_on_release;
  large_hooks.retire = pin_retire;
  fork_register(FORK_PINNED, pin_fork_prepare, pin_fork_parent, pin_fork_child);
  large_hooks.on_alloc = pin_on_alloc;
}
