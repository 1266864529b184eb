/* numa_check — runs inside a QEMU guest with emulated NUMA nodes, under
 * LD_PRELOAD=libumapreload.so and tests/numa/guest.conf, and reads back the
 * node of every page it touched with move_pages(…, NULL, status).
 *
 * Usage: numa_check CHECK…   (checks below; each prints PASS or FAIL and a
 * line of detail). Exit status: the number of failed checks.
 * Sizes pick the rule (see guest.conf); blocks are written whole before
 * their pages are asked for. Interleave checks assert alternation and
 * ratios, never a starting node (the phase depends on the mapping). */
#define _GNU_SOURCE
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define MiB (1024UL * 1024)
static int failures;

/* Nodes of the pages [p, p+len) lies on: counts per node (up to 8) and the
 * sequence in `seq` (may be NULL). Returns the number of pages asked. */
static size_t page_nodes(void *p, size_t len, size_t count[8], int *seq) {
  uintptr_t lo = (uintptr_t)p & ~(PAGE - 1), hi = ((uintptr_t)p + len + PAGE - 1) & ~(PAGE - 1);
  size_t n = (hi - lo) / PAGE;
  void **pages = malloc(n * sizeof *pages);
  int *status = malloc(n * sizeof *status);
  for (size_t i = 0; i < n; i++) pages[i] = (void *)(lo + i * PAGE);
  memset(count, 0, 8 * sizeof count[0]);
  if (move_pages(0, n, pages, NULL, status, 0) != 0) {
    perror("numa_check: move_pages");
    exit(100);
  }
  for (size_t i = 0; i < n; i++) {
    if (status[i] >= 0 && status[i] < 8) count[status[i]]++;
    if (seq) seq[i] = status[i];
  }
  free(pages);
  free(status);
  return n;
}

static void report(const char *name, int ok, const char *fmt, size_t count[8], size_t n) {
  printf("%s %s: %zu pages:", ok ? "PASS" : "FAIL", name, n);
  for (int i = 0; i < 8; i++)
    if (count[i]) printf(" node%d=%zu", i, count[i]);
  printf(" %s\n", fmt);
  if (!ok) failures++;
}

static void *written(size_t size) {
  char *p = malloc(size);
  if (p == NULL) {
    printf("FAIL malloc(%zu) returned NULL\n", size);
    exit(100);
  }
  memset(p, 0x5a, size);
  return p;
}

/* All pages of a block of `size` on `node`. */
void *kept_for_census;   /* live at exit: the report's census shows its rule's pages */

static void check_all_on(const char *name, size_t size, int node, bool keep) {
  size_t count[8];
  char *p = written(size);
  size_t n = page_nodes(p, size, count, NULL);
  char why[64];
  snprintf(why, sizeof why, "(want all on node %d)", node);
  report(name, count[node] == n && n > 0, why, count, n);
  if (keep) kept_for_census = p;
  else free(p);
}
static void expect_all_on(const char *name, size_t size, int node) { check_all_on(name, size, node, false); }

/* Pages spread over the nodes of `mask` in proportion to `weight`, in runs
 * that alternate between nodes. A run is one page, or one 2 MiB huge page
 * (512 pages) where transparent huge pages back the block: the kernel
 * interleaves whatever unit it allocates. */
