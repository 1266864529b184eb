// plan_test — a training step written against the CUDA runtime directly:
// per layer, cudaMalloc an activation (sizes differ per layer) and a
// workspace, run kernels on them, free the workspace; backward in reverse,
// a gradient per layer, freeing the activations. The same every step: what
// [plan] device = auto packs into one arena. Kernels read what earlier
// kernels wrote, so a block reused while still in use shows in the result.
// Prints "loss STEP VALUE" lines, "metric step_us X" and "plan_test: OK".
// Usage: plan_test [STEPS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("plan_test: %s: %s\n", #x, cudaGetErrorString(e_)); return 1; } } while (0)
enum { LAYERS = 12 };

__global__ void forward(float *out, const float *in, size_t n_out, size_t n_in, float *work, size_t n_work, int l) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n_out; i += (size_t)gridDim.x * blockDim.x) {
    float w = work[i % n_work] = 0.5f + 0.001f * (float)(i % 97) + 0.01f * l;
    out[i] = (in ? in[i % n_in] : 1.0f) * w + 0.001f;
  }
}
__global__ void backward(float *grad, const float *act, const float *up, size_t n, size_t n_up) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    grad[i] = act[i] * 0.5f + (up ? up[i % n_up] * 0.25f : 0.0f);
}
__global__ void reduce(const float *g, size_t n, float *out) {
  __shared__ float part[256];
  float s = 0;
  for (size_t i = threadIdx.x; i < n; i += 256) s += g[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = 128; k > 0; k /= 2) {
    if (threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = part[0];
}

int main(int argc, char **argv) {
  int steps = argc > 1 ? atoi(argv[1]) : 40;
  size_t n_act[LAYERS], n_work[LAYERS];
  unsigned seed = 12345;
  for (int l = 0; l < LAYERS; l++) {
    seed = seed * 1103515245u + 12345u;
    n_act[l] = ((1u << 18) + (seed >> 8) % (6u << 20)) & ~(size_t)255;   // 1-25 MiB of floats
    seed = seed * 1103515245u + 12345u;
    n_work[l] = ((1u << 18) + (seed >> 8) % (2u << 20)) & ~(size_t)255;
  }
  float *loss_d;
  CHECK(cudaMalloc(&loss_d, 256));
  double total_us = 0;
  for (int s = 0; s < steps; s++) {
    auto t0 = std::chrono::steady_clock::now();
    float *act[LAYERS];
    for (int l = 0; l < LAYERS; l++) {
      float *work;
      CHECK(cudaMalloc(&act[l], n_act[l] * sizeof(float)));
      CHECK(cudaMalloc(&work, n_work[l] * sizeof(float)));
      forward<<<256, 256>>>(act[l], l ? act[l - 1] : nullptr, n_act[l], l ? n_act[l - 1] : 1, work, n_work[l], l);
      CHECK(cudaFree(work));
    }
    float *up = nullptr;
    size_t n_up = 1;
    for (int l = LAYERS - 1; l >= 0; l--) {
      float *grad;
      CHECK(cudaMalloc(&grad, n_act[l] * sizeof(float)));
      backward<<<256, 256>>>(grad, act[l], up, n_act[l], n_up);
      CHECK(cudaFree(act[l]));
      if (up) CHECK(cudaFree(up));
      up = grad;
      n_up = n_act[l];
    }
    reduce<<<1, 256>>>(up, n_up, loss_d);
    float loss;
    CHECK(cudaMemcpy(&loss, loss_d, sizeof loss, cudaMemcpyDeviceToHost));
    CHECK(cudaFree(up));
    total_us += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    if (s == 4) total_us = 0;   // steady state only
    printf("loss %d %.6e\n", s, loss);
  }
  printf("metric step_us %.1f\n", total_us / (steps - 5));
  printf("plan_test: OK\n");
  return 0;
}
