/* bad_free.c — misuse that uma-preload must diagnose and stop:
 *   bad_free foreign   frees a pointer malloc never returned (a stack address)
 *   bad_free double    frees a small block twice
 *   bad_free interior  frees a pointer into the middle of a large block
 *   bad_free interior-small, interior-medium   free(p + 16) of a live 48 B / 20 KB block
 *   bad_free realloc-interior                  realloc(p + 16, 100) of a live 48 B block
 *   bad_free double-huge                       frees a 100 MiB block twice (its mapping is gone at the first)
 * Each must end in SIGABRT with one "uma-preload: free(): pointer 0x…"
 * (realloc(): …) line; glibc aborts on each of them too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wfree-nonheap-object"

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "foreign") == 0) {
    char on_stack[64];
    free(on_stack + 16);
  } else if (strcmp(mode, "double") == 0) {
    char *volatile p = malloc(48);
    char *keep = malloc(48);   /* the block is not the only one in its page */
    free(p);
    free(p);
    free(keep);
  } else if (strcmp(mode, "interior") == 0) {
    char *p = malloc(1 << 20);
    free(p + 4096);
  } else if (strcmp(mode, "interior-small") == 0 || strcmp(mode, "interior-medium") == 0) {
    char *volatile p = malloc(mode[9] == 's' ? 48 : 20000);
    free(p + 16);
  } else if (strcmp(mode, "double-huge") == 0) {
    char *volatile p = malloc(100 << 20);
    p[0] = 1;
    free(p);
    free(p);
  } else if (strcmp(mode, "realloc-interior") == 0) {
    char *volatile p = malloc(48);
    p = realloc(p + 16, 100);
  }
  puts("bad_free: the misuse was not caught");
  return 0;
}
