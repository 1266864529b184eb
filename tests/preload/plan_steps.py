"""A training loop's host buffers in plain Python: each step allocates an
activation per layer (sizes differ), a workspace per layer, then gradients
in reverse, freeing as it goes; the same every step. Prints a checksum per
step: under [plan] host = auto the steps after the first few are served
from one planned arena, and the checksums must not change."""
MiB = 1 << 20
sizes = [3 * MiB, 7 * MiB, 2 * MiB, 5 * MiB, 11 * MiB, 4 * MiB]
for step in range(14):
    acts = []
    for l, n in enumerate(sizes):
        a = bytearray(n)
        work = bytearray(n // 2 + MiB)
        k = len(range(0, n, 4096))
        work[:k] = bytes((l + step + i) % 251 for i in range(k))
        a[::4096] = work[:k]
        acts.append(a)
        del work
    grad = None
    total = 0
    for a in reversed(acts):
        g = bytearray(len(a))
        g[::4096] = a[::4096]
        total += sum(g[::4096]) + (grad[0] if grad else 0)
        grad = g
    del acts, grad, g, a
    print(step, total)
