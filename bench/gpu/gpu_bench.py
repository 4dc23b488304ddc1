"""Benchmark (g), on one GPU: the MLP 784-512-10 of bench/models/mnist_sgd.dl (cross-entropy,
SGD lr 0.01, file order), one epoch of 60 000 synthetic rows (bench.py's data recipe), at batch
64 (launch-bound) and 1024: dlc's CUDA trainer against PyTorch eager and
torch.compile(mode="reduce-overhead"), and the epoch's cuBLAS calls alone (cublas_floor.cu).

    python3 gpu_bench.py --trainer MNIST_SGD_CUDA_TRAINER --floor CUBLAS_FLOOR [--runs 3] [--out FILE]

Each column runs `--runs` times (round-robin); each run trains a warm-up epoch (dlc: graph
capture; torch.compile: compilation) and times the second one: dlc's `--log` seconds, the
others' `epoch_seconds`. Prints a markdown report: median epoch seconds, samples/s, ratios, and
the targets (batch 64: dlc >= 3x eager and >= 1.2x torch.compile samples/s; batch 1024: dlc's
epoch within 10% of the cuBLAS calls alone).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS, IN, OUT = 60000, 784, 10


def write_data(folder):
    import numpy as np
    rng = np.random.default_rng(20240601)  # bench.py's recipe: the same rows
    x = rng.random((ROWS, IN), dtype=np.float32)
    proj = rng.standard_normal((IN, OUT)).astype(np.float32)
    y = np.argmax((x - 0.5) @ proj, axis=1).astype(np.int32)
    paths = os.path.join(folder, "mnist_x.npy"), os.path.join(folder, "mnist_y.npy")
    np.save(paths[0], x)
    np.save(paths[1], y)
    return paths


def value(text, key):
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[1])
    raise RuntimeError(f"no '{key}' in:\n{text}")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return p.stdout


def dlc_epoch(trainer, x, y, batch, work):
    log = os.path.join(work, f"log-{batch}.csv")
    if os.path.exists(log):
        os.remove(log)
    run([trainer, "train", "--input", f"x={x}", "--input", f"y={y}", "--batch", str(batch), "--epochs", "2",
         "--log", log])
    rows = [line.split(",") for line in open(log).read().splitlines()]
    return float(rows[-1][rows[0].index("seconds")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trainer", required=True, help="dlc's CUDA trainer of bench/models/mnist_sgd.dl")
    ap.add_argument("--floor", required=True, help="cublas_floor built from cublas_floor.cu")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dlc-gpu-bench-")
    x, y = write_data(work)
    torch_script = os.path.join(HERE, "torch_mnist_gpu.py")
    columns = {
        "dlc CUDA": lambda b: dlc_epoch(a.trainer, x, y, b, work),
        "PyTorch eager": lambda b: value(run([sys.executable, torch_script, x, y, "--batch", str(b), "--mode", "eager"]),
                                         "epoch_seconds"),
        "torch.compile": lambda b: value(run([sys.executable, torch_script, x, y, "--batch", str(b), "--mode", "compile"]),
                                         "epoch_seconds"),
        "cuBLAS calls alone": lambda b: value(run([a.floor, str(b)]), "gemm_seconds"),
    }
    gpu = run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]).strip().splitlines()[0]
    times = {}
    for batch in (64, 1024):
        for r in range(a.runs):
            for name, f in columns.items():
                try:
                    times.setdefault((name, batch), []).append(f(batch))
                except Exception as e:  # a column that cannot run is reported, not fatal
                    print(f"warning: {name} at batch {batch}: {e}", file=sys.stderr)
    lines = [f"## Benchmark (g): MLP 784-512-10, SGD, one epoch of {ROWS} rows, on {gpu}", "",
             "| batch | column | epoch seconds (median) | samples/s |", "|---|---|---|---|"]
    med = {k: statistics.median(v) for k, v in times.items() if v}
    for batch in (64, 1024):
        for name in columns:
            t = med.get((name, batch))
            lines.append(f"| {batch} | {name} | {t:.4f} | {ROWS / t:,.0f} |" if t else f"| {batch} | {name} | n/a | n/a |")
    lines += ["", "| target | measured | verdict |", "|---|---|---|"]

    def target(label, ratio, bound):
        if ratio is None:
            lines.append(f"| {label} | n/a | n/a |")
        else:
            lines.append(f"| {label} | {ratio:.2f} | {'PASS' if ratio >= bound else 'MISS'} |")

    def ratio(a_, b_):
        return med[b_] / med[a_] if a_ in med and b_ in med else None

    target("batch 64: dlc samples/s / PyTorch eager (>= 3)", ratio(("dlc CUDA", 64), ("PyTorch eager", 64)), 3.0)
    target("batch 64: dlc samples/s / torch.compile (>= 1.2)", ratio(("dlc CUDA", 64), ("torch.compile", 64)), 1.2)
    floor = ratio(("dlc CUDA", 1024), ("cuBLAS calls alone", 1024))
    target("batch 1024: cuBLAS-alone time / dlc time (>= 1/1.1 = 0.91)", floor, 1 / 1.1)
    report = "\n".join(lines) + "\n"
    print(report)
    if a.out:
        with open(a.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
