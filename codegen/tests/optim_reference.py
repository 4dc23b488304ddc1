#!/usr/bin/env python3
"""optim_reference.py: checks the trainer's optimizers and schedules against torch.optim.

PyTorch is too large to install here, so its update rules (SGD with momentum, nesterov and
weight decay; Adam; AdamW; Adagrad; StepLR, CosineAnnealingLR, ReduceLROnPlateau) are
re-implemented below in float64 NumPy, line by line after torch/optim/*.py. The trainer
(the linear-regression test model, full batch, so the order of rows does not matter) must
land on the same params to f32 accuracy.

usage: optim_reference.py LINREG_BINARY CARS_CSV WORKDIR   (prints one line per case; exit 1 on a mismatch)
"""
import math
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file

EPOCHS = 30


def load(data):
    header = open(data).readline().strip().split(",")
    rows = np.loadtxt(data, delimiter=",", skiprows=1)
    x = rows[:, header.index("Weight_in_lbs")].astype(np.float32)
    y = rows[:, header.index("Miles_per_Gallon")].astype(np.float64)
    # normalize x: population std from the training rows (all of them: validation 0), as f32
    mean, std = np.float32(x.astype(np.float64).mean()), np.float32(x.astype(np.float64).std())
    return ((x - mean) / std).astype(np.float64), y


def step_optimizer(kind, hp, p, g, state, lr):
    """One torch.optim step (single-tensor code path) on params p with gradient g."""
    state["step"] = state.get("step", 0) + 1
    wd = hp.get("weight_decay", 0.0)
    if kind == "sgd":
        mu, nesterov = hp.get("momentum", 0.0), hp.get("nesterov", False)
        if wd:
            g = g + wd * p
        if mu:
            buf = state.get("buf")
            buf = g.copy() if buf is None else buf * mu + g
            state["buf"] = buf
            g = g + mu * buf if nesterov else buf
        return p - lr * g
    if kind in ("adam", "adamw"):
        b1, b2, eps = hp.get("beta1", 0.9), hp.get("beta2", 0.999), hp.get("eps", 1e-8)
        if kind == "adamw":
            p = p * (1 - lr * wd)
        elif wd:
            g = g + wd * p
        m = state.get("m", np.zeros_like(p)) + (1 - b1) * (g - state.get("m", np.zeros_like(p)))
        v = state.get("v", np.zeros_like(p)) * b2 + (1 - b2) * g * g
        state["m"], state["v"] = m, v
        t = state["step"]
        denom = np.sqrt(v) / math.sqrt(1 - b2**t) + eps
        return p - (lr / (1 - b1**t)) * (m / denom)
    if kind == "adagrad":
        eps = hp.get("eps", 1e-10)
        if wd:
            g = g + wd * p
        s = state.get("sum", np.zeros_like(p)) + g * g
        state["sum"] = s
        return p - lr * (g / (np.sqrt(s) + eps))
    raise ValueError(kind)


def step_schedule(kind, hp, s, lr, base, loss):
    """One lr_scheduler.step() after an epoch; returns the new rate."""
    s["last"] = e = s.get("last", 0) + 1
    if kind == "step_lr":
        return lr * hp["gamma"] if e % hp["every"] == 0 else lr
    if kind == "cosine":
        T = hp["epochs"]
        if (e - 1 - T) % (2 * T) == 0:
            return lr + base * (1 - math.cos(math.pi / T)) / 2
        return (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * lr
    if kind == "plateau":
        if loss < s.get("best", math.inf) * (1 - hp["threshold"]):
            s["best"], s["bad"] = loss, 0
        else:
            s["bad"] = s.get("bad", 0) + 1
        if s["bad"] > hp["patience"]:
            new = lr * hp["factor"]
            lr = new if lr - new > 1e-8 else lr
            s["bad"] = 0
        return lr
    return lr


def reference(x, y, w, b, opt, hp, sched, shp):
    p = np.array([w, b], dtype=np.float64)
    lr = base = hp["lr"]
    ostate, sstate = {}, {}
    for _ in range(EPOCHS):
        err = p[0] * x + p[1] - y
        loss = float(np.mean(err * err))
        g = np.array([np.mean(2 * err * x), np.mean(2 * err)])
        p = step_optimizer(opt, hp, p, g, ostate, lr)
        lr = step_schedule(sched, shp, sstate, lr, base, loss)
    return p


CASES = [
    ("sgd(lr: 0.1)", "sgd", {"lr": 0.1}, "none", {}),
    ("sgd(lr: 0.05, momentum: 0.9, weight_decay: 0.01)", "sgd", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}, "none", {}),
    ("sgd(lr: 0.05, momentum: 0.8, nesterov: true)", "sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True},
     "step_lr(every: 5, gamma: 0.5)", ("step_lr", {"every": 5, "gamma": 0.5})),
    ("adam(lr: 0.5)", "adam", {"lr": 0.5}, "cosine(epochs: 20)", ("cosine", {"epochs": 20})),
    ("adam(lr: 0.3, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.1)", "adam",
     {"lr": 0.3, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1}, "none", {}),
    ("adamw(lr: 0.5, weight_decay: 0.05)", "adamw", {"lr": 0.5, "weight_decay": 0.05},
     "reduce_on_plateau(factor: 0.5, patience: 1, threshold: 0.3)", ("plateau", {"factor": 0.5, "patience": 1, "threshold": 0.3})),
    ("adagrad(lr: 2)", "adagrad", {"lr": 2.0}, "none", {}),
]


def main():
    binary, data, work = sys.argv[1:4]
    x, y = load(data)
    common = [binary, "train", "--data", data, "--validation", "0", "--batch", "full"]
    failed = 0
    for spec, opt, hp, sched_spec, sched in CASES:
        skind, shp = sched if sched else ("none", {})
        init, out = f"{work}/ref_init.safetensors", f"{work}/ref_out.safetensors"
        subprocess.run(common + ["--epochs", "0", "--save", init], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(common + ["--epochs", str(EPOCHS), "--optimizer", spec, "--schedule", sched_spec, "--save", out],
                       check=True, stdout=subprocess.DEVNULL)
        p0, p1 = load_file(init), load_file(out)
        want = reference(x, y, float(p0["lin.weight"][0, 0]), float(p0["lin.bias"][0]), opt, hp, skind, shp)
        got = np.array([p1["lin.weight"][0, 0], p1["lin.bias"][0]], dtype=np.float64)
        err = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-3)))
        ok = err < 1e-4
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {spec} / {sched_spec}: torch formulas {want}, trainer {got}, rel error {err:.1e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
