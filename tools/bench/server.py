#!/usr/bin/env python3
"""Server-style fill/delete workloads (tools/bench/kv_server.c) under glibc,
uma-preload, jemalloc, mimalloc and tcmalloc, rounds interleaved. Reports
the medians of resident memory when full, right after deleting 3 of 4 keys,
1.5 s later and at the end of the idle wait, beside the live bytes (the
floor), as ratios to jemalloc; and throughput (fill, lookups, deletes).

    tools/bench/server.py --build build [--rounds 3] [--wait-ms 12000]
                          [--threads 2] [--scale 1] [--markdown FILE]
                          [--lib NAME=PATH]… [--variant NAME=VAR=VALUE,…]…
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import columns, geomean, replace_between, ROOT  # noqa: E402

MARK_BEGIN, MARK_END = "<!-- server:begin -->", "<!-- server:end -->"
WORKLOADS = [("web/random", "web", "random"), ("web/clustered", "web", "clustered"),
             ("small/random", "small", "random"), ("mixed/random", "mixed", "random")]
FIELDS = ("full_kb", "delete_kb", "decay_kb", "after_kb", "live_kb", "ops_per_s")


def run(build, preload, env_extra, mix, deletion, wait_ms, threads, scale):
    env = dict(os.environ, LD_PRELOAD=preload, **env_extra)
    env.pop("UMA_REPORT", None)
    cmd = [os.path.join(build, "bench", "kv_server"), "--mix", mix, "--delete", deletion, "--wait-ms", str(wait_ms),
           "--threads", str(threads), "--scale", str(scale)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    m = re.search(r"^kv_server: OK (.*)$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        sys.exit(f"uma-preload: bench: kv_server {mix}/{deletion} failed under {preload or 'glibc'}: "
                 f"exit {p.returncode}: {(p.stdout + p.stderr).strip()[-300:]}")
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--wait-ms", type=int, default=12000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--markdown")
    ap.add_argument("--lib", action="append", default=[])
    ap.add_argument("--variant", action="append", default=[])
    ap.add_argument("--allocators", default="")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    allocs, envs = columns(build, args)
    res = {w[0]: {a: [] for a in allocs} for w in WORKLOADS}
    for r in range(args.rounds):
        for name, mix, deletion in WORKLOADS:
            for a, preload in allocs.items():
                res[name][a].append(run(build, preload, envs[a], mix, deletion, args.wait_ms, args.threads, args.scale))
            print(f"round {r + 1}/{args.rounds} {name:14s} " +
                  " ".join(f"{a}={res[name][a][-1]['after_kb'] / 1024:.0f}MiB" for a in allocs), file=sys.stderr)
    med = {w: {a: {f: statistics.median(x[f] for x in v) for f in FIELDS} for a, v in d.items()} for w, d in res.items()}
    ref = "jemalloc" if "jemalloc" in allocs else next(iter(allocs))
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    lines = [f"Command: `tools/bench/server.py {' '.join(sys.argv[1:])}` — {datetime.date.today()}, commit {commit}, "
             f"{os.cpu_count()} cores ({cpu}), {args.threads} worker threads, scale {args.scale}, wait {args.wait_ms} ms, "
             f"median of {args.rounds} interleaved rounds.", ""]
    names = [w[0] for w in WORKLOADS]
    for field, title in (("full_kb", "RSS full"), ("delete_kb", "RSS right after the deletes"),
                         ("decay_kb", "RSS 1.5 s after the deletes"), ("after_kb", f"RSS after {args.wait_ms / 1000:g} s idle")):
        lines += [f"**{title}**, MiB (ratio to {ref}); live bytes are the floor", "",
                  "| workload | live | " + " | ".join(allocs) + " |", "|---|---|" + "---|" * len(allocs)]
        for w in names:
            cells = " | ".join(f"{med[w][a][field] / 1024:.0f} ({med[w][a][field] / med[w][ref][field]:.2f})" for a in allocs)
            lines.append(f"| {w} | {med[w][ref]['live_kb'] / 1024:.0f} | {cells} |")
        gm = " | ".join(f"{geomean([med[w][a][field] / med[w][ref][field] for w in names]):.2f}" for a in allocs)
        lines += [f"| geomean | | {gm} |", ""]
    lines += [f"**Throughput** (fill + lookups + deletes per second, ratio to {ref}; higher is better)", "",
              "| workload | " + " | ".join(allocs) + " |", "|---|" + "---|" * len(allocs)]
    for w in names:
        lines.append(f"| {w} | " + " | ".join(f"{med[w][a]['ops_per_s'] / med[w][ref]['ops_per_s']:.2f}" for a in allocs) + " |")
    lines.append("| geomean | " + " | ".join(
        f"{geomean([med[w][a]['ops_per_s'] / med[w][ref]['ops_per_s'] for w in names]):.2f}" for a in allocs) + " |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        replace_between(args.markdown, MARK_BEGIN, MARK_END, text + "\n")


if __name__ == "__main__":
    main()
