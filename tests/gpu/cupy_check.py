"""cupy_check.py — CuPy allocating and computing on the GPU; prints results
that must be identical with and without the preload."""
import cupy as cp
cp.random.seed(3)
acc = []
for i in range(30):
    a = cp.random.standard_normal((1024, 1024 + i), dtype=cp.float64)
    b = a @ a.T
    acc.append(float(cp.trace(b)))
    del a, b
    cp.get_default_memory_pool().free_all_blocks()
print("cupy", " ".join(repr(x) for x in acc))
