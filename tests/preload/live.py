"""live.py — processes for uma-top's test (issue 21): holds MIB of heap for
SECONDS; with --fork, a forked child (multiprocessing's way) holds as much
too. Prints "ready" once everything is allocated."""
import os
import sys
import time

mib, seconds = int(sys.argv[1]), float(sys.argv[2])
a = bytearray(mib << 20)
if "--fork" in sys.argv:
    if os.fork() == 0:
        b = bytearray(mib << 20)
        time.sleep(seconds)
        os._exit(0)
print("ready", flush=True)
time.sleep(seconds)
