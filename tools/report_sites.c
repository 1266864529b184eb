/* report_sites.c — the report's sampled call sites, named: each return
 * address is found in the process's executable mappings (the report's
 * "modules"), turned into the file's virtual address through its ELF
 * program headers, and named by binutils' addr2line (function and
 * file:line; "??" where the file has no symbols). Nothing is symbolised in
 * the preload: the program never pays for it. Lists the top sites by bytes
 * live at the peak snapshot, by bytes live at exit (the leak report) and
 * by bytes allocated (churn). */
#define _GNU_SOURCE
#include "uma-report.h"
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#define TOP 8
#define FRAMES_SHOWN 6

typedef struct frame_name_s { uint64_t addr; char *name; } frame_name_t;
static frame_name_t *names;
static size_t name_count, name_cap;

/* The virtual address in the file of a byte at file offset `off`. */
static int vaddr_of(const char *path, uint64_t off, uint64_t *out) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  Elf64_Ehdr eh;
  int ok = 0;
  if (fread(&eh, sizeof eh, 1, f) == 1 && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64) {
    for (int i = 0; i < eh.e_phnum && !ok; i++) {
      Elf64_Phdr ph;
      if (fseek(f, (long)(eh.e_phoff + (uint64_t)i * eh.e_phentsize), SEEK_SET) != 0 || fread(&ph, sizeof ph, 1, f) != 1) break;
      if (ph.p_type == PT_LOAD && off >= ph.p_offset && off < ph.p_offset + ph.p_filesz) {
        *out = off - ph.p_offset + ph.p_vaddr;
        ok = 1;
      }
    }
  }
  fclose(f);
  return ok;
}

static const char *lookup(uint64_t addr) {
  for (size_t i = 0; i < name_count; i++)
    if (names[i].addr == addr) return names[i].name;
  return NULL;
}

static void remember(uint64_t addr, const char *name) {
  if (name_count == name_cap) {
    name_cap = name_cap ? 2 * name_cap : 256;
    names = realloc(names, name_cap * sizeof *names);
    if (!names) exit(2);
  }
  names[name_count++] = (frame_name_t){ addr, strdup(name) };
}

/* Names every frame of the report's sites: one addr2line per module. */
static void name_frames(json_t *sites) {
  json_t *modules = json_object_get(sites, "modules"), *list = json_object_get(sites, "list");
  size_t mi, si, fi;
  json_t *m, *s, *fr;
  json_array_foreach(modules, mi, m) {
    uint64_t lo = u64(m, "start"), hi = u64(m, "end"), off = u64(m, "offset");
    const char *path = str(m, "path");
    char cmd[8192];
    int len = snprintf(cmd, sizeof cmd, "addr2line -f -C -e '%s'", path);
    if (strchr(path, '\'') || len <= 0) continue;
    uint64_t wanted[512];
    size_t n = 0;
    json_array_foreach(list, si, s) json_array_foreach(json_object_get(s, "frames"), fi, fr) {
      uint64_t a = (uint64_t)json_integer_value(fr);
      if (a < lo || a >= hi || lookup(a) || n == 512) continue;
      int dup = 0;
      for (size_t k = 0; k < n; k++) dup |= wanted[k] == a;
      if (dup) continue;
      uint64_t v;
      /* a return address: the call is the instruction before it */
      if (!vaddr_of(path, a - 1 - lo + off, &v)) continue;
      if ((size_t)len + 20 >= sizeof cmd) break;
      len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %#llx", (unsigned long long)v);
      wanted[n++] = a;
    }
    if (n == 0) continue;
    strcat(cmd, " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    if (!p) continue;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (size_t k = 0; k < n; k++) {
      char fn[512] = "??", where[1024] = "??";
      if (!fgets(fn, sizeof fn, p) || !fgets(where, sizeof where, p)) break;
      fn[strcspn(fn, "\n")] = 0;
      where[strcspn(where, "\n")] = 0;
      char *disc = strstr(where, " (discriminator");
      if (disc) *disc = 0;
      const char *file = strrchr(where, '/') ? strrchr(where, '/') + 1 : where;
      char name[1600];
      if (strncmp(file, "??", 2) == 0) snprintf(name, sizeof name, "%s (%s)", fn, base);
      else snprintf(name, sizeof name, "%s %s", fn, file);
      remember(wanted[k], name);
    }
    pclose(p);
  }
}

