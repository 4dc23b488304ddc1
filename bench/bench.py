#!/usr/bin/env python3
"""dlc benchmark: dlc-built trainers against hand-written C, JAX and PyTorch.

    python3 bench/bench.py [--runs 7] [--fw-runs 5] [--no-build] [--only a,b,c,d,e,compile,startup,scaling] [--out FILE]

Builds dlc (release), writes the synthetic data (seeded, once), compiles the trainers and the
hand-written baselines, then runs every configuration round-robin (interleaved, one run of each
per round, order rotated per round) and prints a markdown report: median (min-max) of the runs.
Every column that uses OpenBLAS runs twice: with the environment as it is and with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from that command's environment. See
bench/README.md.
"""
import argparse
import datetime
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(HERE, "build")
DATA = os.path.join(BUILD, "data")
BIN = os.path.join(BUILD, "bin")
TMP = os.path.join(BUILD, "tmp")
DLC = os.path.join(ROOT, ".build", "release", "dlc")
CFLAGS = ["-std=c11", "-O3", "-march=native", "-fno-math-errno", "-fopenmp-simd"]  # what dlc uses for trainers
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

N_MNIST, IN, HID, OUT, BATCH = 60000, 784, 512, 10, 64
N_SINE, SINE_STEPS = 100, 5000
# (a)'s arithmetic per epoch: forward (x W1, h W2), the weight gradients (x^T dh, h^T dlogits) and
# the hidden layer's gradient (dlogits W2^T); 2 flops per multiply-add; biases and elementwise
# work left out (under 0.3%).
A_FLOPS = 2.0 * N_MNIST * (2 * IN * HID + 3 * HID * OUT)
N_LENET = 60000
DATA_VERSION = "2"  # bump when the generator changes

# (e): multiply-adds of LeNet per image, forward: conv1 6·24·24·25, conv2 16·8·8·150, then the
# Linear layers 256·120, 120·84, 84·10. A training step does each product three times (forward,
# weight gradient, input gradient) except conv1's input gradient (the images need none).
LENET_MACS = {"conv1": 6 * 24 * 24 * 25, "conv2": 16 * 8 * 8 * 150, "fc": 256 * 120 + 120 * 84 + 84 * 10}
LENET_FLOPS_PER_IMAGE = 2 * (2 * LENET_MACS["conv1"] + 3 * LENET_MACS["conv2"] + 3 * LENET_MACS["fc"])

ENV_ASIS = dict(os.environ)
ENV_UNSET = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
ENVS = {"as-is": ENV_ASIS, "unset": ENV_UNSET}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Running one process: wall time, CPU time and peak RSS of exactly that child (wait4).

def spawn(argv, env, cwd=None):
    out_path = os.path.join(TMP, "stdout.txt")
    err_path = os.path.join(TMP, "stderr.txt")
    fa = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        t0 = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, env, file_actions=fa)
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    finally:
        os.chdir(old)
    with open(out_path, errors="replace") as f:
        out = f.read()
    with open(err_path, errors="replace") as f:
        err = f.read()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {rc}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_kb": ru.ru_maxrss, "out": out, "err": err}


def last_float(pattern, text):
    m = re.findall(pattern, text)
    return float(m[-1]) if m else None


def parse_dlc(run, logfile=None):
    run["loss"] = last_float(r"loss (-?[0-9.]+(?:e[-+]?\d+)?|nan)", run["out"])
    if logfile and os.path.exists(logfile):
        with open(logfile) as f:
            rows = [r for r in f.read().splitlines() if r.strip()]
        head = rows[0].split(",")
        run["epoch_s"] = float(rows[-1].split(",")[head.index("seconds")])
    return run


def parse_kv(run):
    m = re.search(r"^loss (\S+)$", run["out"], re.M)
    run["loss"] = float(m.group(1)) if m else None
    for key in ("epoch_seconds", "train_seconds"):
        m = re.search(rf"^{key} (\S+)$", run["out"], re.M)
        if m:
            run["epoch_s"] = float(m.group(1))
    return run


def pinned(argv, threads):
    """argv run under `taskset` on the first `threads` cores (taskset execs it: same pid, so wait4
    still measures exactly that program), so a "1 thread" column cannot use a second core."""
    return ["taskset", "-c", ",".join(str(c) for c in range(threads))] + argv


def cpu_cell(runs, threads):
    """Median (user+sys)/wall of the runs, flagged when it exceeds the column's thread count
    (2% tolerance for clock granularity)."""
    cpu = med([r["cpu"] / r["wall"] for r in runs])
    return f"{cpu:.2f}" + (f" ⚠ > {threads}" if threads and cpu > threads * 1.02 else "")


class Job:
    def __init__(self, key, argv, env, reps, parse, cwd=None, logfile=None, threads=None):
        """threads: pin the command to that many cores (see pinned); None runs it unpinned."""
        self.key, self.argv, self.env, self.reps, self.parse = key, argv, env, reps, parse
        self.cwd, self.logfile, self.threads = cwd, logfile, threads
        if threads:
            self.argv = pinned(argv, threads)

    def run(self):
        if self.logfile and os.path.exists(self.logfile):
            os.remove(self.logfile)
        r = spawn(self.argv, self.env, self.cwd)
        return parse_dlc(r, self.logfile) if self.parse == "dlc" else parse_kv(r) if self.parse == "kv" else r


class ColdCompileJob(Job):
    """`dlc compile` with DLC_CACHE_DIR pointing at a new empty directory each run."""

    def run(self):
        import tempfile
        with tempfile.TemporaryDirectory(dir=TMP) as cache:
            self.env = dict(self.env, DLC_CACHE_DIR=cache)
            return super().run()


COMPILE_TARGET = {"warm": 0.3, "cold": 1.5}  # seconds, issue 15


def run_interleaved(jobs, label):
    """Round-robin: round r runs every job that still needs a run, starting at a rotated offset."""
    results = {j.key: [] for j in jobs}
    rounds = max(j.reps for j in jobs)
    t0 = time.perf_counter()
    for r in range(rounds):
        todo = [j for j in jobs if j.reps > r]
        k = r % len(todo)
        for j in todo[k:] + todo[:k]:
            results[j.key].append(j.run())
        if rounds <= 10 or (r + 1) % 10 == 0 or r + 1 == rounds:
            log(f"  {label}: round {r + 1}/{rounds} done ({time.perf_counter() - t0:.0f} s)")
    return results


