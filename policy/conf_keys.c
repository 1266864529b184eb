/* conf_keys.c — the one table of policy keys: name, type, default, range,
 * help. The parser, `uma-conf` (explain, dump, defaults), the shipped
 * uma-preload.conf (generated from it and checked by the tests) all read it. */
#include "policy.h"
#include <string.h>

#define MS(s) ((int64_t)(s) * 1000)

const pol_key_t pol_keys[K_COUNT] = {
  [K_GENERAL_ON_ERROR] = { "general", "on_error", POL_ENUM, "abort", 0, 0, "abort|defaults",
    "What a preloaded program does when this file or a UMA_* override has an error: "
    "'abort' stops it before main with the messages; 'defaults' prints them and runs "
    "on the built-in defaults (never on a half-applied file)." },
  [K_REPORT_DESTINATION] = { "report", "destination", POL_STRING, "off", 0, 0, NULL,
    "Where the exit summary goes: 'off', 'stderr', or a file path in which %p becomes "
    "the process id (each child of a preloaded program writes its own). UMA_REPORT is "
    "a shorthand for this key. Also %h (host name), %r (rank: RANK, OMPI_COMM_WORLD_RANK "
    "or PMI_RANK, else 0), %t (start time, UTC, YYYYmmdd-HHMMSS), %% (a percent sign)." },
  [K_REPORT_JSON] = { "report", "json", POL_STRING, "off", 0, 0, NULL,
    "Where the JSON report goes (docs/REPORT-FORMAT.md; tools/uma-report reads it): 'off', "
    "'stderr', or a path template like destination's (%p %h %r %t %%)." },
  [K_REPORT_TIMELINE] = { "report", "timeline", POL_DURATION, "100ms", 0, MS(3600), NULL,
    "How often the report's timeline samples live, committed, mapped and resident bytes "
    "(0 for no timeline). Samples are taken on allocation slow paths; 1024 are kept, and "
    "when they fill, every other one is dropped and the interval doubles." },
  [K_REPORT_TIMELINE_BYTES] = { "report", "timeline_bytes", POL_SIZE, "0", 0, INT64_MAX, NULL,
    "Also sample the timeline each time the program has requested this many more bytes "
    "(e.g. 64M; 0 for time only). Counted on allocation slow paths, so a sample may come a "
    "page of blocks late." },
  [K_REPORT_TRACE] = { "report", "trace", POL_BOOL, "no", 0, 1, NULL,
    "Record every allocation's size and lifetime, so the report has the exact peak of "
    "live requested bytes and uma-report can compute what a perfect planner would need. "
    "Slower: every malloc and free takes a lock." },
  [K_REPORT_TRACE_MAX] = { "report", "trace_max", POL_SIZE, "1M", 1, 64 << 20, NULL,
    "How many allocations the trace records at most (a count: 1M = 1,048,576; 24 bytes "
    "each, plus a 16-byte table slot per record); later ones are counted as dropped." },
  [K_REPORT_ON_SIGNAL] = { "report", "on_signal", POL_BOOL, "no", 0, 1, NULL,
    "Also write the reports when SIGTERM or SIGINT ends the program (only where the "
    "program left the signal's default action; the signal then ends it as before)." },
  [K_PURGE_DELAY] = { "purge", "delay", POL_DURATION, "1s", 0, MS(3600), NULL,
    "How long free memory stays resident before it goes back to the OS (pages by "
    "madvise(MADV_DONTNEED), empty segments and large blocks by munmap). Shorter returns "
    "memory sooner; longer avoids returning memory that is reused soon." },
  [K_LARGE_CACHE_MAX] = { "large", "cache_max", POL_SIZE, "128M", 0, INT64_MAX, NULL,
    "How many bytes of freed large blocks (above 512K) are kept mapped for reuse until "
    "the purge delay; a single block above half of this is unmapped at once. Accepts a "
    "share of RAM, e.g. 2%." },

  [K_COALESCING_ABOVE] = { "coalescing", "above", POL_SIZE, "64K", 0, 512 << 10, NULL,
    "Requests whose size class is above this go to the coalescing pool (up to 512K): best "
    "fit, neighbours merged, blocks rounded to the granularity below instead of to a size "
    "class. Lower it (e.g. 256) to trade the size classes' speed for less waste." },
  [K_COALESCING_GRANULARITY] = { "coalescing", "granularity", POL_GRANULARITY, "128K:1K, 512K:4K", 0, 0, NULL,
    "How the coalescing pool (requests above 64K up to 512K) rounds a block, per range: "
    "'UPTO:STEP, ...' in increasing order, the last UPTO 512K; STEP a power of two from 16 "
    "to 64K. Finer steps waste less inside blocks; coarser ones leave fewer odd-sized holes." },
  [K_COALESCING_FIT] = { "coalescing", "fit", POL_ENUM, "best", 0, 0, "best|first",
    "Which free block the coalescing pool takes: 'best' (the smallest that fits, so large "
    "free extents stay whole) or 'first' (the first found that fits; there to measure the "
    "difference)." },

  [K_CUDA_ENABLE] = { "cuda", "enable", POL_BOOL, "yes", 0, 1, NULL,
    "Serve cudaMalloc from uma-preload's device pool (best fit, split and coalesced, one pool "
    "per GPU; a freed block is reused only after every piece of work issued before its free "
    "has finished). 'no' passes every CUDA call straight through." },
  [K_CUDA_DLSYM_ROUTE] = { "cuda", "dlsym_route", POL_BOOL, "yes", 0, 1, NULL,
    "Also reach programs that find the CUDA driver with dlsym (libcudart itself, so CuPy "
    "and JAX): dlsym on a libcuda handle answers with our wrappers for cuGetProcAddress and "
    "cuMemAlloc/cuMemFree/cuMemGetInfo; every other lookup is glibc's. 'no' leaves dlsym "
    "alone (those programs' device memory then bypasses the pool)." },
  [K_CUDA_ROUND] = { "cuda", "round", POL_SIZE, "512", 256, 2 << 20, NULL,
    "The device pool rounds requests up to a multiple of this (at least 256: cudaMalloc "
    "promises 256-byte alignment)." },
  [K_CUDA_MAX_CACHED] = { "cuda", "max_cached", POL_SIZE, "0", 0, INT64_MAX, NULL,
    "The most device memory a pool holds from CUDA (in use or cached); before it would grow "
    "past this, it gives its wholly free segments back. 0: no cap (CUDA's out-of-memory still "
    "makes it give back its cache and retry)." },
  [K_CUDA_RELEASE_THRESHOLD] = { "cuda", "release_threshold", POL_SIZE, "0", 0, INT64_MAX, NULL,
    "Cached free device memory above which wholly free segments go back to CUDA as soon as "
    "they are free. 0: keep them for reuse (cudaMalloc costs 70-900 us)." },
  [K_CUDA_EXPANDABLE] = { "cuda", "expandable", POL_BOOL, "no", 0, 1, NULL,
    "Grow one virtual address range per device with CUDA's virtual memory API (cuMemCreate, "
    "cuMemMap, in 2 MiB granules, as PyTorch's expandable segments do) instead of separate "
    "cudaMalloc segments: free blocks are neighbours, so they merge and serve any later "
    "request, and free granules go back to the device one by one. Off by default: its "
    "memory cannot be shared with cudaIpcGetMemHandle." },
  [K_CUDA_PINNED_POOL] = { "cuda", "pinned_pool", POL_BOOL, "yes", 0, 1, NULL,
    "Serve cudaHostAlloc, cudaMallocHost, cuMemHostAlloc and cuMemAllocHost from a pool of "
    "chunks registered once (placed near the GPU), so a repeated 1 GiB request does not pay "
    "CUDA's 0.4-0.5 s again; a freed block is reused after every context's earlier work is "
    "done. Write-combined requests always go to CUDA." },
  [K_CUDA_PINNED] = { "cuda", "pinned", POL_ENUM, "lazy", 0, 0, "off|lazy|eager",
    "Transparent pinning of large malloc'd blocks that no rule governs (a rule's own "
    "'pinned' decides for its blocks): 'lazy' registers a block with CUDA at the first "
    "copy (cudaMemcpy, cudaMemcpyAsync, cuMemcpy*) that reads or writes it, so that copy "
    "and the next run at DMA speed; 'eager' registers every such block at the first CUDA "
    "call after it was made (never inside malloc: that could deadlock with CUDA's own "
    "locks); 'off' never. Pageable semantics are kept: an async copy from or to such a "
    "block returns once it is done, as from pageable memory. Nothing happens in a program "
    "that never copies to or from a GPU." },
  [K_CUDA_PINNED_MIN] = { "cuda", "pinned_min", POL_SIZE, "1M", 0, INT64_MAX, NULL,
    "Smallest block transparent pinning applies to (registering costs about 30-55 ms per "
    "GiB of touched memory, once per block)." },
  [K_CUDA_PINNED_MAX] = { "cuda", "pinned_max", POL_SIZE, "25%", 0, INT64_MAX, NULL,
    "Most bytes transparent pinning keeps registered (page-locked memory cannot be swapped "
    "or reclaimed); past it, blocks stay pageable and the report counts them. A share of "
    "RAM (e.g. 25%) or a size." },

  [K_ALIAS_COW_MIN] = { "alias", "cow_min", POL_SIZE, "2M", 8192, INT64_MAX, NULL,
    "Smallest memcpy/memmove between two blocks of rules with alias = cow that shares "
    "pages instead of copying bytes (smaller copies cost less than remapping)." },
  [K_ALIAS_COW_INTO] = { "alias", "cow_into", POL_ENUM, "fresh", 0, 0, "fresh|any",
    "Which destinations a copy aliases: 'fresh' only those mostly not in memory yet (a "
    "new buffer, a realloc: aliasing saves their page faults), 'any' also those already "
    "resident (overwriting resident pages is usually faster than unmapping them)." },
  [K_PLAN_HOST] = { "plan", "host", POL_ENUM, "off", 0, 0, "off|auto",
    "Lifetime-planned reuse of large blocks for programs that repeat (training loops, "
    "servers): 'auto' watches the sequence of large requests, and once two periods repeat "
    "exactly, serves the next periods from one arena packed from the observed lifetimes "
    "(blocks whose lifetimes do not overlap share addresses); any deviation goes back to "
    "the ordinary pools at once and the plan is learned again. Single-threaded patterns "
    "only (threads interleaving their requests do not repeat)." },
  [K_PLAN_DEVICE] = { "plan", "device", POL_ENUM, "off", 0, 0, "off|auto",
    "The same for each GPU pool (cudaMalloc, cuMemAlloc): the arena is one allocation of "
    "the packed size. A planned block placed where another was freed since the last fence "
    "waits for the device first (its old work may still run): tighter memory, some "
    "synchronisation." },
  [K_PLAN_DEVICE_STREAMS] = { "plan", "device_streams", POL_ENUM, "any", 0, 0, "any|one",
    "What the program promises about its GPU work on planned memory: 'any' (nothing: a "
    "planned range freed since the last fence is reused only after waiting for the "
    "device), 'one' (all of it runs on one stream in program order, e.g. the default "
    "stream, as PyTorch's allocator assumes per stream: ranges are reused at once, no "
    "waits). A wrong 'one' lets a kernel still running see its memory reused." },
  [K_PLAN_MIN_SIZE] = { "plan", "min_size", POL_SIZE, "1M", 512 << 10, INT64_MAX, NULL,
    "Smallest request the planner watches and plans." },

  [K_RULE_SOURCE] = { "rule", "source", POL_SOURCES, "malloc", 0, 0, "malloc|mmap|cuda-device|cuda-host",
    "Which requests the rule sees: a list of malloc (the malloc family), mmap (anonymous "
    "mmap by the program), cuda-device (cudaMalloc and the driver's allocations), "
    "cuda-host (cudaHostAlloc and friends)." },
  [K_RULE_SIZE] = { "rule", "size", POL_SIZE_RANGE, "0..", 0, INT64_MAX, NULL,
    "Request sizes the rule matches: 'LO..HI', 'LO..', '..HI' or one size (inclusive). "
    "Sizes up to 512K are routed per size class, by the class size served." },
  [K_RULE_ALIGNMENT] = { "rule", "alignment", POL_SIZE_RANGE, "0..", 0, INT64_MAX, NULL,
    "Requested alignments the rule matches, as a range like size ('4K..' matches "
    "posix_memalign and aligned_alloc requests of 4K or more; plain malloc counts as 16)." },
  [K_RULE_CALLER] = { "rule", "caller", POL_GLOB, "", 0, 0, NULL,
    "Glob on the file name of the shared object that called (e.g. 'libtorch_cpu.so*'; "
    "the program itself is ''). Looked up for requests above 512K only, where the cost "
    "is negligible; a rule with a caller never matches smaller requests." },
  [K_RULE_POOL] = { "rule", "pool", POL_ENUM, "auto", 0, 0, "auto|large",
    "Which pool serves the rule's requests: 'auto' (by size: size classes up to 512K, "
    "whole mappings above), or 'large' (a whole mapping of its own, whatever the size)." },
  [K_RULE_NUMA] = { "rule", "numa", POL_PLACEMENT, "local", 0, 0,
    "local|bind|preferred|preferred-many|interleave|weighted-interleave|tier|near-gpu",
    "NUMA placement: local, bind:NODES, preferred:N, preferred-many:NODES, "
    "interleave:NODES, weighted-interleave:N=W,..., tier:fast|slow, near-gpu:K. Applied "
    "with mbind before first touch to blocks above 512K, pool = large and source = mmap; "
    "smaller blocks come from node-local pools. Nodes this process may not use are left "
    "out, and the report says what was applied." },
  [K_RULE_HUGEPAGES] = { "rule", "hugepages", POL_ENUM, "madvise", 0, 0, "madvise|never|always",
    "Transparent huge pages for the rule's large blocks: 'always' asks for them "
    "(MADV_HUGEPAGE), 'never' forbids them (MADV_NOHUGEPAGE), 'madvise' leaves the "
    "system setting in charge." },
  [K_RULE_PINNED] = { "rule", "pinned", POL_ENUM, "off", 0, 0, "off|lazy|eager",
    "Page-locked (pinned) host memory for fast GPU copies of the rule's large blocks: off, "
    "lazy (registered with CUDA at the first copy that touches the block), eager "
    "(registered at the first CUDA call after the block was made). Blocks no rule governs "
    "follow [cuda] pinned." },
  [K_RULE_ALIAS] = { "rule", "alias", POL_ENUM, "mremap", 0, 0, "mremap|off|cow",
    "How the rule's large blocks move and copy: 'mremap' moves page mappings on realloc (no "
    "bytes copied); 'off' copies; 'cow' backs the blocks by a memory file so that realloc "
    "and a memcpy/memmove of at least [alias] cow_min between two such blocks share the "
    "pages copy-on-write (the first write to either side copies that page). cow costs a "
    "copy of these blocks in the child at every fork." },
  [K_RULE_PURGE_DELAY] = { "rule", "purge_delay", POL_DURATION, "default", -1, MS(3600), NULL,
    "Purge delay for the rule's large blocks, instead of [purge] delay ('default' keeps "
    "that one)." },
  [K_RULE_TRACK] = { "rule", "track", POL_BOOL, "yes", 0, 1, NULL,
    "Whether the exit summary lists the rule by name with its allocations and bytes." },
};

