"""PyTorch columns of benchmark (g): MLP 784-512-10, cross-entropy, SGD lr 0.01, one epoch of
60 000 rows in file order on the GPU, the data on the GPU before the clock starts.

    python3 torch_mnist_gpu.py X.npy Y.npy --batch 64 --mode eager|compile

`compile` is torch.compile(model, mode="reduce-overhead") (CUDA Graphs). One warm-up epoch
(compilation, both batch shapes), then the timed one. Prints `loss L` and `epoch_seconds S`.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("x")
    ap.add_argument("y")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--mode", choices=["eager", "compile"], default="eager")
    a = ap.parse_args()
    torch.manual_seed(0)
    dev = torch.device("cuda")
    X = torch.from_numpy(np.load(a.x)).to(dev)
    Y = torch.from_numpy(np.load(a.y).astype(np.int64)).to(dev)
    N, B = X.shape[0], a.batch
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10)).to(dev)
    forward = torch.compile(model, mode="reduce-overhead") if a.mode == "compile" else model
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    for epoch in range(2):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        total = torch.zeros((), dtype=torch.float64, device=dev)
        for s in range(0, N, B):
            xb, yb = X[s:s + B], Y[s:s + B]
            loss = F.cross_entropy(forward(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * xb.shape[0]
        torch.cuda.synchronize()
        secs = time.perf_counter() - t0
    print(f"loss {float(total) / N:.6f}")
    print(f"epoch_seconds {secs:.6f}")


if __name__ == "__main__":
    main()
