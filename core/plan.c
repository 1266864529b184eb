/* plan.c — lifetime-planned reuse for programs that repeat ([plan] host,
 * [plan] device). A planner watches one stream of large requests (the
 * host's large blocks, or one GPU pool): each allocation is the token "size
 * S", each free "the block allocated K allocations ago". When the last two
 * periods of the stream repeat exactly, it takes one period that starts
 * where the fewest planned blocks are live, packs the blocks allocated and
 * freed inside it (best fit by decreasing size over their lifetimes: the
 * same packing uma-report computes offline), and serves the next periods
 * from one arena of the packed size, in which blocks whose lifetimes do not
 * overlap share addresses. Every event must then match the period; the
 * first that does not ends the plan (blocks already in the arena stay valid
 * until freed; new requests go to the ordinary pools) and learning starts
 * again. A planned block is served only when no live planned block overlaps
 * its range, whatever the stream did. The live blocks are recorded apart
 * from the plan (`held`): a new plan replaces the slots, never the record
 * of what is still in the arena, so the arena is not replaced under them.
 *
 * The planner only decides; its user maps the arena and hands out
 * addresses (large.c for the host, device_pool.c for GPUs). Memory: one
 * mapping per planner for the ring of events, the period and the slots. */
#include "base.h"
#include "fmt.h"
#include "os.h"
#include "plan.h"
#include <string.h>

#define EVENTS 4096                   /* the ring: two periods must fit */
#define MAX_PERIOD (EVENTS / 2)
#define FREE_BIT (1ULL << 63)
#define HASH 512
enum { LEARN, ARMED, SERVE };

typedef struct slot_s { uint64_t size, off; uint32_t alloc_at, free_at; } slot_t;
/* A block the arena holds for the program: its range and its allocation
 * number (the free is observed as "the allocation numbered seq"). */
typedef struct held_s { uint64_t off, size, seq; } held_t;

struct plan_s {
  pthread_mutex_t lock;
  uint64_t ring[EVENTS], count;      /* tokens, and how many ever */
  uint64_t allocs;                   /* allocations observed: the sequence numbers */
  uint64_t seen_tok[HASH], seen_at[HASH];   /* where an allocation token last appeared */
  uint64_t period, run;              /* candidate period (events), events matching it in a row */
  int state;
  uint64_t pattern[MAX_PERIOD];      /* one period, from its chosen start */
  int16_t slot_of[MAX_PERIOD];       /* planned slot of an allocation event, or -1 */
  slot_t slots[PLAN_SLOTS_MAX];
  int nslots;
  held_t held[PLAN_SLOTS_MAX];       /* the live planned blocks, of this plan or earlier ones */
  int live;                          /* entries of held */
  uint64_t len, pos;                 /* period length; next event's place in it */
  uint64_t arena_need;               /* the packed size */
  uint64_t align;                    /* planned sizes are rounded to it (the user's, from plan_alloc) */
  plan_stats_t stats;
  /* scratch for building a plan (here, not on the stack: it runs inside
   * malloc, on whatever stack the program's thread has) */
  plan_buf_t bufs[PLAN_SLOTS_MAX];
  uint32_t order[PLAN_SLOTS_MAX];
  uint64_t alloc_pos[3 * MAX_PERIOD], free_pos[3 * MAX_PERIOD];
  int32_t diff[3 * MAX_PERIOD + 1];
};

plan_t *plan_new(void) {
  plan_t *p = os_map(sizeof(plan_t));
  if (p == NULL) return NULL;
  pthread_mutex_init(&p->lock, NULL);
  p->state = LEARN;
  return p;
}

static uint64_t at(const plan_t *p, uint64_t i) { return p->ring[i % EVENTS]; }

/* ---- packing ---------------------------------------------------------------- */

/* True when x goes before y in ordering `how`: 0 by size, 1 by lifetime
 * length, 2 by size × lifetime (each decreasing, then by start). */
static bool before(const plan_buf_t *x, const plan_buf_t *y, int how) {
  uint64_t kx = x->size, ky = y->size;
  if (how == 1) kx = x->t1 - x->t0, ky = y->t1 - y->t0;
  if (how == 2) kx = x->size * (x->t1 - x->t0), ky = y->size * (y->t1 - y->t0);
  if (kx != ky) return kx > ky;
  if (x->size != y->size) return x->size > y->size;
  return x->t0 < y->t0;
}

