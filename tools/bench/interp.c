/* interp.c — what an interpreter's heap sees (after the cfrac/espresso/lean
 * kind of workloads in allocator suites): boxed numbers, strings and cons
 * cells of 16–64 bytes, made by the million by list operations (map,
 * filter, merge sort, string building), most dying young, some kept in a
 * long-lived table that is replaced a slot at a time. Single-threaded.
 * Prints "interp: OK" and a checksum. */
#include "bench.h"

typedef struct obj_s obj_t;
struct obj_s {
  enum { NUM, STR, CONS } tag;
  union {
    long num;
    struct { size_t len; char *text; } str;
    struct { obj_t *car, *cdr; } cons;
  };
};

static obj_t *box(int tag) {
  obj_t *o = malloc(sizeof *o);
  if (!o) bench_fail("interp", "malloc");
  o->tag = tag;
  return o;
}
static obj_t *num(long v) { obj_t *o = box(NUM); o->num = v; return o; }
static obj_t *cons(obj_t *a, obj_t *d) { obj_t *o = box(CONS); o->cons.car = a; o->cons.cdr = d; return o; }
static obj_t *str_of(long v) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "v%ld", v);
  obj_t *o = box(STR);
  o->str.text = malloc((size_t)n + 1);
  memcpy(o->str.text, tmp, (size_t)n + 1);
  o->str.len = (size_t)n;
  return o;
}

static void drop(obj_t *o) {   /* frees a list and what it holds (no sharing in this program) */
  while (o) {
    obj_t *next = NULL;
    if (o->tag == CONS) { drop(o->cons.car); next = o->cons.cdr; }
    else if (o->tag == STR) free(o->str.text);
    free(o);
    o = next;
  }
}

static long value(const obj_t *o) { return o->tag == NUM ? o->num : (long)o->str.len * 31 + o->str.text[1]; }

static obj_t *map_square(const obj_t *l) {   /* a new list; the old one is the caller's */
  obj_t *head = NULL, **tail = &head;
  for (; l; l = l->cons.cdr) { *tail = cons(num(value(l->cons.car) * value(l->cons.car) % 100003), NULL); tail = &(*tail)->cons.cdr; }
  return head;
}

static obj_t *filter_odd_to_strings(const obj_t *l) {
  obj_t *head = NULL, **tail = &head;
  for (; l; l = l->cons.cdr)
    if (value(l->cons.car) & 1) { *tail = cons(str_of(value(l->cons.car)), NULL); tail = &(*tail)->cons.cdr; }
  return head;
}

static obj_t *merge(obj_t *a, obj_t *b) {   /* reuses the cells: sorting moves no bytes */
  obj_t *head = NULL, **tail = &head;
  while (a && b) {
    obj_t **take = value(a->cons.car) <= value(b->cons.car) ? &a : &b;
    *tail = *take; *take = (*take)->cons.cdr; tail = &(*tail)->cons.cdr;
  }
  *tail = a ? a : b;
  return head;
}
static obj_t *sort(obj_t *l) {
  if (!l || !l->cons.cdr) return l;
  obj_t *slow = l, *fast = l->cons.cdr;
  while (fast && fast->cons.cdr) { slow = slow->cons.cdr; fast = fast->cons.cdr->cons.cdr; }
  obj_t *second = slow->cons.cdr;
  slow->cons.cdr = NULL;
  return merge(sort(l), sort(second));
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  long rounds = (long)(3000 * a.scale) + 1;
  enum { TABLE = 512, LEN = 2000 };
  obj_t *table[TABLE] = { 0 };
  rng_t r = rng_seed(5);
  long check = 0;
  for (long i = 0; i < rounds; i++) {
    obj_t *l = NULL;
    for (int k = 0; k < LEN; k++) l = cons(num((long)(rng_next(&r) % 1000003)), l);
    obj_t *sq = map_square(l);
    obj_t *odd = sort(filter_odd_to_strings(sq));
    long sum = 0;
    for (obj_t *p = odd; p; p = p->cons.cdr) sum += value(p->cons.car);
    check = check * 31 + sum;
    drop(l);
    drop(sq);
    int slot = (int)(rng_next(&r) % TABLE);   /* a long-lived global table, replaced a slot at a time */
    drop(table[slot]);
    table[slot] = odd;
  }
  for (int t = 0; t < TABLE; t++) drop(table[t]);
  printf("interp: OK %ld\n", check);
  return 0;
}
