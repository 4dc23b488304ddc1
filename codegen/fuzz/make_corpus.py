"""Writes the seed corpus of the fuzz targets (codegen/fuzz/corpus/TARGET/), small valid and
nearly valid files for the fuzz model (fuzz_support.h: x f32[N, 3], y i32[N] labels in [0, 4),
params w [2, 3], b [3], s []). Run from anywhere: python3 codegen/fuzz/make_corpus.py.
The control byte of csv/npy/idx/gzip inputs is described at the top of each fuzz_*.c."""
import gzip
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy_bytes(a):
    import io
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def idx_bytes(a, code):
    a = np.asarray(a)
    head = struct.pack(">BBBB", 0, 0, code, a.ndim) + b"".join(struct.pack(">I", s) for s in a.shape)
    return head + a.astype(a.dtype.newbyteorder(">")).tobytes()


X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
Y = np.array([0, 3, 1], dtype=np.int32)

# CSV: control byte (bits 0-1 columns, bit 2 y optional, bit 3 gzip), then the file.
header = "a,b,c,label\n"
rows = "".join(f"{x[0]},{x[1]},{x[2]},{y}\n" for x, y in zip(X, Y))
put("csv", "header", b"\x00" + (header + rows).encode())
put("csv", "names", b"\x01" + (header + rows).encode())
put("csv", "indices_no_header_no_newline", b"\x02" + rows.rstrip("\n").encode())
put("csv", "list_crlf_bom", b"\x03" + b"\xef\xbb\xbf" + (header + rows).replace("\n", "\r\n").encode())
put("csv", "quoted_blank_lines", b"\x00" + b'"a","b","c","label"\n\n "0.5" ,"-1",2,0\n\n1e3,2.5E-1,-.5,"3"\n')
put("csv", "predict_without_y", b"\x04" + b"a,b,c\n1,2,3\n4,5,6\n")
put("csv", "gzip", b"\x08" + (header + rows).encode())
put("csv", "bad_values", b"\x00" + b"a,b,c,label\n1,,3,0\nnan,2,3,1\n1,2,3,4\n1,2,3,1.5\n\"1\"x,2,3,0\n\"1,2,3,0\n1,2\n")

# .npy: control byte (bit 0: x, else y), then the file.
put("npy", "x_f32", b"\x01" + npy_bytes(X))
put("npy", "x_f64", b"\x01" + npy_bytes(X.astype(np.float64)))
put("npy", "x_f32_big_endian", b"\x01" + npy_bytes(X.astype(">f4")))
put("npy", "x_3d", b"\x01" + npy_bytes(X.reshape(3, 1, 3)))
put("npy", "y_i32", b"\x00" + npy_bytes(Y))
put("npy", "y_i64", b"\x00" + npy_bytes(Y.astype(np.int64)))
v2 = bytearray(npy_bytes(Y))
hlen = struct.unpack("<H", bytes(v2[8:10]))[0]
hdr = bytes(v2[10:10 + hlen]).rstrip(b" \n") + b" " * 50
hdr += b" " * (-(12 + len(hdr) + 1) % 64) + b"\n"
put("npy", "y_version2", b"\x00" + b"\x93NUMPY\x02\x00" + struct.pack("<I", len(hdr)) + hdr + bytes(v2[10 + hlen:]))

# IDX: control byte (bit 0: x, else y), then the file (plain, or gzip as it is on disk).
put("idx", "x_float", b"\x01" + idx_bytes(X, 0x0D))
put("idx", "x_double", b"\x01" + idx_bytes(X.astype(np.float64), 0x0E))
put("idx", "x_ubyte", b"\x01" + idx_bytes(np.array([[0, 128, 255], [1, 2, 3]], dtype=np.uint8), 0x08))
put("idx", "y_ubyte", b"\x00" + idx_bytes(Y.astype(np.uint8), 0x08))
put("idx", "y_int", b"\x00" + idx_bytes(Y, 0x0C))
put("idx", "y_short", b"\x00" + idx_bytes(Y.astype(np.int16), 0x0B))
put("idx", "y_ubyte_gz", b"\x00" + gzip.compress(idx_bytes(Y.astype(np.uint8), 0x08), mtime=0))