#define THP_PAGES 512
static void expect_interleave(const char *name, size_t size, unsigned mask, const unsigned *weight) {
  size_t count[8];
  char *p = written(size);
  size_t n = page_nodes(p, size, count, NULL);
  int *seq = malloc(n * sizeof *seq);
  page_nodes(p, size, count, seq);
  unsigned total_w = 0;
  for (int i = 0; i < 8; i++)
    if (mask >> i & 1) total_w += weight[i];
  int ok = n > 0;
  for (int i = 0; i < 8; i++) {   /* within two huge pages of the weights' share */
    size_t want = (mask >> i & 1) ? n * weight[i] / total_w : 0;
    size_t tol = (mask >> i & 1) ? 2 * THP_PAGES + 1 : 0;
    if (count[i] + tol < want || count[i] > want + tol) ok = 0;
  }
  /* Runs of pages on one node: every run but the first and the last (the
   * block's edges share huge-page regions with the header and the next
   * mapping) is its node's weight in huge pages, or in pages where a 2 MiB
   * region fell back to small pages (THP may fail for one); two runs may be
   * odd where the two kinds of region meet. */
  size_t longest = 0, runs = 0, bad_runs = 0, unit = 1;
  size_t *run_len = calloc(n + 1, sizeof *run_len);
  int *run_node = calloc(n + 1, sizeof *run_node);
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || seq[i] != seq[i - 1]) run_node[runs++] = seq[i];
    if (++run_len[runs - 1] > longest) longest = run_len[runs - 1];
  }
  if (longest >= THP_PAGES) unit = THP_PAGES;
  for (size_t r = 1; r + 1 < runs; r++)
    if (run_node[r] < 0 || run_node[r] >= 8 ||
        (run_len[r] != weight[run_node[r]] * unit && run_len[r] != weight[run_node[r]]))
      bad_runs++;
  unsigned max_w = 0;
  for (int i = 0; i < 8; i++)
    if ((mask >> i & 1) && weight[i] > max_w) max_w = weight[i];
  int runs_ok = runs >= 3 && bad_runs <= 2 && longest <= (size_t)max_w * THP_PAGES + 1;
  free(run_len);
  free(run_node);
  char why[160];
  snprintf(why, sizeof why, "(want runs of weight x %zu pages over mask 0x%x; %zu runs, %zu off, longest %zu)", unit,
           mask, runs, bad_runs, longest);
  report(name, ok && runs_ok, why, count, n);
  free(seq);
  free(p);
}

static void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) perror("numa_check: sched_setaffinity");
  sched_yield();
}

/* local: a thread on `cpu` gets small, medium, coalescing and large blocks
 * all on that CPU's node. */
typedef struct { int cpu, node, ok; char detail[160]; } local_arg_t;
static void *local_thread(void *argp) {
  local_arg_t *a = argp;
  pin_to_cpu(a->cpu);
  static const size_t sizes[] = { 256, 4000, 20000, 200000, 6 * MiB };
  a->ok = 1;
  size_t len = 0;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    enum { N = 64 };
    void *blocks[N];
    size_t count[8], bytes = sizes[s] < 64 * 1024 ? 512 * 1024 : 4 * sizes[s], k = bytes / sizes[s];
    if (k > N) k = N;
    size_t on = 0, all = 0;
    for (size_t i = 0; i < k; i++) blocks[i] = written(sizes[s]);
    for (size_t i = 0; i < k; i++) {
      all += page_nodes(blocks[i], sizes[s], count, NULL);
      on += count[a->node];
    }
    for (size_t i = 0; i < k; i++) free(blocks[i]);
    len += (size_t)snprintf(a->detail + len, sizeof a->detail - len, " %zuB:%zu/%zu", sizes[s], on, all);
    if (on != all) a->ok = 0;
  }
  return NULL;
}
static const char *local_tag = "";   /* "sampled": the run samples call sites densely */
static void check_local(int cpu, int node) {
  local_arg_t a = { cpu, node, 0, "" };
  pthread_t t;
  pthread_create(&t, NULL, local_thread, &a);
  pthread_join(t, NULL);
  printf("%s local%s-cpu%d-node%d: pages on the thread's node by size:%s\n", a.ok ? "PASS" : "FAIL", local_tag, cpu,
         node, a.detail);
  if (!a.ok) failures++;
}

/* A thread moved to another node is rehomed: its new blocks come from
 * memory on the new node. */
static void *rehome_thread(void *argp) {
  local_arg_t *a = argp;
  pin_to_cpu(0);
  void *keep[4000];
  for (int i = 0; i < 2000; i++) keep[i] = written(1000);
  pin_to_cpu(a->cpu);
  for (int i = 2000; i < 4000; i++) keep[i] = written(1000);   /* many refills on the new node */
  size_t on = 0, all = 0, count[8];
  for (int i = 3000; i < 4000; i++) {
    all += page_nodes(keep[i], 1000, count, NULL);
    on += count[a->node];
  }
  for (int i = 0; i < 4000; i++) free(keep[i]);
  a->ok = all > 0 && on == all;
  snprintf(a->detail, sizeof a->detail, "last 1000 blocks: %zu/%zu pages on node %d", on, all, a->node);
  return NULL;
}
static void check_rehome(int cpu, int node) {
  local_arg_t a = { cpu, node, 0, "" };
  pthread_t t;
  pthread_create(&t, NULL, rehome_thread, &a);
  pthread_join(t, NULL);
  printf("%s rehome-to-node%d: %s\n", a.ok ? "PASS" : "FAIL", node, a.detail);
  if (!a.ok) failures++;
}

/* Under a process policy of its own (numactl --interleave), pooled memory
 * follows it: small blocks spread over both nodes instead of the local one. */
