/* routes.c — a program that reaches the CUDA driver the way a statically
 * linked CUDA runtime does (issue 23): dlopen("libcuda.so.1") privately,
 * dlsym for cuInit and cuGetProcAddress, then every call through the
 * pointers they give. 3 allocations come through pointers from dlsym, 2
 * through pointers from cuGetProcAddress. Prints "routes: OK". */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef int (*init_t)(unsigned);
typedef int (*alloc_t)(unsigned long long *, size_t);
typedef int (*free_t)(unsigned long long);
typedef int (*proc_t)(const char *, void **, int, unsigned long long);

int main(void) {
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
  if (n <= 0) return 1;
  path[n] = 0;
  strcpy(strrchr(path, '/') + 1, "libcuda.so.1");
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) { printf("routes: %s\n", dlerror()); return 1; }
  init_t init = (init_t)dlsym(h, "cuInit");
  alloc_t alloc = (alloc_t)dlsym(h, "cuMemAlloc_v2");
  free_t release = (free_t)dlsym(h, "cuMemFree_v2");
  proc_t proc = (proc_t)dlsym(h, "cuGetProcAddress");
  if (!init || !alloc || !release || !proc || init(0)) return 1;
  unsigned long long d[5];
  for (int i = 0; i < 3; i++)
    if (alloc(&d[i], (size_t)(i + 1) << 20)) return 1;
  alloc_t alloc2;
  if (proc("cuMemAlloc", (void **)&alloc2, 12000, 0)) return 1;
  for (int i = 3; i < 5; i++)
    if (alloc2(&d[i], (size_t)(i + 1) << 20)) return 1;
  for (int i = 0; i < 5; i++) release(d[i]);
  printf("routes: OK\n");
  return 0;
}
