/* deepbind_lib.c — a library that tests/preload/deepbind.c dlopen()s with
 * RTLD_DEEPBIND: its malloc binds to glibc's, not the preload's. */
#include <stdlib.h>
#include <string.h>
char *lib_strdup(const char *s) { return strdup(s); }
void *lib_alloc(size_t n) { return malloc(n); }
