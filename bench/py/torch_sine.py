"""PyTorch (eager) column of benchmark (b): Linear(1,10)-ReLU-Linear(10,10)-ReLU-Linear(10,1),
MSE, torch.optim.Adam lr 0.1, full batch, 5000 steps.

    python3 torch_sine.py X.npy Y.npy [--steps 5000] [--lr 0.1] [--threads N]

The benchmark passes --threads 1: for 10-wide layers PyTorch's OpenMP pool only adds
synchronisation, and with a busy second core its spinning barrier can stall a run by 10x.

Prints `loss L` (the last step's loss, before its update) and `train_seconds S`.
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
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    X = torch.from_numpy(np.load(a.x))
    Y = torch.from_numpy(np.load(a.y))
    model = nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = F.mse_loss(model(X), Y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    secs = time.perf_counter() - t0
    print(f"loss {loss.item():.6f}")
    print(f"train_seconds {secs:.6f}")


if __name__ == "__main__":
    main()
