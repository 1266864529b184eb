/* report_file.h — a report's destination file (report_file.c). */
#ifndef UMA_REPORT_FILE_H
#define UMA_REPORT_FILE_H
#include "base.h"

typedef struct report_file_s {
  int fd;
  const char *key;                   /* the [report] key that named it, for messages */
  char path[4096];
  char tmp[4096 + 32];               /* the file written, renamed to path at close; "" for stderr/stdout */
} report_file_t;
UMA_HIDDEN int report_file_open(report_file_t *f, const char *dest, const char *key);
UMA_HIDDEN void report_file_close(report_file_t *f);

#endif