/* One greedy pass in ordering `how`: each block at the smallest gap that
 * fits among the placed blocks whose lifetimes [t0, t1) overlap its own,
 * else above them. O(n²). On return `order` lists the blocks by offset. */
static uint64_t pack_pass(plan_buf_t *b, size_t n, uint32_t *order, int how) {
  for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
  for (size_t gap = n / 2; gap > 0; gap /= 2)   /* shell sort: no malloc */
    for (size_t i = gap; i < n; i++)
      for (size_t j = i; j >= gap && before(&b[order[j]], &b[order[j - gap]], how); j -= gap) {
        uint32_t t = order[j];
        order[j] = order[j - gap];
        order[j - gap] = t;
      }
  /* order[0, i) holds the placed blocks sorted by offset; the rest of
   * order still holds the ones to place, in their ordering. */
  uint64_t q = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t ci = order[i];
    plan_buf_t *c = &b[ci];
    uint64_t end = 0, best = UINT64_MAX, best_gap = UINT64_MAX;
    for (size_t k = 0; k < i; k++) {
      const plan_buf_t *o = &b[order[k]];
      if (o->t1 <= c->t0 || c->t1 <= o->t0) continue;   /* lifetimes apart */
      if (o->off > end && o->off - end >= c->size && o->off - end < best_gap) {
        best_gap = o->off - end;
        best = end;
      }
      if (o->off + o->size > end) end = o->off + o->size;
    }
    c->off = best != UINT64_MAX ? best : end;
    if (c->off + c->size > q) q = c->off + c->size;
    size_t to = i;   /* insert by offset */
    while (to > 0 && b[order[to - 1]].off > c->off) {
      order[to] = order[to - 1];
      to--;
    }
    order[to] = ci;
  }
  return q;
}

/* Offsets for blocks with lifetimes [t0, t1): the best of three greedy
 * orderings (by size, by lifetime, by both: none wins everywhere). Returns
 * the packed size; `order` (room for n) lists the blocks by offset. */
uint64_t plan_pack(plan_buf_t *b, size_t n, uint32_t *order) {
  int best_how = 0;
  uint64_t best = UINT64_MAX;
  for (int how = 0; how < 3; how++) {
    uint64_t q = pack_pass(b, n, order, how);
    if (q < best) {
      best = q;
      best_how = how;
    }
  }
  return best_how == 2 ? best : pack_pass(b, n, order, best_how);
}

/* ---- learning --------------------------------------------------------------- */

/* Build the plan from the last two periods (they repeat exactly). Positions
 * run over a virtual stream of three periods, so that lifetimes crossing a
 * period's edge are seen whole. */
