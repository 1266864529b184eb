/* json.h — the JSON writer (json.c). */
#ifndef UMA_JSON_H
#define UMA_JSON_H
#include "base.h"

typedef struct uma_json_s {
  int fd, depth;
  size_t len;
  bool need_comma[16];
  char buf[8192];
} uma_json_t;
/* k is the member name inside an object, NULL inside an array. */
UMA_HIDDEN void json_open(uma_json_t *j, const char *k, char bracket);   /* '{' or '[' */
UMA_HIDDEN void json_close(uma_json_t *j, char bracket);
UMA_HIDDEN void json_u64(uma_json_t *j, const char *k, uint64_t v);
UMA_HIDDEN void json_i64(uma_json_t *j, const char *k, int64_t v);
UMA_HIDDEN void json_ratio(uma_json_t *j, const char *k, uint64_t part, uint64_t whole);
UMA_HIDDEN void json_str(uma_json_t *j, const char *k, const char *v);
UMA_HIDDEN void json_bool(uma_json_t *j, const char *k, bool v);
UMA_HIDDEN void json_null(uma_json_t *j, const char *k);
UMA_HIDDEN void json_end(uma_json_t *j);

#endif
