"""models/digits_cnn.dl trained in PyTorch, for comparing validation accuracy with dlc's trainer.

The same network (Conv2d(1, 16, 3, padding=1), BatchNorm2d(16), max-pool, Conv2d(16, 32, 3,
padding=1), max-pool, Linear(128, 10)), the same data (models/data/digits.csv) and, for each
seed, the same validation rows as `digits_cnn train --seed SEED` (dlc's split, docs/rng.md:
stream 2 of the seed, Fisher-Yates, the first floor(0.2 n) rows of the permutation held out),
Adam lr 0.001, batch 32, 20 epochs, shuffled every epoch (PyTorch's own generator, seeded with
the seed). Initialisation is PyTorch's own.

    python3 torch_digits_cnn.py [--data models/data/digits.csv] [--seeds 0 1 2 3 4] [--epochs 20]

Prints the validation accuracy after the last epoch for each seed, then their mean and minimum.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK = (1 << 64) - 1


class SplitMix64:
    """codegen/dlc_rng.h, bit for bit."""

    def __init__(self, seed, stream):
        self.state = (seed * 0x9E3779B97F4A7C15 + stream * 0xD6E8FEB86659FD93) & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def dlc_split(n, fraction, seed):
    """dlc_split (codegen/dlc_data.c): sorted training and validation row indices."""
    p = list(range(n))
    nv = int(np.floor(fraction * n))
    if fraction > 0:
        r = SplitMix64(seed, 2)
        for i in range(n - 1, 0, -1):
            j = r.next() % (i + 1)
            p[i], p[j] = p[j], p[i]
    return sorted(p[nv:]), sorted(p[:nv])


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        h1 = F.max_pool2d(F.relu(self.bn1(self.c1(x))), 2)
        h2 = F.max_pool2d(F.relu(self.c2(h1)), 2)
        return self.fc(torch.flatten(h2, 1))


def train(seed, x, y, train_rows, val_rows, epochs, batch):
    torch.manual_seed(seed)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    xt, yt = x[train_rows], y[train_rows]
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train_rows))
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        z = model(x[val_rows])
    return (z.argmax(1) == y[val_rows]).float().mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="models/data/digits.csv")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(1)
    d = np.loadtxt(a.data, delimiter=",", skiprows=1)
    x = torch.tensor(d[:, :64], dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(d[:, 64], dtype=torch.int64)
    splits = {s: dlc_split(len(d), 0.2, s) for s in a.seeds}
    accuracies = [train(s, x, y, *splits[s], a.epochs, a.batch) for s in a.seeds]
    for s, acc in zip(a.seeds, accuracies):
        print(f"seed {s}: val_accuracy {acc:.6f}")
    print(f"mean {np.mean(accuracies):.6f}  min {np.min(accuracies):.6f}  ({len(splits[a.seeds[0]][1])} validation rows)")


if __name__ == "__main__":
    main()
