#!/usr/bin/env python3
"""compare_params.py A B [TOL]: the same tensors, equal within TOL (default 1e-5) relative.

For each tensor of two F32 safetensors files: max |a - b| / max |a| (the error relative to
the tensor's scale; 0 when both are zero). Prints the worst tensor; exits 1 when any exceeds
TOL or the files hold different tensors or shapes. Standard library only."""
import json
import struct
import sys
from array import array


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    tensors = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        values = array("f")
        values.frombytes(data[8 + n + start:8 + n + end])
        if sys.byteorder != "little":
            values.byteswap()
        tensors[name] = (entry["shape"], values)
    return tensors


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
    if a.keys() != b.keys():
        print(f"different tensors: {sorted(a)} vs {sorted(b)}")
        return 1
    worst, where = 0.0, ""
    for name, (shape, x) in a.items():
        shape_b, y = b[name]
        if shape != shape_b:
            print(f"{name}: shape {shape} vs {shape_b}")
            return 1
        scale = max((abs(v) for v in x), default=0.0)
        diff = max((abs(u - v) for u, v in zip(x, y)), default=0.0)
        rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
        if rel >= worst:
            worst, where = rel, name
    print(f"max relative difference {worst:.2e} ({where})")
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
