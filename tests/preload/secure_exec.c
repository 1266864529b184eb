/* secure_exec.c — run set-group-ID (so the kernel marks it AT_SECURE, as a
 * setuid program is) it loads the library by absolute path, as
 * /etc/ld.so.preload would, and prints what the library saw:
 *   secure_exec LIB   prints "secure: AT_SECURE=<0|1>" and exits 0.
 * tests/preload/run-all sets UMA_PRELOAD_CONF to a bad file and UMA_REPORT
 * to a path: in a secure process neither may be used (no stop before main,
 * no report written, no byte of the file echoed). */
#include <dlfcn.h>
#include <stdio.h>
#include <sys/auxv.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    printf("secure: dlopen failed: %s\n", dlerror());
    return 1;
  }
  printf("secure: AT_SECURE=%lu\n", getauxval(AT_SECURE));
  return 0;
}
