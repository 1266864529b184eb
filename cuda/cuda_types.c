/* cuda_types.c — the CUDA libraries' names (cuda_types.h), newest first:
 * the real functions are looked up in the copy the program loaded. */
#include "cuda_types.h"

const char *const cudart_sonames[] = { "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so", NULL };
const char *const cuda_sonames[] = { "libcuda.so.1", NULL };
