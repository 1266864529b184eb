/* capture.c — a cudaMalloc during stream capture whose pool holds only a
 * pending block (issue 23; PyTorch's torch.cuda.graph allocates this way):
 * the pool must not wait for the device then (CUDA would invalidate the
 * capture), and the capture must end well. Prints "capture: OK". */
#include "cuda_fake.h"
#include <stdio.h>

#define MiB (1024 * 1024UL)

int main(void) {
  void *a, *b, *graph;
  if (cudaMalloc(&a, 12 * MiB) || cudaFree(a)) return 1;   /* pending in the pool */
  if (cudaStreamBeginCapture((void *)0x10, 2 /* relaxed */)) return 1;
  int e = cudaMalloc(&b, 12 * MiB);
  int end = cudaStreamEndCapture((void *)0x10, &graph);
  printf("malloc during capture %d, end of capture %d\n", e, end);
  if (e || end) { printf("capture: FAILED\n"); return 1; }
  cudaFree(b);
  if (cudaMalloc(&a, 12 * MiB)) return 1;   /* after the capture a fence may run again: reuse */
  cudaFree(a);
  printf("capture: OK\n");
  return 0;
}