# ---------------------------------------------------------------------------------------------
# Statistics and formatting

def med(xs):
    return statistics.median(xs) if xs else None


def spread(xs, fmt="{:.3f}", scale=1.0):
    if not xs:
        return "n/a"
    xs = [x * scale for x in xs]
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def fmt_rate(x):
    return "n/a" if x is None else f"{x:,.0f}"


def ratio_str(x):
    return "n/a" if x is None else f"{x:.3f}x"


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "**MISS**")


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Setup: dlc, data, trainers, baselines

def build_dlc(skip):
    if skip:
        return "not rebuilt (--no-build)"
    log("building dlc (swift build -c release --product dlc) ...")
    p = subprocess.run(["swift", "build", "-c", "release", "--product", "dlc"], cwd=ROOT,
                       capture_output=True, text=True)
    if p.returncode == 0:
        return "built now"
    if os.path.exists(DLC):
        errs = [l for l in (p.stdout + p.stderr).splitlines() if "error:" in l][:3]
        log("warning: swift build failed; benchmarking the existing binary:\n  " + "\n  ".join(errs))
        return "swift build FAILED (tree being edited); existing binary of " + \
            datetime.datetime.fromtimestamp(os.path.getmtime(DLC)).strftime("%Y-%m-%d %H:%M")
    sys.exit("swift build failed and there is no dlc binary:\n" + p.stdout[-3000:] + p.stderr[-3000:])


def write_data():
    """Writes the data in a separate Python process. On Linux a child inherits the RSS high-water
    mark of the process that spawned it (exec keeps the old address space's peak in
    ru_maxrss), so if this process held the 180 MiB data set, every trainer's "peak RSS" would
    read at least that much. The bench process itself never imports NumPy."""
    stamp = os.path.join(DATA, "VERSION")
    if os.path.exists(stamp) and open(stamp).read() == DATA_VERSION:
        return
    log("writing synthetic data (seeded, in a child process) ...")
    subprocess.run([sys.executable, os.path.abspath(__file__), "--write-data"], check=True)


def write_data_here():
    import numpy as np
    os.makedirs(DATA, exist_ok=True)
    stamp = os.path.join(DATA, "VERSION")
    rng = np.random.default_rng(20240601)
    x = rng.random((N_MNIST, IN), dtype=np.float32)  # pixels in [0, 1)
    # labels a fixed random linear map can predict, so the loss has something to learn
    proj = rng.standard_normal((IN, OUT)).astype(np.float32)
    y = np.argmax((x - 0.5) @ proj, axis=1).astype(np.int32)
    np.save(os.path.join(DATA, "mnist_x.npy"), x)
    np.save(os.path.join(DATA, "mnist_y.npy"), y)
    sx = (np.arange(N_SINE, dtype=np.float64) / (N_SINE - 1)).reshape(N_SINE, 1)
    np.save(os.path.join(DATA, "sine_x.npy"), sx.astype(np.float32))
    np.save(os.path.join(DATA, "sine_y.npy"), np.sin(2 * np.pi * sx).astype(np.float32))
    # (e): 28x28 images in [0, 1), labels from a fixed random linear map of the pixels.
    lx = rng.random((N_LENET, 1, 28, 28), dtype=np.float32)
    lproj = rng.standard_normal((IN, OUT)).astype(np.float32)
    ly = np.argmax((lx.reshape(N_LENET, IN) - 0.5) @ lproj, axis=1).astype(np.int32)
    np.save(os.path.join(DATA, "lenet_x.npy"), lx)
    np.save(os.path.join(DATA, "lenet_y.npy"), ly)
    with open(stamp, "w") as f:
        f.write(DATA_VERSION)


SINE_INIT = os.path.join(DATA, "sine_init.npy")


def write_sine_init():
    """The dlc trainer's initial params of (b) (`train --epochs 0 --save`), as the 141 floats the
    hand-written baseline's --init reads: both then train from the same start. Converted in a
    child process (NumPy), as write_data is."""
    ckpt = os.path.join(TMP, "sine_init.safetensors")
    subprocess.run([os.path.join(BIN, "sine_adam"), "train", "--input", f"x={os.path.join(DATA, 'sine_x.npy')}",
                    "--input", f"y={os.path.join(DATA, 'sine_y.npy')}", "--epochs", "0", "--save", ckpt],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, os.path.abspath(__file__), "--write-sine-init", ckpt], check=True)


def write_sine_init_here(ckpt):
    import json
    import struct
    import numpy as np
    blob = open(ckpt, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header, data = json.loads(blob[8:8 + n]), blob[8 + n:]
    parts = []
    for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "out.weight", "out.bias"):
        t = header[name]
        assert t["dtype"] == "F32", name
        start, end = t["data_offsets"]
        parts.append(np.frombuffer(data[start:end], dtype="<f4"))
    params = np.concatenate(parts)
    assert params.size == 141, params.size
    np.save(SINE_INIT, params)


MODELS = {  # name -> .dl file
    "mnist_sgd": os.path.join(HERE, "models", "mnist_sgd.dl"),
    "sine_adam": os.path.join(HERE, "models", "sine_adam.dl"),
    "line_grid": os.path.join(ROOT, "models", "line_grid.dl"),
    "digits": os.path.join(ROOT, "models", "digits.dl"),
    "lenet_sgd": os.path.join(HERE, "models", "lenet_sgd.dl"),
}


def dlc_compile(name):
    p = subprocess.run([DLC, "compile", MODELS[name], "-o", os.path.join(BIN, name)], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"dlc compile {MODELS[name]} failed:\n{p.stdout}{p.stderr}")


def dlc_compile_mpi(name):
    """The data-parallel trainer of a model (dlc compile --mpi), or None without Open MPI."""
    if not shutil.which("mpirun"):
        return None
    out = os.path.join(BIN, name + "_mpi")
    p = subprocess.run([DLC, "compile", MODELS[name], "--mpi", "-o", out], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"dlc compile {MODELS[name]} --mpi failed:\n{p.stdout}{p.stderr}")
    return out


