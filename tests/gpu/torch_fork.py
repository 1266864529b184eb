"""torch_fork.py — DataLoader workers forked after CUDA is in use (issue 23):
the dataset is a CPU tensor the preload registered at its first copy to the
GPU; two workers (fork) read it, the main process pins batches
(pin_memory=True: the pinned pool) and trains. Prints the losses and a
checksum: identical with and without the preload."""
import torch

torch.manual_seed(0)
data = torch.randn(8192, 1024)            # 32 MiB: one large block of ours
labels = torch.randint(0, 10, (8192,))
dev = "cuda"
m = torch.nn.Linear(1024, 10).to(dev)
opt = torch.optim.SGD(m.parameters(), lr=0.05)
whole = data.to(dev)                       # a copy from data: the preload registers its block
torch.cuda.synchronize()


class Rows(torch.utils.data.Dataset):
    def __len__(self):
        return data.shape[0]

    def __getitem__(self, i):
        return data[i], labels[i]


loader = torch.utils.data.DataLoader(Rows(), batch_size=512, num_workers=2, pin_memory=True,
                                     multiprocessing_context="fork")
for epoch in range(3):
    total = 0.0
    for x, y in loader:
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        loss = torch.nn.functional.cross_entropy(m(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item()
    print(f"epoch {epoch} loss {total!r}")
data.mul_(0.5)                              # the parent still owns its registered block
print("checksum", repr(float(data.sum())), repr(float((whole * 0.5 - data.to(dev)).abs().max())))
