"""PyTorch, unmodified, moving data between ordinary CPU tensors and the GPU:
x.to('cuda') and y.cpu() bandwidth for 16 MiB - 1 GiB tensors (median of 5
after a warm-up), tensor.pin_memory() and a DataLoader with pin_memory=True,
and a transfer-bound training loop that copies each batch out of a dataset
in RAM into a fresh CPU tensor and moves it to the GPU
(losses printed for bit-for-bit comparison). Run with and without the
preload; prints "metric NAME VALUE" and "loss STEP VALUE" lines.
Usage: torch_pinned.py [STEPS [--loop-only]]"""
import statistics, sys, time
import torch

def gbps(fn, nbytes, reps=5):
    fn(); torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); torch.cuda.synchronize(); times.append(time.perf_counter() - t0)
    return nbytes / statistics.median(times) / 1e9

loop_only = sys.argv[2:] == ["--loop-only"]
for mib in () if loop_only else (16, 256, 1024):
    n = mib << 20
    x = torch.ones(n, dtype=torch.uint8)
    print(f"metric h2d_GBps_{mib}MiB {gbps(lambda: x.to('cuda'), n):.2f}")
    y = torch.ones(n, dtype=torch.uint8, device="cuda")
    print(f"metric d2h_GBps_{mib}MiB {gbps(lambda: y.cpu(), n):.2f}")
    del x, y

src = torch.arange(1 << 22, dtype=torch.float32)
p = src.pin_memory()
assert p.is_pinned() and torch.equal(p, src) and torch.equal(p.cuda().cpu(), src)
ds = torch.utils.data.TensorDataset(torch.arange(4096 * 64, dtype=torch.float32).reshape(4096, 64))
total = sum(float(b[0].cuda(non_blocking=True).sum()) for b in torch.utils.data.DataLoader(ds, batch_size=256, pin_memory=True))
print(f"check dataloader_sum {total}")

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4096, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10)).cuda()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
g = torch.Generator().manual_seed(1)
data = torch.randn(16, 2048, 4096, generator=g)          # the dataset, in RAM
labels = torch.randint(0, 10, (16, 2048), generator=g)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 60
times, moves = [], []
for step in range(steps):
    t0 = time.perf_counter()
    xb = data[step % 16].clone()                       # a fresh 32 MiB batch, as a collate makes
    yb = labels[step % 16].clone()
    t1 = time.perf_counter()
    xd, yd = xb.to("cuda"), yb.to("cuda")              # the transfer share of the step
    torch.cuda.synchronize()
    moves.append(time.perf_counter() - t1)
    loss = torch.nn.functional.cross_entropy(model(xd), yd)
    opt.zero_grad(); loss.backward(); opt.step()
    lv = float(loss.detach())
    times.append(time.perf_counter() - t0)
    print(f"loss {step} {lv!r}")
print(f"metric loop_step_ms {statistics.median(times[5:]) * 1e3:.3f}")
print(f"metric loop_transfer_ms {statistics.median(moves[5:]) * 1e3:.3f}")
