"""jax_quota.py — JAX with its default allocator, which preallocates 75 % of
the memory the device reports (issue 23): prints the results (identical with
and without the preload, within the spread of plain runs) and, on stderr, how
much XLA took (memory_stats: bytes_limit, its pool's size). Under the
preload with [limits] gpu = 8G the device reports 8 GiB, so XLA takes 6."""
import sys
import jax
import jax.numpy as jnp

key = jax.random.PRNGKey(5)
out = []
for i in range(10):
    key, sub = jax.random.split(key)
    a = jax.random.normal(sub, (512 + i, 512), dtype=jnp.float32)
    out.append(float(jnp.sum(jnp.tanh(a @ a.T))))
print("jax", " ".join(repr(x) for x in out), jax.devices()[0].platform)
stats = jax.devices()[0].memory_stats() or {}
print(f"bytes_limit {stats.get('bytes_limit', 0)} peak_bytes_in_use {stats.get('peak_bytes_in_use', 0)}", file=sys.stderr)