static void build(plan_t *p) {
  uint64_t align = p->align ? p->align : 1;
  plan_buf_t *bufs = p->bufs;
  uint64_t P = p->period, first = p->count - 2 * P;   /* the ring index of the older period */
#define V(j) at(p, first + P + (j) % P)
  uint64_t nallocs = 0;
  for (uint64_t j = 0; j < 3 * P; j++) {
    uint64_t e = V(j);
    if (!(e & FREE_BIT)) {
      p->alloc_pos[nallocs] = j;
      p->free_pos[nallocs] = UINT64_MAX;
      nallocs++;
    } else {
      uint64_t k = e & ~FREE_BIT;
      if (k >= 1 && k <= nallocs) p->free_pos[nallocs - k] = j;
    }
  }
  /* live planned-candidate blocks at each position of the middle period */
  memset(p->diff, 0, sizeof(int32_t) * (3 * P + 1));
  for (uint64_t a = 0; a < nallocs; a++) {
    uint64_t f = p->free_pos[a] == UINT64_MAX ? 3 * P : p->free_pos[a];
    p->diff[p->alloc_pos[a]]++;
    p->diff[f]--;
  }
  int32_t live = 0, best_live = INT32_MAX;
  uint64_t start = P;
  for (uint64_t j = 0; j < 2 * P; j++) {
    live += p->diff[j];
    if (j >= P - 1 && live < best_live) {   /* the window starts just after j */
      best_live = live;
      start = j + 1;
    }
  }
  /* the window [start, start + P): its blocks allocated and freed inside */
  int n = 0;
  for (uint64_t q = 0; q < P; q++) {
    p->pattern[q] = V(start + q);
    p->slot_of[q] = -1;
  }
  for (uint64_t a = 0; a < nallocs; a++) {
    uint64_t s = p->alloc_pos[a], f = p->free_pos[a];
    if (s < start || s >= start + P || f == UINT64_MAX || f >= start + P || n == PLAN_SLOTS_MAX) continue;
    uint64_t size = (V(s) + align - 1) & ~(align - 1);
    bufs[n] = (plan_buf_t){ size, s - start, f - start, 0 };
    p->slot_of[s - start] = (int16_t)n;
    n++;
  }
#undef V
  uint64_t need = plan_pack(bufs, (size_t)n, p->order);
  for (int i = 0; i < n; i++)
    p->slots[i] = (slot_t){ bufs[i].size, bufs[i].off, (uint32_t)bufs[i].t0, (uint32_t)bufs[i].t1 };
  /* the live lower bound of one period */
  uint64_t bound = 0;
  for (uint64_t q = 0; q < P; q++) {
    uint64_t l = 0;
    for (int i = 0; i < n; i++) l += bufs[i].t0 <= q && q < bufs[i].t1 ? bufs[i].size : 0;
    if (l > bound) bound = l;
  }
  p->nslots = n;   /* blocks of an earlier plan stay in held: the arena keeps them */
  p->len = P;
  p->arena_need = need;
  p->pos = (2 * P - start % P) % P;   /* the next event's place: the virtual position 2P */
  p->state = n == 0 ? LEARN : p->pos == 0 ? SERVE : ARMED;
  p->stats.plans += n > 0;
  p->stats.planned_blocks = (uint64_t)n;
  p->stats.arena_need = need;
  p->stats.live_bound = bound;
}

/* One more token: does it continue the candidate period? */
static void learn(plan_t *p, uint64_t tok) {
  uint64_t i = p->count;
  p->ring[i % EVENTS] = tok;
  p->count++;
  if (p->period && i >= p->period && at(p, i - p->period) == tok) {
    p->run++;
  } else {
    p->period = 0;
    p->run = 0;
    if (!(tok & FREE_BIT)) {   /* a new candidate: since this size was last asked for */
      unsigned h = (unsigned)((tok * 0x9e3779b97f4a7c15ULL) >> 55) % HASH;
      if (p->seen_tok[h] == tok && i - p->seen_at[h] <= MAX_PERIOD && i - p->seen_at[h] > 0) {
        p->period = i - p->seen_at[h];
        p->run = 1;
      }
    }
  }
  if (!(tok & FREE_BIT)) {
    unsigned h = (unsigned)((tok * 0x9e3779b97f4a7c15ULL) >> 55) % HASH;
    p->seen_tok[h] = tok;
    p->seen_at[h] = i;
  }
  if (p->period && p->run >= 2 * p->period) build(p);
}

/* ---- serving ------------------------------------------------------------------ */

static void deviate(plan_t *p) {
  p->state = LEARN;
  p->period = p->run = 0;
  p->stats.deviations++;
}

/* The expected event at the current position, and the next position. */
static bool expect(plan_t *p, uint64_t tok) {
  if (p->pattern[p->pos] != tok) {
    deviate(p);
    return false;
  }
  p->pos = (p->pos + 1) % p->len;
  if (p->pos == 0 && p->state == ARMED && p->live == 0) p->state = SERVE;   /* a period starts */
  return true;
}

/* Would slot s overlap a live block (or is there no room to record one)? */
static bool overlaps_live(const plan_t *p, int s) {
  if (p->live == PLAN_SLOTS_MAX) return true;
  for (int i = 0; i < p->live; i++)
    if (p->held[i].off < p->slots[s].off + p->slots[s].size && p->slots[s].off < p->held[i].off + p->held[i].size)
      return true;
  return false;
}

