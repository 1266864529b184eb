"""torch_share.py — two PyTorch processes on one GPU (issue 23).
`hold FRACTION SECONDS`: fills FRACTION of the GPU, frees it and empties
PyTorch's cache (with plain CUDA the memory is the driver's again), prints
"held", stays idle. `take FRACTION`: allocates FRACTION of the GPU and fills
it; exits 0 on success. Under the preload the holder's pool keeps the memory
cached; the taker must still succeed."""
import sys
import time
import torch

mode, fraction = sys.argv[1], float(sys.argv[2])
free, total = torch.cuda.mem_get_info()
n = int(total * fraction) // 4
if mode == "hold":
    x = torch.empty(n, dtype=torch.float32, device="cuda")
    x.fill_(1)
    torch.cuda.synchronize()
    del x
    torch.cuda.empty_cache()
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
else:
    t0 = time.perf_counter()
    x = torch.empty(n, dtype=torch.float32, device="cuda")
    x.fill_(2)
    torch.cuda.synchronize()
    print(f"take: {n * 4 / 2**30:.1f} GiB in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
