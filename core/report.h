/* report.h — the report: gathering and writing it (report.c, report_json.c). */
#ifndef UMA_REPORT_H
#define UMA_REPORT_H
#include "base.h"
#include "../cuda/device_pool.h"
#include "frag.h"
#include "stats.h"

UMA_HIDDEN void report_configure(bool on, uint64_t timeline_ms, uint64_t timeline_bytes, uint64_t trace_records,
                                 uint64_t sample_bytes);
UMA_HIDDEN extern uint64_t report_start_unix;
/* Everything both reports print, gathered once at exit. */
/* Why a report is written: at exit (destructor, _exit), as a fatal signal
 * ends the program, or as a snapshot of a running program (interval, dump
 * signal, uma_report_write). */
typedef enum report_kind_e { REPORT_EXIT, REPORT_FATAL_SIGNAL, REPORT_SNAPSHOT, REPORT_ON_DEMAND } report_kind_t;
typedef struct uma_report_data_s {
  report_kind_t kind;
  uint64_t t_ms;              /* since start */
  uma_stats_t stats;
  uma_totals_t totals;
  uma_frag_t *exit_walk;      /* NULL when a walk was already running */
  uma_frag_t *peak_walk;      /* NULL when none was taken */
  uint64_t committed, peak_committed, process_resident, process_peak_rss, metadata;
  uint64_t peak_live;         /* the report's L */
  bool live_is_requested;     /* L from the trace (requested bytes) or the counters (block bytes) */
  uint64_t heaps;
  char command[64];
  int gpu_count;                /* devices whose pool was used */
  struct { int id; dev_stats_t st; uma_frag_pool_t free; } gpus[DEV_POOLS];
  bool cuda_unseen;             /* the CUDA driver is loaded, yet no CUDA call reached us */
} uma_report_data_t;
UMA_HIDDEN void report_gather(uma_report_data_t *d, report_kind_t kind);
/* One rule's totals: its large blocks by its own counters, its pooled sizes
 * by the classes it routes. */
typedef struct uma_rule_totals_s { uint64_t allocs, requested, served, live, free_in_pages; } uma_rule_totals_t;
UMA_HIDDEN void report_rule_totals(const uma_report_data_t *d, int r, uma_rule_totals_t *out);
UMA_HIDDEN void report_write_json(int fd, const uma_report_data_t *d);
UMA_HIDDEN void report_write_text(int fd, const uma_report_data_t *d);

#endif
