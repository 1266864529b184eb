/* fmt.h — messages and fatal errors without malloc (fmt.c). */
#ifndef UMA_FMT_H
#define UMA_FMT_H
#include "base.h"

typedef struct uma_buf_s { char *p; size_t len, cap; } uma_buf_t;
UMA_HIDDEN void buf_str(uma_buf_t *b, const char *s);
UMA_HIDDEN void buf_u64(uma_buf_t *b, uint64_t v);     /* 1234567 */
UMA_HIDDEN void buf_count(uma_buf_t *b, uint64_t v);   /* 1,234,567 */
UMA_HIDDEN void buf_hex(uma_buf_t *b, uintptr_t v);
UMA_HIDDEN void buf_bytes(uma_buf_t *b, uint64_t v);   /* "12.3 MiB (12,894,208 B)" */
UMA_HIDDEN void buf_size(uma_buf_t *b, uint64_t v);    /* "64M", as in the policy file */
UMA_HIDDEN void buf_pad(uma_buf_t *b, size_t column);
UMA_HIDDEN void uma_write_err(const char *msg);
UMA_HIDDEN UMA_COLD _Noreturn void uma_fatal(const char *what, const void *p);
UMA_HIDDEN UMA_COLD _Noreturn void uma_invalid_pointer(const char *func, const void *p, const char *why);


#ifdef UMA_DEBUG
#define UMA_ASSERT(c) do { if (!(c)) uma_fatal("assertion failed: " #c, NULL); } while (0)
#else
#define UMA_ASSERT(c) ((void)0)
#endif

#endif
