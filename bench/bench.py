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
CFLAGS = ["-std=c11", "-O3", "-march=native", "-fno-math-errno"]  # what dlc uses for trainers
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

N_MNIST, IN, HID, OUT, BATCH = 60000, 784, 512, 10, 64
N_SINE, SINE_STEPS = 100, 5000
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


class Job:
    def __init__(self, key, argv, env, reps, parse, cwd=None, logfile=None):
        self.key, self.argv, self.env, self.reps, self.parse = key, argv, env, reps, parse
        self.cwd, self.logfile = cwd, logfile

    def run(self):
        if self.logfile and os.path.exists(self.logfile):
            os.remove(self.logfile)
        r = spawn(self.argv, self.env, self.cwd)
        return parse_dlc(r, self.logfile) if self.parse == "dlc" else parse_kv(r) if self.parse == "kv" else r


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
    import numpy as np
    os.makedirs(DATA, exist_ok=True)
    stamp = os.path.join(DATA, "VERSION")
    if os.path.exists(stamp) and open(stamp).read() == DATA_VERSION:
        return
    log("writing synthetic data (seeded) ...")
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
    for src, libs in (("mnist_sgd", ["-lopenblas", "-lm"]), ("sine_adam", ["-lm"]), ("empty_blas", ["-lopenblas"])):
        out = os.path.join(BIN, "hand_" + src)
        subprocess.run(cc + CFLAGS + ["-Wall", "-o", out, os.path.join(HERE, "c", src + ".c")] + libs, check=True)
    return " ".join(cc + CFLAGS)


def have(module):
    p = subprocess.run([sys.executable, "-c", f"import {module}; print({module}.__version__)"],
                       capture_output=True, text=True, env=ENV_UNSET)
    return p.stdout.strip() if p.returncode == 0 else None


