/* numa_report.h — NUMA in the report (numa_report.c). */
#ifndef UMA_NUMA_REPORT_H
#define UMA_NUMA_REPORT_H
#include "base.h"
#include "json.h"

UMA_HIDDEN void numa_census_mapping(const void *base, uint8_t kind);
UMA_HIDDEN void numa_census_mmap(void);
UMA_HIDDEN void numa_write_text(int fd);
UMA_HIDDEN void numa_write_json(uma_json_t *j);

#endif
