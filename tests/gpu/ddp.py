"""ddp.py — a small DistributedDataParallel training run for torchrun
(issues 24 and 21): each rank trains on its own GPU with NCCL where there is
one GPU per rank, or all ranks share GPU 0 with gloo where there is not (the
single-GPU stand-in for a multi-GPU job). Rank 0 prints one loss per step;
the losses must be identical with and without the preload."""
import os
import torch
import torch.distributed as dist

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
gpus = torch.cuda.device_count()
backend = "nccl" if gpus >= world else "gloo"
device = torch.device("cuda", rank if gpus >= world else 0)
torch.cuda.set_device(device)
dist.init_process_group(backend)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10)).to(device)
ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
g = torch.Generator(device=device).manual_seed(100 + rank)
for step in range(30):
    x = torch.randn(128, 256, device=device, generator=g)
    y = torch.randint(0, 10, (128,), device=device, generator=g)
    loss = torch.nn.functional.cross_entropy(ddp(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    total = loss.detach().clone()
    dist.all_reduce(total)
    if rank == 0:
        print(f"step {step} loss {total.item()!r}", flush=True)
if rank == 0:
    print(f"backend {backend} world {world}", flush=True)
dist.destroy_process_group()
