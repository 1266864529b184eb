/* options.h — the options the policy sets and the allocator reads, and the
 * environment read without getenv (options.c). */
#ifndef UMA_OPTIONS_H
#define UMA_OPTIONS_H
#include "base.h"

UMA_HIDDEN extern int64_t uma_options[UMA_OPTION_COUNT];
UMA_HIDDEN const char *uma_env(const char *name);   /* NULL for every name in a secure-execution process */
UMA_HIDDEN bool uma_secure_exec(void);

#endif