static bool name_is(const char *a, const char *b, size_t blen) {
  return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

/* The key's id, or -1. Rule keys are looked up with section "rule". */
int pol_key_find(const char *section, const char *name, size_t name_len) {
  for (int k = 0; k < K_COUNT; k++)
    if (strcmp(pol_keys[k].section, section) == 0 && name_is(pol_keys[k].name, name, name_len)) return k;
  return -1;
}

static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb) {
  size_t row[64];
  if (la >= 63 || lb >= 63) return 99;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The closest key of the section within two edits, for "did you mean". */
const char *pol_key_suggest(const char *section, const char *name, size_t name_len) {
  const char *best = NULL;
  size_t best_d = 3;
  for (int k = 0; k < K_COUNT; k++) {
    if (strcmp(pol_keys[k].section, section) != 0) continue;
    size_t d = edit_distance(name, name_len, pol_keys[k].name, strlen(pol_keys[k].name));
    if (d < best_d) { best_d = d; best = pol_keys[k].name; }
  }
  return best;
}

const char *pol_type_name(pol_type_t type) {
  switch (type) {
  case POL_BOOL: return "a boolean (yes, no, true, false, on, off, 1, 0)";
  case POL_SIZE: return "a size (bytes, or with K, M, G, T, or a share of RAM like 60%)";
  case POL_DURATION: return "a duration (e.g. 250ms, 2s, 1m; 0 for at once)";
  case POL_ENUM: return "one of";
  case POL_STRING: return "text";
  case POL_SIZE_RANGE: return "a size range (LO..HI, LO.., ..HI or one size; e.g. 64M..)";
  case POL_SOURCES: return "a list of sources";
  case POL_GLOB: return "a file-name pattern (*, ?, [...]; up to 63 characters)";
  case POL_PLACEMENT: return "a NUMA placement";
  case POL_GRANULARITY: return "a list of UPTO:STEP sizes (e.g. 128K:1K, 512K:4K)";
  }
  return "a value";
}
