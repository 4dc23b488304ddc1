#!/usr/bin/env python3
"""fuzz_inputs.py: no input file, however malformed, makes a trainer crash or hang.

Mutates valid files of every format the trainer reads (CSV, .npy, IDX, gzipped IDX, the
safetensors params and optimizer files) with a fixed seed and runs the trainer on each: it
must exit 0 or 1 within the time limit, never by a signal or another status.

usage: fuzz_inputs.py MLP_BINARY DIGITS_CSV WORKDIR [CASES_PER_FORMAT]
"""
import gzip
import os
import random
import struct
import subprocess
import sys

import numpy as np


def mutate(rng, data, alphabet=None):
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        r, i = rng.random(), rng.randrange(len(b) + 1)
        pick = (lambda: rng.choice(alphabet)) if alphabet else (lambda: rng.randrange(256))
        if r < 0.45 and i < len(b):
            b[i] = pick()
        elif r < 0.65:
            del b[i : i + rng.randint(1, 64)]
        elif r < 0.9:
            b[i:i] = bytes(pick() for _ in range(rng.randint(1, 8)))
        else:
            del b[i:]  # truncation
    return bytes(b)


def main():
    binary, digits, work = sys.argv[1:4]
    per = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    os.chdir(work)
    rng = random.Random(20240601)
    lines = open(digits).read().splitlines()
    small = "\n".join(lines[:30]) + "\n"
    open("fz_ok.csv", "w").write(small)
    d = np.loadtxt("fz_ok.csv", delimiter=",", skiprows=1)
    np.save("fz_y.npy", d[:, 64].astype(np.int32))
    x_npy = open("fz_x.npy", "wb")
    np.save(x_npy, d[:, :64].astype(np.float32))
    x_npy.close()
    idx = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">III", len(d), 8, 8) + (d[:, :64] * 15).astype(np.uint8).tobytes()
    labels = struct.pack(">BBBB", 0, 0, 8, 1) + struct.pack(">I", len(d)) + d[:, 64].astype(np.uint8).tobytes()
    open("fz_y.idx", "wb").write(labels)
    subprocess.run([binary, "train", "--data", "fz_ok.csv", "--epochs", "1", "--save", "fz_ok.safetensors"],
                   check=True, stdout=subprocess.DEVNULL)
    params = open("fz_ok.safetensors", "rb").read()
    optim = open("fz_ok.optim.safetensors", "rb").read()
    json_chars = b'{}[]",:0123456789-eE.\\u tnrfalsFT'

    def header_mutant(raw):
        n = struct.unpack("<Q", raw[:8])[0]
        h = mutate(rng, raw[8 : 8 + n], json_chars)
        return struct.pack("<Q", len(h)) + h + raw[8 + n :]

    formats = [
        ("fz.csv", lambda: mutate(rng, small.encode(), b"0123456789,.-e\n\r\" nax"), ["train", "--epochs", "1", "--data", "fz.csv"]),
        ("fz.npy", lambda: mutate(rng, open("fz_x.npy", "rb").read()), ["train", "--epochs", "1", "--input", "x=fz.npy", "--input", "y=fz_y.npy"]),
        ("fz-ubyte", lambda: mutate(rng, idx), ["train", "--epochs", "1", "--input", "x=fz-ubyte", "--input", "y=fz_y.idx"]),
        ("fz.idx.gz", lambda: mutate(rng, gzip.compress(idx)), ["train", "--epochs", "1", "--input", "x=fz.idx.gz", "--input", "y=fz_y.idx"]),
        ("fz.safetensors", lambda: mutate(rng, params), ["eval", "--data", "fz_ok.csv", "--weights", "fz.safetensors"]),
        ("fz.safetensors", lambda: header_mutant(params), ["eval", "--data", "fz_ok.csv", "--weights", "fz.safetensors"]),
        ("fz_r.optim.safetensors", lambda: header_mutant(optim), ["train", "--data", "fz_ok.csv", "--epochs", "1", "--resume", "fz_r.safetensors"]),
    ]
    open("fz_r.safetensors", "wb").write(params)
    bad = 0
    for path, make, args in formats:
        for i in range(per):
            open(path, "wb").write(make())
            try:
                p = subprocess.run([binary] + args, capture_output=True, timeout=30)
                status = p.returncode
            except subprocess.TimeoutExpired:
                status = "timeout"
            if status not in (0, 1):
                bad += 1
                keep = f"fz_crash_{bad}_{path}"
                os.replace(path, keep)
                print(f"FAIL {path} case {i}: exit {status}; input kept as {keep}")
    print(f"{len(formats) * per} malformed inputs, {bad} crashes or hangs")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
