#!/usr/bin/env python3
"""The allocator benchmark suite: every workload under glibc, uma-preload,
jemalloc, mimalloc and tcmalloc, rounds interleaved (A B C D E, A B C D E, …),
each run verified (exit 0 and its own OK line). Reports the median wall time
and median peak RSS per cell as ratios to mimalloc, a geometric mean per
allocator, and ns per malloc+free pair by size.

    tools/bench/suite.py --build build [--rounds 3] [--threads N] [--scale 1]
                         [--quick] [--markdown FILE] [--svg FILE]
                         [--variant NAME=VAR=VALUE[,VAR=VALUE…]]… [--no-pl]
                         [--lib NAME=PATH]… [--allocators NAME,NAME…]

--variant adds uma-preload under extra UMA_* settings as one more column
(e.g. uma+report=UMA_REPORT_JSON=/dev/null to measure the report's cost).
--lib adds another library as a column (an earlier build of uma-preload, to
measure a change A B A B); --allocators keeps only the named columns.
Unless --no-pl, each workload also runs once traced under uma-preload to get
L, the peak of live requested bytes, and the tables show P/L: each
allocator's peak RSS over L (uma-preload's own peak footprint too).

--markdown replaces the text between the suite markers in FILE (docs/BENCH.md)
with the tables, the command, the machine, the date and the commit.
"""
import argparse
import json
import datetime
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
MARK_BEGIN, MARK_END = "<!-- suite:begin -->", "<!-- suite:end -->"


def allocators(build):
    arch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
    lib = f"/usr/lib/{arch}"
    return {
        "glibc": "",
        "uma-preload": os.path.join(build, "libumapreload.so"),
        "jemalloc": f"{lib}/libjemalloc.so.2",
        "mimalloc": f"{lib}/libmimalloc.so.2",
        "tcmalloc": f"{lib}/libtcmalloc_minimal.so.4",
    }


def columns(build, args):
    """The allocators to run ({name: library}) and each one's extra environment,
    from --variant, --lib and --allocators (shared with server.py)."""
    allocs = allocators(build)
    envs = {a: {} for a in allocs}
    for v in args.variant:
        name, _, settings = v.partition("=")
        allocs[name] = allocs["uma-preload"]
        envs[name] = dict(kv.split("=", 1) for kv in settings.split(","))
    for v in args.lib:
        name, _, path = v.partition("=")
        allocs[name], envs[name] = os.path.abspath(path), {}
    if args.allocators:
        allocs = {a: allocs[a] for a in args.allocators.split(",")}
    return allocs, envs


def sqlite_rows(scale):
    """A million rows at scale 1; fewer for a quick run (the build is linear in rows)."""
    return 1000000 if scale >= 1 else max(100000, int(1000000 * scale))


def sqlite_script(scale, directory):
    """sqlite_index.sql with the row count of this scale, as a file for stdin."""
    text = open(os.path.join(HERE, "sqlite_index.sql")).read().replace("1000000", str(sqlite_rows(scale)))
    path = os.path.join(directory, "sqlite_index.sql")
    with open(path, "w") as f:
        f.write(text)
    return path


def workloads(build, threads, scale):
    b = lambda name, *extra: [os.path.join(build, "bench", name), *extra, "--threads", str(threads), "--scale", str(scale)]
    return [
        ("larson", b("larson"), r"^larson: OK"),
        ("xmalloc", b("xmalloc"), r"^xmalloc: OK"),
        ("mstress", b("mstress"), r"^mstress: OK"),
        ("cache-scratch", b("cache_scratch", "scratch"), r"^cache_scratch: OK"),
        ("cache-thrash", b("cache_scratch", "thrash"), r"^cache_thrash: OK"),
        ("alloc-test1", [*b("alloc_test")[:-4], "--threads", "1", "--scale", str(scale / 2)], r"^alloc_test: OK"),
        ("alloc-testN", b("alloc_test"), r"^alloc_test: OK"),
        ("glibc-simple", [*b("glibc_simple")[:-4], "--threads", "1", "--scale", str(scale / 2)], r"^glibc_simple: OK"),
        ("glibc-thread", b("glibc_simple"), r"^glibc_simple: OK"),
        ("malloc-large", b("malloc_large"), r"^malloc_large: OK"),
        ("realloc-grow", b("realloc_grow"), r"^realloc_grow: OK"),
        ("frag", b("frag"), r"^frag: OK"),
        ("frag-medium", b("frag_medium"), r"^frag_medium: OK"),
        ("layers", b("layers"), r"^layers: OK \d+"),
        ("nbody", b("nbody"), r"^nbody: OK "),
        ("large-churn", b("large_churn"), r"^large_churn: OK "),
        ("interp", b("interp"), r"^interp: OK "),
        ("python3", [PYTHON, os.path.join(HERE, "py_objects.py"), str(scale)], r"^py_objects: OK \d+"),
        ("sqlite3", ["sqlite3", ":memory:"], rf"^sqlite_index: OK\|{sqlite_rows(scale)}\|{sqlite_rows(scale)}"),
    ]


