#!/usr/bin/env python3
"""Writes sine.csv: 100 rows of (x, y) with x evenly spaced in [0, 1] and y = sin(2*pi*x).

The data of the lectures' small regression MLP (lecture_mlp.dl): inputs in [0, 1] like the
lecture's samples, a target that a straight line cannot fit. Deterministic (no noise, no RNG),
standard library only, so re-running it reproduces the file byte for byte:

    python3 models/data/make_sine.py            # rewrites models/data/sine.csv
"""
import math
import os

ROWS = 100


def fmt(v: float) -> str:
    s = f"{v:.6f}"
    return "0.000000" if s == "-0.000000" else s  # sin(2*pi) is -2e-16: print it as 0


def main() -> None:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sine.csv")
    with open(path, "w", newline="\n") as f:
        f.write("x,y\n")
        for i in range(ROWS):
            x = i / (ROWS - 1)
            f.write(f"{fmt(x)},{fmt(math.sin(2 * math.pi * x))}\n")


if __name__ == "__main__":
    main()
