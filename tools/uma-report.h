/* uma-report.h — what the parts of uma-report share: the loaded report and
 * the small JSON and formatting helpers (tools/uma-report.c). */
#ifndef UMA_REPORT_H
#define UMA_REPORT_H
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

typedef struct report_s {
  const char *path;
  json_t *root;
  uint64_t pack_q, pack_l;       /* from the trace; 0 without one */
  uint64_t pack_records, pack_total;
  int has_trace;
  int trace_partial;             /* the trace dropped records: Q is a lower bound */
  uint64_t exact_l;              /* the trace's exact peak of live requested bytes */
} report_t;

uint64_t u64(json_t *obj, const char *key);
double num(json_t *obj, const char *key);
const char *str(json_t *obj, const char *key);
void human(char *out, size_t cap, double v);
uint64_t live_of(const report_t *r);

/* report_sites.c: sampled call sites, named by addr2line */
typedef enum { SITES_BY_PEAK, SITES_BY_LIVE, SITES_BY_CHURN } sites_order_t;
void print_sites(const report_t *r);
void html_sites(FILE *f, const report_t *r);
void html_flame(FILE *f, const report_t *r);

/* report_advice.c: what to change, and --suggest-config */
void print_advice(const report_t *r);
void html_advice(FILE *f, const report_t *r);
int write_suggested_config(const char *out, const report_t *r);
#endif
