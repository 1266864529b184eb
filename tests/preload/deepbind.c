/* deepbind.c — blocks from a library loaded with RTLD_DEEPBIND (glibc's
 * malloc: the library binds to its own dependencies first) freed, grown and
 * measured by the program (the preload's free, realloc, usable size).
 * Usage: deepbind LIB.so   prints "deepbind: OK" or stops. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  void *h = dlopen(argc > 1 ? argv[1] : "", RTLD_NOW | RTLD_DEEPBIND);
  if (h == NULL) { printf("deepbind: dlopen: %s\n", dlerror()); return 1; }
  char *(*lib_strdup)(const char *) = (char *(*)(const char *))dlsym(h, "lib_strdup");
  void *(*lib_alloc)(size_t) = (void *(*)(size_t))dlsym(h, "lib_alloc");
  for (int i = 0; i < 1000; i++) {
    char *s = lib_strdup("a string from glibc's heap");
    if (strcmp(s, "a string from glibc's heap") != 0) return 1;
    free(s);                      /* strdup's malloc is libc's call: bound to the preload */
    char *b = lib_alloc(24 + i);  /* the library's own call: glibc's main arena */
    memset(b, 1, 24 + i);
    free(b);
  }
  char *big = lib_alloc(8 << 20);                        /* glibc mmaps it */
  memset(big, 7, 8 << 20);
  if (malloc_usable_size(big) < (8 << 20)) { puts("deepbind: usable size"); return 1; }
  free(big);
  char *g = lib_alloc(100);
  strcpy(g, "kept");
  g = realloc(g, 100000);                                /* the program grows it */
  if (g == NULL || strcmp(g, "kept") != 0) { puts("deepbind: realloc lost the bytes"); return 1; }
  free(g);
  puts("deepbind: OK");
  return 0;
}
