"""torch_graph.py — a training step captured with torch.cuda.graph and
replayed (issue 23): PyTorch allocates from its graph pool during capture
(cudaMalloc in relaxed capture mode). Prints one loss per replay; the losses
must be identical with and without the preload."""
import torch

torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10)).cuda()
opt = torch.optim.SGD(m.parameters(), lr=0.1)
x = torch.randn(64, 256, device="cuda")
y = torch.randint(0, 10, (64,), device="cuda")
side = torch.cuda.Stream()
side.wait_stream(torch.cuda.current_stream())
with torch.cuda.stream(side):   # warm-up on a side stream, as PyTorch's docs ask
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
torch.cuda.current_stream().wait_stream(side)
torch.cuda.empty_cache()   # the pool now holds freed, pending blocks the capture may want
g = torch.cuda.CUDAGraph()
opt.zero_grad(set_to_none=True)
with torch.cuda.graph(g):
    loss = torch.nn.functional.cross_entropy(m(x), y)
    loss.backward()
    opt.step()
gen = torch.Generator(device="cuda").manual_seed(1)
for i in range(20):
    x.copy_(torch.randn(64, 256, device="cuda", generator=gen))
    g.replay()
    print("loss", repr(loss.item()))
