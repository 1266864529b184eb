/* rules_check.c — warnings about rules that parse but do not do what their
 * author may think: a rule that can never match, two rules that overlap,
 * a size bound inside a size class, and actions this build does not apply. */
#include "policy.h"
#include "../core/base.h"
#include "../core/fmt.h"
#include "../core/route.h"
#include "../core/size_class.h"
#include <string.h>

static bool range_covers(size_t alo, size_t ahi, size_t blo, size_t bhi) { return alo <= blo && bhi <= ahi; }
static bool range_meets(size_t alo, size_t ahi, size_t blo, size_t bhi) { return alo <= bhi && blo <= ahi; }

static bool rule_covers(const uma_route_t *a, const uma_route_t *b) {
  return (a->sources & b->sources) == b->sources && range_covers(a->size_lo, a->size_hi, b->size_lo, b->size_hi) &&
         range_covers(a->align_lo, a->align_hi, b->align_lo, b->align_hi) &&
         (a->caller[0] == 0 || strcmp(a->caller, b->caller) == 0);
}

static bool rules_meet(const uma_route_t *a, const uma_route_t *b) {
  return (a->sources & b->sources) && range_meets(a->size_lo, a->size_hi, b->size_lo, b->size_hi) &&
         range_meets(a->align_lo, a->align_hi, b->align_lo, b->align_hi);
}

static void put_size(uma_buf_t *b, size_t v) {
  if (v == SIZE_MAX) buf_str(b, "any");
  else buf_size(b, v);
}

static void warn_rule(pol_config_t *cfg, const pol_rule_t *rule, const char *msg) {
  pol_diag(cfg, false, rule->origin, 0, 0, msg);
}

/* The class that a pooled size bound falls inside, if not on its edge. */
static void check_class_bound(pol_config_t *cfg, const pol_rule_t *rule, size_t first_size_in) {
  if (first_size_in == 0 || first_size_in > UMA_BLOCK_MAX) return;
  unsigned c = sc_of(first_size_in);
  size_t class_lo = c ? sc_size(c - 1) + 1 : 0;
  if (first_size_in == class_lo) return;
  char msg[300];
  uma_buf_t b = { msg, 0, sizeof msg };
  buf_str(&b, "rule '");
  buf_str(&b, rule->route.name);
  buf_str(&b, "': the size bound ");
  buf_u64(&b, first_size_in);
  buf_str(&b, " falls inside the size class ");
  buf_u64(&b, class_lo);
  buf_str(&b, "..");
  buf_u64(&b, sc_size(c));
  buf_str(&b, "; pooled sizes follow the class size, so all of that class goes one way");
  warn_rule(cfg, rule, msg);
}

static void not_in_this_build(pol_config_t *cfg, const pol_rule_t *rule, const char *what, const char *effect) {
  char msg[300];
  uma_buf_t b = { msg, 0, sizeof msg };
  buf_str(&b, "rule '");
  buf_str(&b, rule->route.name);
  buf_str(&b, "': ");
  buf_str(&b, what);
  buf_str(&b, " is checked but not applied by this build; ");
  buf_str(&b, effect);
  warn_rule(cfg, rule, msg);
}

void pol_check_rules(pol_config_t *cfg) {
  for (int j = 0; j < cfg->rule_count; j++) {
    const pol_rule_t *rj = &cfg->rules[j];
    const uma_route_t *b = &rj->route;
    for (int i = 0; i < j; i++) {
      const uma_route_t *a = &cfg->rules[i].route;
      char msg[300];
      uma_buf_t mb = { msg, 0, sizeof msg };
      if (rule_covers(a, b)) {
        buf_str(&mb, "rule '");
        buf_str(&mb, b->name);
        buf_str(&mb, "' can never match: rule '");
        buf_str(&mb, a->name);
        buf_str(&mb, "' at ");
        buf_str(&mb, cfg->rules[i].origin);
        buf_str(&mb, " matches every request it does and comes first (the first match wins)");
        warn_rule(cfg, rj, msg);
        break;
      }
      if (!a->caller[0] && !b->caller[0] && rules_meet(a, b) && !rule_covers(b, a)) {
        buf_str(&mb, "rule '");
        buf_str(&mb, b->name);
        buf_str(&mb, "' overlaps rule '");
        buf_str(&mb, a->name);
        buf_str(&mb, "' at ");
        buf_str(&mb, cfg->rules[i].origin);
        buf_str(&mb, " for sizes ");
        put_size(&mb, a->size_lo > b->size_lo ? a->size_lo : b->size_lo);
        buf_str(&mb, "..");
        put_size(&mb, a->size_hi < b->size_hi ? a->size_hi : b->size_hi);
        buf_str(&mb, "; there the first, '");
        buf_str(&mb, a->name);
        buf_str(&mb, "', wins");
        warn_rule(cfg, rj, msg);
      }
    }
    if (!b->caller[0] && (b->sources & UMA_SOURCE_MALLOC)) {
      check_class_bound(cfg, rj, b->size_lo);
      if (b->size_hi != SIZE_MAX) check_class_bound(cfg, rj, b->size_hi + 1);
    }
    if (strcmp(b->numa, "local") != 0 && (b->sources & UMA_SOURCE_MALLOC) && b->pool != UMA_POOL_LARGE &&
        b->size_lo <= UMA_BLOCK_MAX) {
      char msg[300];
      uma_buf_t mb = { msg, 0, sizeof msg };
      buf_str(&mb, "rule '");
      buf_str(&mb, b->name);
      buf_str(&mb, "': numa placement applies to its blocks above 512K (or all of them with pool = large); "
                   "smaller ones come from the node-local pools of the calling thread");
      warn_rule(cfg, rj, msg);
    }
    if (b->sources & ~(uint32_t)(UMA_SOURCE_MALLOC | UMA_SOURCE_MMAP))
      not_in_this_build(cfg, rj, "a source other than malloc and mmap", "those requests pass through unchanged");
  }
}
