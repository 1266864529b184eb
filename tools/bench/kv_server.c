/* kv_server — a key-value server's life: worker threads fill their shards
 * with keys and values, serve lookups, delete 3 of 4 keys, then sit idle
 * (as server threads do, blocked waiting for requests) while the main
 * thread watches resident memory. What it shows: how much memory an
 * allocator keeps after most of the data is gone, and whether it gives it
 * back without allocation activity.
 *
 *   kv_server --mix small|web|mixed --delete random|clustered
 *             [--wait-ms 12000] [--threads 2] [--scale 1]
 *
 * Values: small 16–256 B, web 64 B–3 KB (mostly short, some long), mixed
 * 16 B–3 KB uniform. random deletes 3 of 4 keys at random; clustered deletes
 * runs of 1024 keys inserted together (3 runs of every 4).
 * Prints one line: kv_server: OK full_kb= delete_kb= decay_kb= after_kb=
 * live_kb= ops_per_s= — resident KiB when full, right after the deletes,
 * 1.5 s later, at the end of the wait, the live bytes (keys, values and
 * tables the program holds), and fill+lookup+delete operations per second. */
#include "bench.h"
#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

typedef struct { char *key; uint8_t *value; uint32_t key_len, value_len; } entry_t;

typedef struct {
  int id;
  size_t keys;
  entry_t *table;
  uint64_t live_bytes;
  uint64_t ops;
} shard_t;

static const char *mix = "web", *deletion = "random";
static pthread_barrier_t phase;   /* main + workers: filled, deleted, done waiting */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long resident_kb(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL || fscanf(f, "%ld %ld", &size, &resident) != 2) bench_fail("kv_server", "cannot read /proc/self/statm");
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint32_t value_size(rng_t *r) {
  uint64_t x = rng_next(r);
  if (strcmp(mix, "small") == 0) return 16 + (uint32_t)(x % 241);
  if (strcmp(mix, "mixed") == 0) return 16 + (uint32_t)(x % 3057);
  /* web: 70 % short (64–512 B), 25 % medium (512 B–1.5 KB), 5 % long (to 3 KB) */
  uint32_t pick = (uint32_t)(x % 100);
  uint64_t y = x >> 8;
  if (pick < 70) return 64 + (uint32_t)(y % 449);
  if (pick < 95) return 512 + (uint32_t)(y % 1025);
  return 1536 + (uint32_t)(y % 1537);
}

static bool deleted(size_t i, uint64_t salt) {
  if (strcmp(deletion, "clustered") == 0) return (i / 1024) % 4 != 0;
  rng_t r = rng_seed(i * 2654435761u + salt);
  return rng_next(&r) % 4 != 0;
}

static void *worker(void *arg) {
  shard_t *s = arg;
  rng_t r = rng_seed(1000 + (uint64_t)s->id);
  s->table = calloc(s->keys, sizeof(entry_t));
  if (s->table == NULL) bench_fail("kv_server", "table allocation failed");
  for (size_t i = 0; i < s->keys; i++) {   /* fill */
    entry_t *e = &s->table[i];
    char buf[48];
    e->key_len = (uint32_t)snprintf(buf, sizeof buf, "user:%d:%zu:%08llx", s->id, i, (unsigned long long)(rng_next(&r) & 0xffffffff));
    e->key = malloc(e->key_len + 1);
    e->value_len = value_size(&r);
    e->value = malloc(e->value_len);
    if (e->key == NULL || e->value == NULL) bench_fail("kv_server", "allocation failed");
    memcpy(e->key, buf, e->key_len + 1);
    memset(e->value, (int)(i & 0xff), e->value_len);
    fill_block(e->value, e->value_len, (uint8_t)i);
    s->ops++;
  }
  for (size_t n = 0; n < s->keys; n++) {   /* lookups */
    size_t i = rng_next(&r) % s->keys;
    if (!check_block(s->table[i].value, s->table[i].value_len, (uint8_t)i)) bench_fail("kv_server", "value corrupted");
    s->ops++;
  }
  pthread_barrier_wait(&phase);   /* filled */
  for (size_t i = 0; i < s->keys; i++) {   /* deletes, in insertion order as an expiry sweep would */
    entry_t *e = &s->table[i];
    if (deleted(i, (uint64_t)s->id)) {
      free(e->key);
      free(e->value);
      e->key = NULL;
      e->value = NULL;
    } else {
      s->live_bytes += e->key_len + 1 + e->value_len;
    }
    s->ops++;
  }
  s->live_bytes += s->keys * sizeof(entry_t);
  pthread_barrier_wait(&phase);   /* deleted */
  pthread_barrier_wait(&phase);   /* the main thread's wait is over: idle until then */
  for (size_t i = 0; i < s->keys; i++) {
    entry_t *e = &s->table[i];
    if (e->value == NULL) continue;
    if (!check_block(e->value, e->value_len, (uint8_t)i)) bench_fail("kv_server", "value corrupted after the wait");
    free(e->key);
    free(e->value);
  }
  free(s->table);
  return NULL;
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  long wait_ms = 12000;
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--mix") == 0) mix = argv[++i];
    else if (strcmp(argv[i], "--delete") == 0) deletion = argv[++i];
    else if (strcmp(argv[i], "--wait-ms") == 0) wait_ms = atol(argv[++i]);
  }
  size_t per_shard = (size_t)(400000 * a.scale / a.threads);
  if (per_shard < 1024) per_shard = 1024;
  pthread_barrier_init(&phase, NULL, (unsigned)a.threads + 1);
  shard_t *shards = calloc((size_t)a.threads, sizeof(shard_t));
  pthread_t *tid = calloc((size_t)a.threads, sizeof(pthread_t));
  double t0 = now_s();
  for (int i = 0; i < a.threads; i++) {
    shards[i].id = i;
    shards[i].keys = per_shard;
    if (pthread_create(&tid[i], NULL, worker, &shards[i]) != 0) bench_fail("kv_server", "pthread_create");
  }
  pthread_barrier_wait(&phase);
  double t_fill = now_s() - t0;
  long full = resident_kb();
  double t1 = now_s();
  pthread_barrier_wait(&phase);
  double t_delete = now_s() - t1;
  long after_delete = resident_kb();
  long decay = after_delete, after = after_delete;
  for (long waited = 0; waited < wait_ms; waited += 100) {
    usleep(100 * 1000);
    if (waited + 100 == 1500) decay = resident_kb();
  }
  after = resident_kb();
  if (wait_ms < 1500) decay = after;
  uint64_t ops = 0, live = 0;
  for (int i = 0; i < a.threads; i++) {
    ops += shards[i].ops;
    live += shards[i].live_bytes;
  }
  pthread_barrier_wait(&phase);
  for (int i = 0; i < a.threads; i++) pthread_join(tid[i], NULL);
  printf("kv_server: OK full_kb=%ld delete_kb=%ld decay_kb=%ld after_kb=%ld live_kb=%llu ops_per_s=%.0f\n",
         full, after_delete, decay, after, (unsigned long long)(live / 1024), (double)ops / (t_fill + t_delete));
  free(shards);
  free(tid);
  return 0;
}
