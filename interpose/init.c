/* init.c — the preload's start and end: the core and the policy before
 * main, and the exit summary where [report] destination asks for one:
 * "stderr", or a file path in which "%p" becomes the process id (each child
 * of a preloaded program reports too). */
#include "../policy/policy.h"
#include <fcntl.h>

/* The policy file and the UMA_* environment (policy/load.c); a bad policy
 * stops the program here, before main, unless it says on_error = defaults. */
__attribute__((constructor(101))) static void preload_start(void) {
  uma_ensure_init();
  pol_startup();
}

/* Destructors with the lowest priority run last: after the program's own. */
__attribute__((destructor(101))) static void preload_end(void) {
  const char *dest = pol_report_destination();
  if (dest == NULL || *dest == 0) return;
  if ((dest[0] == 's' && dest[1] == 't' && dest[2] == 'd' && dest[3] == 'e' && dest[4] == 'r' &&
       dest[5] == 'r' && dest[6] == 0) || (dest[0] == '-' && dest[1] == 0)) {
    uma_report_write(2);
    return;
  }
  char path[4096];
  uma_buf_t b = { path, 0, sizeof path };
  for (const char *s = dest; *s; s++) {
    if (s[0] == '%' && s[1] == 'p') {
      buf_u64(&b, (uint64_t)os_getpid());
      s++;
    } else {
      char one[2] = { *s, 0 };
      buf_str(&b, one);
    }
  }
  int fd = os_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    uma_write_err("uma-preload: cannot open the UMA_REPORT file for writing; "
                  "the exit summary goes to stderr instead (set UMA_REPORT to a writable path)\n");
    uma_report_write(2);
    return;
  }
  uma_report_write(fd);
  os_close(fd);
}
