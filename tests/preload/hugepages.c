/* hugepages.c — allocates and touches one 128 MiB block, then prints how
 * much of its mapping the kernel backs with transparent huge pages
 * ("AnonHugePages" of that mapping in /proc/self/smaps). A policy rule
 * (size = 64M.., hugepages = always) must make that number large. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  size_t n = 128u << 20;
  char *p = malloc(n);
  if (!p) return 1;
  memset(p, 1, n);
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return 1;
  char line[512];
  unsigned long lo = 0, hi = 0, kb = 0;
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    unsigned long a, b;
    if (sscanf(line, "%lx-%lx ", &a, &b) == 2) { lo = a; hi = b; continue; }
    if ((unsigned long)p >= lo && (unsigned long)p < hi && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) found = 1;
  }
  fclose(f);
  printf("hugepages: AnonHugePages %lu kB of %zu kB\n", kb, n >> 10);
  free(p);
  return 0;
}
