"""jax_check.py — JAX computing on the GPU (XLA allocates through the CUDA
driver); prints results that must be identical with and without the preload."""
import os
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
import jax, jax.numpy as jnp
key = jax.random.PRNGKey(5)
out = []
for i in range(20):
    key, sub = jax.random.split(key)
    a = jax.random.normal(sub, (512 + i, 512), dtype=jnp.float32)
    out.append(float(jnp.sum(jnp.tanh(a @ a.T))))
print("jax", " ".join(repr(x) for x in out), jax.devices()[0].platform)
