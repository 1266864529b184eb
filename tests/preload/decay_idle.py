# decay_idle.py — a script that frees most of what it built and then sleeps
# without allocating: 16 arrays of 8 MiB (large blocks) and 3 of every 4
# runs of 1024 small 1000-byte objects (pages that keep a few survivors).
# Prints resident MiB: at start, full, right after the deletes, after the
# sleep (argv[1] seconds).
import time, sys
def rss():
    for l in open("/proc/self/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) >> 10
base = rss()
arrays = [bytearray(8 << 20) for _ in range(16)]
for a in arrays:
    for i in range(0, len(a), 4096): a[i] = 1
small = [bytes([i & 255]) * 1000 for i in range(100000)]
full = rss()
del arrays
keep = [small[i] for i in range(len(small)) if (i // 1024) % 4 == 0]
del small
after_del = rss()
time.sleep(float(sys.argv[1]))
after = rss()
assert all(len(b) == 1000 for b in keep)
print(base, full, after_del, after)
