/* uma-conf — check, explain and dump uma-preload policies.
 *   uma-conf check [FILE]                 exit 0 if valid; else 1, with every error
 *   uma-conf explain [FILE] --source S --size N [--align A] [--caller LIB]
 *   uma-conf dump [FILE]                  the effective settings and their origins
 *   uma-conf defaults                     the shipped uma-preload.conf, from the key table
 *   uma-conf man                          uma-preload.conf(5), from the key table
 * Without FILE, the file the preload would read (UMA_PRELOAD_CONF, the user's,
 * the system's, else the built-in one), plus the UMA_* environment.
 * Exit codes: 0 done, 1 the policy has errors, 2 a wrong command line. */
#include <dlfcn.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../policy/policy.h"
#include "conf_manpage.h"

static pol_config_t cfg;

static int usage(FILE *to, int code) {
  fprintf(to,
          "usage: uma-conf check [FILE]\n"
          "       uma-conf explain [FILE] --source malloc|mmap|cuda-device|cuda-host --size N [--align A] [--caller LIB]\n"
          "       uma-conf dump [FILE]\n"
          "       uma-conf defaults\n"
          "       uma-conf man\n"
          "       uma-conf --help | --version\n"
          "Without FILE: $UMA_PRELOAD_CONF, else $XDG_CONFIG_HOME/uma-preload.conf, else\n"
          "%s/uma-preload.conf, else the built-in defaults; then the UMA_* environment.\n"
          "See uma-conf(1) and uma-preload.conf(5).\n", UMA_SYSCONFDIR);
  return code;
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
  printf("  gpu          %s\n", cuda ? "libcuda.so.1 found: cuda-device, cuda-host and pinned rules apply"
                                    : "no libcuda.so.1: cuda-device, cuda-host and pinned are off");
  if (cuda) dlclose(cuda);
  buf[0] = 0;
  f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (f && fgets(buf, sizeof buf, f)) buf[strcspn(buf, "\n")] = 0;
  if (f) fclose(f);
  printf("  huge pages   transparent_hugepage: %s\n", buf[0] ? buf : "not available (hugepages has no effect)");
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
    { "source", required_argument, NULL, 's' }, { "size", required_argument, NULL, 'z' },
    { "align", required_argument, NULL, 'a' },  { "caller", required_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  const char *file = NULL, *source = "malloc", *caller = NULL;
  size_t size = 0, align = 16;
  bool have_size = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h': return usage(stdout, 0);
    case 'V': printf("uma-conf (uma-preload) %s\n", UMA_VERSION); return 0;
    case 's': source = optarg; break;
    case 'c': caller = optarg; break;
    case 'z':
      if (!parse_size_arg(optarg, &size)) {
        fprintf(stderr, "uma-preload: uma-conf: --size '%s' is not a size (e.g. 4096, 64K, 3M)\n", optarg);
        return 2;
      }
      have_size = true;
      break;
    case 'a':
      if (!parse_size_arg(optarg, &align) || align == 0 || (align & (align - 1))) {
        fprintf(stderr, "uma-preload: uma-conf: --align '%s' is not a power of two\n", optarg);
        return 2;
      }
      break;
    default: return usage(stderr, 2);   /* getopt printed what was wrong */
    }
  }
  if (optind >= argc) return usage(stderr, 2);
  const char *cmd = argv[optind++];
  if (optind < argc) file = argv[optind++];
  if (optind < argc) {
    fprintf(stderr, "uma-preload: uma-conf: unexpected argument '%s' (one FILE at most)\n", argv[optind]);
    return 2;
  }
  if (strcmp(cmd, "defaults") == 0 || strcmp(cmd, "man") == 0) {
    if (file) {
      fprintf(stderr, "uma-preload: uma-conf: %s takes no FILE\n", cmd);
      return 2;
    }
    if (cmd[0] == 'd') pol_write_defaults(1);
    else write_conf_manpage(stdout);
    return 0;
  }
  if (strcmp(cmd, "check") != 0 && strcmp(cmd, "dump") != 0 && strcmp(cmd, "explain") != 0) {
    fprintf(stderr, "uma-preload: uma-conf: unknown command '%s' (check, explain, dump, defaults, man)\n", cmd);
    return 2;
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
  return usage(stderr, 2);
}
