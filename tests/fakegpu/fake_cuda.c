/* fake_cuda.c — a stand-in for libcudart.so.13 and libcuda.so.1 with one
 * "GPU" of host memory, so the preload's CUDA logic runs in `make test` on
 * machines without a GPU. It keeps CUDA's rules where the preload depends on
 * them: registering memory that overlaps a registration fails with 712,
 * unregistering a pointer inside a registration but not at its start with 1
 * (invalid value) and one outside every registration with 713 (both
 * measured on an H100, CUDA 13); device memory is
 * bounded (FAKE_CUDA_BYTES, default 1 GiB) and, with FAKE_CUDA_SHARED naming
 * a file, shared by every process using that file, as one GPU is; a forked
 * child of a process that used CUDA gets error 3 from every call and each
 * such call is logged to stderr ("fake-cuda: NAME called in a forked
 * child"), since real CUDA does not survive fork. fake_cuda_registered(p)
 * tells a test whether p lies in a registration. Not thread-safe beyond one
 * lock; enough for the tests. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
enum { OK = 0, OOM = 2, NOT_INIT = 3, INVALID = 1, ALREADY = 712, NOT_REGISTERED = 713 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t owner;                      /* the process that initialised "CUDA" */
static _Atomic uint64_t *used;           /* device bytes in use, shared between processes */
static uint64_t capacity;
static struct { uintptr_t start, end; } regs[4096];
static int nregs;
static struct { uintptr_t addr; size_t size; } blocks[65536];
static int nblocks;

static int enter(const char *name) {
  if (owner == 0) {
    owner = getpid();
    const char *c = getenv("FAKE_CUDA_BYTES");
    capacity = c ? strtoull(c, NULL, 0) : 1ULL << 30;
    const char *f = getenv("FAKE_CUDA_SHARED");
    int fd = f ? open(f, O_RDWR | O_CREAT, 0600) : -1;
    if (fd >= 0 && ftruncate(fd, 4096) == 0) used = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd >= 0) close(fd);
    if (used == NULL || used == MAP_FAILED) used = calloc(1, sizeof *used);
    return OK;
  }
  if (getpid() != owner) {
    char msg[128];
    int n = snprintf(msg, sizeof msg, "fake-cuda: %s called in a forked child\n", name);
    if (write(2, msg, (size_t)n) < 0) {}
    return NOT_INIT;
  }
  return OK;
}
#define ENTER() do { int e_ = enter(__func__); if (e_) return e_; } while (0)

/* ---- registration ---- */
static int reg(void *p, size_t size) {
  uintptr_t s = (uintptr_t)p, e = s + size;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < nregs; i++)
    if (s < regs[i].end && regs[i].start < e) { pthread_mutex_unlock(&lock); return ALREADY; }
  regs[nregs].start = s;
  regs[nregs].end = e;
  nregs++;
  pthread_mutex_unlock(&lock);
  return OK;
}
static int unreg(void *p) {   /* inside a registration but not its start: CUDA says "invalid value" */
  int e = NOT_REGISTERED;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < nregs && e != OK; i++)
    if (regs[i].start == (uintptr_t)p) {
      regs[i] = regs[--nregs];
      e = OK;
    } else if ((uintptr_t)p > regs[i].start && (uintptr_t)p < regs[i].end) {
      e = INVALID;
    }
  pthread_mutex_unlock(&lock);
  return e;
}
EXPORT void *fake_cuda_registration(const void *p) {
  uintptr_t start = 0;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < nregs; i++)
    if ((uintptr_t)p >= regs[i].start && (uintptr_t)p < regs[i].end) start = regs[i].start;
  pthread_mutex_unlock(&lock);
  return (void *)start;
}
EXPORT int cuMemHostRegister_v2(void *p, size_t size, unsigned flags) { (void)flags; ENTER(); return reg(p, size); }
EXPORT int cuMemHostRegister(void *p, size_t size, unsigned flags) { (void)flags; ENTER(); return reg(p, size); }
EXPORT int cuMemHostUnregister(void *p) { ENTER(); return unreg(p); }
EXPORT int cudaHostRegister(void *p, size_t size, unsigned flags) { (void)flags; ENTER(); return reg(p, size); }
EXPORT int cudaHostUnregister(void *p) { ENTER(); return unreg(p); }

/* ---- device memory ---- */
static int dev_alloc(void **out, size_t size) {
  if (*used + size > capacity) return OOM;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return OOM;
  pthread_mutex_lock(&lock);
  blocks[nblocks].addr = (uintptr_t)p;
  blocks[nblocks].size = size;
  nblocks++;
  pthread_mutex_unlock(&lock);
  *used += size;
  *out = p;
  return OK;
}
static int dev_free(void *p) {
  if (p == NULL) return OK;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < nblocks; i++)
    if (blocks[i].addr == (uintptr_t)p) {
      size_t size = blocks[i].size;
      blocks[i] = blocks[--nblocks];
      pthread_mutex_unlock(&lock);
      munmap(p, size);
      *used -= size;
      return OK;
    }
  pthread_mutex_unlock(&lock);
  return INVALID;
}
static int last_error;
EXPORT int cudaMalloc(void **p, size_t size) { ENTER(); int e = dev_alloc(p, size); if (e) last_error = e; return e; }
EXPORT int cudaFree(void *p) { ENTER(); return dev_free(p); }
EXPORT int cuMemAlloc_v2(uintptr_t *p, size_t size) { ENTER(); return dev_alloc((void **)p, size); }
EXPORT int cuMemFree_v2(uintptr_t p) { ENTER(); return dev_free((void *)p); }
EXPORT int cudaMemGetInfo(size_t *f, size_t *t) { ENTER(); *f = capacity - *used; *t = capacity; return OK; }
EXPORT int cuMemGetInfo_v2(size_t *f, size_t *t) { ENTER(); *f = capacity - *used; *t = capacity; return OK; }
EXPORT int cudaGetLastError(void) { int e = last_error; last_error = 0; return e; }
EXPORT int cudaGetDevice(int *d) { ENTER(); *d = 0; return OK; }
EXPORT int cudaSetDevice(int d) { ENTER(); return d == 0 ? OK : INVALID; }
/* Stream capture: waiting for the device while a stream is captured is
 * refused and invalidates the capture (as measured on an H100, CUDA 13). */