def run_one(cmd, preload, stdin_file=None, extra_env=None):
    """(seconds, peak RSS KiB, output) of one verified run."""
    with tempfile.NamedTemporaryFile("r") as tf:
        env = dict(os.environ, LD_PRELOAD=preload, PYTHONMALLOC="malloc")
        env.pop("UMA_REPORT", None)
        env.update(extra_env or {})
        stdin = open(stdin_file) if stdin_file else subprocess.DEVNULL
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", tf.name, *cmd], env=env, stdin=stdin,
                           capture_output=True, text=True, timeout=600)
        if stdin_file:
            stdin.close()
        t, rss = tf.read().split()[-2:]
    return float(t), int(rss), p.returncode, p.stdout + p.stderr


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def svg_chart(names, allocs, time_ratio, rss_ratio, path):
    """Two grouped bar charts (time, peak RSS) of the ratios to mimalloc."""
    colors = {"glibc": "#888888", "uma-preload": "#d62728", "jemalloc": "#1f77b4", "mimalloc": "#2ca02c",
              "tcmalloc": "#ff7f0e"}
    rows = names + ["geomean"]
    bar, gap, left, top, chart_h = 7, 14, 60, 56, 220
    group_w = bar * len(allocs) + gap
    width = left + group_w * len(rows) + 20
    height = top + 2 * (chart_h + 90)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for panel, (title, data) in enumerate((("time vs mimalloc (lower is better)", time_ratio),
                                           ("peak RSS vs mimalloc (lower is better)", rss_ratio))):
        y0 = top + panel * (chart_h + 90)
        vmax = max(2.0, min(4.0, max(v for row in data.values() for v in row.values())))
        out.append(f'<text x="{left}" y="{y0 - 12}" font-size="13">{title}</text>')
        for tick in [0.5 * i for i in range(int(vmax * 2) + 1)]:
            y = y0 + chart_h - tick / vmax * chart_h
            out.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="{"#000" if tick == 1 else "#ddd"}"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.1f}x</text>')
        for gi, row in enumerate(rows):
            x = left + gi * group_w + gap / 2
            for ai, a in enumerate(allocs):
                v = data[row][a]
                h = min(v, vmax) / vmax * chart_h
                out.append(f'<rect x="{x + ai * bar:.1f}" y="{y0 + chart_h - h:.1f}" width="{bar - 1}" height="{h:.1f}" '
                           f'fill="{colors.get(a, "#9467bd")}"><title>{row} {a}: {v:.2f}x</title></rect>')
            out.append(f'<text transform="translate({x + 2:.1f},{y0 + chart_h + 8}) rotate(50)" font-size="10">{row}</text>')
    lx = left
    for a in allocs:
        out.append(f'<rect x="{lx}" y="8" width="10" height="10" fill="{colors.get(a, "#9467bd")}"/><text x="{lx + 14}" y="17">{a}</text>')
        lx += 95
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--quick", action="store_true", help="scale 0.15, 2 rounds, no P/L runs: under two minutes")
    ap.add_argument("--only", default="", help="comma-separated workload names")
    ap.add_argument("--markdown", help="update the suite section of this file (docs/BENCH.md)")
    ap.add_argument("--svg", help="write the ratio chart here")
    ap.add_argument("--variant", action="append", default=[], help="NAME=VAR=VALUE[,VAR=VALUE...]: uma-preload with settings")
    ap.add_argument("--no-pl", action="store_true", help="skip the traced runs that measure L")
    ap.add_argument("--lib", action="append", default=[], help="NAME=PATH: one more library to preload")
    ap.add_argument("--allocators", default="", help="comma-separated columns to keep")
    args = ap.parse_args()
    if args.quick:
        args.scale, args.rounds, args.no_pl = 0.15, 2, True
    build = os.path.abspath(args.build)
    allocs, envs = columns(build, args)
    for name, path in allocs.items():
        if path and not os.path.exists(path):
            sys.exit(f"uma-preload: bench: {name} library {path} is missing (make deps-bench installs it)")
    works = workloads(build, args.threads, args.scale)
    if args.only:
        keep = set(args.only.split(","))
        works = [w for w in works if w[0] in keep]
    sql_dir = tempfile.TemporaryDirectory()
    sql = sqlite_script(args.scale, sql_dir.name)
    times = {w[0]: {a: [] for a in allocs} for w in works}
    rss = {w[0]: {a: [] for a in allocs} for w in works}
    failures = []
    for r in range(args.rounds):
        for name, cmd, ok in works:
            for a, preload in allocs.items():   # interleaved: every allocator once per workload per round
                t, m, rc, out = run_one(cmd, preload, sql if name == "sqlite3" else None, envs[a])
                if rc != 0 or not re.search(ok, out, re.M):
                    failures.append(f"{name} under {a} (round {r + 1}): exit {rc}: {out.strip()[-300:]}")
                    continue
                times[name][a].append(t)
                rss[name][a].append(m)
            print(f"round {r + 1}/{args.rounds} {name:14s} " +
                  " ".join(f"{a}={times[name][a][-1]:.2f}s" for a in allocs if times[name][a]), file=sys.stderr)
    if failures:
        print("\n".join("FAILED: " + f for f in failures), file=sys.stderr)
        sys.exit(1)

    live = {}   # workload -> (L, uma-preload's own peak footprint P), from one traced run
    if not args.no_pl:
        for name, cmd, ok in works:
            with tempfile.TemporaryDirectory() as rd:
                env = {"UMA_REPORT_TRACE": "yes", "UMA_REPORT_TRACE_MAX": "1", "UMA_REPORT_TIMELINE": "0",
                       "UMA_REPORT_JSON": os.path.join(rd, "r.%p.json")}
                _, _, rc, out = run_one(cmd, allocs["uma-preload"], sql if name == "sqlite3" else None, env)
                if rc != 0 or not re.search(ok, out, re.M):
                    sys.exit(f"uma-preload: bench: traced run of {name} failed: {out.strip()[-300:]}")
                # /usr/bin/time reports too: the workload is the process that allocated most
                reps = [json.load(open(os.path.join(rd, f))) for f in os.listdir(rd)]
                rep = max(reps, key=lambda r: r["totals"]["allocations"])
                live[name] = (rep["trace"]["peak_live_requested_bytes"], rep["peak"]["footprint_bytes"])
            print(f"traced {name:14s} L={live[name][0] / 2**20:.1f} MiB", file=sys.stderr)

    med_t = {w: {a: statistics.median(v) for a, v in d.items()} for w, d in times.items()}
    med_m = {w: {a: statistics.median(v) for a, v in d.items()} for w, d in rss.items()}
    ref = "mimalloc" if "mimalloc" in allocs else next(iter(allocs))   # the ratios' denominator
    tr = {w: {a: med_t[w][a] / med_t[w][ref] for a in allocs} for w in med_t}
    mr = {w: {a: med_m[w][a] / med_m[w][ref] for a in allocs} for w in med_m}
    names = [w[0] for w in works]
    tr["geomean"] = {a: geomean([tr[w][a] for w in names]) for a in allocs}
    mr["geomean"] = {a: geomean([mr[w][a] for w in names]) for a in allocs}

    samples = {}   # size -> allocator -> [(tight, shuffled)], rounds interleaved like the workloads
    for r in range(args.rounds):
        for a, preload in allocs.items():
            p = subprocess.run([os.path.join(build, "bench", "latency"), "--scale", str(min(1.0, args.scale))],
                               env=dict(os.environ, LD_PRELOAD=preload, **envs[a]), capture_output=True, text=True)
            for line in p.stdout.splitlines():
                _, size, tight, shuffled = line.split()
                samples.setdefault(int(size), {}).setdefault(a, []).append((float(tight), float(shuffled)))
    lat = {size: {a: (statistics.median(t for t, _ in v), statistics.median(s for _, s in v)) for a, v in d.items()}
           for size, d in samples.items()}

    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "core", "interpose", "policy"],
                           capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    cmdline = "tools/bench/suite.py " + " ".join(sys.argv[1:])
    lines = [f"Command: `{cmdline}` — {datetime.date.today()}, commit {commit}{' (with uncommitted core changes)' if dirty else ''}, "
             f"{os.cpu_count()} cores ({cpu}), {args.threads} threads, scale {args.scale}, "
             f"median of {args.rounds} interleaved rounds. Ratios to {ref}; lower is better.", ""]
    head = "| workload | " + " | ".join(allocs) + " |"
    sep = "|---|" + "---|" * len(allocs)
    for title, table, med, unit in (("Time", tr, med_t, "s"), ("Peak RSS", mr, med_m, "MB")):
        lines += [f"**{title}** ({ref}'s absolute value in the last column)", "", head[:-1] + f" | {ref} abs |", sep + "---|"]
        for w in names + ["geomean"]:
            absval = "" if w == "geomean" else (f"{med[w][ref]:.2f} s" if unit == "s" else f"{med[w][ref] / 1000:.0f} MB")
            cells = " | ".join(f"**{table[w][a]:.2f}**" if a == "uma-preload" else f"{table[w][a]:.2f}" for a in allocs)
            lines.append(f"| {w} | {cells} | {absval} |")
        lines.append("")
    if live:
        lines += ["**P/L**: peak RSS over L, the peak of live requested bytes (from a traced uma-preload run); "
                  "the last column is uma-preload's own peak footprint (committed bytes) over L. "
                  "RSS includes the program itself (code, stacks, interpreter), so small heaps read high.", "",
                  "| workload | L | " + " | ".join(allocs) + " | uma-preload P/L (heap) |", "|---|---|" + "---|" * (len(allocs) + 1)]
        for w in names:
            L, P = live[w]
            cells = " | ".join(f"{med_m[w][a] * 1024 / L:.2f}" if L else "—" for a in allocs)
            lines.append(f"| {w} | {L / 2**20:.1f} MiB | {cells} | {P / L:.2f} |" if L else f"| {w} | 0 | {cells} | — |")
        lines.append("")
    lines += [f"**malloc+free pair latency**, ns, one thread (tight / shuffled), median of {args.rounds} interleaved rounds", "",
              "| size | " + " | ".join(allocs) + " |", "|---|" + "---|" * len(allocs)]
    for size in sorted(lat):
        lines.append(f"| {size} B | " + " | ".join(f"{lat[size][a][0]:.1f} / {lat[size][a][1]:.1f}" for a in allocs) + " |")
    text = "\n".join(lines)
    print(text)
    if args.svg:
        svg_chart(names, list(allocs), tr, mr, args.svg)
    if args.markdown:
        chart = f"\n![ratios to mimalloc]({os.path.relpath(args.svg, os.path.dirname(args.markdown))})\n" if args.svg else ""
        replace_between(args.markdown, MARK_BEGIN, MARK_END, f"{text}\n{chart}")


def replace_between(path, begin, end, text):
    """Put text between the two marker lines of the file (appended if missing)."""
    doc = open(path).read()
    if begin not in doc:
        doc += f"\n{begin}\n{end}\n"
    before, rest = doc.split(begin, 1)
    after = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(f"{before}{begin}\n{text}{end}{after}")


if __name__ == "__main__":
    main()