def fma_peak():
    """Single-core FP32 peak of fused multiply-adds, GFLOP/s, and how it was estimated: 2 FLOPs per
    FMA × FMA lanes per cycle × the clock /proc/cpuinfo reports. Lanes per cycle: Intel with
    AVX-512, two 512-bit FMA units (32); AMD Zen 4 (family 0x19) with AVX-512, two 256-bit units
    (16); Zen 5 (0x1a), two 512-bit units (32); AVX2 + FMA, two 256-bit units (16). Turbo clocks
    are not known here, so this is the peak at the reported clock."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return None, "unknown (no /proc/cpuinfo)"
    def field(name):
        m = re.search(rf"^{name}\s*:\s*(.*)$", info, re.M)
        return m.group(1).strip() if m else ""
    flags, vendor, family = field("flags").split(), field("vendor_id"), field("cpu family")
    mhz = float(field("cpu MHz") or 0)
    if "fma" not in flags or mhz <= 0:
        return None, "unknown (no FMA or no clock reported)"
    if "avx512f" in flags:
        lanes = 16 if vendor == "AuthenticAMD" and family == "25" else 32
    else:
        lanes = 16
    return 2 * lanes * mhz / 1000, f"2 FLOPs × {lanes} FMA lanes/cycle × {mhz:.0f} MHz ({vendor}, family {family})"


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
    ap.add_argument("--fw-runs", type=int, default=5, help="runs per JAX/PyTorch configuration of (a) and (b) (default 5)")
    ap.add_argument("--startup-runs", type=int, default=30)
    ap.add_argument("--no-build", action="store_true", help="use the existing .build/release/dlc")
    ap.add_argument("--only", default="a,b,c,d,e,compile,startup,scaling")
    ap.add_argument("--skip-frameworks", action="store_true", help="leave out JAX and PyTorch (as if not installed)")
    ap.add_argument("--out", default=None, help="also write the report to this file")
    a = ap.parse_args()
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
    jax_v, torch_v = (None, None) if a.skip_frameworks else (have("jax"), have("torch"))
    import numpy as np
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
    P(f"- numpy {np.__version__}; JAX {jax_v or 'n/a (not importable)'}; PyTorch {torch_v or 'n/a (not importable)'} "
      f"(JAX and PyTorch do not use the system OpenBLAS: they run once, with the two variables unset)")
    P(f"- Python {platform.python_version()}; every time is wall clock, median (min–max) over the runs; "
      f"configurations interleaved round-robin; {a.runs} runs per dlc/C configuration, {fw_runs} per JAX/PyTorch "
      f"configuration (they are the slow ones); load average at start: {os.getloadavg()[0]:.2f} "
      "(the machine may be shared)\n")

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
                                ENVS[env], a.runs, "dlc", logfile=lf))
                jobs.append(Job(("hand", env, t), [os.path.join(BIN, "hand_mnist_sgd"), X, Y, "--threads", str(t)],
                                ENVS[env], a.runs, "kv"))
                jobs.append(Job(("fold", env, t), [os.path.join(BIN, "hand_mnist_sgd"), X, Y, "--threads", str(t), "--fold"],
                                ENVS[env], a.runs, "kv"))
        for t in (1, 2):
            if jax_v:
                env = dict(ENV_UNSET)
                if t == 1:
                    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                                        " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
                jobs.append(Job(("jax", "unset", t), [py, os.path.join(HERE, "py", "jax_mnist.py"), X, Y], env, fw_runs, "kv"))
            if torch_v:
                jobs.append(Job(("torch", "unset", t), [py, os.path.join(HERE, "py", "torch_mnist.py"), X, Y,
                                                        "--threads", str(t)], ENV_UNSET, fw_runs, "kv"))
        res_a = run_interleaved(jobs, "(a)")

        names = {"dlc": "dlc", "hand": "hand-written C", "fold": "hand-written C, --fold", "jax": "JAX (jit step)", "torch": "PyTorch (eager)"}
        rows = []
        for t in (1, 2):
            for impl in ("dlc", "hand", "fold", "jax", "torch"):
                for env in ENVS:
                    runs = res_a.get((impl, env, t))
                    if runs is None:
                        if impl in ("jax", "torch") and env == "unset":
                            rows.append([names[impl], t, "—", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", 0])
                        continue
                    walls = [r["wall"] for r in runs]
                    eps = [r["epoch_s"] for r in runs if r.get("epoch_s")]
                    cpu = med([r["cpu"] / r["wall"] for r in runs])
                    rows.append([names[impl], t, env, spread(walls), fmt_rate(N_MNIST / med(walls)),
                                 spread(eps), fmt_rate(N_MNIST / med(eps)) if eps else "n/a",
                                 f"{cpu:.2f}", f"{med([r['rss_kb'] for r in runs]) / 1024:.0f}",
                                 f"{med([r['loss'] for r in runs]):.4f}" if runs[0].get("loss") is not None else "?",
                                 len(runs)])
        P(f"## (a) MLP 784-512-10, cross-entropy, SGD lr 0.01, batch 64, one epoch of {N_MNIST:,} rows, no shuffle\n")
        P("Process = the whole process (start, loading the .npy data, training; for JAX/PyTorch also the interpreter, "
          "imports and JIT compilation). Epoch = the training loop alone (dlc: the `seconds` column of `--log`; the "
          "others time their loop the same way; JAX's batch shapes are compiled before it). samples/s = 60 000 / median "
          "time. CPU = (user+sys)/wall. Loss = the epoch's mean training loss (a sanity check: different inits). "
          "hand-written C is bench/c/mnist_sgd.c (explicit gradients, fused SGD pass: the baseline of the targets); "
          "`--fold` is the same program updating fc1's weights inside the last GEMM (alpha = -lr, beta = 1) "
          "instead of materialising their gradient, shown for reference.\n")
        P(table(["implementation", "threads", "BLAS env", "process s", "samples/s (process)", "epoch s",
                 "samples/s (epoch)", "CPU", "peak RSS MiB", "loss", "runs"], rows))
        P("")

    # ---------------------------------------------------------------- (b) lecture MLP, Adam
    res_b = {}
    if "b" in only:
        log("(b) lecture MLP, Adam, 5000 full-batch steps ...")
        jobs = [Job(("dlc", env), [os.path.join(BIN, "sine_adam"), "train", "--input", f"x={SX}", "--input", f"y={SY}"],
                    ENVS[env], a.runs, "dlc") for env in ENVS]
        jobs.append(Job(("hand", "—"), [os.path.join(BIN, "hand_sine_adam"), SX, SY], ENV_UNSET, a.runs, "kv"))
        if jax_v:
            jobs.append(Job(("jax", "unset"), [py, os.path.join(HERE, "py", "jax_sine.py"), SX, SY], ENV_UNSET, fw_runs, "kv"))
        if torch_v:
            jobs.append(Job(("torch", "unset"), [py, os.path.join(HERE, "py", "torch_sine.py"), SX, SY, "--threads", "1"], ENV_UNSET, fw_runs, "kv"))
        res_b = run_interleaved(jobs, "(b)")
        hand = med([r["wall"] for r in res_b[("hand", "—")]])
        rows = []
        for key, name in ((("dlc", "as-is"), "dlc"), (("dlc", "unset"), "dlc"), (("hand", "—"), "hand-written C (no BLAS)"),
                          (("jax", "unset"), "JAX (jit step)"), (("torch", "unset"), "PyTorch (eager)")):
            runs = res_b.get(key)
            if runs is None:
                rows.append([name, key[1], "n/a", "n/a", "n/a", "n/a", 0])
                continue
            walls = [r["wall"] for r in runs]
            eps = [r["epoch_s"] for r in runs if r.get("epoch_s")]
            rows.append([name, key[1], spread(walls, "{:.1f}", 1000), f"{med(walls) / hand:.2f}x",
                         spread(eps, "{:.1f}", 1000) if eps else "—",
                         f"{med([r['loss'] for r in runs]):.5f}" if runs[0].get("loss") is not None else "?", len(runs)])
        P(f"## (b) Linear(1,10)-ReLU-Linear(10,10)-ReLU-Linear(10,1), MSE, Adam lr 0.1, full batch of {N_SINE}, "
          f"{SINE_STEPS} steps\n")
        P("Process = whole process wall time (ms); ratio = process time / hand-written C's. Loop = the training loop "
          "alone where the program reports it (JAX: after compiling the step). dlc and JAX use their default "
          "threads, PyTorch runs with 1 (its OpenMP pool only costs at this size, and stalls when the second "
          "core is busy). Loss = the last step's loss (different inits).\n")
        P(table(["implementation", "BLAS env", "process ms", "time / hand-written", "loop ms", "loss", "runs"], rows))
        P("")

    # ---------------------------------------------------------------- (c), (d) default trainings
    res_cd = {}
    if "c" in only or "d" in only:
        log("(c)/(d) LineGrid and digits, default training ...")
        jobs = []
        for name in [n for n, k in (("line_grid", "c"), ("digits", "d")) if k in only]:
            for env in ENVS:
                jobs.append(Job((name, env), [os.path.join(BIN, name), "train"], ENVS[env], a.runs, "dlc", cwd=ROOT))
        res_cd = run_interleaved(jobs, "(c)/(d)")
        rows = []
        for (name, env), runs in res_cd.items():
            walls = [r["wall"] for r in runs]
            rows.append([f"{name} ({'c' if name == 'line_grid' else 'd'})", env, spread(walls, "{:.1f}", 1000),
                         f"{med([r['loss'] for r in runs]):.5f}", len(runs)])
        P("## (c) LineGrid (models/line_grid.dl) and (d) digits (models/digits.dl): `TRAINER train`, default settings\n")
        P("Whole process, ms (line_grid: 31 epochs of 250 rows, batch 25; digits: 30 epochs of 1 437 rows, batch 32, "
          "with its validation pass and accuracy each epoch). Loss = the last epoch's training loss.\n")
        P(table(["model", "BLAS env", "process ms", "last loss", "runs"], rows))
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
        peak, peak_note = fma_peak()
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
          + (f"{peak:.1f} GFLOP/s ({peak_note}).\n" if peak else f"{peak_note}.\n"))
        P(table(["implementation", "BLAS env", "epoch s", "samples/s (epoch)", "process s", "GFLOP/s (epoch)",
                 "of FMA peak", "loss", "runs"], rows))
        P("")

    # ---------------------------------------------------------------- compile time
    comp = {}
    if "compile" in only:
        log("dlc compile times (warm cache) ...")
        jobs = [Job(name, [DLC, "compile", MODELS[name], "-o", os.path.join(BIN, name)], ENV_ASIS, a.runs, None)
                for name in MODELS]
        comp = run_interleaved(jobs, "compile")
        rows = [[name, os.path.relpath(MODELS[name], ROOT), spread([r["wall"] for r in runs], "{:.0f}", 1000),
                 verdict(med([r["wall"] for r in runs]) < 1.0), len(runs)] for name, runs in comp.items()]
        P("## `dlc compile MODEL.dl -o PATH` (warm cache: the runtime objects are already built)\n")
        P(table(["model", "file", "ms", "< 1 s", "runs"], rows))
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
          f"**{bound / MB:.1f} MiB**. Peak = the largest ru_maxrss over the runs (wait4 of the trainer itself).\n")
        P(table(["process", "BLAS env", "peak RSS MiB", "bound MiB", "peak / bound", "within"], rows))
        P("")

    # ---------------------------------------------------------------- targets
    P("## Targets\n")
    rows = []
    if res_a:
        for basis, key in (("epoch", "epoch_s"), ("process", "wall")):
            for env in ENVS:
                for t in (1, 2):
                    d = med([r[key] for r in res_a[("dlc", env, t)]])
                    h = med([r[key] for r in res_a[("hand", env, t)]])
                    f = med([r[key] for r in res_a[("fold", env, t)]])
                    best = min(r[key] for r in res_a[("hand", env, t)]) / min(r[key] for r in res_a[("dlc", env, t)])
                    rows.append([f"(a) dlc / hand-written samples/s, {basis}, {t} thr, BLAS {env}", "≥ 0.95",
                                 ratio_str(h / d) + f" (vs --fold: {f / d:.3f}x)", ratio_str(best), verdict(h / d >= 0.95)])
            for t in (1, 2):
                j = res_a.get(("jax", "unset", t))
                dl = [r[key] for r in res_a[("dlc", "unset", t)]]
                r_ = med([r[key] for r in j]) / med(dl) if j else None
                best = min(r[key] for r in j) / min(dl) if j else None
                rows.append([f"(a) dlc / JAX samples/s, {basis}, {t} thr, BLAS unset", "≥ 1.1", ratio_str(r_),
                             ratio_str(best), verdict(None if r_ is None else r_ >= 1.1)])
    if res_b:
        hand = med([r["wall"] for r in res_b[("hand", "—")]])
        for env in ENVS:
            d = med([r["wall"] for r in res_b[("dlc", env)]])
            best = min(r["wall"] for r in res_b[("dlc", env)]) / min(r["wall"] for r in res_b[("hand", "—")])
            rows.append([f"(b) dlc / hand-written process time, BLAS {env}", "≤ 1.3", ratio_str(d / hand), ratio_str(best),
                         verdict(d / hand <= 1.3)])
    if res_e:
        for other, target, name in (("torch", 1.2, "PyTorch"), ("jax", 1.0, "JAX")):
            o = res_e.get((other, "unset"))
            dl = [r["epoch_s"] for r in res_e[("dlc", "unset")]]
            r_ = med([r["epoch_s"] for r in o]) / med(dl) if o else None
            best = min(r["epoch_s"] for r in o) / min(dl) if o else None
            rows.append([f"(e) dlc / {name} samples/s, epoch, 1 core, BLAS unset", f"≥ {target}", ratio_str(r_),
                         ratio_str(best), verdict(None if r_ is None else r_ >= target)])
    for name, runs in comp.items():
        m = med([r["wall"] for r in runs])
        rows.append([f"dlc compile {name}", "< 1 s", f"{m * 1000:.0f} ms", f"{min(r['wall'] for r in runs) * 1000:.0f} ms",
                     verdict(m < 1.0)])
    for (name, env), runs in start.items():
        if "reference" in name:
            continue
        m = med([r["wall"] for r in runs])
        rows.append([f"start-up `{name}`, BLAS {env}", "< 10 ms", f"{m * 1000:.2f} ms",
                     f"{min(r['wall'] for r in runs) * 1000:.2f} ms", verdict(m < 0.010)])
    if res_a:
        worst = max(r["rss_kb"] * 1024 for env in ENVS for t in (1, 2) for r in res_a[("dlc", env, t)])
        rows.append(["(a) dlc peak RSS (worst run)", f"≤ {bound / MB:.1f} MiB", f"{worst / MB:.1f} MiB", "", verdict(worst <= bound)])
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
