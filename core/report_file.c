/* report_file.c — opening a report's destination (interpose/init.c at exit
 * or on a signal): "stderr"/"-", "stdout", or a path. A path is written
 * without following a planted link and without clobbering a file that is
 * not the program's own: the report goes to a new file beside it (created
 * with O_EXCL | O_NOFOLLOW, so nothing already there is opened) that is
 * renamed over the path when complete. What is at the path already is
 * looked at first: a symbolic link, FIFO, device, directory or another
 * user's file is refused with a message (the report goes to stderr; a
 * FIFO would block the exit). One planted after that look is replaced by
 * the rename, never written through: a rename replaces a name. Raw system
 * calls only: this may run in a signal handler. */
#include "base.h"
#include "fmt.h"
#include "os.h"
#include "report_file.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_word(const char *s, const char *w) {
  while (*w && *s == *w) s++, w++;
  return *w == 0 && *s == 0;
}

/* Why an existing path must not be replaced, or NULL when it may be. */
static const char *refusal(const char *path) {
  struct stat st;
  if (os_stat(-1, path, &st) != 0) return NULL;   /* nothing there (or unreadable: the create says) */
  if (S_ISLNK(st.st_mode)) return "is a symbolic link";
  if (S_ISFIFO(st.st_mode)) return "is a FIFO";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "is a device";
  if (S_ISDIR(st.st_mode)) return "is a directory";
  if (!S_ISREG(st.st_mode)) return "is not a regular file";
  if (st.st_uid != geteuid()) return "belongs to another user";
  return NULL;
}

static void complain(const char *path, const char *why, const char *key, bool to_stderr) {
  char msg[4600];
  uma_buf_t m = { msg, 0, sizeof msg };
  buf_str(&m, "uma-preload: not writing the report to '");
  buf_str(&m, path);
  buf_str(&m, "' ([report] ");
  buf_str(&m, key);
  buf_str(&m, "): it ");
  buf_str(&m, why);
  buf_str(&m, to_stderr ? "; writing it to stderr instead (name a new file, or one of your own, in a directory you can write)\n" : "\n");
  uma_write_err(msg);
}

int report_file_open(report_file_t *f, const char *dest, const char *key) {
  f->tmp[0] = 0;
  f->key = key;
  if (is_word(dest, "-") || is_word(dest, "stderr")) return f->fd = 2;
  if (is_word(dest, "stdout")) return f->fd = 1;
  uma_buf_t p = { f->path, 0, sizeof f->path };
  buf_str(&p, dest);
  const char *why = refusal(f->path);
  if (why) {
    complain(f->path, why, key, true);
    return f->fd = 2;
  }
  uma_buf_t t = { f->tmp, 0, sizeof f->tmp };
  buf_str(&t, f->path);
  buf_str(&t, ".uma-tmp.");
  buf_u64(&t, (uint64_t)os_getpid());
  f->fd = os_open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
  if (f->fd < 0) {
    f->tmp[0] = 0;
    complain(f->path, "cannot be created (a missing or unwritable directory, or a file left in the way)", key, true);
    return f->fd = 2;
  }
  return f->fd;
}

void report_file_close(report_file_t *f) {
  if (f->tmp[0] == 0) return;   /* stderr or stdout */
  os_close(f->fd);
  if (!os_rename(f->tmp, f->path)) {   /* the report stays where it was written */
    char why[4200];
    uma_buf_t w = { why, 0, sizeof why };
    buf_str(&w, "could not be replaced (rename failed); the report is in '");
    buf_str(&w, f->tmp);
    buf_str(&w, "'");
    complain(f->path, why, f->key, false);
  }
  f->tmp[0] = 0;
}