# Data-parallel scaling: the all-reduce of model (a)'s gradient, and what it predicts for a cluster.
SCALING_BATCH = 128
GRAD_FLOATS = HID * IN + HID + OUT * HID + OUT  # 407 050: one all-reduce of 1.63 MB per step
# Per-message latency of the cluster model, assumed (not measured here): TCP over 10 Gb/s
# Ethernet, and RDMA (InfiniBand/RoCE) at 100 Gb/s.
NETWORKS = (("10 Gb/s Ethernet (TCP)", 10e9, 25e-6), ("100 Gb/s InfiniBand/RoCE", 100e9, 2e-6))


def ring_allreduce_seconds(p, nbytes, bits_per_second, latency):
    """A ring all-reduce (reduce-scatter, then all-gather) of nbytes over p machines: every
    machine sends and receives 2 (p - 1) / p of the buffer in 2 (p - 1) messages."""
    return 2 * (p - 1) / p * nbytes * 8 / bits_per_second + 2 * (p - 1) * latency


def build_baselines():
    cc = os.environ.get("CC", "cc").split()
    for src, libs in (("mnist_sgd", ["-lopenblas", "-lm"]), ("sine_adam", ["-lm"]), ("empty_blas", ["-lopenblas"]),
                      ("fma_peak", [])):
        out = os.path.join(BIN, "hand_" + src)
        subprocess.run(cc + CFLAGS + ["-Wall", "-o", out, os.path.join(HERE, "c", src + ".c")] + libs, check=True)
    return " ".join(cc + CFLAGS)


def have(module):
    p = subprocess.run([sys.executable, "-c", f"import {module}; print({module}.__version__)"],
                       capture_output=True, text=True, env=ENV_UNSET)
    return p.stdout.strip() if p.returncode == 0 else None


def machine_info():
    try:
        lscpu = subprocess.run("lscpu | head", shell=True, capture_output=True, text=True).stdout.rstrip()
    except OSError:
        lscpu = platform.processor()
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "Sources", "codegen"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    cc = subprocess.run(os.environ.get("CC", "cc").split() + ["--version"], capture_output=True, text=True).stdout.splitlines()
    blas = subprocess.run("dpkg -S /usr/lib/x86_64-linux-gnu/libopenblas.so.0 2>/dev/null; "
                          "dpkg -l 'libopenblas0*' 2>/dev/null | awk '/^ii/{print $2, $3}'",
                          shell=True, capture_output=True, text=True).stdout.strip().splitlines()
    return lscpu, rev + (" + uncommitted edits in Sources/ or codegen/" if dirty else ""), (cc[0] if cc else "?"), \
        ", ".join(b for b in blas if not b.startswith("libopenblas0") or " " in b)


# ---------------------------------------------------------------------------------------------