static int capturing, invalidated;
EXPORT int cudaStreamBeginCapture(void *s, int mode) { (void)s; (void)mode; ENTER(); capturing++; invalidated = 0; return OK; }
EXPORT int cudaStreamEndCapture(void *s, void **graph) {
  (void)s; ENTER();
  if (capturing) capturing--;
  *graph = (void *)0x2000;
  return invalidated ? 901 : OK;   /* cudaErrorStreamCaptureInvalidated */
}
EXPORT int cudaDeviceSynchronize(void) {
  ENTER();
  if (capturing) { invalidated = 1; return 900; }   /* cudaErrorStreamCaptureUnsupported */
  return OK;
}
EXPORT int cudaStreamSynchronize(void *s) { (void)s; ENTER(); return OK; }
EXPORT int cudaStreamIsCapturing(void *s, int *st) { (void)s; ENTER(); *st = 0; return OK; }
EXPORT int cudaMemcpy(void *d, const void *s, size_t n, int kind) { (void)kind; ENTER(); memcpy(d, s, n); return OK; }
EXPORT int cudaMemcpyAsync(void *d, const void *s, size_t n, int kind, void *st) {
  (void)kind; (void)st; ENTER(); memcpy(d, s, n); return OK;
}
EXPORT int cudaHostAlloc(void **p, size_t size, unsigned flags) {
  (void)flags; ENTER();
  *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return *p == MAP_FAILED ? OOM : reg(*p, size);
}
EXPORT int cudaMallocHost(void **p, size_t size) { return cudaHostAlloc(p, size, 0); }
EXPORT int cudaFreeHost(void *p) { ENTER(); return unreg(p); }   /* the pages stay: enough for a test */

/* ---- contexts ---- */
static void *const the_context = (void *)0x1000;
EXPORT int cuInit(unsigned f) { (void)f; ENTER(); return OK; }
EXPORT int cuCtxGetCurrent(void **c) { ENTER(); *c = the_context; return OK; }
EXPORT int cuCtxGetDevice(int *d) { ENTER(); *d = 0; return OK; }
EXPORT int cuCtxSynchronize(void) { ENTER(); if (capturing) { invalidated = 1; return 900; } return OK; }
EXPORT int cuCtxPushCurrent_v2(void *c) { (void)c; ENTER(); return OK; }
EXPORT int cuCtxPopCurrent_v2(void **c) { ENTER(); *c = the_context; return OK; }
EXPORT int cuDeviceGetCount(int *n) { ENTER(); *n = 1; return OK; }
EXPORT int cuDevicePrimaryCtxGetState(int d, unsigned *f, int *active) { (void)d; ENTER(); *f = 0; *active = 1; return OK; }
EXPORT int cuDevicePrimaryCtxRetain(void **c, int d) { (void)d; ENTER(); *c = the_context; return OK; }
EXPORT int cuDevicePrimaryCtxRelease_v2(int d) { (void)d; ENTER(); return OK; }
EXPORT int cuStreamSynchronize(void *s) { (void)s; ENTER(); return OK; }
EXPORT int cuStreamIsCapturing(void *s, int *st) { (void)s; ENTER(); *st = 0; return OK; }

/* ---- identity and capture (the preload's GPU sharing) ---- */
static const char *bus(void) { return getenv("FAKE_CUDA_BUS") ? getenv("FAKE_CUDA_BUS") : "0000:fa:ce.0"; }
EXPORT int cudaDeviceGetPCIBusId(char *out, int len, int d) { (void)d; ENTER(); snprintf(out, (size_t)len, "%s", bus()); return OK; }
EXPORT int cuDeviceGet(int *dev, int ordinal) { ENTER(); *dev = ordinal; return OK; }
EXPORT int cuDeviceGetPCIBusId(char *out, int len, int d) { (void)d; ENTER(); snprintf(out, (size_t)len, "%s", bus()); return OK; }
EXPORT int cudaThreadExchangeStreamCaptureMode(int *mode) { ENTER(); *mode = 0; return OK; }
EXPORT int cuThreadExchangeStreamCaptureMode(int *mode) { ENTER(); *mode = 0; return OK; }

/* A process's device memory goes back when it ends, as on a GPU. */
__attribute__((destructor)) static void give_back_at_exit(void) {
  if (owner != getpid() || used == NULL) return;
  for (int i = 0; i < nblocks; i++) *used -= blocks[i].size;
  nblocks = 0;
}

/* ---- cuGetProcAddress: the static runtime's route to the driver ---- */
EXPORT int cuGetProcAddress(const char *name, void **pfn, int version, unsigned long long flags) {
  (void)version; (void)flags;
  static const struct { const char *name; void *fn; } table[] = {
    { "cuInit", (void *)cuInit }, { "cuMemAlloc", (void *)cuMemAlloc_v2 }, { "cuMemFree", (void *)cuMemFree_v2 },
    { "cuMemGetInfo", (void *)cuMemGetInfo_v2 }, { "cuCtxGetDevice", (void *)cuCtxGetDevice },
  };
  ENTER();
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(name, table[i].name) == 0) { *pfn = table[i].fn; return OK; }
  *pfn = NULL;
  return 500;   /* CUDA_ERROR_NOT_FOUND */
}
