/* abi.c — glibc's observable malloc semantics, checked under the preload:
 * each check prints "ok" or "FAIL" with what was expected, and the
 * program exits 1 if any failed. It also proves the calls reach uma-preload
 * (uma_owns, found with dlsym, recognises every returned block). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
static int failures;
static bool (*owns)(const void *);

static void expect(bool ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) failures++;
}

int main(void) {
  owns = (bool (*)(const void *))dlsym(RTLD_DEFAULT, "uma_owns");
  expect(owns != NULL, "uma_owns is exported by the preloaded library");
  if (!owns) return 1;

  void *a = malloc(0), *b = malloc(0);
  expect(a && b && a != b, "malloc(0) returns unique non-NULL pointers");
  expect(owns(a) && owns(b), "malloc(0) blocks are ours");
  free(a); free(b);

  errno = 1234;
  free(NULL);
  expect(errno == 1234, "free(NULL) is a no-op and keeps errno");
  void *big = malloc(8 << 20);
  errno = 4321;
  free(big);   /* unmaps or caches: must not touch errno either way */
  expect(errno == 4321, "free of a large block preserves errno");

  errno = 0;
  void *c = calloc(SIZE_MAX / 2, 4);
  expect(c == NULL && errno == ENOMEM, "calloc overflow returns NULL with ENOMEM");
  errno = 0;
  c = reallocarray(NULL, SIZE_MAX / 2, 4);
  expect(c == NULL && errno == ENOMEM, "reallocarray overflow returns NULL with ENOMEM");
  errno = 0;
  c = malloc(SIZE_MAX - 100);
  expect(c == NULL && errno == ENOMEM, "malloc of an impossible size returns NULL with ENOMEM");

  void *p = NULL;
  expect(posix_memalign(&p, 24, 10) == EINVAL, "posix_memalign rejects alignment 24 with EINVAL");
  expect(posix_memalign(&p, 4, 10) == EINVAL, "posix_memalign rejects alignment 4 (< sizeof(void*))");
  expect(posix_memalign(&p, 0, 10) == EINVAL, "posix_memalign rejects alignment 0");
  for (size_t al = 8; al <= (1u << 22); al <<= 1) {
    p = NULL;
    int r = posix_memalign(&p, al, 100);
    if (r || (uintptr_t)p % al || !owns(p)) { expect(false, "posix_memalign power-of-two alignment"); break; }
    free(p);
  }
  expect(true, "posix_memalign alignments 8 B .. 4 MiB");

  errno = 0;
  expect(aligned_alloc(3, 10) == NULL && errno == EINVAL, "aligned_alloc(3, …) fails with EINVAL");
  p = aligned_alloc(64, 64);
  expect(p && (uintptr_t)p % 64 == 0 && owns(p), "aligned_alloc(64, 64)");
  free(p);
  p = memalign(48, 10);   /* glibc rounds the alignment up to 64 */
  expect(p && (uintptr_t)p % 64 == 0, "memalign rounds a non-power-of-two alignment up");
  free(p);
  long page = sysconf(_SC_PAGESIZE);
  p = valloc(10);
  expect(p && (uintptr_t)p % page == 0, "valloc is page-aligned");
  free(p);
  p = pvalloc(10);
  expect(p && (uintptr_t)p % page == 0 && malloc_usable_size(p) >= (size_t)page,
         "pvalloc is page-aligned and rounds the size up to a page");
  free(p);

  char *r = malloc(100);
  memset(r, 'x', 100);
  errno = 0;
  expect(realloc(r, 0) == NULL, "realloc(p, 0) frees p and returns NULL");
  r = realloc(NULL, 50);
  expect(r && owns(r), "realloc(NULL, n) allocates");
  free(r);

  for (size_t n = 1; n < (1u << 21); n = n * 3 + 1) {
    char *q = malloc(n);
    size_t u = malloc_usable_size(q);
    if (u < n) { expect(false, "malloc_usable_size >= request"); break; }
    memset(q, 0xee, u);   /* the whole usable size is writable */
    free(q);
  }
  expect(true, "malloc_usable_size >= request and writable, 1 B .. 2 MiB");
  expect(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) is 0");

  char *grow = malloc(200 * 1024);
  for (size_t i = 0; i < 200 * 1024; i++) grow[i] = (char)(i * 7);
  grow = realloc(grow, 64 << 20);
  bool kept = true;
  for (size_t i = 0; i < 200 * 1024; i++) kept &= grow[i] == (char)(i * 7);
  expect(grow && kept, "realloc of a large block to 64 MiB keeps the contents");
  free(grow);

  expect(mallopt(M_ARENA_MAX, 2) == 1, "mallopt is accepted");
  struct mallinfo2 mi = mallinfo2();
  expect(mi.arena > 0 && mi.uordblks > 0, "mallinfo2 reports mapped and live bytes");
  int trimmed = malloc_trim(0);
  expect(trimmed == 0 || trimmed == 1, "malloc_trim returns 0 or 1");
  FILE *info = tmpfile();
  char xml[512] = "";
  expect(info && malloc_info(0, info) == 0, "malloc_info writes");
  if (info) { rewind(info); fread(xml, 1, sizeof xml - 1, info); fclose(info); }
  expect(strstr(xml, "<malloc version=\"uma-preload-1\">") != NULL, "malloc_info describes uma-preload");
  errno = 0;
  expect(malloc_info(1, stdout) == -1 && errno == EINVAL, "malloc_info rejects options != 0");
  /* glibc 2.36 has no free_sized: reach ours by name. */
  void (*fs)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
  expect(fs != NULL, "free_sized is exported");
  if (fs) fs(malloc(40), 40);

  printf("%s: %d failed\n", failures ? "abi: FAILED" : "abi: OK", failures);
  return failures ? 1 : 0;
}
