/* limits.h — quotas, alarms and pressure ([limits], limits.c). */
#ifndef UMA_LIMITS_H
#define UMA_LIMITS_H
#include "base.h"
#include "json.h"

typedef struct limit_stats_s {
  _Atomic uint64_t alarms;
  char last_alarm[160];                     /* the last alarm's line, without its prefix */
  /* degradation under pressure (limits_degrade): passes and what each step gave back */
  uint64_t degrade_passes, purged_bytes, pinned_pool_bytes, gpu_bytes, unpinned_bytes;
  bool pageable_only;                       /* transparent pinning stopped */
  char last_degrade[96];                    /* why the last pass ran */
  uint64_t cgroup_max, cgroup_pressures;    /* memory.max of our cgroup (0: none); crossings */
} limit_stats_t;
UMA_HIDDEN extern unsigned limit_alarm_pct;            /* 0: no alarms */
UMA_HIDDEN extern unsigned limit_pressure_pct;         /* of the cgroup's memory.max; 0: not watched */
UMA_HIDDEN uint64_t limits_cgroup_max(const char *root, char *current_path, size_t cap);   /* 0: no limit */
UMA_HIDDEN extern char limit_alarm_to[256], limit_alarm_command[256];
UMA_HIDDEN extern limit_stats_t limit_stats;
UMA_HIDDEN bool limits_alarms_wanted(void);
UMA_HIDDEN void limits_start(void);   /* the helper thread's look, as a job (ticker.h) */
UMA_HIDDEN void limits_tick(uint64_t now_ms);         /* the helper thread's look */
UMA_HIDDEN void limits_write_text(int fd);
UMA_HIDDEN void limits_write_json(uma_json_t *j);

#endif