static const char *frame_name(uint64_t a, char *buf, size_t cap) {
  const char *n = lookup(a);
  if (n) return n;
  snprintf(buf, cap, "%#llx", (unsigned long long)a);
  return buf;
}

static const char *order_key(sites_order_t o) {
  return o == SITES_BY_PEAK ? "live_at_peak_bytes" : o == SITES_BY_LIVE ? "live_bytes" : "allocated_bytes";
}

static const char *sort_key;
static int by_key_desc(const void *a, const void *b) {
  uint64_t x = u64(*(json_t *const *)a, sort_key), y = u64(*(json_t *const *)b, sort_key);
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The report's sites sorted by `o`, biggest first; *n of them. */
static json_t **sorted(const report_t *r, sites_order_t o, size_t *n) {
  json_t *list = json_object_get(json_object_get(r->root, "sites"), "list");
  *n = json_array_size(list);
  json_t **v = calloc(*n + 1, sizeof *v);
  for (size_t i = 0; i < *n; i++) v[i] = json_array_get(list, i);
  sort_key = order_key(o);
  qsort(v, *n, sizeof *v, by_key_desc);
  return v;
}

static int named;
static void ensure_named(const report_t *r) {
  if (!named) name_frames(json_object_get(r->root, "sites"));
  named = 1;
}

static void print_order(const report_t *r, sites_order_t o, const char *title) {
  size_t n;
  json_t **v = sorted(r, o, &n);
  const char *key = order_key(o);
  if (n == 0 || u64(v[0], key) == 0) { free(v); return; }
  printf("  %s\n", title);
  for (size_t i = 0; i < n && i < TOP && u64(v[i], key) > 0; i++) {
    char b[32], buf[32];
    human(b, sizeof b, (double)u64(v[i], key));
    json_t *frames = json_object_get(v[i], "frames");
    printf("    %10s  %s\n", b, frame_name((uint64_t)json_integer_value(json_array_get(frames, 0)), buf, sizeof buf));
    for (size_t f = 1; f < json_array_size(frames) && f < FRAMES_SHOWN; f++)
      printf("    %10s    from %s\n", "", frame_name((uint64_t)json_integer_value(json_array_get(frames, f)), buf, sizeof buf));
  }
  free(v);
}

void print_sites(const report_t *r) {
  json_t *sites = json_object_get(r->root, "sites");
  if (!json_is_object(sites)) return;
  ensure_named(r);
  char mean[32];
  human(mean, sizeof mean, (double)u64(sites, "mean_bytes"));
  printf("  call sites (%llu samples, one per %s allocated on average; bytes are estimates)\n",
         (unsigned long long)u64(sites, "samples"), mean);
  print_order(r, SITES_BY_PEAK, "live at the peak footprint:");
  print_order(r, SITES_BY_LIVE, "live at exit (leaks, or data kept to the end):");
  print_order(r, SITES_BY_CHURN, "allocated over the run (churn):");
}

static void html_text(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '&') fputs("&amp;", f);
    else fputc(*s, f);
  }
}

