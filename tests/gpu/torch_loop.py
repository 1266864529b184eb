"""torch_loop.py — a small deterministic training loop (an MLP on random
data) on the GPU; prints one loss per step with full precision, and with
--time the mean step time. Run with and without the preload: the losses must
be identical."""
import os, sys, time
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
import torch

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
dev = "cuda"
model = torch.nn.Sequential(torch.nn.Linear(512, 2048), torch.nn.GELU(), torch.nn.Linear(2048, 2048),
                            torch.nn.GELU(), torch.nn.Linear(2048, 10)).to(dev)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
g = torch.Generator(device=dev).manual_seed(1)
times = []
for step in range(steps):
    t0 = time.perf_counter()
    x = torch.randn(256, 512, device=dev, generator=g)
    y = torch.randint(0, 10, (256,), device=dev, generator=g)
    # a fresh, varying-size temporary each step exercises the allocator
    extra = torch.empty((step % 7 + 1) * (1 << 20), device=dev).fill_(0.5)
    loss = torch.nn.functional.cross_entropy(model(x), y) + extra.sum() * 0
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    print(f"step {step} loss {loss.item()!r}")
    torch.cuda.synchronize()
    times.append(time.perf_counter() - t0)
    if step % 50 == 49:
        torch.cuda.empty_cache()   # gives segments back: cudaFree, then cudaMalloc again
if "--time" in sys.argv:
    t = sorted(times[20:])
    print(f"torch_step_ms median {1000 * t[len(t) // 2]:.3f}", file=sys.stderr)
