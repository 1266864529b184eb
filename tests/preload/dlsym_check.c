/* dlsym_check.c — dlsym keeps glibc's meaning under the preload (which
 * routes dlsym for a few CUDA driver names): RTLD_NEXT is relative to the
 * caller, RTLD_DEFAULT finds the first definition, an explicit handle finds
 * that object's, a missing name sets dlerror. Prints "dlsym: OK". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static void expect(int ok, const char *what) {
  if (!ok) { fprintf(stderr, "dlsym: FAILED: %s\n", what); failures++; }
}

int main(void) {
  void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  expect(libc != NULL, "libc.so.6 is loaded");
  void *first = dlsym(RTLD_DEFAULT, "malloc");
  expect(first == (void *)malloc, "RTLD_DEFAULT finds the malloc the program calls");
  void *next = dlsym(RTLD_NEXT, "malloc");   /* after the program: the preload's, or libc's */
  expect(next == first, "RTLD_NEXT from the program finds the first malloc after it");
  void *own = dlsym(libc, "malloc");
  expect(own != NULL, "an explicit handle finds libc's own malloc");
  expect(dlsym(libc, "strlen") == dlsym(RTLD_DEFAULT, "strlen"), "strlen is the same either way");
  dlerror();
  expect(dlsym(RTLD_DEFAULT, "no_such_symbol_uma") == NULL, "a missing name gives NULL");
  const char *err = dlerror();
  expect(err != NULL && strstr(err, "no_such_symbol_uma") != NULL, "and dlerror names it");
  void *v = dlvsym(libc, "malloc", "GLIBC_2.2.5");
  expect(v == NULL || v == own, "dlvsym agrees with dlsym on a handle");
  if (failures) return 1;
  puts("dlsym: OK");
  return 0;
}
