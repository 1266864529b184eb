"""limits.py — [limits] heap and its alarm (issue 21), run under the preload
with UMA_LIMITS_HEAP=256M and UMA_LIMITS_ALARM=80: the heap climbs to about
90 % of the quota and stays there (one alarm), falls to about 20 % (re-armed),
climbs again (a second alarm), then asks for more than the quota (MemoryError,
never a crash), and after freeing it all gets 64 MiB at once."""
import time

MiB = 1 << 20
def hold(n):
    return [bytearray(16 * MiB) for _ in range(n)]

a = hold(14)            # 224 MiB: 87 % of 256
time.sleep(0.5)
del a[:]                # about 0 %
time.sleep(0.5)
a = hold(14)            # the second crossing
time.sleep(0.5)
try:
    more = hold(8)      # past the quota
    print("no MemoryError")
except MemoryError:
    print("MemoryError past the quota")
del a[:]
x = bytearray(64 * MiB)
print("after freeing, 64 MiB: ok")
