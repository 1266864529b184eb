/* cuda_fake.h — the few CUDA declarations the fake-GPU tests use (the
 * programs link against tests/fakegpu/fake_cuda.c built as libcudart.so.13;
 * on a machine with CUDA the same programs link against the real libraries,
 * tests/gpu/run-all, where the fake's own query is absent: weak, NULL). */
#include <stddef.h>
int cudaMalloc(void **p, size_t size);
int cudaFree(void *p);
int cudaMemcpy(void *dst, const void *src, size_t n, int kind);
int cudaHostRegister(void *p, size_t size, unsigned flags);
int cudaHostUnregister(void *p);
int cudaHostAlloc(void **p, size_t size, unsigned flags);
int cudaFreeHost(void *p);
int cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
int cudaStreamBeginCapture(void *stream, int mode);
int cudaStreamEndCapture(void *stream, void **graph);
int cuMemHostRegister_v2(void *p, size_t size, unsigned flags);
int cuMemHostUnregister(void *p);
__attribute__((weak)) void *fake_cuda_registration(const void *p);   /* the fake's: start of the registration holding p */
enum { H2D = 1, D2H = 2 };
