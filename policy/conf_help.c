/* conf_help.c — what each policy key means, for `uma-conf defaults` (the
 * comments of the shipped uma-preload.conf) and `uma-conf explain`. Apart
 * from the key table so that the preload, which never prints it, does not
 * carry it: the link drops data nothing references, and this is 8 KB of
 * resident pages in every process. */
#include "policy.h"

const char *const pol_key_help[K_COUNT] = {
  [K_GENERAL_ON_ERROR] =
    "What a preloaded program does when this file or a UMA_* override has an error: "
    "'abort' stops it before main with the messages; 'defaults' prints them and runs "
    "on the built-in defaults (never on a half-applied file).",
  [K_REPORT_DESTINATION] =
    "Where the exit summary goes: 'off', 'stderr', 'stdout', or a file path in which %p "
    "becomes the process id (each child of a preloaded program writes its own). UMA_REPORT "
    "is a shorthand for this key. Also %h (host name), %r (rank: RANK, OMPI_COMM_WORLD_RANK "
    "or PMI_RANK, else 0; characters other than letters, digits, - and _ become _), %t "
    "(start time, UTC, YYYYmmdd-HHMMSS), %% (a percent sign). A file is written beside the "
    "path and renamed over it, so nothing is written through a link; a symbolic link, FIFO, "
    "device, directory or another user's file at the path is refused (the report then goes "
    "to stderr).",
  [K_REPORT_JSON] =
    "Where the JSON report goes (docs/REPORT-FORMAT.md; tools/uma-report reads it): 'off', "
    "'stderr', 'stdout', or a path template like destination's (%p %h %r %t %%), written "
    "the same safe way.",
  [K_REPORT_TIMELINE] =
    "How often the report's timeline samples live, committed, mapped and resident bytes "
    "(0 for no timeline). Samples are taken on a clock by a helper thread that sleeps in "
    "between and never allocates (started only while a report is written), so a program "
    "holding still shows flat; 1024 are kept, and when they fill, every other one is "
    "dropped and the interval doubles.",
  [K_REPORT_TIMELINE_BYTES] =
    "Also sample the timeline each time the program has requested this many more bytes "
    "(e.g. 64M; 0 for time only). Counted on allocation slow paths, so a sample may come a "
    "page of blocks late.",
  [K_REPORT_TRACE] =
    "Record every allocation's size and lifetime, so the report has the exact peak of "
    "live requested bytes and uma-report can compute what a perfect planner would need. "
    "Slower: every malloc and free takes a lock.",
  [K_REPORT_TRACE_MAX] =
    "How many allocations the trace records at most (a count: 1M = 1,048,576; 24 bytes "
    "each, plus a 16-byte table slot per record); later ones are counted as dropped.",
  [K_REPORT_ON_SIGNAL] =
    "Also write the reports when SIGTERM or SIGINT ends the program (only where the "
    "program left the signal's default action; the signal then ends it as before). On by "
    "default: Python's multiprocessing pools end their workers with SIGTERM.",
  [K_REPORT_INTERVAL] =
    "Also write the reports every this long while the program runs (0: only at exit), each "
    "replacing the last, so a process killed by the OOM killer or SIGKILL leaves its last "
    "state; such a report is headed 'snapshot', not 'exit summary'.",
  [K_REPORT_LIVE] =
    "Publish this process's counters (footprint, live bytes, RSS, pinned and GPU memory, "
    "quotas, alarms) in a page under /dev/shm that uma-top shows, refreshed every 0.5 s by "
    "the helper thread: 'auto' whenever that thread runs anyway (a footprint over [purge] "
    "background_above, a timeline, alarms), 'yes' always (the thread is started for it), "
    "'no' never. Nothing on malloc's paths.",
  [K_REPORT_DUMP_SIGNAL] =
    "A signal that writes the reports on demand (kill -USR2 PID) and lets the program run "
    "on: 'off', 'SIGUSR1' or 'SIGUSR2' (only where the program left the signal's default "
    "action, which would have ended it).",
  [K_REPORT_SAMPLE] =
    "Sample the call stacks of allocations, on average one per this many bytes requested "
    "(tcmalloc's byte sampling; 0: off): the report then lists the call sites by peak "
    "bytes, by bytes live at exit (the leak report) and by churn, and uma-report names "
    "their functions and lines. Only while a report is written.",
  [K_REPORT_MIN_PEAK] =
    "Write no report for a process whose peak footprint stayed below this (e.g. 16M), so "
    "the many small helpers of a job (a shell wrapper's children) do not drown the one "
    "that matters.",
  [K_REPORT_COMMAND] =
    "Write reports only for processes whose command name (/proc/self/comm) matches this "
    "pattern (*, ?, [...]), e.g. 'python*'; empty: every process.",
  [K_PURGE_DELAY] =
    "How long free memory stays resident before it goes back to the OS (pages by "
    "madvise(MADV_DONTNEED), empty segments and large blocks by munmap). Shorter returns "
    "memory sooner; longer avoids returning memory that is reused soon.",
  [K_PURGE_BACKGROUND] =
    "Return free memory after the purge delay even when the program stops allocating: "
    "a helper thread, started once the footprint reaches background_above, looks every "
    "quarter of the delay. 'no' keeps the process free of threads of ours (a program that "
    "must stay single-threaded, e.g. for unshare(CLONE_NEWUSER)); memory then goes back "
    "only from allocation slow paths, malloc_trim and uma_collect.",
  [K_PURGE_BACKGROUND_ABOVE] =
    "The footprint (committed bytes) at which the purge helper thread starts; below it "
    "a program never gets one. 0: at the first allocation slow path.",
  [K_LARGE_CACHE_MAX] =
    "How many bytes of freed large blocks (above 512K) are kept mapped for reuse until "
    "the purge delay; a single block above half of this is unmapped at once. Accepts a "
    "share of RAM, e.g. 2%.",
  [K_COALESCING_ABOVE] =
    "Requests whose size class is above this go to the coalescing pool (up to 512K): best "
    "fit, neighbours merged, blocks rounded to the granularity below instead of to a size "
    "class. Lower it (e.g. 256) to trade the size classes' speed for less waste.",
  [K_COALESCING_GRANULARITY] =
    "How the coalescing pool (requests above 64K up to 512K) rounds a block, per range: "
    "'UPTO:STEP, ...' in increasing order, the last UPTO 512K; STEP a power of two from 16 "
    "to 64K. Finer steps waste less inside blocks; coarser ones leave fewer odd-sized holes.",
  [K_COALESCING_FIT] =
    "Which free block the coalescing pool takes: 'best' (the smallest that fits, so large "
    "free extents stay whole) or 'first' (the first found that fits; there to measure the "
    "difference).",
  [K_CUDA_ENABLE] =
    "Serve cudaMalloc from uma-preload's device pool (best fit, split and coalesced, one pool "
    "per GPU; a freed block is reused only after every piece of work issued before its free "
    "has finished). 'no' passes every CUDA call straight through.",
  [K_CUDA_DLSYM_ROUTE] =
    "Also reach programs that find the CUDA driver with dlsym (libcudart itself, so CuPy "
    "and JAX): dlsym on a libcuda handle answers with our wrappers for cuGetProcAddress and "
    "cuMemAlloc/cuMemFree/cuMemGetInfo; every other lookup is glibc's. 'no' leaves dlsym "
    "alone (those programs' device memory then bypasses the pool).",
  [K_CUDA_ROUND] =
    "The device pool rounds requests up to a multiple of this (at least 256: cudaMalloc "
    "promises 256-byte alignment).",
  [K_CUDA_MAX_CACHED] =
    "The most device memory a pool holds from CUDA (in use or cached); before it would grow "
    "past this, it gives its wholly free segments back. 0: no cap (CUDA's out-of-memory still "
    "makes it give back its cache and retry).",
  [K_CUDA_RELEASE_THRESHOLD] =
    "Cached free device memory above which wholly free segments go back to CUDA as soon as "
    "they are free. 0: keep them for reuse (cudaMalloc costs 70-900 us).",
  [K_CUDA_SHARE_WAIT] =
    "Several processes on one GPU: when an allocation fails although this process gave its "
    "own cache back, and other processes under the preload hold idle device memory on that "
    "GPU, they are asked (through a page in /dev/shm) to give it back, and the allocation "
    "waits at most this long for them before CUDA's out-of-memory is returned. Each process"
    " answers from a helper thread, so an idle process's cache never starves a busy one. 0:"
    " no sharing (no page, no helper).",
  [K_CUDA_EXPANDABLE] =
    "Grow one virtual address range per device with CUDA's virtual memory API (cuMemCreate, "
    "cuMemMap, in 2 MiB granules, as PyTorch's expandable segments do) instead of separate "
    "cudaMalloc segments: free blocks are neighbours, so they merge and serve any later "
    "request, and free granules go back to the device one by one. Off by default: its "
    "memory cannot be shared with cudaIpcGetMemHandle.",
  [K_CUDA_PINNED_POOL] =
    "Serve cudaHostAlloc, cudaMallocHost, cuMemHostAlloc and cuMemAllocHost from a pool of "
    "chunks registered once (placed near the GPU), so a repeated 1 GiB request does not pay "
    "CUDA's 0.4-0.5 s again; a freed block is reused after every context's earlier work is "
    "done. Write-combined requests always go to CUDA.",
  [K_CUDA_PINNED] =
    "Transparent pinning of large malloc'd blocks that no rule governs (a rule's own "
    "'pinned' decides for its blocks): 'lazy' registers a block with CUDA at the first "
    "copy (cudaMemcpy, cudaMemcpyAsync, cuMemcpy*) that reads or writes it, so that copy "
    "and the next run at DMA speed; 'eager' registers every such block at the first CUDA "
    "call after it was made (never inside malloc: that could deadlock with CUDA's own "
    "locks); 'off' never. Pageable semantics are kept: an async copy from or to such a "
    "block returns once it is done, as from pageable memory. Nothing happens in a program "
    "that never copies to or from a GPU.",
  [K_CUDA_PINNED_MIN] =
    "Smallest block transparent pinning applies to (registering costs about 30-55 ms per "
    "GiB of touched memory, once per block).",
  [K_CUDA_PINNED_MAX] =
    "Most bytes transparent pinning keeps registered (page-locked memory cannot be swapped "
    "or reclaimed); past it, blocks stay pageable and the report counts them. A share of "
    "RAM (e.g. 25%) or a size.",
  [K_LIMITS_HEAP] =
    "The most memory this process's heap may hold (the footprint P: pages in use or dirty, "
    "large blocks). Past it a request that needs more from the OS fails: the heap gives its"
    " caches back and tries once more, then malloc returns NULL with errno ENOMEM, as at "
    "the end of memory. Checked where the heap maps more (4 MiB segments, large blocks), so"
    " P may pass it by what mapped segments still have free. A size or a share of RAM (e.g."
    " 50%); 0: no quota.",
  [K_LIMITS_PINNED] =
    "The most page-locked host memory: the pinned pool's chunks (cudaHostAlloc and the like"
    " fail past it, after the pool gave its cache back) and transparent registrations (left"
    " pageable past it; [cuda] pinned_max bounds those alone). Page-locked memory cannot be"
    " swapped or reclaimed: too much of it starves the rest of the machine. A size or a "
    "share of RAM; 0: no quota.",
  [K_LIMITS_GPU] =
    "The most device memory this process's pools may hold on each GPU (cudaMalloc and "
    "cuMemAlloc together); past it an allocation fails as CUDA's out-of-memory does, after "
    "the pool gave its own cache back, and cudaMemGetInfo, cuMemGetInfo and "
    "cuDeviceTotalMem report it as the device's size, so frameworks size themselves by it "
    "(JAX preallocates its share of it). Memory CUDA serves itself (cudaMallocAsync, "
    "managed, cuMemCreate) is counted in the report, not held to it. A size (a % here would"
    " mean of RAM); 0: no quota.",
  [K_LIMITS_ALARM] =
    "Raise an alarm when a quota's use reaches this percentage of it (heap, pinned, and "
    "each GPU's): one line to alarm_to and alarm_command run, once per crossing; the alarm "
    "re-arms when the use falls 10 points below. Looked at every 100 ms by the helper "
    "thread. 0: no alarms.",
  [K_LIMITS_ALARM_TO] =
    "Where an alarm's line goes: stderr, syslog, or a file it is appended to (never through"
    " a symbolic link, never another user's file).",
  [K_LIMITS_ALARM_COMMAND] =
    "A command run by /bin/sh at each alarm, with UMA_ALARM_WHAT (heap, pinned host memory,"
    " gpuN), UMA_ALARM_BYTES, UMA_ALARM_LIMIT and UMA_ALARM_PID in its environment; off: "
    "none.",
  [K_LIMITS_PRESSURE] =
    "When the process's cgroup (v2) uses this percentage of its memory.max (looked at every"
    " second by the helper thread, when it runs), the process gives memory back in order: "
    "free pages and cached mappings to the OS at once, the pinned pools' free chunks, then "
    "transparent pinning stops (registered cached mappings go); once per crossing, re-armed"
    " 10 points below. An alarm runs the same steps for its quota. 0: the cgroup is not "
    "watched.",
  [K_ALIAS_COW_MIN] =
    "Smallest memcpy/memmove between two blocks of rules with alias = cow that shares "
    "pages instead of copying bytes (smaller copies cost less than remapping).",
  [K_ALIAS_COW_INTO] =
    "Which destinations a copy aliases: 'fresh' only those mostly not in memory yet (a "
    "new buffer, a realloc: aliasing saves their page faults), 'any' also those already "
    "resident (overwriting resident pages is usually faster than unmapping them).",
  [K_PLAN_HOST] =
    "Lifetime-planned reuse of large blocks for programs that repeat (training loops, "
    "servers): 'auto' watches the sequence of large requests, and once two periods repeat "
    "exactly, serves the next periods from one arena packed from the observed lifetimes "
    "(blocks whose lifetimes do not overlap share addresses); any deviation goes back to "
    "the ordinary pools at once and the plan is learned again. Single-threaded patterns "
    "only (threads interleaving their requests do not repeat).",
  [K_PLAN_DEVICE] =
    "The same for each GPU pool (cudaMalloc, cuMemAlloc): the arena is one allocation of "
    "the packed size. A planned block placed where another was freed since the last fence "
    "waits for the device first (its old work may still run): tighter memory, some "
    "synchronisation.",
  [K_PLAN_DEVICE_STREAMS] =
    "What the program promises about its GPU work on planned memory: 'any' (nothing: a "
    "planned range freed since the last fence is reused only after waiting for the "
    "device), 'one' (all of it runs on one stream in program order, e.g. the default "
    "stream, as PyTorch's allocator assumes per stream: ranges are reused at once, no "
    "waits). A wrong 'one' lets a kernel still running see its memory reused.",
  [K_PLAN_MIN_SIZE] =
    "Smallest request the planner watches and plans.",
  [K_RULE_SOURCE] =
    "Which requests the rule sees: a list of malloc (the malloc family), mmap (anonymous "
    "mmap by the program), cuda-device (cudaMalloc and the driver's allocations), "
    "cuda-host (cudaHostAlloc and friends).",
  [K_RULE_SIZE] =
    "Request sizes the rule matches: 'LO..HI', 'LO..', '..HI' or one size (inclusive). "
    "Sizes up to 512K are routed per size class, by the class size served.",
  [K_RULE_ALIGNMENT] =
    "Requested alignments the rule matches, as a range like size ('4K..' matches "
    "posix_memalign and aligned_alloc requests of 4K or more; plain malloc counts as 16).",
  [K_RULE_CALLER] =
    "Glob on the file name of the shared object that called (e.g. 'libtorch_cpu.so*'; "
    "the program itself is ''). Looked up for requests above 512K only, where the cost "
    "is negligible; a rule with a caller never matches smaller requests.",
  [K_RULE_POOL] =
    "Which pool serves the rule's requests: 'auto' (by size: size classes up to 512K, "
    "whole mappings above), or 'large' (a whole mapping of its own, whatever the size).",
  [K_RULE_NUMA] =
    "NUMA placement: local, bind:NODES, preferred:N, preferred-many:NODES, "
    "interleave:NODES, weighted-interleave:N=W,..., tier:fast|slow, near-gpu:K. Applied "
    "with mbind before first touch to blocks above 512K, pool = large and source = mmap; "
    "smaller blocks come from node-local pools. Nodes this process may not use are left "
    "out, and the report says what was applied.",
  [K_RULE_HUGEPAGES] =
    "Transparent huge pages for the rule's large blocks: 'always' asks for them "
    "(MADV_HUGEPAGE), 'never' forbids them (MADV_NOHUGEPAGE), 'madvise' leaves the "
    "system setting in charge.",
  [K_RULE_PINNED] =
    "Page-locked (pinned) host memory for fast GPU copies of the rule's large blocks: off, "
    "lazy (registered with CUDA at the first copy that touches the block), eager "
    "(registered at the first CUDA call after the block was made). Blocks no rule governs "
    "follow [cuda] pinned.",
  [K_RULE_ALIAS] =
    "How the rule's large blocks move and copy: 'mremap' moves page mappings on realloc (no "
    "bytes copied); 'off' copies; 'cow' backs the blocks by a memory file so that realloc "
    "and a memcpy/memmove of at least [alias] cow_min between two such blocks share the "
    "pages copy-on-write (the first write to either side copies that page). cow costs a "
    "copy of these blocks in the child at every fork.",
  [K_RULE_PURGE_DELAY] =
    "Purge delay for the rule's large blocks, instead of [purge] delay ('default' keeps "
    "that one).",
  [K_RULE_TRACK] =
    "Whether the exit summary lists the rule by name with its allocations and bytes.",
};
