/* oom.c — running out of memory must reach the program as NULL + ENOMEM,
 * never as an abort, a crash or the OOM killer, and memory freed must serve
 * the next request at once. Under RLIMIT_AS (set here, above what the
 * process already has) so the test never pressures the machine.
 *   oom huge            requests of 2× (RAM + swap) and 64 TiB fail (the kernel's overcommit
 *                       heuristic judges them; skipped where vm.overcommit_memory = 1)
 *   oom refill SIZE     fill to ENOMEM with SIZE-byte blocks, free all, malloc(100) at once,
 *                       fill again to at least 90 % of the first count
 *   oom threads N       memory exhausted to the last page, then N threads make their first
 *                       allocation: each gets NULL + ENOMEM or a block, none aborts
 * Prints "oom: OK …" and exits 0, or says what went wrong and exits 1. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

static int fail(const char *what) {
  printf("oom: FAILED: %s\n", what);
  return 1;
}

static size_t meminfo_kb(const char *key) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  size_t kb = 0, n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0) kb = strtoul(line + n + 1, NULL, 10);
  if (f) fclose(f);
  return kb;
}

static size_t vm_size(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmSize:", 7) == 0) kb = strtoul(line + 7, NULL, 10);
  if (f) fclose(f);
  return kb * 1024;
}

static void limit_address_space(size_t room) {
  struct rlimit rl = { vm_size() + room, vm_size() + room };
  setrlimit(RLIMIT_AS, &rl);
}

static int huge(void) {
  FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
  int mode = f ? fgetc(f) - '0' : 0;
  if (f) fclose(f);
  if (mode == 1) {
    printf("oom: OK SKIP huge: vm.overcommit_memory = 1 grants every request\n");
    return 0;
  }
  size_t sizes[] = { 2 * (meminfo_kb("MemTotal") + meminfo_kb("SwapTotal")) * 1024, (size_t)64 << 40 };
  for (int i = 0; i < 2; i++) {
    errno = 0;
    void *p = malloc(sizes[i]);
    if (p != NULL || errno != ENOMEM) return fail("a request beyond RAM + swap did not fail with ENOMEM");
    p = calloc(1, sizes[i]);
    if (p != NULL || errno != ENOMEM) return fail("calloc beyond RAM + swap did not fail with ENOMEM");
    void *q = malloc(64);
    p = realloc(q, sizes[i]);
    if (p != NULL || errno != ENOMEM) return fail("realloc beyond RAM + swap did not fail with ENOMEM");
    free(q);
  }
  printf("oom: OK huge\n");
  return 0;
}

static size_t fill(void **blocks, size_t cap, size_t size) {
  size_t n = 0;
  while (n < cap) {
    errno = 0;
    void *p = malloc(size);
    if (p == NULL) {
      if (errno != ENOMEM) return 0;
      break;
    }
    memset(p, 0x5a, size < 4096 ? size : 4096);
    blocks[n++] = p;
  }
  return n;
}

static int refill(size_t size) {
  size_t cap = (512u << 20) / size + 16;
  void **blocks = mmap(NULL, cap * sizeof *blocks, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  limit_address_space(256u << 20);
  size_t first = fill(blocks, cap, size);
  if (first == 0 || first == cap) return fail("the first fill did not end in ENOMEM");
  for (size_t i = 0; i < first; i++) free(blocks[i]);
  size_t probe[] = { 100, 3000, 40000 };   /* classes with no page yet need a fresh segment */
  for (int i = 0; i < 3; i++) {
    void *p = malloc(probe[i]);
    if (p == NULL) return fail("a small malloc failed right after everything was freed");
    free(p);
  }
  size_t again = fill(blocks, cap, size);
  if (again < first / 10 * 9) {
    printf("oom: first fill %zu blocks, second %zu\n", first, again);
    return fail("the second fill got less than 90 % of the first");
  }
  for (size_t i = 0; i < again; i++) free(blocks[i]);
  printf("oom: OK refill %zu: %zu then %zu blocks\n", size, first, again);
  return 0;
}

static pthread_barrier_t go, done;   /* done: no thread exits (handing its heap to the next) before all allocated */
static int got_null, got_block, bad_errno;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void *first_allocation(void *arg) {
  (void)arg;
  pthread_barrier_wait(&go);
  errno = 0;
  void *p = malloc(64);
  pthread_mutex_lock(&count_lock);
  if (p) got_block++;
  else if (errno == ENOMEM) got_null++;
  else bad_errno++;
  pthread_mutex_unlock(&count_lock);
  pthread_barrier_wait(&done);
  free(p);
  return NULL;
}

static int threads(int n) {
  pthread_t *t = mmap(NULL, (size_t)n * sizeof *t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_barrier_init(&go, NULL, (unsigned)n + 1);
  pthread_barrier_init(&done, NULL, (unsigned)n);
  for (int i = 0; i < n; i++)
    if (pthread_create(&t[i], &attr, first_allocation, NULL) != 0) return fail("pthread_create");
  limit_address_space(64u << 20);
  /* Exhaust it to the last page: the preload's blocks, then the kernel's. */
  while (malloc(1 << 20)) {}
  while (malloc(100)) {}
  for (size_t chunk = 1 << 20; chunk >= 4096; chunk /= 2)
    while (mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {}
  pthread_barrier_wait(&go);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  if (bad_errno) return fail("a failed malloc left errno other than ENOMEM");
  printf("oom: OK threads %d: %d got NULL + ENOMEM, %d a block\n", n, got_null, got_block);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "huge") == 0) return huge();
  if (strcmp(mode, "refill") == 0 && argc > 2) return refill(strtoul(argv[2], NULL, 10));
  if (strcmp(mode, "threads") == 0 && argc > 2) return threads(atoi(argv[2]));
  fprintf(stderr, "usage: oom huge | refill SIZE | threads N\n");
  return 2;
}
