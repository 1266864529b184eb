/* fork.c — runs the registered fork handlers in fork.h's order. init.c
 * hands the three runners to pthread_atfork once; modules register from
 * their own start-up, so this file names none of them. */
#include "fork.h"

typedef struct fork_handler_s {
  void (*_Atomic prepare)(void);
  void (*_Atomic parent)(void);
  void (*_Atomic child)(void);
} fork_handler_t;

static fork_handler_t handlers[FORK_STEPS];

/* prepare last: once it is seen, the other two are. */
void fork_register(fork_step_t step, void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
  atomic_store(&handlers[step].child, child);
  atomic_store(&handlers[step].parent, parent);
  atomic_store(&handlers[step].prepare, prepare);
}

/* The parent and the child run what prepare saw: a module that registers
 * during the fork (on another thread) would otherwise be asked to release
 * a lock this thread never took. glibc runs the fork handlers of one fork
 * at a time (its atfork lock is held from prepare to parent or child), so
 * one copy serves. */
static void (*parent_at_prepare[FORK_STEPS])(void), (*child_at_prepare[FORK_STEPS])(void);

void fork_prepare(void) {
  for (int i = 0; i < FORK_STEPS; i++) {
    void (*prepare)(void) = atomic_load(&handlers[i].prepare);
    void (*parent)(void) = atomic_load(&handlers[i].parent), (*child)(void) = atomic_load(&handlers[i].child);
    bool whole = prepare != NULL || (parent == NULL && child != NULL);   /* registered, or needs no prepare */
    parent_at_prepare[i] = whole ? parent : NULL;
    child_at_prepare[i] = whole ? child : NULL;
    if (whole && prepare) prepare();
  }
}

static void release(void (**at)(void)) {
  for (int i = FORK_STEPS - 1; i >= 0; i--)
    if (at[i]) at[i]();
}
void fork_parent(void) { release(parent_at_prepare); }
void fork_child(void) { release(child_at_prepare); }
