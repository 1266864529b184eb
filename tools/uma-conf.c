/* uma-conf — check, explain and dump uma-preload policies.
 *   uma-conf check [FILE]                 exit 0 if valid; else 1, with every error
 *   uma-conf explain [FILE] --source S --size N [--align A] [--caller LIB]
 *   uma-conf dump [FILE]                  the effective settings and their origins
 *   uma-conf defaults                     the shipped uma-preload.conf, from the key table
 * Without FILE, the file the preload would read (UMA_PRELOAD_CONF, the user's,
 * the system's, else the built-in one), plus the UMA_* environment. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../policy/policy.h"

static pol_config_t cfg;

static int usage(void) {
  fprintf(stderr,
          "usage: uma-conf check [FILE]\n"
          "       uma-conf explain [FILE] --source malloc|mmap|cuda-device|cuda-host --size N [--align A] [--caller LIB]\n"
          "       uma-conf dump [FILE]\n"
          "       uma-conf defaults\n");
  return 2;
}

static bool parse_size_arg(const char *text, size_t *out) {
  pol_value_t v;
  const char *expected;
  if (!pol_value_parse(K_RULE_SIZE, text, strlen(text), &v, &expected) || v.lo != v.hi) return false;
  *out = v.lo;
  return true;
}

/* What this machine turns off, read the way the preload would see it. */
static void machine_facts(void) {
  char buf[256] = "";
  FILE *f = fopen("/sys/devices/system/node/online", "r");
  if (f && fgets(buf, sizeof buf, f)) buf[strcspn(buf, "\n")] = 0;
  if (f) fclose(f);
  bool one_node = buf[0] == 0 || (strchr(buf, '-') == NULL && strchr(buf, ',') == NULL);
  printf("this machine:\n  numa nodes   online: %s%s\n", buf[0] ? buf : "unknown",
         one_node ? " (one node: every placement is local)" : "");
  void *cuda = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (!cuda) cuda = dlopen("libcuda.so.1", RTLD_LAZY);
  printf("  gpu          %s\n", cuda ? "libcuda.so.1 found (this build does not use it yet)"
                                    : "no libcuda.so.1: cuda-device, cuda-host and pinned are off");
  if (cuda) dlclose(cuda);
  buf[0] = 0;
  f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (f && fgets(buf, sizeof buf, f)) buf[strcspn(buf, "\n")] = 0;
  if (f) fclose(f);
  printf("  huge pages   transparent_hugepage: %s\n", buf[0] ? buf : "not available (hugepages has no effect)");
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  const char *cmd = argv[1];
  if (strcmp(cmd, "defaults") == 0) {
    pol_write_defaults(1);
    return 0;
  }
  const char *file = NULL, *source = "malloc", *caller = NULL;
  size_t size = 0, align = 16;
  bool have_size = false;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--source") == 0 && i + 1 < argc) source = argv[++i];
    else if (strcmp(a, "--size") == 0 && i + 1 < argc) {
      if (!parse_size_arg(argv[++i], &size)) {
        fprintf(stderr, "uma-preload: uma-conf: --size '%s' is not a size (e.g. 4096, 64K, 3M)\n", argv[i]);
        return 2;
      }
      have_size = true;
    } else if (strcmp(a, "--align") == 0 && i + 1 < argc) {
      if (!parse_size_arg(argv[++i], &align) || align == 0 || (align & (align - 1))) {
        fprintf(stderr, "uma-preload: uma-conf: --align '%s' is not a power of two\n", argv[i]);
        return 2;
      }
    } else if (strcmp(a, "--caller") == 0 && i + 1 < argc) caller = argv[++i];
    else if (a[0] != '-' && file == NULL) file = a;
    else return usage();
  }
  pol_load(&cfg, file);
  if (strcmp(cmd, "check") == 0) {
    pol_write_diags(&cfg, 2);
    if (cfg.error_count) {
      fprintf(stderr, "uma-preload: %s: %d error%s\n", cfg.source_name, cfg.error_count, cfg.error_count > 1 ? "s" : "");
      return 1;
    }
    printf("%s: valid (%d rule%s)\n", cfg.source_name, cfg.rule_count, cfg.rule_count == 1 ? "" : "s");
    return 0;
  }
  if (cfg.error_count) {
    pol_write_diags(&cfg, 2);
    fprintf(stderr, "uma-preload: %s has errors; `uma-conf check` lists them\n", cfg.source_name);
    return 1;
  }
  if (strcmp(cmd, "dump") == 0) {
    pol_dump(&cfg, 1);
    return 0;
  }
  if (strcmp(cmd, "explain") == 0) {
    unsigned src = 0;
    for (unsigned bit = 1; bit <= UMA_SOURCE_CUDA_HOST; bit <<= 1)
      if (strcmp(source, pol_source_name(bit)) == 0) src = bit;
    if (!src) {
      fprintf(stderr, "uma-preload: uma-conf: unknown --source '%s' (malloc, mmap, cuda-device, cuda-host)\n", source);
      return 2;
    }
    if (!have_size) {
      fprintf(stderr, "uma-preload: uma-conf: explain needs --size (e.g. --size 3M)\n");
      return 2;
    }
    fflush(stdout);
    pol_explain(&cfg, src, size, align, caller, 1);
    machine_facts();
    return 0;
  }
  return usage();
}
