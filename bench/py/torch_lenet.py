"""PyTorch (eager) column of benchmark (e): LeNet (Conv2d(1,6,5), ReLU, max-pool 2, Conv2d(6,16,5),
ReLU, max-pool 2, Linear 256-120-84-10 with ReLU), cross-entropy, SGD lr 0.01 momentum 0.9,
batch 64, one epoch in file order.

    python3 torch_lenet.py X.npy Y.npy [--threads 1] [--batch 64] [--epochs 1]

X is float32 [n, 1, 28, 28]. Prints `loss L` (the last epoch's example-weighted mean) and
`epoch_seconds S`.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.f1 = nn.Linear(16 * 4 * 4, 120)
        self.f2 = nn.Linear(120, 84)
        self.f3 = nn.Linear(84, 10)

    def forward(self, x):
        h1 = F.max_pool2d(F.relu(self.c1(x)), 2)
        h2 = F.max_pool2d(F.relu(self.c2(h1)), 2)
        return self.f3(F.relu(self.f2(F.relu(self.f1(torch.flatten(h2, 1))))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("x")
    ap.add_argument("y")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    X = torch.from_numpy(np.load(a.x))
    Y = torch.from_numpy(np.load(a.y).astype(np.int64))
    N, B = X.shape[0], a.batch
    model = LeNet()
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9)
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
