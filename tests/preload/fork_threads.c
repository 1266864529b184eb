#define _GNU_SOURCE
/* fork_threads.c — a parent with 8 threads that allocate, free and pass
 * blocks to each other without pause forks 200 times; every child allocates
 * across all pools at once, checks its blocks, frees them and exits 0. A
 * lock held across fork by a vanished thread would hang a child here.
 * Exit 0 and "fork: OK" when all children exited 0. Usage: fork_threads [forks] */
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 8
static atomic_bool stop;
static _Atomic(void *) shared[64];

static void *busy(void *arg) {
  uint64_t s = (uintptr_t)arg * 2654435761u + 1;
  /* Lowest priority (Linux nice is per thread): the threads stay busy in
   * malloc whenever a core is free, but 8 of them on 2 cores must not starve
   * the children, which inherit the main thread's priority. */
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
  while (!atomic_load(&stop)) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t size = (s >> 33) % 4 == 0 ? (s >> 20) % (256 * 1024) + 1 : (s >> 40) % 2048 + 1;
    char *p = malloc(size);
    if (!p) abort();
    p[0] = p[size - 1] = (char)size;   /* touch, not fill: the threads are here to hold locks, not to copy */
    void *old = atomic_exchange(&shared[(s >> 50) % 64], p);   /* freed by whichever thread comes next */
    free(old);
  }
  return NULL;
}

static int child_work(void) {
  char *blocks[300];
  for (int i = 0; i < 300; i++) {
    size_t size = i % 50 == 0 ? (size_t)(i + 1) * 8192 : (size_t)(i * 37 % 3000 + 1);
    blocks[i] = malloc(size);
    if (!blocks[i]) return 1;
    memset(blocks[i], i & 0xff, size);
  }
  for (int i = 0; i < 300; i++) {
    if ((unsigned char)blocks[i][0] != (i & 0xff)) return 2;
    blocks[i] = realloc(blocks[i], 100 + i);
    if (!blocks[i] || (unsigned char)blocks[i][0] != (i & 0xff)) return 3;
    free(blocks[i]);
  }
  return 0;
}

int main(int argc, char **argv) {
  int forks = argc > 1 ? atoi(argv[1]) : 200;
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, busy, (void *)(uintptr_t)(i + 1));
  int failed = 0;
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) exit(child_work());
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "fork: child %d failed (status 0x%x)\n", i, status);
      failed++;
    }
  }
  atomic_store(&stop, true);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 64; i++) free(atomic_load(&shared[i]));
  if (failed) { fprintf(stderr, "fork: FAILED: %d of %d children\n", failed, forks); return 1; }
  printf("fork: OK forks=%d children all exited 0\n", forks);
  return 0;
}