def scaling_report(P, runs, X, Y):
    """Model (a), SGD, global batch 128, one epoch: 1 process x 1 thread, 1 x 2, 2 processes x 1
    (mpirun, one core each; busy-waiting, and yielding when idle), BLAS env unset; samples/s from
    the epoch time, the all-reduce time per step (rank 0's DLC_COMM_TIMES report), and the
    cluster prediction."""
    mpi_trainer = dlc_compile_mpi("mnist_sgd")
    P(f"## Data-parallel scaling: model (a), SGD, global batch {SCALING_BATCH}, one epoch of {N_MNIST:,} rows\n")
    if not mpi_trainer:
        P("n/a: Open MPI is not installed (scripts/install-deps.sh installs it).\n")
        return
    log("scaling: 1 process x 1 and 2 threads, 2 processes x 1 thread ...")
    common = ["train", "--input", f"x={X}", "--input", f"y={Y}", "--batch", str(SCALING_BATCH)]
    mpirun = ["mpirun", "-np", "2", "--bind-to", "core"] + (["--allow-run-as-root"] if os.getuid() == 0 else [])
    env = dict(ENV_UNSET, DLC_COMM_TIMES="1")
    jobs = []
    yielding = ["--mca", "mpi_yield_when_idle", "1"]
    for key, argv in ((("1p", 1), [os.path.join(BIN, "mnist_sgd")] + common + ["--threads", "1"]),
                      (("1p", 2), [os.path.join(BIN, "mnist_sgd")] + common + ["--threads", "2"]),
                      (("2p", 1), mpirun + [mpi_trainer] + common + ["--threads", "1"]),
                      (("2p yield", 1), mpirun + yielding + [mpi_trainer] + common + ["--threads", "1"])):
        lf = os.path.join(TMP, f"scaling_{key[0]}_{key[1]}.csv")
        jobs.append(Job(key, argv + ["--log", lf], env, runs, "dlc", logfile=lf))
    res = run_interleaved(jobs, "scaling")
    steps = -(-N_MNIST // SCALING_BATCH)
    base = med([r["epoch_s"] for r in res[("1p", 1)]])
    rows = []
    for (procs, threads), name in ((("1p", 1), "1 process × 1 thread"), (("1p", 2), "1 process × 2 threads"),
                                   (("2p", 1), "2 processes × 1 thread"),
                                   (("2p yield", 1), "2 processes × 1 thread, yielding when idle")):
        rs = res[(procs, threads)]
        eps = [r["epoch_s"] for r in rs]
        reduce_us = [float(m.group(1)) for r in rs for m in [re.search(r"\(([0-9.]+) us each\)", r["err"])] if m]
        step_ms = med(eps) / steps * 1000
        rows.append([name, spread(eps), fmt_rate(N_MNIST / med(eps)), f"{step_ms:.3f}",
                     spread(reduce_us, "{:.0f}") if reduce_us else "—",
                     f"{base / med(eps):.2f}x", spread([r["wall"] for r in rs]),
                     f"{med([r['loss'] for r in rs]):.4f}", len(rs)])
    P(f"Epoch = the training loop (`--log` seconds; for 2 processes rank 0's, which waits for the other in every "
      f"all-reduce); samples/s = {N_MNIST:,} / median epoch time; step = epoch / {steps} steps. All-reduce = rank 0's "
      f"time per step in `MPI_Allreduce` of the {GRAD_FLOATS:,}-float gradient ({GRAD_FLOATS * 4 / 1e6:.2f} MB; "
      "`DLC_COMM_TIMES=1`), waiting for the slower process included. Speed-up = 1 process × 1 thread's epoch time / "
      "this row's. One process runs the fused SGD step (the weight gradient's GEMM updates the weights); two "
      "processes materialise the gradient, sum it, then update. `mpirun -np 2 --bind-to core` (yielding: with "
      "`--mca mpi_yield_when_idle 1`, a waiting process gives up its core instead of spinning, which helps when "
      "other work shares the machine); OpenBLAS variables unset. Process = the whole process (mpirun's start "
      "included).\n")
    P(table(["configuration", "epoch s", "samples/s", "step ms", "all-reduce µs/step", "speed-up", "process s", "loss",
             "runs"], rows))
    P("")
    two = med([r["epoch_s"] for r in res[("2p", 1)]])
    P(f"Efficiency of 2 processes: {base / two:.2f}x one process's samples/s = {base / two / 2:.0%} of linear "
      f"(target ≥ 1.7x: {verdict(base / two >= 1.7)}).\n")
    t1 = base / steps
    P("Prediction for a cluster of p machines, each one process with this machine's single-core speed: the global "
      f"batch of {SCALING_BATCH} split in p parts, so a step takes t1 / p + T_allreduce(p), with t1 = "
      f"{t1 * 1000:.3f} ms (1 process × 1 thread, measured above) and a ring all-reduce of S = "
      f"{GRAD_FLOATS * 4 / 1e6:.2f} MB, T_allreduce(p) = 2 (p−1)/p · S / B + 2 (p−1) · α (bandwidth B, per-message "
      "latency α, assumed as given). samples/s = 128 / step time; speed-up against one machine. The compute term "
      f"assumes a part of {SCALING_BATCH}/p rows runs p times faster than {SCALING_BATCH} rows, which small GEMMs "
      "do not quite (optimistic).\n")
    rows = []
    for name, bw, lat in NETWORKS:
        for p in (8, 64):
            ar = ring_allreduce_seconds(p, GRAD_FLOATS * 4, bw, lat)
            step = t1 / p + ar
            rows.append([name, f"{lat * 1e6:.0f} µs", p, f"{t1 / p * 1000:.3f}", f"{ar * 1000:.3f}",
                         fmt_rate(SCALING_BATCH / step), f"{t1 / step:.1f}x", f"{t1 / step / p:.0%}"])
    P(table(["network", "α", "machines p", "compute ms/step", "all-reduce ms/step", "samples/s", "speed-up",
             "efficiency"], rows))
    P("")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="runs per configuration (default 7)")
    # The processes of (b), (c) and (d) last 3 to 35 ms: over 7 runs their medians moved by a few
    # % from run to run of the bench (a neighbour on the second core), which decided the "2 thr /
    # 1 thr" verdicts of models that split nothing; they get more runs, at little cost.
    ap.add_argument("--short-runs", type=int, default=31,
                    help="runs per dlc/C configuration of (b), (c) and (d), processes of milliseconds (default 31)")
    ap.add_argument("--fw-runs", type=int, default=5, help="runs per JAX/PyTorch configuration of (a) and (b) (default 5)")
    ap.add_argument("--startup-runs", type=int, default=30)
    ap.add_argument("--no-build", action="store_true", help="use the existing .build/release/dlc")
    ap.add_argument("--only", default="a,b,c,d,e,compile,startup,scaling")
    ap.add_argument("--skip-frameworks", action="store_true", help="leave out JAX and PyTorch (as if not installed)")
    ap.add_argument("--out", default=None, help="also write the report to this file")
    ap.add_argument("--write-data", action="store_true", help=argparse.SUPPRESS)  # internal: see write_data
    ap.add_argument("--write-sine-init", default=None, help=argparse.SUPPRESS)  # internal: see write_sine_init
    a = ap.parse_args()
    if a.write_data:
        write_data_here()
        return
    if a.write_sine_init:
        write_sine_init_here(a.write_sine_init)
        return
    only = set(a.only.split(","))
    fw_runs = min(a.fw_runs, a.runs)
    started = time.perf_counter()
    os.makedirs(BIN, exist_ok=True)
    os.makedirs(TMP, exist_ok=True)

    build_note = build_dlc(a.no_build)
    write_data()
    log("compiling trainers and baselines ...")
    for name in MODELS:
        dlc_compile(name)  # also warms dlc's runtime-object cache
    cc_line = build_baselines()
    write_sine_init()
    jax_v, torch_v = (None, None) if a.skip_frameworks else (have("jax"), have("torch"))
    np_v = have("numpy")
    lscpu, rev, cc_version, blas_pkg = machine_info()

    X, Y = os.path.join(DATA, "mnist_x.npy"), os.path.join(DATA, "mnist_y.npy")
    SX, SY = os.path.join(DATA, "sine_x.npy"), os.path.join(DATA, "sine_y.npy")
    LX, LY = os.path.join(DATA, "lenet_x.npy"), os.path.join(DATA, "lenet_y.npy")
    py = sys.executable
    report = []
    P = report.append

    envdesc = ", ".join(f"{k}={os.environ[k]}" for k in BLAS_VARS if k in os.environ) or "neither set"
    P(f"# dlc benchmark — {datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S %Z').strip()}\n")
    P("```\n$ lscpu | head\n" + lscpu + "\n```\n")
    P(f"- dlc: git {rev}; {build_note}")
    P(f"- C compiler: {cc_version}; hand-written C built with `{cc_line}` (dlc's trainer flags)")
    P(f"- OpenBLAS: {blas_pkg or 'system libopenblas'}; BLAS settings: **as-is** = the environment as given "
      f"({envdesc}), **unset** = OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed for that command")
    P(f"- numpy {np_v}; JAX {jax_v or 'n/a (not importable)'}; PyTorch {torch_v or 'n/a (not importable)'} "
      f"(JAX and PyTorch do not use the system OpenBLAS: they run once, with the two variables unset)")
    P(f"- Python {platform.python_version()}; every time is wall clock, median (min–max) over the runs; "
      f"configurations interleaved round-robin; {a.runs} runs per dlc/C configuration of (a) and (e), "
      f"{a.short_runs} of (b), (c) and (d) (processes of milliseconds), {fw_runs} per JAX/PyTorch "
      f"configuration (they are the slow ones); load average at start: {os.getloadavg()[0]:.2f} "
      "(the machine may be shared)\n")

    # ---------------------------------------------------------------- the machine's FMA peak
    log("FMA peak (bench/c/fma_peak.c, pinned to core 0) ...")
    peak_runs = [spawn(pinned([os.path.join(BIN, "hand_fma_peak")], 1), ENV_ASIS) for _ in range(3)]
    peak = max(last_float(r"gflops (\S+)", r["out"]) for r in peak_runs)
    vector = re.search(r"vector (.+)", peak_runs[0]["out"]).group(1)
    P("## Machine peak\n")
    P(f"FMA peak of one core: **{peak:.1f} GFLOP/s** (f32, {vector}; the best of 3 runs of "
      "[c/fma_peak.c](c/fma_peak.c), 12 independent FMA chains, pinned to core 0; under load from other "
      "processes this reads low, which makes the % of peak below read high). Two cores: "
      f"{2 * peak:.1f} GFLOP/s.\n")

    # ---------------------------------------------------------------- (a) MNIST-shaped MLP, SGD
    res_a = {}
    if "a" in only:
        log("(a) MNIST-shaped MLP ...")
        jobs = []
        for env in ENVS:
            for t in (1, 2):
                lf = os.path.join(TMP, f"a_dlc_{env}_{t}.csv")
                jobs.append(Job(("dlc", env, t), [os.path.join(BIN, "mnist_sgd"), "train", "--input", f"x={X}",
                                                  "--input", f"y={Y}", "--threads", str(t), "--log", lf],
                                ENVS[env], a.runs, "dlc", logfile=lf, threads=t))
                jobs.append(Job(("hand", env, t), [os.path.join(BIN, "hand_mnist_sgd"), X, Y, "--threads", str(t)],
                                ENVS[env], a.runs, "kv", threads=t))
                jobs.append(Job(("fold", env, t), [os.path.join(BIN, "hand_mnist_sgd"), X, Y, "--threads", str(t), "--fold"],
                                ENVS[env], a.runs, "kv", threads=t))
        for t in (1, 2):
            if jax_v:
                env = dict(ENV_UNSET)
                if t == 1:
                    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                                        " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
                jobs.append(Job(("jax", "unset", t), [py, os.path.join(HERE, "py", "jax_mnist.py"), X, Y], env, fw_runs, "kv",
                                threads=t))
            if torch_v:
                jobs.append(Job(("torch", "unset", t), [py, os.path.join(HERE, "py", "torch_mnist.py"), X, Y,
                                                        "--threads", str(t)], ENV_UNSET, fw_runs, "kv", threads=t))
        res_a = run_interleaved(jobs, "(a)")

        names = {"dlc": "dlc", "hand": "hand-written C", "fold": "hand-written C, --fold", "jax": "JAX (jit step)", "torch": "PyTorch (eager)"}
        rows = []
        for t in (1, 2):
            for impl in ("dlc", "hand", "fold", "jax", "torch"):
                for env in ENVS:
                    runs = res_a.get((impl, env, t))
                    if runs is None:
                        if impl in ("jax", "torch") and env == "unset":
                            rows.append([names[impl], t, "—", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", 0])
                        continue
                    walls = [r["wall"] for r in runs]
                    eps = [r["epoch_s"] for r in runs if r.get("epoch_s")]
                    gf = A_FLOPS / med(eps) / 1e9 if eps else None
                    rows.append([names[impl], t, env, spread(walls), fmt_rate(N_MNIST / med(walls)),
                                 spread(eps), fmt_rate(N_MNIST / med(eps)) if eps else "n/a",
                                 "n/a" if gf is None else f"{gf:.1f} ({100 * gf / (t * peak):.0f}%)",
                                 cpu_cell(runs, t), f"{med([r['rss_kb'] for r in runs]) / 1024:.0f}",
                                 f"{med([r['loss'] for r in runs]):.4f}" if runs[0].get("loss") is not None else "?",
                                 len(runs)])
        P(f"## (a) MLP 784-512-10, cross-entropy, SGD lr 0.01, batch 64, one epoch of {N_MNIST:,} rows, no shuffle\n")
        P("Process = the whole process (start, loading the .npy data, training; for JAX/PyTorch also the interpreter, "
          "imports and JIT compilation). Epoch = the training loop alone (dlc: the `seconds` column of `--log`; the "
          "others time their loop the same way; JAX's batch shapes are compiled before it). samples/s = 60 000 / median "
          "time. GFLOP/s = the epoch's arithmetic (forward, the weight gradients and the hidden layer's gradient: "
          f"{A_FLOPS / 1e9:.1f} GFLOP) / epoch time, and its share of the measured FMA peak of that many cores. "
          "Every column is pinned with `taskset` to as many cores as it has threads (core 0; cores 0,1). "
          "CPU = (user+sys)/wall of that process (wait4), flagged ⚠ where it exceeds the thread count. Loss = the epoch's mean training loss (a sanity check: different inits). "
          "hand-written C is bench/c/mnist_sgd.c (explicit gradients, fused SGD pass: the baseline of the targets); "
          "`--fold` is the same program updating fc1's weights inside the last GEMM (alpha = -lr, beta = 1) "
          "instead of materialising their gradient, shown for reference.\n")
        P(table(["implementation", "threads", "BLAS env", "process s", "samples/s (process)", "epoch s",
                 "samples/s (epoch)", "GFLOP/s (% of peak)", "CPU", "peak RSS MiB", "loss", "runs"], rows))
        P("")

    # ---------------------------------------------------------------- (b) lecture MLP, Adam
    res_b = {}
    if "b" in only:
        log("(b) lecture MLP, Adam, 5000 full-batch steps ...")
        jobs = [Job(("dlc", env, t), [os.path.join(BIN, "sine_adam"), "train", "--input", f"x={SX}", "--input", f"y={SY}",
                                      "--threads", str(t)], ENVS[env], a.short_runs, "dlc", threads=t)
                for env in ENVS for t in (1, 2)]
        jobs.append(Job(("hand", "—", 1), [os.path.join(BIN, "hand_sine_adam"), SX, SY, "--init", SINE_INIT], ENV_UNSET,
                        a.short_runs, "kv", threads=1))
        if jax_v:
            env = dict(ENV_UNSET)
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                                " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
            jobs.append(Job(("jax", "unset", 1), [py, os.path.join(HERE, "py", "jax_sine.py"), SX, SY], env, fw_runs, "kv",
                            threads=1))
        if torch_v:
            jobs.append(Job(("torch", "unset", 1), [py, os.path.join(HERE, "py", "torch_sine.py"), SX, SY, "--threads", "1"],
                            ENV_UNSET, fw_runs, "kv", threads=1))
        res_b = run_interleaved(jobs, "(b)")
        hand = med([r["wall"] for r in res_b[("hand", "—", 1)]])
        hand_cpu = med([r["cpu"] for r in res_b[("hand", "—", 1)]])
        rows = []
        for key, name in ((("dlc", "as-is", 1), "dlc"), (("dlc", "unset", 1), "dlc"), (("dlc", "as-is", 2), "dlc"),
                          (("dlc", "unset", 2), "dlc"), (("hand", "—", 1), "hand-written C (no BLAS)"),
                          (("jax", "unset", 1), "JAX (jit step)"), (("torch", "unset", 1), "PyTorch (eager)")):
            runs = res_b.get(key)
            if runs is None:
                rows.append([name, key[2], key[1], "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", 0])
                continue
            walls = [r["wall"] for r in runs]
            eps = [r["epoch_s"] for r in runs if r.get("epoch_s")]
            cpus = [r["cpu"] for r in runs]
            rows.append([name, key[2], key[1], spread(walls, "{:.1f}", 1000), f"{med(walls) / hand:.2f}x",
                         spread(eps, "{:.1f}", 1000) if eps else "—", spread(cpus, "{:.1f}", 1000),
                         f"{med(cpus) / hand_cpu:.2f}x", cpu_cell(runs, key[2]),
                         f"{med([r['rss_kb'] for r in runs]) / 1024:.1f}",
                         f"{med([r['loss'] for r in runs]):.5f}" if runs[0].get("loss") is not None else "?", len(runs)])
        P(f"## (b) Linear(1,10)-ReLU-Linear(10,10)-ReLU-Linear(10,1), MSE, Adam lr 0.1, full batch of {N_SINE}, "
          f"{SINE_STEPS} steps\n")
        P("Process = whole process wall time (ms); ratio = process time / hand-written C's. Loop = the training loop "
          "alone where the program reports it (the hand-written C; JAX after compiling the step). Every column is pinned with `taskset` to its thread count; dlc gets "
          "`--threads N`, JAX at 1 thread the XLA single-thread flags, PyTorch `set_num_threads(1)`. CPU = "
          "(user+sys)/wall (⚠ where above the thread count); CPU ms = user+sys of the process, which other processes "
          "on a shared machine disturb less than the wall time. Loss = the last step's loss: the hand-written C starts from dlc's initial params (--init), JAX and PyTorch from their own, and 5000 steps of float rounding in different orders move even a shared start's loss apart.\n")
        P(table(["implementation", "threads", "BLAS env", "process ms", "time / hand-written", "loop ms", "CPU ms",
                 "CPU ms / hand-written", "CPU",
                 "peak RSS MiB", "loss", "runs"], rows))
        P("")

    # ---------------------------------------------------------------- (c), (d) default trainings
    res_cd = {}
    if "c" in only or "d" in only:
        log("(c)/(d) LineGrid and digits, default training ...")
        jobs = []
        for name in [n for n, k in (("line_grid", "c"), ("digits", "d")) if k in only]:
            for env in ENVS:
                for t in (1, 2):
                    jobs.append(Job((name, env, t), [os.path.join(BIN, name), "train", "--threads", str(t)], ENVS[env],
                                    a.short_runs, "dlc", cwd=ROOT, threads=t))
        res_cd = run_interleaved(jobs, "(c)/(d)")
        rows = []
        for (name, env, t), runs in res_cd.items():
            walls = [r["wall"] for r in runs]
            rows.append([f"{name} ({'c' if name == 'line_grid' else 'd'})", t, env, spread(walls, "{:.1f}", 1000),
                         cpu_cell(runs, t), f"{med([r['loss'] for r in runs]):.5f}", len(runs)])
        P("## (c) LineGrid (models/line_grid.dl) and (d) digits (models/digits.dl): `TRAINER train`, default settings\n")
        P("Whole process, ms (line_grid: 31 epochs of 250 rows, batch 25; digits: 30 epochs of 1 437 rows, batch 32, "
          "with its validation pass and accuracy each epoch), `--threads N`, pinned with `taskset` to N cores. "
          "Loss = the last epoch's training loss.\n")
        P(table(["model", "threads", "BLAS env", "process ms", "CPU", "last loss", "runs"], rows))
        P("")

    # ---------------------------------------------------------------- (e) LeNet, one core
    res_e = {}
    if "e" in only:
        log("(e) LeNet, SGD momentum 0.9, one core ...")
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        jobs = []
        for env in ENVS:
            lf = os.path.join(TMP, f"e_dlc_{env}.csv")
            jobs.append(Job(("dlc", env), pin + [os.path.join(BIN, "lenet_sgd"), "train", "--input", f"x={LX}", "--input",
                                                 f"y={LY}", "--threads", "1", "--log", lf], ENVS[env], a.runs, "dlc", logfile=lf))
        if torch_v:
            jobs.append(Job(("torch", "unset"), pin + [py, os.path.join(HERE, "py", "torch_lenet.py"), LX, LY, "--threads", "1"],
                            ENV_UNSET, fw_runs, "kv"))
        if jax_v:
            env = dict(ENV_UNSET)
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                                " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
            jobs.append(Job(("jax", "unset"), pin + [py, os.path.join(HERE, "py", "jax_lenet.py"), LX, LY], env, fw_runs, "kv"))
        res_e = run_interleaved(jobs, "(e)")
        flops = LENET_FLOPS_PER_IMAGE * N_LENET
        rows = []
        for key, name in ((("dlc", "as-is"), "dlc"), (("dlc", "unset"), "dlc"), (("torch", "unset"), "PyTorch (eager)"),
                          (("jax", "unset"), "JAX (jit step)")):
            runs = res_e.get(key)
            if runs is None:
                rows.append([name, key[1], "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", 0])
                continue
            eps = [r["epoch_s"] for r in runs if r.get("epoch_s")]
            walls = [r["wall"] for r in runs]
            gflops = flops / med(eps) / 1e9 if eps else None
            rows.append([name, key[1], spread(eps), fmt_rate(N_LENET / med(eps)) if eps else "n/a", spread(walls),
                         f"{gflops:.2f}" if gflops else "n/a",
                         f"{100 * gflops / peak:.1f}%" if gflops and peak else "n/a",
                         f"{med([r['loss'] for r in runs]):.4f}" if runs[0].get("loss") is not None else "?", len(runs)])
        P(f"## (e) LeNet (Conv2d(1,6,5), pool, Conv2d(6,16,5), pool, Linear 256-120-84-10), cross-entropy, SGD lr 0.01 "
          f"momentum 0.9, batch 64, one epoch of {N_LENET:,} synthetic 28×28 images, no shuffle, one core\n")
        P(f"Every column runs under `{' '.join(pin) or '(taskset not found: not pinned)'}` with one thread (dlc `--threads 1`, "
          "PyTorch `torch.set_num_threads(1)`, JAX's single-threaded XLA flags). Epoch = the training loop alone "
          "(dlc: the `seconds` column of `--log`; JAX after compiling its step); process = the whole process. GFLOP/s = "
          f"{LENET_FLOPS_PER_IMAGE / 1e6:.3f} MFLOP per image (the convolutions' and Linear layers' multiply-adds ×2, "
          "forward, weight gradient and input gradient, none for the images) × 60 000 / epoch seconds; the FMA peak is "
          + f"{peak:.1f} GFLOP/s (measured: Machine peak above).\n")
        P(table(["implementation", "BLAS env", "epoch s", "samples/s (epoch)", "process s", "GFLOP/s (epoch)",
                 "of FMA peak", "loss", "runs"], rows))
        P("")

    # ---------------------------------------------------------------- compile time
    comp = {}
    if "compile" in only:
        log("dlc compile times (warm cache, then an empty cache) ...")
        jobs = [Job((name, "warm"), [DLC, "compile", MODELS[name], "-o", os.path.join(BIN, name)], ENV_ASIS, a.runs, None)
                for name in MODELS]
        jobs += [ColdCompileJob((name, "cold"), [DLC, "compile", MODELS[name], "-o", os.path.join(TMP, name + "_cold")],
                                ENV_ASIS, min(a.runs, 3), None) for name in MODELS]
        comp = run_interleaved(jobs, "compile")
        rows = [[name, os.path.relpath(MODELS[name], ROOT), cache, spread([r["wall"] for r in runs], "{:.0f}", 1000),
                 f"≤ {COMPILE_TARGET[cache] * 1000:.0f} ms", verdict(med([r["wall"] for r in runs]) <= COMPILE_TARGET[cache]),
                 len(runs)] for (name, cache), runs in comp.items()]
        P("## `dlc compile MODEL.dl -o PATH`\n")
        P("warm = the runtime objects are already in dlc's cache; cold = `DLC_CACHE_DIR` set to a new empty "
          "directory for each run, so the runtime is compiled too. Not pinned: the C compiler runs it in parallel.\n")
        P(table(["model", "file", "cache", "ms", "target", "verdict", "runs"], rows))
        P("")

    # ---------------------------------------------------------------- start-up time
    start = {}
    if "startup" in only:
        log("trainer start-up ...")
        jobs = []
        for env in ENVS:
            jobs.append(Job(("mnist_sgd info", env), [os.path.join(BIN, "mnist_sgd"), "info"], ENVS[env], a.startup_runs, None))
            jobs.append(Job(("mnist_sgd --help", env), [os.path.join(BIN, "mnist_sgd"), "--help"], ENVS[env], a.startup_runs, None))
            jobs.append(Job(("sine_adam info", env), [os.path.join(BIN, "sine_adam"), "info"], ENVS[env], a.startup_runs, None))
            jobs.append(Job(("empty C program linked to OpenBLAS (reference)", env), [os.path.join(BIN, "hand_empty_blas")],
                            ENVS[env], a.startup_runs, None))
        start = run_interleaved(jobs, "start-up")
        rows = []
        for (name, env), runs in start.items():
            walls = [r["wall"] for r in runs]
            is_ref = "reference" in name
            rows.append([name, env, spread(walls, "{:.2f}", 1000), "" if is_ref else verdict(med(walls) < 0.010), len(runs)])
        P("## Trainer start-up (posix_spawn to exit, ms)\n")
        P(table(["command", "BLAS env", "ms", "< 10 ms", "runs"], rows))
        P("")

    # ---------------------------------------------------------------- data-parallel scaling
    if "scaling" in only:
        scaling_report(P, a.runs, X, Y)

    # ---------------------------------------------------------------- memory bound
    if res_a:
        x_bytes = N_MNIST * IN * 4
        y_bytes = N_MNIST * 4
        n_params = HID * IN + HID + OUT * HID + OUT
        params = grads = n_params * 4
        opt_state = 0  # plain SGD, no momentum
        acts_fwd = BATCH * (IN + 1) * 4 + BATCH * (2 * HID + OUT) * 4  # batch input + pre/post ReLU + logits
        acts = acts_fwd + BATCH * (2 * HID + OUT) * 4  # + their gradients
        core = x_bytes + y_bytes + params + grads + opt_state + acts
        bound = 1.2 * core + 8 * 2 ** 20
        MB = 2 ** 20
        rows = []
        for env in ENVS:
            for t in (1, 2):
                rss = [r["rss_kb"] * 1024 for r in res_a[("dlc", env, t)]]
                rows.append([f"dlc mnist_sgd, {t} thread(s)", env, f"{max(rss) / MB:.1f}", f"{bound / MB:.1f}",
                             f"{max(rss) / bound:.2f}", verdict(max(rss) <= bound)])
        for env in ENVS:
            rss = [r["rss_kb"] * 1024 for r in res_a[("hand", env, 1)]]
            rows.append(["hand-written C, 1 thread (reference)", env, f"{max(rss) / MB:.1f}", f"{bound / MB:.1f}",
                         f"{max(rss) / bound:.2f}", ""])
        P("## Peak RSS of trainer (a) against the bound\n")
        P(f"bound = 1.2 × (data {(x_bytes + y_bytes) / MB:.1f} MiB + params {params / MB:.2f} + grads {grads / MB:.2f} + "
          f"optimizer state {opt_state / MB:.2f} + one batch's activations {acts / MB:.2f} "
          f"[input 64×785, pre/post-ReLU 64×512 ×2, logits 64×10, and their gradients]) + 8 MiB = "
          f"**{bound / MB:.1f} MiB**. Peak = the largest ru_maxrss over the runs (wait4 of the trainer itself; the data "
          "are written by a separate process, and this bench process, whose peak a spawned child inherits on Linux, "
          f"peaked at {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB).\n")
        P(table(["process", "BLAS env", "peak RSS MiB", "bound MiB", "peak / bound", "within"], rows))
        P("")

    # ---------------------------------------------------------------- targets (issue 15)
    P("## Targets\n")
    rows = []

    def target(measure, goal, ratio, best, ok):
        rows.append([measure, goal, ratio, best, verdict(ok)])

    def times(res, key, field="wall"):
        return [r[field] for r in res.get(key, [])] or None

    if res_a:
        for env in ENVS:
            d, h = times(res_a, ("dlc", env, 1), "epoch_s"), times(res_a, ("hand", env, 1), "epoch_s")
            target(f"(a) dlc / hand-written samples/s, epoch, 1 thr, BLAS {env}", "≥ 1.0", ratio_str(med(h) / med(d)),
                   ratio_str(min(h) / min(d)), med(h) / med(d) >= 1.0)
        j, d = times(res_a, ("jax", "unset", 1), "epoch_s"), times(res_a, ("dlc", "unset", 1), "epoch_s")
        target("(a) dlc / JAX (pinned) samples/s, epoch, 1 thr, BLAS unset", "≥ 1.1",
               ratio_str(med(j) / med(d) if j else None), ratio_str(min(j) / min(d) if j else None),
               None if not j else med(j) / med(d) >= 1.1)
        for env in ENVS:
            d = times(res_a, ("dlc", env, 1), "epoch_s")
            gf = A_FLOPS / med(d) / 1e9
            target(f"(a) dlc share of the FMA peak, 1 thr, BLAS {env}", "≥ 85%", f"{gf:.1f} GFLOP/s = {100 * gf / peak:.0f}%",
                   f"{100 * A_FLOPS / min(d) / 1e9 / peak:.0f}%", gf / peak >= 0.85)
        for env in ENVS:
            d1, d2 = times(res_a, ("dlc", env, 1), "epoch_s"), times(res_a, ("dlc", env, 2), "epoch_s")
            target(f"(a) dlc 2-thread / 1-thread samples/s, epoch, BLAS {env}", "≥ 1.85", ratio_str(med(d1) / med(d2)),
                   ratio_str(min(d1) / min(d2)), med(d1) / med(d2) >= 1.85)
    if res_b:
        hand = times(res_b, ("hand", "—", 1))
        for env in ENVS:
            d = times(res_b, ("dlc", env, 1))
            target(f"(b) dlc / hand-written process time, 1 thr, BLAS {env}", "≤ 1.1", ratio_str(med(d) / med(hand)),
                   ratio_str(min(d) / min(hand)), med(d) / med(hand) <= 1.1)
        hand_cpu = times(res_b, ("hand", "—", 1), "cpu")
        for env in ENVS:
            d = times(res_b, ("dlc", env, 1), "cpu")
            target(f"(b) dlc / hand-written process CPU time (user+sys), 1 thr, BLAS {env}", "≤ 1.1",
                   ratio_str(med(d) / med(hand_cpu)), ratio_str(min(d) / min(hand_cpu)), med(d) / med(hand_cpu) <= 1.1)
    two_vs_one = []  # (example, env, runs at 1 thread, runs at 2 threads)
    for env in ENVS:
        if res_a:
            two_vs_one.append(("(a) mnist_sgd", env, times(res_a, ("dlc", env, 1)), times(res_a, ("dlc", env, 2))))
        if res_b:
            two_vs_one.append(("(b) sine_adam", env, times(res_b, ("dlc", env, 1)), times(res_b, ("dlc", env, 2))))
        for name in ("line_grid", "digits"):
            if (name, env, 1) in res_cd:
                two_vs_one.append((f"{name}", env, times(res_cd, (name, env, 1)), times(res_cd, (name, env, 2))))
    for name, env, t1, t2 in two_vs_one:
        target(f"{name}: process time 2 thr / 1 thr, BLAS {env}", "≤ 1.0", ratio_str(med(t2) / med(t1)),
               ratio_str(min(t2) / min(t1)), med(t2) <= med(t1))
    if res_e:
        for other, goal, fw in (("torch", 1.2, "PyTorch"), ("jax", 1.0, "JAX")):
            o = res_e.get((other, "unset"))
            dl = [r["epoch_s"] for r in res_e[("dlc", "unset")]]
            r_ = med([r["epoch_s"] for r in o]) / med(dl) if o else None
            best = min(r["epoch_s"] for r in o) / min(dl) if o else None
            target(f"(e) dlc / {fw} samples/s, epoch, 1 core, BLAS unset", f"≥ {goal}", ratio_str(r_), ratio_str(best),
                   None if r_ is None else r_ >= goal)
    for (name, cache), runs in comp.items():
        m = med([r["wall"] for r in runs])
        target(f"dlc compile {name}, {cache} cache", f"≤ {COMPILE_TARGET[cache]:g} s", f"{m * 1000:.0f} ms",
               f"{min(r['wall'] for r in runs) * 1000:.0f} ms", m <= COMPILE_TARGET[cache])
    for (name, env), runs in start.items():
        if "reference" in name:
            continue
        m = med([r["wall"] for r in runs])
        target(f"start-up `{name}`, BLAS {env}", "< 10 ms", f"{m * 1000:.2f} ms", f"{min(r['wall'] for r in runs) * 1000:.2f} ms",
               m < 0.010)
    if res_a:
        worst = max(r["rss_kb"] * 1024 for env in ENVS for t in (1, 2) for r in res_a[("dlc", env, t)])
        target("(a) dlc peak RSS (worst run)", f"≤ {bound / MB:.1f} MiB", f"{worst / MB:.1f} MiB", "", worst <= bound)
    flagged = [f"{k}" for res in (res_a, res_b, res_cd) for k, runs in res.items()
               if isinstance(k[-1], int) and med([r["cpu"] / r["wall"] for r in runs]) > k[-1] * 1.02]
    target("columns whose CPU use exceeds their thread count", "none", ", ".join(flagged) or "none", "", not flagged)
    P("Verdicts use the medians. *Best runs* compares the fastest run of each side: on a machine with a busy "
      "second core (2-thread rows above all) it shows what the code can do when neither side is disturbed.\n")
    P(table(["measure", "target", "measured (medians)", "best runs", "verdict"], rows))
    P("")
    P(f"Total benchmark wall time: {time.perf_counter() - started:.0f} s; load average at the end: "
      f"{os.getloadavg()[0]:.2f}.")

    text = "\n".join(report)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
