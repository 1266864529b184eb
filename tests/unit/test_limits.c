/* [limits]: the heap quota's check, and the cgroup's memory limit found
 * for this process under a fake /sys/fs/cgroup (both cgroup versions laid
 * out, since the machine's /proc/self/cgroup says which one is read). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "base.h"
#include "limits.h"
#include "stats.h"

Test(limits, the_heap_quota_refuses_past_it_and_counts) {
  uint64_t before = stats_heap_refusals;
  stats_heap_limit = atomic_load(&stats_committed) + (8 << 20);
  cr_assert(stats_heap_allows(4 << 20));
  cr_assert_not(stats_heap_allows(16 << 20));
  cr_assert_eq(stats_heap_refusals, before + 1);
  stats_heap_limit = 0;
  cr_assert(stats_heap_allows((size_t)1 << 40), "no quota: anything goes");
}

static void mkdirs(const char *path) {
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(tmp, 0700);
      *p = '/';
    }
  mkdir(tmp, 0700);
}
static void put(const char *dir, const char *name, const char *value) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fputs(value, f);
  fclose(f);
}
/* This process's cgroup path for a controller line prefix ("0::" or ":memory:"). */
static bool rel_path(const char *tag, char *out, size_t cap) {
  FILE *f = fopen("/proc/self/cgroup", "r");
  char line[1024];
  bool found = false;
  while (f && !found && fgets(line, sizeof line, f)) {
    char *at = strstr(line, tag);
    if (at == NULL || (tag[0] == '0' && at != line)) continue;
    at += strlen(tag);
    at[strcspn(at, "\n")] = 0;
    snprintf(out, cap, "%s", strcmp(at, "/") == 0 ? "" : at);
    found = true;
  }
  if (f) fclose(f);
  return found;
}

Test(limits, the_cgroup_limit_is_found_for_this_process) {
  char root[] = "/tmp/uma-cgroup-XXXXXX", dir[1100], rel[900], current[700];
  cr_assert(mkdtemp(root));
  bool v2 = rel_path("0::", rel, sizeof rel);
  if (v2) {
    snprintf(dir, sizeof dir, "%s%s", root, rel);
    mkdirs(dir);
    put(dir, "memory.max", "max\n");   /* v2 without a limit: v1 is tried next */
  }
  if (rel_path(":memory:", rel, sizeof rel)) {
    snprintf(dir, sizeof dir, "%s/memory%s", root, rel);
    mkdirs(dir);
    put(dir, "memory.limit_in_bytes", "1073741824\n");
    put(dir, "memory.usage_in_bytes", "5\n");
    cr_assert_eq(limits_cgroup_max(root, current, sizeof current), 1073741824ULL);
    cr_assert(strstr(current, "/memory.usage_in_bytes"));
  }
  if (v2) {
    snprintf(dir, sizeof dir, "%s%s", root, (rel_path("0::", rel, sizeof rel), rel));
    put(dir, "memory.max", "536870912\n");
    put(dir, "memory.current", "7\n");
    cr_assert_eq(limits_cgroup_max(root, current, sizeof current), 536870912ULL, "v2 first when it has a limit");
    cr_assert(strstr(current, "/memory.current"));
  }
}