# gzip: control byte (bit 0 tensor, bits 1-2 how to compress, bits 3-7 a count), then IDX.
for i, ctl in enumerate([0x00, 0x02, 0x04 | (3 << 3), 0x06 | (5 << 3)]):
    put("gzip", f"y_ubyte_{i}", bytes([ctl]) + idx_bytes(Y.astype(np.uint8), 0x08))
put("gzip", "x_float", b"\x01" + idx_bytes(X, 0x0D))


def safetensors(tensors, metadata):
    head, data = {}, b""
    if metadata is not None:
        head["__metadata__"] = metadata
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype=np.float32)
        head[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [len(data), len(data) + a.nbytes]}
        data += a.tobytes()
    h = json.dumps(head, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


P = {"w": np.arange(6).reshape(2, 3) / 10, "b": np.ones(3), "s": np.array(0.5)}
norm = {"normalize.x.mean": "[0.5,1.5,-2.25]", "normalize.x.std": "[1,2.5,0.125]"}
put("safetensors", "params", safetensors(P, {"format": "pt", "dlc.step": "12", **norm}))
put("safetensors", "params_no_metadata", safetensors(P, None))
put("safetensors", "params_other_order", safetensors({"s": P["s"], "b": P["b"], "w": P["w"]}, {"format": "pt", **norm}))

# Metadata: the JSON object a checkpoint pair carries (params and optimizer keys together).
meta = {"format": "dlc-optim-1", "optimizer": "sgd", "dlc.step": "7", "epoch": "2", "epoch_batches": "1",
        "epoch_loss_sum": "3.25", "epoch_rows": "4", "rng.shuffle": "12345678901234567890",
        "seed": "0", "lr": "0.1", "schedule.last_epoch": "2", "schedule.best": "inf", "schedule.bad_epochs": "0", **norm}
put("metadata", "resume", json.dumps(meta).encode())
watch = {"watch.best": "0.0625", "watch.best_epoch": "2", "watch.stop_best": "inf", "watch.bad_epochs": "1"}
put("metadata", "resume_watch", json.dumps({**meta, **watch}).encode())
put("metadata", "escapes", json.dumps({"format": "pt", "k\u00e9y": "a\"b\\c\n\u0001", "normalize.x.mean": "[1e-3, 2E+2, -0.0]"}).encode())
put("metadata", "numbers", b'{"format": "dlc-optim-1", "lr": "1e400", "epoch": "0x10", "dlc.step": " 5"}')
put("metadata", "nested", b'[{"a": [1, 2.5, -3e-2, true, false, null]}, "\\ud83d\\ude00", {}]')

# Flags: NUL-separated arguments after the program name.
def argv(*a):
    return "\0".join(a).encode()


put("flags", "train", argv("train", "--epochs", "3", "--batch", "8", "--lr", "0.05", "--seed", "7"))
put("flags", "train_optimizer", argv("train", "--optimizer", "adam(lr: 0.01, beta1: 0.8)", "--schedule",
                                     "step_lr(every: 2, gamma: 0.5)", "--accumulate=2", "--metric", "mse"))
put("flags", "train_data", argv("train", "--input", "x=x.npy", "--columns", "x: 0-2, y: label", "--normalize", "none",
                                "--validation", "0.1", "--drop-last", "true", "--shuffle", "false", "--steps", "5"))
put("flags", "eval", argv("eval", "--weights", "w.safetensors", "--data", "d.csv", "--threads", "2"))
put("flags", "predict", argv("predict", "--weights", "w.safetensors", "--out", "p.csv"))
put("flags", "resume", argv("train", "--resume", "r.safetensors", "--save", "r.safetensors", "--log", "log.csv"))
put("flags", "help", argv("--help"))
put("flags", "gradcheck", argv("gradcheck", "--init", "i.safetensors", "--momentum", "0.5", "--nesterov", "true"))