/* An allocation of `size`: a slot of the arena (*off, true) or not planned
 * (the caller allocates as usual; *seq numbers it for plan_free).
 * `arena_size` is what the caller has mapped for this planner (0: none).
 * A period's first planned block with no arena large enough answers false
 * with *need set and observes nothing: the caller maps `need` bytes (the
 * arena is empty then) and asks again; asked again without it, the plan
 * ends there. */
bool plan_alloc(plan_t *p, uint64_t size, uint64_t arena_size, uint64_t align, uint64_t *off, uint64_t *seq,
                uint64_t *need) {
  pthread_mutex_lock(&p->lock);
  *need = 0;
  p->align = align;
  if (p->state == SERVE && p->live == 0 && arena_size < p->arena_need && p->pattern[p->pos] == size &&
      p->slot_of[p->pos] >= 0) {
    *need = p->arena_need;
    pthread_mutex_unlock(&p->lock);
    return false;
  }
  *seq = p->allocs++;
  bool served = false;
  if (p->state == LEARN) {
    learn(p, size);
  } else {
    p->ring[p->count++ % EVENTS] = size;   /* keep the ring current for the next learning */
    uint64_t q = p->pos;
    bool serving = p->state == SERVE;
    if (expect(p, size) && serving && p->slot_of[q] >= 0) {
      int s = p->slot_of[q];
      if (arena_size >= p->arena_need && !overlaps_live(p, s)) {
        UMA_ASSERT(p->slots[s].off + p->slots[s].size <= arena_size);
        p->held[p->live++] = (held_t){ p->slots[s].off, p->slots[s].size, *seq };
        *off = p->slots[s].off;
        p->stats.served++;
        served = true;
      } else {
        deviate(p);   /* no arena (the caller could not map it), or a live block in the way */
      }
    }
  }
  if (!served) p->stats.unplanned++;
  pthread_mutex_unlock(&p->lock);
  return served;
}

static void observe_free(plan_t *p, uint64_t seq) {
  uint64_t tok = FREE_BIT | (p->allocs - seq);
  if (p->state == LEARN) {
    learn(p, tok);
  } else {
    p->ring[p->count++ % EVENTS] = tok;
    expect(p, tok);
  }
}

/* A free of an ordinary block: the allocation numbered `seq`. */
void plan_free(plan_t *p, uint64_t seq) {
  pthread_mutex_lock(&p->lock);
  observe_free(p, seq);
  pthread_mutex_unlock(&p->lock);
}

/* The live planned block at arena offset `off`: its size, or 0 when there
 * is none (a stray or double free). `release` frees it. */
uint64_t plan_planned(plan_t *p, uint64_t off, bool release) {
  pthread_mutex_lock(&p->lock);
  uint64_t size = 0;
  for (int i = 0; i < p->live; i++)
    if (p->held[i].off == off) {
      size = p->held[i].size;
      if (release) {
        uint64_t seq = p->held[i].seq;
        p->held[i] = p->held[--p->live];
        observe_free(p, seq);
      }
      break;
    }
  pthread_mutex_unlock(&p->lock);
  return size;
}

/* True when no planned block is in the arena: the caller may unmap or
 * replace it. */
bool plan_arena_idle(plan_t *p) {
  pthread_mutex_lock(&p->lock);
  bool idle = p->live == 0 && p->state == LEARN;
  pthread_mutex_unlock(&p->lock);
  return idle;
}

/* Everything the planner handed out is gone (cudaDeviceReset): learn anew. */
void plan_reset(plan_t *p) {
  pthread_mutex_lock(&p->lock);
  p->live = 0;
  p->state = LEARN;
  p->period = p->run = 0;
  pthread_mutex_unlock(&p->lock);
}

int plan_live(plan_t *p) {
  pthread_mutex_lock(&p->lock);
  int live = p->live;
  pthread_mutex_unlock(&p->lock);
  return live;
}

void plan_snapshot(plan_t *p, plan_stats_t *out) {
  pthread_mutex_lock(&p->lock);
  *out = p->stats;
  out->period = p->state == LEARN ? 0 : p->len;
  pthread_mutex_unlock(&p->lock);
}

void plan_lock(plan_t *p, bool lock) {
  if (lock) pthread_mutex_lock(&p->lock);
  else pthread_mutex_unlock(&p->lock);
}
void plan_fork_child(plan_t *p) { pthread_mutex_init(&p->lock, NULL); }
