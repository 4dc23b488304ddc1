"""PyTorch (eager) column of benchmark (a): MLP 784-512-10, cross-entropy, SGD lr 0.01, batch 64,
one epoch in file order.

    python3 torch_mnist.py X.npy Y.npy [--threads N] [--batch 64] [--lr 0.01] [--epochs 1]

Prints `loss L` (the last epoch's example-weighted mean) and `epoch_seconds S`.
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
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    X = torch.from_numpy(np.load(a.x))
    Y = torch.from_numpy(np.load(a.y).astype(np.int64))
    N, B = X.shape[0], a.batch
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        total = torch.zeros((), dtype=torch.float64)
        for s in range(0, N, B):
            xb, yb = X[s:s + B], Y[s:s + B]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * xb.shape[0]
        secs = time.perf_counter() - t0
    print(f"loss {float(total) / N:.6f}")
    print(f"epoch_seconds {secs:.6f}")


if __name__ == "__main__":
    main()