static void check_process_policy(void) {
  enum { N = 4096 };
  static char *b[N];
  size_t count[8], all[8] = { 0 }, total = 0;
  for (int i = 0; i < N; i++) b[i] = written(4000);
  for (int i = 0; i < N; i += 16) {
    total += page_nodes(b[i], 4000, count, NULL);
    for (int k = 0; k < 8; k++) all[k] += count[k];
  }
  for (int i = 0; i < N; i++) free(b[i]);
  report("process-policy-interleave", all[0] * 4 >= total && all[1] * 4 >= total,
         "(pooled pages on both nodes, each at least a quarter)", all, total);
}

/* The program's own anonymous mapping follows the mmap rule (bind:1). */
static void check_mmap(size_t size, int node) {
  char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { perror("numa_check: mmap"); exit(100); }
  memset(p, 1, size);
  size_t count[8];
  size_t n = page_nodes(p, size, count, NULL);
  report("mmap-rule", count[node] == n, "(want all on the mmap rule's node)", count, n);
  /* mremap growth: the new tail follows the same rule */
  char *q = mremap(p, size, 2 * size, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) { perror("numa_check: mremap"); exit(100); }
  memset(q + size, 2, size);
  n = page_nodes(q + size, size, count, NULL);
  report("mmap-mremap-tail", count[node] == n, "(the grown tail on the same node)", count, n);
  munmap(q, 2 * size);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; i++) {
    const char *c = argv[i];
    unsigned w1[8] = { 1, 1, 1, 1, 1, 1, 1, 1 }, w31[8] = { 3, 1 };
    if (!strcmp(c, "sampled")) local_tag = "-sampled";   /* sampled blocks sit on their thread's node too */
    else if (!strcmp(c, "local2")) { check_local(0, 0); check_local(1, 1); }
    else if (!strcmp(c, "local4")) { for (int n = 0; n < 4; n++) check_local(n, n); }
    else if (!strcmp(c, "rehome")) check_rehome(1, 1);
    else if (!strcmp(c, "bind1")) check_all_on("bind:1", 16 * MiB, 1, true);   /* a freed one may leave the cache before exit */
    else if (!strcmp(c, "preferred1")) expect_all_on("preferred:1", 18 * MiB, 1);
    else if (!strcmp(c, "preferredmany1")) expect_all_on("preferred-many:1", 20 * MiB, 1);
    else if (!strcmp(c, "interleave01")) expect_interleave("interleave:0,1", 22 * MiB, 0x3, w1);
    else if (!strcmp(c, "weighted-fallback")) expect_interleave("weighted-interleave:0=3,1=1 (fallback)", 96 * MiB, 0x3, w1);
    else if (!strcmp(c, "weighted21")) { unsigned w21[8] = { 2, 1 }; expect_interleave("weighted-interleave (kernel weights 2:1)", 96 * MiB, 0x3, w21); }
    else if (!strcmp(c, "weighted31")) expect_interleave("weighted-interleave:0=3,1=1", 96 * MiB, 0x3, w31);
    else if (!strcmp(c, "badnode")) { pin_to_cpu(0); expect_all_on("bind:5 (no such node: local, the caller's)", 26 * MiB, 0); }
    else if (!strcmp(c, "interleave0-3")) expect_interleave("interleave:0-3", 22 * MiB, 0xf, w1);
    else if (!strcmp(c, "bind3")) expect_all_on("bind:3", 28 * MiB, 3);
    else if (!strcmp(c, "tierslow")) expect_all_on("tier:slow", 30 * MiB, 1);
    else if (!strcmp(c, "tierfast")) expect_all_on("tier:fast", 32 * MiB, 0);
    else if (!strcmp(c, "neargpu")) expect_all_on("near-gpu:0", 34 * MiB, 1);
    else if (!strcmp(c, "mmap1")) check_mmap(8 * MiB, 1);
    else if (!strcmp(c, "cpuset-bind1")) expect_all_on("bind:1 outside the cpuset (local)", 16 * MiB, 0);
    else if (!strcmp(c, "cpuset-interleave")) expect_all_on("interleave:0-3 cut to the cpuset's node 0", 22 * MiB, 0);
    else if (!strcmp(c, "process-policy")) check_process_policy();
    else if (!strcmp(c, "uma-run-interleave")) expect_interleave("uma-run --interleave=all", 40 * MiB, 0x3, w1);
    else { fprintf(stderr, "numa_check: unknown check '%s'\n", c); return 100; }
  }
  return failures;
}
