/* nbody.c — a Barnes-Hut n-body simulation (after the Olden/SPLASH
 * "barnes" programs in allocator suites): bodies are malloc'd one by one
 * and shuffled in a pointer array, and each step builds an octree of
 * malloc'd cells over them, computes every body's acceleration by walking
 * the tree (theta 0.5), moves the bodies, and frees the tree. Few
 * allocations, much pointer-chasing arithmetic: it measures the memory the
 * allocator hands out (placement, alignment, locality), not malloc's speed.
 * Single-threaded. Prints "nbody: OK" and a checksum of the positions. */
#include <math.h>
#include "bench.h"

typedef struct body_s {
  double pos[3], vel[3], acc[3], mass;
} body_t;

typedef struct cell_s {
  double com[3], mass;          /* centre of mass of what is below */
  double centre[3], half;       /* the cube this cell covers */
  void *sub[8];                 /* cells or bodies */
  unsigned char is_body[8];
} cell_t;

static long cells_made;

static cell_t *new_cell(const double centre[3], double half) {
  cell_t *c = malloc(sizeof *c);
  if (!c) bench_fail("nbody", "malloc");
  memset(c, 0, sizeof *c);
  memcpy(c->centre, centre, sizeof c->centre);
  c->half = half;
  cells_made++;
  return c;
}

static int octant(const cell_t *c, const double p[3]) {
  return (p[0] > c->centre[0]) | (p[1] > c->centre[1]) << 1 | (p[2] > c->centre[2]) << 2;
}

static void child_centre(const cell_t *c, int o, double out[3]) {
  double q = c->half / 2;
  for (int d = 0; d < 3; d++) out[d] = c->centre[d] + (o >> d & 1 ? q : -q);
}

static void insert(cell_t *c, body_t *b) {
  for (;;) {
    int o = octant(c, b->pos);
    if (!c->sub[o]) { c->sub[o] = b; c->is_body[o] = 1; return; }
    if (!c->is_body[o]) { c = c->sub[o]; continue; }
    body_t *other = c->sub[o];
    double cc[3];
    child_centre(c, o, cc);
    cell_t *n = new_cell(cc, c->half / 2);
    c->sub[o] = n;
    c->is_body[o] = 0;
    if (n->half < 1e-9) { n->sub[0] = other; n->is_body[0] = 1; n->sub[1] = b; n->is_body[1] = 1; return; }
    int oo = octant(n, other->pos);
    n->sub[oo] = other;
    n->is_body[oo] = 1;
    c = n;
  }
}

static void summarise(cell_t *c) {
  double m = 0, p[3] = { 0, 0, 0 };
  for (int i = 0; i < 8; i++) {
    if (!c->sub[i]) continue;
    const double *pos;
    double mass;
    if (c->is_body[i]) { body_t *b = c->sub[i]; pos = b->pos; mass = b->mass; }
    else { cell_t *s = c->sub[i]; summarise(s); pos = s->com; mass = s->mass; }
    m += mass;
    for (int d = 0; d < 3; d++) p[d] += mass * pos[d];
  }
  c->mass = m;
  for (int d = 0; d < 3; d++) c->com[d] = m > 0 ? p[d] / m : c->centre[d];
}

static void pull(double acc[3], const double at[3], const double from[3], double mass) {
  double dx = from[0] - at[0], dy = from[1] - at[1], dz = from[2] - at[2];
  double r2 = dx * dx + dy * dy + dz * dz + 1e-4;   /* softened */
  double f = mass / (r2 * sqrt(r2));
  acc[0] += f * dx; acc[1] += f * dy; acc[2] += f * dz;
}

static void accelerate(const cell_t *c, body_t *b) {
  for (int i = 0; i < 8; i++) {
    if (!c->sub[i]) continue;
    if (c->is_body[i]) {
      body_t *o = c->sub[i];
      if (o != b) pull(b->acc, b->pos, o->pos, o->mass);
      continue;
    }
    const cell_t *s = c->sub[i];
    double dx = s->com[0] - b->pos[0], dy = s->com[1] - b->pos[1], dz = s->com[2] - b->pos[2];
    double size = 2 * s->half;
    if (size * size < 0.25 * (dx * dx + dy * dy + dz * dz)) pull(b->acc, b->pos, s->com, s->mass);   /* theta 0.5 */
    else accelerate(s, b);
  }
}

static void free_tree(cell_t *c) {
  for (int i = 0; i < 8; i++)
    if (c->sub[i] && !c->is_body[i]) free_tree(c->sub[i]);
  free(c);
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  int n = 16384, steps = (int)(8 * a.scale) + 1;
  rng_t r = rng_seed(7);
  body_t **bodies = malloc((size_t)n * sizeof *bodies);
  /* a Plummer-like ball: uniform directions, radii concentrated inward */
  for (int i = 0; i < n; i++) {
    body_t *b = malloc(sizeof *b);
    if (!b) bench_fail("nbody", "malloc");
    double u[3], len2;
    do {
      for (int d = 0; d < 3; d++) u[d] = (double)(rng_next(&r) >> 11) / 9007199254740992.0 * 2 - 1;
      len2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2];
    } while (len2 > 1 || len2 < 1e-6);
    double radius = pow((double)(rng_next(&r) >> 11) / 9007199254740992.0, 1.5);
    for (int d = 0; d < 3; d++) {
      b->pos[d] = u[d] / sqrt(len2) * radius;
      b->vel[d] = 0;
      b->acc[d] = 0;
    }
    b->mass = 1.0 / n;
    bodies[i] = b;
  }
  for (int i = n - 1; i > 0; i--) {   /* the traversal order is not the allocation order */
    int j = (int)(rng_next(&r) % (uint64_t)(i + 1));
    body_t *t = bodies[i]; bodies[i] = bodies[j]; bodies[j] = t;
  }
  const double dt = 1e-3;
  for (int s = 0; s < steps; s++) {
    double lo = 1e300, hi = -1e300;
    for (int i = 0; i < n; i++)
      for (int d = 0; d < 3; d++) { lo = fmin(lo, bodies[i]->pos[d]); hi = fmax(hi, bodies[i]->pos[d]); }
    double centre[3] = { (lo + hi) / 2, (lo + hi) / 2, (lo + hi) / 2 };
    cell_t *root = new_cell(centre, (hi - lo) / 2 + 1e-9);
    for (int i = 0; i < n; i++) insert(root, bodies[i]);
    summarise(root);
    for (int i = 0; i < n; i++) {
      body_t *b = bodies[i];
      b->acc[0] = b->acc[1] = b->acc[2] = 0;
      accelerate(root, b);
    }
    for (int i = 0; i < n; i++) {
      body_t *b = bodies[i];
      for (int d = 0; d < 3; d++) { b->vel[d] += b->acc[d] * dt; b->pos[d] += b->vel[d] * dt; }
    }
    free_tree(root);
  }
  double sum = 0;
  for (int i = 0; i < n; i++) { sum += bodies[i]->pos[0] + 2 * bodies[i]->pos[1] + 3 * bodies[i]->pos[2]; free(bodies[i]); }
  free(bodies);
  if (!isfinite(sum) || cells_made < n / 2) bench_fail("nbody", "the simulation diverged");
  printf("nbody: OK %.9f cells %ld\n", sum, cells_made);
  return 0;
}