/* The call-site table: a row per site among the top of any order. */
void html_sites(FILE *f, const report_t *r) {
  json_t *sites = json_object_get(r->root, "sites");
  if (!json_is_object(sites)) return;
  ensure_named(r);
  size_t n;
  json_t **v = sorted(r, SITES_BY_PEAK, &n);
  fprintf(f, "<h3>Call sites (sampled; estimated bytes)</h3>\n<table class=\"sites\"><tr><th>live at peak</th>"
             "<th>live at exit</th><th>allocated</th><th>samples</th><th class=\"l\">where (innermost first)</th></tr>\n");
  for (size_t i = 0; i < n && i < 20; i++) {
    char a[32], b[32], c[32], buf[32];
    human(a, sizeof a, (double)u64(v[i], "live_at_peak_bytes"));
    human(b, sizeof b, (double)u64(v[i], "live_bytes"));
    human(c, sizeof c, (double)u64(v[i], "allocated_bytes"));
    fprintf(f, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%llu</td><td class=\"l\">", a, b, c,
            (unsigned long long)u64(v[i], "samples"));
    json_t *frames = json_object_get(v[i], "frames");
    for (size_t k = 0; k < json_array_size(frames) && k < FRAMES_SHOWN; k++) {
      if (k) fputs(" &larr; ", f);
      html_text(f, frame_name((uint64_t)json_integer_value(json_array_get(frames, k)), buf, sizeof buf));
    }
    fprintf(f, "</td></tr>\n");
  }
  fprintf(f, "</table>\n");
  free(v);
}

/* A flame graph of bytes allocated: the sites' stacks merged from the
 * outermost frame, each box as wide as its bytes, drawn as SVG. */
typedef struct node_s { uint64_t addr, bytes; struct node_s *child, *next; } node_t;

static node_t *child_of(node_t *parent, uint64_t addr) {
  for (node_t *c = parent->child; c; c = c->next)
    if (c->addr == addr) return c;
  node_t *c = calloc(1, sizeof *c);
  c->addr = addr;
  c->next = parent->child;
  parent->child = c;
  return c;
}

static void draw(FILE *f, const node_t *n, double x, int depth, double scale, int *drawn) {
  double cx = x;
  for (const node_t *c = n->child; c; c = c->next) {
    double w = (double)c->bytes * scale;
    if (w >= 2 && depth < 24) {
      char buf[32], size[32];
      const char *name = frame_name(c->addr, buf, sizeof buf);
      human(size, sizeof size, (double)c->bytes);
      int hue = (int)((c->addr * 2654435761u) % 40) + 10;
      fprintf(f, "<g><title>");
      html_text(f, name);
      fprintf(f, ": %s</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"15\" fill=\"hsl(%d,80%%,60%%)\" "
                 "stroke=\"#fff\"/>", size, cx, 398 - 16 * (depth + 1), w, hue);
      if (w > 60) {
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" clip-path=\"none\">", cx + 3, 398 - 16 * (depth + 1) + 11);
        char shortname[64];
        snprintf(shortname, sizeof shortname, "%.*s", (int)(w / 6.5), name);
        html_text(f, shortname);
        fprintf(f, "</text>");
      }
      fprintf(f, "</g>\n");
      (*drawn)++;
      draw(f, c, cx, depth + 1, scale, drawn);
    }
    cx += w;
  }
}

void html_flame(FILE *f, const report_t *r) {
  json_t *list = json_object_get(json_object_get(r->root, "sites"), "list");
  if (json_array_size(list) == 0) return;
  ensure_named(r);
  node_t root = { 0 };
  size_t i;
  json_t *s;
  json_array_foreach(list, i, s) {
    uint64_t bytes = u64(s, "allocated_bytes");
    json_t *frames = json_object_get(s, "frames");
    root.bytes += bytes;
    node_t *at = &root;
    for (size_t k = json_array_size(frames); k-- > 0;) {
      at = child_of(at, (uint64_t)json_integer_value(json_array_get(frames, k)));
      at->bytes += bytes;
    }
  }
  fprintf(f, "<figure><figcaption>Bytes allocated by call stack (sampled; outermost frame at the bottom, hover "
             "for names and bytes)</figcaption>\n<svg class=\"pic\" width=\"1000\" height=\"400\" viewBox=\"0 0 1000 400\" "
             "xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\">\n");
  int drawn = 0;
  draw(f, &root, 0, 0, root.bytes ? 1000.0 / (double)root.bytes : 0, &drawn);
  fprintf(f, "</svg></figure>\n");
}
