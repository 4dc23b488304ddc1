#!/usr/bin/env bash
# codegen/tests/run.sh: builds the C runtime with hand-written "generated" model files and
# checks the trainers they make against spec sections 6 and 8: training, eval/predict
# formats, every bad-data message, bad flags, checkpoints (round trip, Python interchange,
# malformed files, bad values and metadata), determinism, stop-and-resume, optimizer formulas,
# accumulation, --steps, --log, progress on a file and on a (pseudo-)terminal, gradcheck,
# Ctrl-C and SIGTERM, write errors (/dev/full, ulimit -f), crashes in a save (crash_shim.c).
#
# usage: codegen/tests/run.sh [--sanitize]
#        (needs clang or cc, libopenblas-dev, zlib1g-dev; python3 with numpy + safetensors for
#        the interchange checks)
# --sanitize builds everything with AddressSanitizer and UndefinedBehaviorSanitizer (the
# runtime and the model files alike): any finding stops that trainer with a non-zero exit,
# which fails its check. Extra C flags also come from EXTRA_CFLAGS.
# Data: models/data/ or ../shared/data/ (DLC_DATA overrides). Ends with "N passed, M failed".
set -u
if [ "${1:-}" = "--sanitize" ]; then
    EXTRA_CFLAGS="${EXTRA_CFLAGS:-} -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    # Leaks are not findings here: a command leaves its buffers for exit to reclaim.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
fi
HERE=$(cd "$(dirname "$0")" && pwd)
CODEGEN=$(dirname "$HERE")
ROOT=$(dirname "$CODEGEN")
DATA=${DLC_DATA:-}
for d in "$ROOT/models/data" "$ROOT/../shared/data"; do
    [ -z "$DATA" ] && [ -f "$d/digits.csv" ] && DATA=$(cd "$d" && pwd)
done
W=$(mktemp -d "${TMPDIR:-/tmp}/dlc-codegen-tests.XXXXXX")
trap 'rm -rf "$W"' EXIT
CC=${CC:-$(command -v clang || command -v cc)}
CFLAGS="-O2 -Wall -Wextra -Werror -std=c11 ${EXTRA_CFLAGS:-}"
LIBS="-lopenblas -lz -lm"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -n 15 | sed 's/^/       /'
    return 0
}
# check NAME COND_EXIT_STATUS [detail]: a test passes when the condition (already run) held.
check() { if [ "$2" -eq 0 ]; then ok "$1"; else fail "$1" "${3:-}"; fi; }

# expect NAME CODE REGEX CMD...: runs CMD, wants exit CODE and a line of stdout+stderr matching REGEX.
expect() {
    local name=$1 code=$2 regex=$3
    shift 3
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        fail "$name (exit $rc, want $code)" "$out"
    elif ! printf '%s\n' "$out" | grep -Eq -- "$regex"; then
        fail "$name (no line matches /$regex/)" "$out"
    else
        ok "$name"
    fi
}

# ---- Build -------------------------------------------------------------------------------------

if [ -z "$DATA" ]; then
    echo "no data directory with digits.csv (set DLC_DATA)"
    echo "0 passed, 1 failed"
    exit 1
fi
mkdir -p "$W/obj" "$W/bin"
# The runtime: codegen/ (the headers generated code includes) and the folders of its parts,
# each an include directory; tests/ and fuzz/ are harnesses.
PARTS=$(find "$CODEGEN" -mindepth 1 -maxdepth 1 -type d ! -name tests ! -name fuzz | sort)
INCLUDES="-I$CODEGEN $(for d in $PARTS; do printf -- '-I%s ' "$d"; done)"
build_log=$(find $PARTS -name 'dlc_*.c' | sort | xargs -P 2 -I{} sh -c "$CC $CFLAGS $INCLUDES -c {} -o \"$W/obj/\$(basename {} .c).o\"" 2>&1)
check "runtime compiles without warnings ($(basename "$CC") $CFLAGS)" $? "$build_log"
if command -v gcc >/dev/null && [ "$(basename "$CC")" != gcc ]; then
    gcc_log=$(find $PARTS -name 'dlc_*.c' | sort | xargs -P 2 -I{} sh -c "gcc $CFLAGS $INCLUDES -c {} -o /dev/null" 2>&1)
    check "runtime compiles without warnings (gcc $CFLAGS)" $? "$gcc_log"
fi
# dlc compiles the runtime as a few unity translation units (Sources/Driver/RuntimeParts.swift),
# which file goes into which depending on the cores: every file must compile beside every
# other. All of them as one unit, in name order and in reverse (a file's macros reach only the
# files after it), is each pair in both orders.
runtime_files=$(find $PARTS -name 'dlc_*.c' -exec basename {} \; | sort)
{ echo '#define _GNU_SOURCE'; printf '#include "%s"\n' $runtime_files; } > "$W/unity_forward.c"
{ echo '#define _GNU_SOURCE'; printf '#include "%s"\n' $(printf '%s\n' $runtime_files | sort -r); } > "$W/unity_reverse.c"
for compiler in "$CC" $(command -v gcc); do
    unity_log=$(for order in forward reverse; do $compiler $CFLAGS $INCLUDES -fsyntax-only "$W/unity_$order.c" || echo "($order order)"; done 2>&1)
    [ -z "$unity_log" ]
    check "runtime compiles as one unit, its $(echo $runtime_files | wc -w) files in either order ($(basename "$compiler") $CFLAGS)" $? "$unity_log"
done

link() { # link NAME MODEL_FILE DATA_FILE [extra flags]
    local log
    log=$($CC $CFLAGS $INCLUDES -DDATA_PATH="\"$3\"" ${4:-} "$HERE/$2" "$W"/obj/*.o $LIBS -o "$W/bin/$1" 2>&1)
    check "builds $1 ($2)" $? "$log"
}
link mlp mlp_model.c "$DATA/digits.csv"
link mlp_broken mlp_model.c "$DATA/digits.csv" -DBROKEN_GRADIENT
link linreg linreg_model.c "$DATA/cars.csv"
link grid grid_model.c "$DATA/line_grid.csv"
link descend descend_model.c ""
MLP=$W/bin/mlp LIN=$W/bin/linreg GRID=$W/bin/grid DESC=$W/bin/descend
fmt_log=$($CC $CFLAGS $INCLUDES "$HERE/format_check.c" "$W/obj/dlc_format.o" -lm -o "$W/bin/format_check" 2>&1)
check "builds format_check (format_check.c)" $? "$fmt_log"
expect "the epoch lines' numbers are printf's: dlc_format_fixed and dlc_format_int against snprintf (ties, neighbours, every magnitude)" \
    0 '^format_check: [0-9]+ values, 0 mismatches$' "$W/bin/format_check"
cd "$W" || exit 1

# ---- Training, eval, predict ---------------------------------------------------------------------

$MLP train --save mlp.safetensors --log mlp_log.csv > train.txt 2>&1
check "mlp trains on digits.csv (exit 0)" $? "$(cat train.txt)"
first=$(grep '^epoch 1/' train.txt | sed 's/.*  loss \([0-9.]*\).*/\1/')
last=$(grep '^epoch 10/' train.txt | sed 's/.*  loss \([0-9.]*\).*/\1/')
acc=$(grep '^epoch 10/' train.txt | sed 's/.*val_accuracy \([0-9.]*\).*/\1/')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 4) }'
check "training loss falls ($first -> $last)" $? "$(cat train.txt)"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.93) }'
check "validation accuracy after 10 epochs is good ($acc >= 0.93)" $? "$(cat train.txt)"
grep -Eq '^epoch 3/10  loss [0-9.]+  val_loss [0-9.]+  val_accuracy [0-9.]+  lr 0.005  [0-9.]+s$' train.txt
check "progress line: epoch, loss, validation loss, metric, lr, time" $? "$(sed -n 4p train.txt)"
[ "$(head -1 mlp_log.csv)" = "epoch,step,loss,val_loss,accuracy,lr,seconds" ] && [ "$(wc -l < mlp_log.csv)" -eq 11 ]
check "--log writes a CSV row per epoch" $? "$(cat mlp_log.csv)"

$MLP eval --data "$DATA/digits.csv" --weights mlp.safetensors > eval.txt 2>&1
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l < eval.txt)" -eq 2 ] && grep -Eq '^loss: [0-9]+\.[0-9]{6}$' eval.txt &&
    grep -Eq '^accuracy: 0\.9[0-9]{5}$' eval.txt
check "eval prints 'loss: X' then 'accuracy: 0.9xxxxx'" $? "$(cat eval.txt)"

expect "predict without --out writes to stdout" 0 '^logits_0,logits_1,.*,logits_9$' \
    $MLP predict --data "$DATA/digits.csv" --weights mlp.safetensors
$MLP predict --data "$DATA/digits.csv" --weights mlp.safetensors --out pred.csv > /dev/null 2>&1 &&
    [ "$(wc -l < pred.csv)" -eq 1798 ] && [ "$(head -1 pred.csv)" = "$(printf 'logits_%d,' 0 1 2 3 4 5 6 7 8 | sed 's/,$//'),logits_9" ] &&
    awk -F, 'NR > 1 && NF != 10 { exit 1 }' pred.csv
check "predict --out: header, then 1797 rows of 10 values" $? "$(head -3 pred.csv 2>&1)"
# The labels of digits.csv against the argmax of the predictions.
paste -d, <(tail -n +2 pred.csv) <(tail -n +2 "$DATA/digits.csv" | awk -F, '{ print $NF }') |
    awk -F, '{ m = 1; for (i = 2; i <= 10; i++) if ($i > $m) m = i; right += (m - 1 == $11) } END { exit !(right / NR > 0.95) }'
check "predictions agree with the labels (> 95%)" $?
cut -d, -f1-64 "$DATA/digits.csv" > inputs_only.csv
$MLP predict --data inputs_only.csv --weights mlp.safetensors --out pred2.csv > /dev/null 2>&1 && cmp -s pred.csv pred2.csv
check "predict reads a file without the target column the same way" $?

expect "linreg (columns by name, normalize, adam, batch full) trains" 0 '^epoch 100/100 .*val_mae [0-3]\.' $LIN train --save lin.safetensors
expect "eval of linreg applies the saved normalize statistics (mae ~ 3)" 0 '^mae: [0-3]\.[0-9]{6}$' \
    $LIN eval --data "$DATA/cars.csv" --weights lin.safetensors
expect "line_grid (f32[N] input, gather) trains" 0 '^epoch 31/31  loss 0\.0[0-9]+  train_mse 0\.0' $GRID train
expect "a model without data trains its steps" 0 '^step 20/20  loss -3\.825' $DESC train --save desc.safetensors
expect "... and predict writes its one output" 0 '^0\.398' $DESC predict --weights desc.safetensors
expect "mlp --val FILE validates on that file" 0 '1797 for validation' $MLP train --epochs 1 --val "$DATA/digits.csv"
tail -n +2 "$DATA/digits.csv" > no_header.csv
expect "a CSV without a header row is read from its first line" 0 '1438 rows, 359 for validation' $MLP train --epochs 1 --data no_header.csv
# Rows go straight into an array sized from the line count: the last row of a file without a
# header or a final newline once went past its end (AddressSanitizer: dlc_load_csv).
printf '%s' "$(cat no_header.csv)" > no_header_no_newline.csv
expect "... also without a final newline: every row, in bounds" 0 '1438 rows, 359 for validation' $MLP train --epochs 1 --data no_header_no_newline.csv
printf '\n\n3.5,0.1,0.2\n\n7.25,0.3,0.4' > grid_blank_lines.csv
expect "... and after blank lines, without a final newline" 0 '^train line_grid: 2 rows' $GRID train --epochs 1 --data grid_blank_lines.csv
expect "--threads 1 and --shuffle false are accepted" 0 '^epoch 1/1 ' $MLP train --epochs 1 --threads 1 --shuffle false
expect "--threads 2 is accepted" 0 '^epoch 1/1 ' $MLP train --epochs 1 --threads 2
expect "--device 0 is the host's only device" 0 '^epoch 1/1 ' $MLP train --epochs 1 --device 0
expect "--device 1 on the host: exit 2, naming the flag" 2 '^error: --device: this trainer runs on the host, device 0; got 1' \
    $MLP train --epochs 1 --device 1
expect "info lists params, shapes, memory and FLOPs" 0 '^  fc1\.weight +\[32, 64\] +2048 +kaiming_uniform$' $MLP info
expect "info reports the arena for the batch" 0 '^  arena +18944 bytes' $MLP info

# A loss that stops being finite stops the run at once (exit 1, where it happened); the
# checkpoint of the last good epoch stays, and nothing non-finite is ever saved.
expect "a diverging run stops at the first non-finite loss (exit 1)" 1 \
    '^error: the training loss is inf in epoch 9, batch 1 of 1 \(update 9\): training diverged \(try a lower learning rate\); div.safetensors keeps update 8$' \
    $LIN train --optimizer sgd --lr 100 --epochs 20 --save div.safetensors
tr -c '[:print:]' '\n' < div.safetensors | grep -q '"dlc.step":"8"' && $LIN eval --data "$DATA/cars.csv" --weights div.safetensors > /dev/null 2>&1
check "... and its checkpoint is the last finite one (update 8, loads)" $?
# An update can overflow the params after a finite loss (lr 1e38): the save refuses them.
expect "params made non-finite by an update are never saved (exit 1)" 1 \
    '^error: update 1 made lin.weight element 0 non-finite: training diverged \(try a lower learning rate\); nothing was saved$' \
    $LIN train --optimizer sgd --lr 1e38 --epochs 3 --save nonfinite.safetensors
[ ! -e nonfinite.safetensors ] && [ ! -e nonfinite.optim.safetensors ]
check "... and no checkpoint is written" $?
expect "a model normalizing a constant feature (std 1 saved, not 0) reads its checkpoint back" 0 '^loss: ' \
    bash -c "$MLP train --epochs 1 --normalize x --save normc.safetensors > /dev/null && $MLP eval --data '$DATA/digits.csv' --weights normc.safetensors"

# ---- Other data formats through --input ------------------------------------------------------------

have_py=0
python3 -c 'import numpy, safetensors' 2>/dev/null || pip install --quiet safetensors numpy > /dev/null 2>&1
python3 -c 'import numpy, safetensors' 2>/dev/null && have_py=1
if [ $have_py -eq 1 ]; then
    python3 - "$DATA/digits.csv" <<'EOF'
import gzip, struct, sys
import numpy as np
d = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
x, y = d[:, :64], d[:, 64]
np.save("x32.npy", x.astype(np.float32)); np.save("x64.npy", x); np.save("x3d.npy", x.reshape(-1, 8, 8).astype(np.float32))
np.save("y32.npy", y.astype(np.int32)); np.save("y64.npy", y.astype(np.int64))
np.save("x_fortran.npy", np.asfortranarray(x.reshape(-1, 8, 8)))
np.save("x63.npy", x[:, :63].astype(np.float32)); np.save("y_frac.npy", y + 0.5); np.save("y100.npy", y[:100].astype(np.int32))
def idx(path, arr, gz=False):
    arr = np.asarray(arr, dtype=np.uint8)
    raw = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + b"".join(struct.pack(">I", s) for s in arr.shape) + arr.tobytes()
    (gzip.open if gz else open)(path, "wb").write(raw)
    return raw
raw = idx("images-ubyte", x.reshape(-1, 8, 8) * 15)
idx("images.idx.gz", x.reshape(-1, 8, 8) * 15, gz=True)
idx("labels.idx", y); idx("labels-ubyte.gz", y, gz=True)
open("images_cut-ubyte", "wb").write(raw[:1000])
z = gzip.compress(raw); open("images_cut.idx.gz", "wb").write(z[: len(z) // 2])
EOF
    ref=$($MLP train --epochs 2 | tail -1 | sed 's/  [0-9.]*s$//')
    for pair in "x=x32.npy y=y32.npy" "x=x64.npy y=y64.npy" "x=x3d.npy y=$DATA/digits.csv:label" "x=$DATA/digits.csv:p0-p63 y=$DATA/digits.csv:64"; do
        set -- $pair
        got=$($MLP train --epochs 2 --input "$1" --input "$2" 2>&1 | tail -1 | sed 's/  [0-9.]*s$//')
        [ "$got" = "$ref" ]
        check "--input $1 --input $2 trains exactly as the CSV" $? "$got / $ref"
    done
    expect "--input reads IDX (-ubyte, .idx) with images / 255" 0 '^epoch 1/1 ' $MLP train --epochs 1 --input x=images-ubyte --input y=labels.idx
    a=$($MLP train --epochs 1 --input x=images-ubyte --input y=labels.idx | tail -1 | sed 's/  [0-9.]*s$//')
    b=$($MLP train --epochs 1 --input x=images.idx.gz --input y=labels-ubyte.gz | tail -1 | sed 's/  [0-9.]*s$//')
    [ -n "$a" ] && [ "$a" = "$b" ]
    check "gzipped IDX files read the same as plain ones" $? "$a / $b"
    expect "npy in Fortran order is refused" 1 '^x_fortran.npy: error: Fortran-order' $MLP train --input x=x_fortran.npy --input y=y32.npy
    expect "npy with the wrong shape is refused" 1 '^x63.npy: error: shape \[1797, 63\] does not fit x' $MLP train --input x=x63.npy --input y=y32.npy
    expect "npy labels that are not integers are refused" 1 '^y_frac.npy: error: row 0, element 0: not an integer: 0.5' $MLP train --input x=x32.npy --input y=y_frac.npy
    expect "npy inputs of different lengths are refused" 1 'inputs of different lengths' $MLP train --input x=x32.npy --input y=y100.npy
    expect "a truncated IDX file is refused" 1 '^images_cut-ubyte: error: truncated data' $MLP train --input x=images_cut-ubyte --input y=labels.idx
    expect "a truncated gzip stream is refused" 1 'images_cut.idx.gz: truncated compressed data' $MLP train --input x=images_cut.idx.gz --input y=labels.idx

    # Bad values: the first one, located, whichever way the file is read (in place for float32
    # and int32, converted from the other types, byte-swapped, through gzip).
    python3 - <<'EOF'
import gzip, struct
import numpy as np
x, y = np.load("x32.npy"), np.load("y32.npy")
a = x.copy(); a[300, 17] = np.nan; np.save("x_nan.npy", a)
open("x_nan_gz.npy", "wb").write(gzip.compress(open("x_nan.npy", "rb").read()))
b = x.astype(">f4"); b.reshape(-1)[1000] = -np.inf; np.save("x_inf_be.npy", b)
c = x.astype(np.float64); c[7, 3] = 1e39; np.save("x_big64.npy", c)
d = y.copy(); d[1200] = 10; np.save("y_ten.npy", d)
e = y.astype(np.int64); e[5] = 2**40; np.save("y_huge.npy", e)
raw = open("x32.npy", "rb").read()
open("x_cut.npy", "wb").write(raw[:-100]); open("x_magic.npy", "wb").write(b"NUMPY!" + raw[6:])
z = gzip.compress(raw); open("x_cut_gz.npy", "wb").write(z[: len(z) // 2])
f = y.astype(np.uint8); f[3] = 10
open("labels10.idx", "wb").write(struct.pack(">BBBBI", 0, 0, 8, 1, len(f)) + f.tobytes())
EOF
    for case in "x_nan.npy y32.npy|^x_nan.npy: error: row 300, element 17: NaN or infinity is not allowed \(x\)$" \
        "x_nan_gz.npy y32.npy|^x_nan_gz.npy: error: row 300, element 17: NaN or infinity is not allowed \(x\)$" \
        "x_inf_be.npy y32.npy|^x_inf_be.npy: error: row 15, element 40: NaN or infinity is not allowed \(x\)$" \
        "x_big64.npy y32.npy|^x_big64.npy: error: row 7, element 3: 1e\+39 is out of range for f32 \(x\)$" \
        "x32.npy y_ten.npy|^y_ten.npy: error: row 1200, element 0: label 10 is out of range \[0, 10\) \(y\)$" \
        "x32.npy y_huge.npy|^y_huge.npy: error: row 5, element 0: 1099511627776 is out of range for i32 \(y\)$" \
        "x_cut.npy y32.npy|^x_cut.npy: error: truncated data: shape \(1797, \.\.\.\) needs more bytes than the file has$" \
        "x_magic.npy y32.npy|^x_magic.npy: error: not a \.npy file \(bad magic\)$" \
        "x_cut_gz.npy y32.npy|^error: x_cut_gz.npy: truncated compressed data$" \
        "images-ubyte labels10.idx|^labels10.idx: error: example 3, element 0: label 10 is out of range \[0, 10\) \(y\)$"; do
        set -- ${case%%|*}
        expect "the first bad value, located: --input x=$1 --input y=$2" 1 "${case#*|}" $MLP train --input "x=$1" --input "y=$2"
    done

    # Lax formats: what a header says must be exactly what the file holds. Bytes after the data
    # (IDX, .npy), garbage after a gzip stream (zlib's gzread drops it silently), and .npy
    # header text that numpy.lib.format does not allow are refused, located; a stream of
    # several gzip members is one valid file.
    python3 - <<'EOF'
import gzip, struct
import numpy as np
raw = open("x32.npy", "rb").read()
lab = open("labels.idx", "rb").read()
open("labels_trail.idx", "wb").write(lab + b"\x01")
open("labels_trail.idx.gz", "wb").write(gzip.compress(lab + b"\x01\x02"))
open("x_trail.npy", "wb").write(raw + b"\0\0\0\0")
open("labels_garbage.idx.gz", "wb").write(gzip.compress(lab) + b"GARBAGE")
open("labels_members.idx.gz", "wb").write(gzip.compress(lab[:100]) + gzip.compress(lab[100:]))
n = struct.unpack("<H", raw[8:10])[0]
data = raw[10 + n:]
def npy(name, header, version=(1, 0), pad=True):
    if pad:
        header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    open(name, "wb").write(b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(header)) + header.encode() + data)
d = "{'descr': '<f4', 'fortran_order': False, 'shape': (1797, 64), }"
npy("h_quotes.npy", '{"shape": (1797, 64,), "descr": "<f4", "fortran_order": False}')
npy("h_after.npy", d + "x")
npy("h_twice.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1797, 64), }")
npy("h_comma.npy", "{'descr': '<f4' 'fortran_order': False, 'shape': (1797, 64), }")
npy("h_tuple.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1797), }")
npy("h_dtype.npy", "{'descr': '<f4x', 'fortran_order': False, 'shape': (1797, 64), }")
npy("h_tab.npy", "{'descr': '<f4',\t'fortran_order': False, 'shape': (1797, 64), }")
npy("h_newline.npy", d + " " * (-(10 + len(d)) % 64), pad=False)
npy("h_unpadded.npy", d + "\n", pad=False)
npy("h_minor.npy", d, version=(1, 1))
EOF
    for case in "images-ubyte labels_trail.idx|^labels_trail.idx: error: 1 byte after the data \(the header's shape ends at byte 1805\)$" \
        "images-ubyte labels_trail.idx.gz|^labels_trail.idx.gz: error: 2 bytes after the data \(the header's shape ends at byte 1805 of the decompressed stream\)$" \
        "x_trail.npy labels.idx|^x_trail.npy: error: 4 bytes after the data \(the header's shape ends at byte 460160\)$" \
        "images-ubyte labels_garbage.idx.gz|^error: labels_garbage.idx.gz: 7 bytes of garbage after the compressed data \(from byte [0-9]+\)$" \
        "h_after.npy labels.idx|^h_after.npy: error: bad header at byte 73: text after the dict \(only spaces may pad the header\)$" \
        "h_twice.npy labels.idx|^h_twice.npy: error: key 'descr' appears twice in the header$" \
        "h_comma.npy labels.idx|^h_comma.npy: error: bad header at byte 26: expected ',' or '}'$" \
        "h_tuple.npy labels.idx|^h_tuple.npy: error: bad header at byte 66: the shape is not a tuple" \
        "h_dtype.npy labels.idx|^h_dtype.npy: error: unsupported dtype '<f4x'" \
        "h_tab.npy labels.idx|^h_tab.npy: error: bad header at byte 26: a control character" \
        "h_newline.npy labels.idx|^h_newline.npy: error: bad header at byte 128: the header does not end with a newline$" \
        "h_unpadded.npy labels.idx|^h_unpadded.npy: error: bad header: its length 10 \+ 64 is not a multiple of 16" \
        "h_minor.npy labels.idx|^h_minor.npy: error: unsupported .npy version 1.1 \(1.0, 2.0 or 3.0\)$"; do
        set -- ${case%%|*}
        expect "a lax format is refused, located: --input x=$1 --input y=$2" 1 "${case#*|}" $MLP train --input "x=$1" --input "y=$2"
    done
    expect "a header in another valid form (double quotes, any key order, no trailing comma) is read" 0 '^epoch 1/1 ' \
        $MLP train --epochs 1 --input x=h_quotes.npy --input y=labels.idx
    expect "a gzip file of several members is read whole" 0 '^epoch 1/1 ' $MLP train --epochs 1 --input x=images-ubyte --input y=labels_members.idx.gz

    # Loading costs about one copy of the data: the values go from the file straight into the
    # tensor's array, and the training rows stay where they were loaded (the validation rows,
    # 20%, are copied out). A 51 MB .npy file: peak RSS over a small run's < 1.35 x its size
    # (a whole-file buffer beside the values, or a copy for the split, would make it 2x).
    python3 -c 'import numpy as np; r = np.random.default_rng(0); np.save("big_x.npy", r.random((200000, 64), dtype=np.float32)); np.save("big_y.npy", r.integers(0, 10, 200000).astype(np.int32))'
    peak_kb() { python3 -c 'import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"; }
    small_kb=$(peak_kb $MLP train --input x=x32.npy --input y=y32.npy --steps 0)
    big_kb=$(peak_kb $MLP train --input x=big_x.npy --input y=big_y.npy --steps 0)
    file_kb=$(($(wc -c < big_x.npy) / 1024))
    if [[ "${EXTRA_CFLAGS:-}" == *sanitize* ]]; then
        echo "skip peak RSS under the sanitizers (their allocator keeps freed blocks)"
    else
        awk -v s="$small_kb" -v b="$big_kb" -v f="$file_kb" 'BEGIN { exit !(b - s < 1.35 * f) }'
        check "loading a $file_kb KB .npy adds $((big_kb - small_kb)) KB of peak RSS (< 1.35 x the file)" $? "small $small_kb KB, big $big_kb KB"
    fi
    rm -f big_x.npy big_y.npy
else
    echo "skip python3 with numpy and safetensors is not available: .npy/IDX and interchange checks skipped"
fi

# ---- Bad data: located message, exit 1, nothing written ----------------------------------------

bad_data() { # bad_data NAME REGEX CMD...: wants exit 1, REGEX, and no checkpoint or log written
    local name=$1 regex=$2
    shift 2
    rm -f bad.safetensors bad.optim.safetensors bad_log.csv
    expect "$name" 1 "$regex" "$@" --save bad.safetensors --log bad_log.csv
    [ ! -e bad.safetensors ] && [ ! -e bad.optim.safetensors ] && [ ! -e bad_log.csv ]
    check "... and nothing is written" $?
}
hdr=$(head -1 "$DATA/digits.csv")
row=$(sed -n 2p "$DATA/digits.csv")
printf '%s\n%s\n%s\n' "$hdr" "$row" "${row%,*}" > short.csv
printf '%s\n%s\n%s,7\n' "$hdr" "$row" "$row" > long.csv
printf '%s\n%s\n%s\n' "$hdr" "$row" "${row/#0,0,/0,,}" > empty_field.csv
printf '%s\n%s\n%s\n' "$hdr" "$row" "${row/#0,0,/0,zero,}" > text.csv
printf '%s\n%s\n%s\n' "$hdr" "${row/#0,0,/0,nan,}" "$row" > nan.csv
printf '%s\n%s\n%s\n' "$hdr" "$row" "${row/#0,0,/0,-inf,}" > inf.csv
printf '%s\n%s\n%s,10\n' "$hdr" "$row" "${row%,*}" > label10.csv
printf '%s\n%s\n%s,2.5\n' "$hdr" "$row" "${row%,*}" > label_frac.csv
printf '%s\n' "$hdr" > header_only.csv
: > empty.csv
printf 'x\n1\n2\n3\n' > x3.csv
printf 'a,b\n1,2\n2,3\n' > y2.csv
bad_data "empty field in cars_raw_with_missing.csv (line 12, field 2)" \
    "cars_raw_with_missing.csv:12:2: error: empty field in column 'Miles_per_Gallon' \(y\)$" $LIN train --data "$DATA/cars_raw_with_missing.csv"
bad_data "short row" '^short.csv:3:65: error: short row: 64 fields, expected 65$' $MLP train --data short.csv
bad_data "long row" '^long.csv:3:66: error: long row: 66 fields, expected 65$' $MLP train --data long.csv
bad_data "empty field" "^empty_field.csv:3:2: error: empty field in column 'p1' \(x\)$" $MLP train --data empty_field.csv
bad_data "not a number" "^text.csv:3:2: error: not a number: 'zero'" $MLP train --data text.csv
bad_data "NaN" "^nan.csv:2:2: error: NaN or infinity is not allowed: 'nan'" $MLP train --data nan.csv
bad_data "-inf" "^inf.csv:3:2: error: NaN or infinity is not allowed: '-inf'" $MLP train --data inf.csv
bad_data "label out of range" "^label10.csv:3:65: error: label 10 is out of range \[0, 10\) in column 'label' \(y\)$" $MLP train --data label10.csv
bad_data "label not an integer" "^label_frac.csv:3:65: error: not an integer: 2.5" $MLP train --data label_frac.csv
bad_data "no data rows after the header" '^header_only.csv:2:1: error: no data rows$' $MLP train --data header_only.csv
bad_data "an empty file" '^empty.csv:1:1: error: no data rows$' $MLP train --data empty.csv
bad_data "inputs of different lengths" '^x3.csv:4:1: error: inputs of different lengths: x has 3 rows here, but y has 2 in y2.csv$' \
    $GRID train --input x=x3.csv --input y=y2.csv
bad_data "a missing file names the path" '^error: missing.csv: No such file or directory$' $MLP train --data missing.csv
bad_data "an unknown column name" "digits.csv:1:1: error: no column 'pixel0-pixel63'$" $MLP train --input "x=$DATA/digits.csv:pixel0-pixel63"
bad_data "a column list of the wrong width" "error: the columns '0-62' select 63 columns, but x takes 64" $MLP train --input "x=$DATA/digits.csv:0-62"
# Quotes: a quoted field must close on its line and be followed by nothing but spaces; either
# fault leaves the row's fields in doubt, so the row is refused even when the field is unused.
printf 'x,a,b\n3.5,0.1,0.2\n"7.5"x,0.1,0.2\n' > quote_text.csv
printf 'x,a,b\n3.5,0.1,0.2\n"7.5,0.1,0.2\n' > quote_open.csv
printf '"x"y,a,b\n3.5,0.1,0.2\n' > quote_header.csv
printf 'x,a,b,note\n3.5,0.1,0.2,"fine" \n4.5,0.1,0.2,"odd"!\n' > quote_unused.csv
bad_data "text after a closing quote" "^quote_text.csv:3:1: error: text after the closing quote: 'x'$" $GRID train --data quote_text.csv
bad_data "an unterminated quote" '^quote_open.csv:3:1: error: unterminated quote \(a quoted field must end on its line\)$' $GRID train --data quote_open.csv
bad_data "text after a closing quote in the header" "^quote_header.csv:1:1: error: text after the closing quote: 'y'$" $GRID train --data quote_header.csv
bad_data "text after a closing quote in an unused column" "^quote_unused.csv:3:4: error: text after the closing quote: '!'$" \
    $GRID train --data quote_unused.csv --columns 'x: x, y: a-b'
printf 'x,a,b\n "3.5" ,"0.1","0.2"\n' > quote_spaces.csv
expect "spaces around a quoted field are fine" 0 '^train line_grid: 1 rows' $GRID train --epochs 1 --data quote_spaces.csv
rm -f p_bad.csv
expect "predict on bad data exits 1" 1 '^short.csv:3:65: error: short row' $MLP predict --data short.csv --weights mlp.safetensors --out p_bad.csv
[ ! -e p_bad.csv ]
check "... and writes no --out file" $?
expect "eval on bad data exits 1" 1 'label10.csv:3:65: error: label 10' $MLP eval --data label10.csv --weights mlp.safetensors

# ---- Rows the model cannot use: found in the first epoch, located in the file -----------------------

# An index computed from a row (LineGrid: x outside the grid) goes out of range in the step
# that first runs the row; that batch's rows are then run alone, and the one that fails is
# reported where it came from (the model's place in parentheses). Nothing is written: no
# checkpoint, no log, an existing log untouched.
printf 'x,a,b\n3.5,0.1,0.2\n25,1,2\n' > far.csv
rm -f far.safetensors far_log.csv
expect "an index computed from a row is reported at that row (file:line), with the model's place" 1 \
    '^far.csv:3: error: index 25 is out of range for a first axis of 21 \(line_grid.dl:12:16\), computed from this row$' \
    $GRID train --data far.csv --save far.safetensors --log far_log.csv
[ ! -e far.safetensors ] && [ ! -e far.optim.safetensors ] && [ ! -e far_log.csv ]
check "... and writes nothing: no checkpoint, no --log file" $?
printf 'an old log\n' > old_log.csv
$GRID train --data far.csv --log old_log.csv > /dev/null 2>&1
[ "$(cat old_log.csv)" = "an old log" ]
check "... and leaves an existing --log file as it was" $? "$(cat old_log.csv)"
# Row 38 of 50 is out of the grid; the validation split and the shuffle move it around, but the
# message still names its line, whichever set it lands in.
awk 'BEGIN { print "x,a,b"; for (i = 1; i <= 50; i++) print (i == 37 ? -1.5 : (i % 19) + 0.5) ",0.1,0.2" }' > far50.csv
for v in 0 0.2 0.5; do
    expect "... also after the validation split (--validation $v) and the shuffle" 1 \
        '^far50.csv:38: error: index -2 is out of range for a first axis of 21 \(line_grid.dl:12:16\), computed from this row$' \
        $GRID train --data far50.csv --validation $v --batch 7
done
if [ $have_py -eq 1 ]; then
    python3 -c 'import numpy as np; np.save("far_x.npy", np.array([0.5, 3.5, 30.0, 1.5], np.float32))'
    printf 'a,b\n0,0\n0,0\n0,0\n0,0\n' > far_y.csv
    expect "... in a .npy file: its row (from 0), and the same row in the other file" 1 \
        '^far_x.npy: error: row 2: index 30 is out of range for a first axis of 21 \(line_grid.dl:12:16\), computed from this row \(also far_y.csv:4\)$' \
        $GRID train --input x=far_x.npy --input y=far_y.csv
fi
$GRID train --epochs 1 --save grid.safetensors > /dev/null 2>&1
expect "predict names the row too" 1 '^far50.csv:38: error: index -2 is out of range' $GRID predict --data far50.csv --weights grid.safetensors
expect "eval names the row too" 1 '^far50.csv:38: error: index -2 is out of range' $GRID eval --data far50.csv --weights grid.safetensors
expect "a model whose log is written: the first epoch ends, the log has its row" 0 '^epoch 1/1' $GRID train --epochs 1 --log grid_log.csv
[ "$(wc -l < grid_log.csv)" -eq 2 ]
check "... (header and one row)" $? "$(cat grid_log.csv)"

# Values the loader accepts but the model's f32 arithmetic cannot use. Normalization is
# computed in double: weights near +-3.4e38 (the f32 limit) z-score to ordinary values and
# train (in f32, x - mean overflowed and the loss was nan). A row the statistics were not
# computed from (--val, eval) can still normalize beyond f32: reported at its row and column.
# Without normalization the loss overflows: in the first epoch, the rows of a batch whose loss
# is not finite run alone with the starting params, and one whose loss is then not finite is
# reported at its row, with its largest value's column (divergence would give finite losses).
{ head -1 "$DATA/cars.csv"; sed -n 2,40p "$DATA/cars.csv" | awk -F, -v OFS=, 'NR % 2 { $1 = "3.4e38" } !(NR % 2) { $1 = "-3.4e38" } 1'; } > huge.csv
out=$($LIN train --data huge.csv --epochs 5 --validation 0 2>&1)
rc=$?
[ $rc -eq 0 ] && ! printf '%s\n' "$out" | grep -qi 'nan\|inf'
check "values near the f32 limit normalize (in double) and train: no nan" $? "$out"
# Training weights 3000 and 3000.001 (std 0.0005): 3e38 in a validation row is 6e41 std away.
{ head -1 "$DATA/cars.csv"; for i in 1 2 3 4 5 6 7 8; do echo "3000,18,130,307,12,8"; echo "3000.001,19,130,307,12,8"; done; } > narrow.csv
{ head -1 "$DATA/cars.csv"; sed -n 2,5p "$DATA/cars.csv"; echo "3e38,18,130,307,12,8"; } > far_val.csv
expect "--val: a row that normalizes beyond f32 is reported at its row and column" 1 \
    "^far_val.csv:6:1: error: 3e\+38 normalizes to [0-9.e+]+ with mean 3000 and std 0.000[0-9]+, which f32 cannot hold in column 'Weight_in_lbs' \(x\)$" \
    $LIN train --data narrow.csv --val far_val.csv
$LIN train --data narrow.csv --epochs 2 --save lin_narrow.safetensors > /dev/null 2>&1
expect "eval: the same, with the checkpoint's statistics" 1 "^far_val.csv:6:1: error: 3e\+38 normalizes to" \
    $LIN eval --data far_val.csv --weights lin_narrow.safetensors
{ head -1 "$DATA/cars.csv"; sed -n 2,9p "$DATA/cars.csv"; echo "3e38,18,130,307,12,8"; } > huge_raw.csv
rm -f huge_log.csv
expect "no normalize: a row whose forward pass overflows is reported at its row and column" 1 \
    "^huge_raw.csv:10:1: error: the forward pass of this row gives a loss of inf with the starting params; its largest value is 3e\+38 in column 'Weight_in_lbs' \(x\)$" \
    $LIN train --data huge_raw.csv --normalize none --validation 0 --log huge_log.csv
[ ! -e huge_log.csv ]
check "... and writes no log" $?
expect "... also a validation row (--val), evaluated at the end of the first epoch" 1 \
    "^huge_raw.csv:10:1: error: the forward pass of this row gives a loss of inf with the starting params" \
    $LIN train --data "$DATA/cars.csv" --val huge_raw.csv --normalize none --epochs 3
out=$($LIN train --normalize none --batch 8 --lr 1e30 --epochs 1 --validation 0 2>&1)
printf '%s\n' "$out" | grep -q 'training diverged' && ! printf '%s\n' "$out" | grep -q 'starting params'
check "training that diverges (lr 1e30) is not blamed on a row" $? "$out"

# ---- Bad flags: exit 2, the message names the flag -------------------------------------------------

bad_flag() { # bad_flag FLAG_REGEX ARGS...
    local regex=$1
    shift
    local shown="${1##*/} ${*:2}"
    expect "bad flag: $shown" 2 "$regex" "$@"
}
bad_flag '^error: --bogus: unknown flag' $MLP train --bogus 1
bad_flag '^error: --lr: expected a number' $MLP train --lr fast
bad_flag '^error: --lr: needs a value' $MLP train --lr
bad_flag '^error: --epochs: must be at least 0' $MLP train --epochs -2
bad_flag '^error: --batch: must be at least 1' $MLP train --batch 0
bad_flag '^error: --threads: must be at least 1, got 0' $MLP train --threads 0
bad_flag '^error: --threads: must be at most 2147483647, got 4294967297' $MLP train --threads 4294967297
bad_flag '^error: --shuffle: expected true or false' $MLP train --shuffle yes
bad_flag "^error: --input: 'z' is not an input or target" $MLP train --input z=a.csv
bad_flag '^error: --steps: cannot be combined with --epochs' $MLP train --epochs 2 --steps 5
bad_flag '^error: --weights: eval needs --weights' $MLP eval --data "$DATA/digits.csv"
bad_flag '^error: --epochs: not an option of eval' $MLP eval --epochs 3 --weights mlp.safetensors
bad_flag "^error: --optimizer: unknown optimizer 'rmsprop'" $MLP train --optimizer rmsprop
bad_flag "^error: --schedule: step_lr has no argument 'gama'" $MLP train --schedule 'step_lr(gama: 0.5)'
bad_flag "^error: --metric: expected accuracy, mse, mae or none" $MLP train --metric f1
bad_flag '^error: --seed: expected a non-negative integer' $MLP train --seed -1
bad_flag '^error: --epochs: the model has no inputs or targets' $DESC train --epochs 3
bad_flag "^error: unknown command 'fit'" $MLP fit
# Numbers are strict (decimal only, no white space, no '+', in range) and counts are at most
# 2^53, so that no arithmetic on them can overflow.
bad_flag '^error: --batch: must be at most 9007199254740992, got 9223372036854775807$' $MLP train --batch 9223372036854775807
bad_flag '^error: --batch: must be at most 9007199254740992, got 99999999999999999999$' $MLP train --batch 99999999999999999999
bad_flag '^error: --steps: must be at most 9007199254740992, got 9223372036854775807$' $MLP train --steps 9223372036854775807
bad_flag '^error: --epochs: must be at least 0, got -99999999999999999999$' $MLP train --epochs -99999999999999999999
bad_flag "^error: --epochs: expected an integer, got ' 5'$" $MLP train --epochs ' 5'
bad_flag "^error: --epochs: expected an integer, got '5 '$" $MLP train --epochs '5 '
bad_flag "^error: --epochs: expected an integer, got '\+5'$" $MLP train --epochs +5
bad_flag "^error: --accumulate: expected an integer, got '0x10'$" $MLP train --accumulate 0x10
bad_flag "^error: --lr: expected a number \(decimal, like 0.01 or 1e-3\), got '0x10'$" $MLP train --lr 0x10
bad_flag "^error: --lr: expected a number \(decimal, like 0.01 or 1e-3\), got ' 0.1'$" $MLP train --lr ' 0.1'
bad_flag "^error: --lr: expected a number \(decimal, like 0.01 or 1e-3\), got 'inf'$" $MLP train --lr inf
bad_flag "^error: --lr: expected a number \(decimal, like 0.01 or 1e-3\), got '\+0.1'$" $MLP train --lr +0.1
bad_flag "^error: --lr: out of range: '1e400'$" $MLP train --lr 1e400
bad_flag "^error: --seed: expected a non-negative integer, got ' 5'$" $MLP train --seed ' 5'
bad_flag "^error: --seed: must be at most 18446744073709551615, got 18446744073709551616$" $MLP train --seed 18446744073709551616
bad_flag "^error: --optimizer: expected a number \(decimal, like 0.01 or 1e-3\), got '0x1p-3'$" $MLP train --optimizer 'adam(lr: 0x1p-3)'
bad_flag '^error: --schedule: must be at most 9007199254740992, got 9223372036854775807$' $MLP train --schedule 'cosine(epochs: 9223372036854775807)'
expect "--lr 2. and --lr 1e-3 are numbers (the language's number syntax)" 0 '^epoch 1/1 ' bash -c "$MLP train --epochs 1 --lr 2. > /dev/null && $MLP train --epochs 1 --lr 1e-3"

# Outputs never overwrite inputs (or each other): exit 2, before anything is read or written.
cp "$DATA/digits.csv" mine.csv
cp mine.csv mine_val.csv
mkdir -p sub
bad_flag "^error: --save: names the same file as --data \(mine.csv\): it would be overwritten$" $MLP train --data mine.csv --save mine.csv
bad_flag "^error: --log: names the same file as --data \(\./sub/\.\./mine.csv\): it would be overwritten$" $MLP train --data ./sub/../mine.csv --log mine.csv
bad_flag "^error: --log: names the same file as --val \(mine_val.csv\): it would be overwritten$" $MLP train --data mine.csv --val mine_val.csv --log mine_val.csv
bad_flag "^error: --log: names the same file as --input \(mine.csv\): it would be overwritten$" $MLP train --input x=mine.csv:0-63 --input y=mine.csv:64 --log mine.csv
bad_flag "^error: --log: names the same file as --save \(out.safetensors\): it would be overwritten$" $MLP train --save out.safetensors --log out.safetensors
bad_flag "^error: --log: names the same file as --save's optimizer file \(out.optim.safetensors\): it would be overwritten$" $MLP train --save out.safetensors --log out.optim.safetensors
bad_flag "^error: --log: names the same file as --resume \(mlp.safetensors\): it would be overwritten$" $MLP train --resume mlp.safetensors --log mlp.safetensors
bad_flag "^error: --save: names the same file as --resume's optimizer file \(mlp.optim.safetensors\): it would be overwritten$" $MLP train --resume mlp.safetensors --save mlp.optim.safetensors
bad_flag "^error: --out: names the same file as --data \(mine.csv\): it would be overwritten$" $MLP predict --data mine.csv --weights mlp.safetensors --out mine.csv
bad_flag "^error: --out: names the same file as --weights \(mlp.safetensors\): it would be overwritten$" $MLP predict --data mine.csv --weights mlp.safetensors --out mlp.safetensors
bad_flag "^error: --save-best: names the same file as --save \(out.safetensors\): it would be overwritten$" $MLP train --save out.safetensors --save-best out.safetensors
bad_flag "^error: --plot: names the same file as --data \(mine.csv\): it would be overwritten$" $MLP train --data mine.csv --plot mine.csv
cmp -s mine.csv "$DATA/digits.csv" && cmp -s mine_val.csv "$DATA/digits.csv" && [ ! -e out.safetensors ]
check "... and the inputs are untouched, nothing written" $?
# An output that cannot be written is a bad flag, found before anything is read (exit 2, only
# the message); the probe (a temporary file created and removed beside it) leaves nothing.
: > plainfile
for case in "--save|nodir/p.safetensors|No such file or directory" "--log|nodir/log.csv|No such file or directory" \
    "--save|plainfile/p.safetensors|Not a directory" "--save|sub|Is a directory" "--log|sub|Is a directory"; do
    IFS='|' read -r flag path why <<< "$case"
    expect "an unwritable $flag $path is refused before training" 2 "^error: $flag: cannot write '$path': $why$" $MLP train "$flag" "$path"
    out=$($MLP train "$flag" "$path" 2>&1)
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [ -z "$(ls sub)" ]
    check "... before loading or training anything" $? "$out"
done
expect "--help prints the usage, exit 0" 0 '^usage: .* COMMAND \[options\]' $MLP --help

# ---- Checkpoints ---------------------------------------------------------------------------------

$MLP train --epochs 3 --save s1.safetensors > /dev/null 2>&1 && $MLP train --epochs 3 --save s2.safetensors > /dev/null 2>&1 &&
    cmp -s s1.safetensors s2.safetensors && cmp -s s1.optim.safetensors s2.optim.safetensors
check "the same seed gives bit-identical checkpoints" $?
$MLP train --epochs 3 --seed 7 --save s3.safetensors > /dev/null 2>&1 && ! cmp -s s1.safetensors s3.safetensors
check "another seed gives other params" $?

$MLP train --epochs 4 --save straight.safetensors > /dev/null 2>&1
$MLP train --epochs 2 --save resumed.safetensors > /dev/null 2>&1
$MLP train --epochs 2 --resume resumed.safetensors --save resumed.safetensors > resume.txt 2>&1
cmp -s straight.safetensors resumed.safetensors && cmp -s straight.optim.safetensors resumed.optim.safetensors
check "2 epochs + resume for 2 = 4 epochs, bit for bit (params and optimizer state)" $? "$(cat resume.txt)"
grep -q '^epoch 4/4 ' resume.txt
check "a resumed run numbers its epochs on" $? "$(cat resume.txt)"
$MLP train --steps 70 --save mid.safetensors > /dev/null 2>&1 && $MLP train --epochs 3 --resume mid.safetensors --save mid.safetensors > /dev/null 2>&1 &&
    cmp -s straight.safetensors mid.safetensors
check "--steps 70 (mid-epoch) + resume = 4 epochs, bit for bit" $?
opts=(--optimizer 'adam(lr: 0.002)' --schedule 'cosine(epochs: 4)' --accumulate 3)
$MLP train --epochs 4 "${opts[@]}" --save acc1.safetensors > /dev/null 2>&1 && $MLP train --steps 20 "${opts[@]}" --save acc2.safetensors > /dev/null 2>&1 &&
    $MLP train --epochs 3 "${opts[@]}" --resume acc2.safetensors --save acc2.safetensors > /dev/null 2>&1 && cmp -s acc1.safetensors acc2.safetensors
check "adam + cosine + accumulate 3: stop mid-epoch and resume, bit for bit" $?
# The epoch line keeps lr's text until lr changes (dlc_train.c): every line must show its epoch's.
$LIN train --epochs 4 --schedule 'step_lr(every: 1, gamma: 0.5)' --log steplr.csv > steplr.txt 2>&1
lines_lr=$(grep '^epoch ' steplr.txt | sed 's/.*  lr \([^ ]*\)  .*/\1/')
log_lr=$(tail -n +2 steplr.csv | awk -F, '{ printf "%.6g\n", $6 }')
[ "$lines_lr" = "$log_lr" ] && [ "$(printf '%s\n' "$lines_lr" | sort -u | wc -l)" -eq 4 ]
check "each epoch line shows its epoch's lr as step_lr halves it (as the --log rows, %.6g)" $? "$(cat steplr.txt steplr.csv)"
$LIN train --epochs 30 --schedule 'reduce_on_plateau(factor: 0.5, patience: 1, threshold: 0.3)' --save p1.safetensors > /dev/null 2>&1 &&
    $LIN train --epochs 12 --schedule 'reduce_on_plateau(factor: 0.5, patience: 1, threshold: 0.3)' --save p2.safetensors > /dev/null 2>&1 &&
    $LIN train --epochs 18 --schedule 'reduce_on_plateau(factor: 0.5, patience: 1, threshold: 0.3)' --resume p2.safetensors --save p2.safetensors > /dev/null 2>&1 &&
    cmp -s p1.safetensors p2.safetensors
check "reduce_on_plateau state survives a resume, bit for bit" $?

$MLP train --epochs 0 --init mlp.safetensors --save again.safetensors > /dev/null 2>&1 &&
    [ "$($MLP eval --weights again.safetensors --data "$DATA/digits.csv")" = "$(cat eval.txt)" ]
check "--init reads a checkpoint back exactly (eval unchanged)" $?

# Malformed checkpoints: exit 1, the message names the path.
head -c 5 mlp.safetensors > cut5.safetensors
head -c 9000 mlp.safetensors > cut_data.safetensors
{ printf '\377\377\377\377\000\000\000\000'; tail -c +9 mlp.safetensors; } > long_header.safetensors
{ printf '\014\000\000\000\000\000\000\000{"a": [1,2,}'; } > bad_json.safetensors
expect "a truncated file is refused" 1 '^error: cut5.safetensors: truncated file' $MLP eval --data "$DATA/digits.csv" --weights cut5.safetensors
expect "a file cut in its data is refused" 1 "^error: cut_data.safetensors: tensor '.*' has data_offsets .* out of range" $MLP eval --data "$DATA/digits.csv" --weights cut_data.safetensors
expect "a header length past the end is refused" 1 '^error: long_header.safetensors: header length 4294967295 runs past the end' $MLP eval --data "$DATA/digits.csv" --weights long_header.safetensors
expect "bad JSON is refused" 1 '^error: bad_json.safetensors: bad JSON in the header' $MLP eval --data "$DATA/digits.csv" --weights bad_json.safetensors
expect "a missing file is refused" 1 '^error: nowhere.safetensors: No such file' $MLP eval --data "$DATA/digits.csv" --weights nowhere.safetensors
expect "another model's checkpoint is refused" 1 "^error: lin.safetensors: missing tensor 'fc1.weight'" $MLP eval --data "$DATA/digits.csv" --weights lin.safetensors
# A pair mixed from two saves: other step, or the same step with other params (seed 7).
cp s1.safetensors mixed_step.safetensors && cp straight.optim.safetensors mixed_step.optim.safetensors
expect "a pair from saves at different steps is refused" 1 \
    '^error: mixed_step.optim.safetensors: saved at step 180, but mixed_step.safetensors at step 135 \(the pair is from different saves\)$' \
    $MLP train --resume mixed_step.safetensors
cp s1.safetensors mixed_params.safetensors && cp s3.optim.safetensors mixed_params.optim.safetensors
expect "a pair from saves of other params at the same step is refused" 1 \
    '^error: mixed_params.optim.safetensors: holds the optimizer state of other params than mixed_params.safetensors \(the pair is from different saves\)$' \
    $MLP train --resume mixed_params.safetensors
cp mlp.safetensors lonely.safetensors
expect "--resume needs the .optim file beside the checkpoint" 1 '^error: lonely.optim.safetensors: No such file' $MLP train --resume lonely.safetensors

if [ $have_py -eq 1 ]; then
    python3 - <<'EOF' > py.txt 2>&1
import json, struct
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
p = load_file("mlp.safetensors")
shapes = {k: tuple(v.shape) for k, v in p.items()}
assert shapes == {"fc1.weight": (32, 64), "fc1.bias": (32,), "fc2.weight": (10, 32), "fc2.bias": (10,)}, shapes
assert all(v.dtype == np.float32 for v in p.values())
assert safe_open("mlp.safetensors", "np").metadata()["format"] == "pt"
assert load_file("desc.safetensors")["x"].shape == ()           # a scalar param has shape []
meta = safe_open("lin.safetensors", "np").metadata()
assert len(json.loads(meta["normalize.x.mean"])) == 1 and json.loads(meta["normalize.x.std"])[0] > 100, meta
opt = load_file("mlp.optim.safetensors")
assert set(opt) == {k + ".momentum_buffer" for k in p}, set(opt)
# A file written by Python (sorted keys, its own padding) for --init and --weights.
save_file({k: (v * 0.5).astype(np.float32) for k, v in p.items()}, "py.safetensors", metadata={"format": "pt"})
raw = open("mlp.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr, data = json.loads(raw[8 : 8 + n]), raw[8 + n :]
def write(name, h):
    hb = json.dumps(h).encode()
    open(name, "wb").write(struct.pack("<Q", len(hb)) + hb + data)
h = json.loads(json.dumps(hdr)); h["fc1.bias"]["data_offsets"] = [0, 10**7]; write("off.safetensors", h)
h = json.loads(json.dumps(hdr)); h["fc1.bias"]["shape"] = [16]; write("mismatch.safetensors", h)
save_file({k: v for k, v in p.items() if k != "fc2.bias"}, "missing.safetensors")
save_file(dict(p, extra=np.zeros(3, np.float32)), "extra.safetensors")
save_file(dict(p, **{"fc1.bias": p["fc1.bias"].astype(np.float64)}), "f64.safetensors")
save_file(dict(p, **{"fc1.weight": np.ascontiguousarray(p["fc1.weight"].T)}), "transposed.safetensors")
# The data area: tensors back to back from byte 0, covering it exactly (the format's rule).
def raw_file(name, hb, body, length=None):
    open(name, "wb").write(struct.pack("<Q", len(hb) if length is None else length) + hb + body)
hb = json.dumps(hdr).encode() + b"    "
raw_file("hdr_short.safetensors", hb, data, len(hb) - 1)     # every tensor read one byte off
raw_file("hdr_long.safetensors", hb, data, len(hb) + 1)
raw_file("tail_bytes.safetensors", json.dumps(hdr).encode(), data + bytes(4))
h = json.loads(json.dumps(hdr)); b, e = h["fc2.bias"]["data_offsets"]; h["fc2.bias"]["data_offsets"] = [b + 4, e + 4]
raw_file("hole.safetensors", json.dumps(h).encode(), data[:b] + bytes(4) + data[b:])
h = json.loads(json.dumps(hdr)); h["fc1.bias"]["data_offsets"] = [0, 128]; raw_file("overlap.safetensors", json.dumps(h).encode(), data)
h = json.loads(json.dumps(hdr)); raw_file("not_utf8.safetensors", json.dumps(h).encode().replace(b'"pt"', b'"p\xff"'), data)
print("python checks passed")
EOF
    check "checkpoints load in Python safetensors (names, F32, shapes, scalar [], metadata)" $? "$(cat py.txt)"
    $MLP train --epochs 0 --init py.safetensors --save from_py.safetensors > /dev/null 2>&1 &&
        python3 -c '
from safetensors.numpy import load_file
a, b = load_file("py.safetensors"), load_file("from_py.safetensors")
assert set(a) == set(b) and all((a[k].view("u4") == b[k].view("u4")).all() for k in a)'
    check "a Python-written checkpoint is accepted by --init and round-trips bit for bit" $?
    expect "a Python-written checkpoint is accepted by eval --weights" 0 '^loss: ' $MLP eval --data "$DATA/digits.csv" --weights py.safetensors
    expect "offsets out of range are refused" 1 "^error: off.safetensors: tensor 'fc1.bias' has data_offsets \[0, 10000000\] out of range" $MLP eval --data "$DATA/digits.csv" --weights off.safetensors
    expect "offsets that do not match the shape are refused" 1 "^error: mismatch.safetensors: tensor 'fc1.bias' has data_offsets .* do not match" $MLP eval --data "$DATA/digits.csv" --weights mismatch.safetensors
    expect "a missing tensor is refused" 1 "^error: missing.safetensors: missing tensor 'fc2.bias'" $MLP eval --data "$DATA/digits.csv" --weights missing.safetensors
    expect "an extra tensor is refused" 1 "^error: extra.safetensors: unexpected tensor 'extra'" $MLP eval --data "$DATA/digits.csv" --weights extra.safetensors
    expect "a wrong dtype is refused" 1 "^error: f64.safetensors: tensor 'fc1.bias' has dtype F64, expected F32" $MLP eval --data "$DATA/digits.csv" --weights f64.safetensors
    for case in "hdr_short|the tensors end at byte 9640 of 9641: 1 byte after tensor 'fc2.bias' belongs to no tensor" \
        "hdr_long|" "tail_bytes|the tensors end at byte 9640 of 9644: 4 bytes after tensor 'fc2.bias' belong to no tensor" \
        "hole|4 bytes between tensor 'fc2.weight' and tensor 'fc2.bias' belong to no tensor" \
        "overlap|tensor 'fc1.(weight|bias)' overlaps tensor 'fc1.(weight|bias)'" "not_utf8|bad JSON in the header: invalid UTF-8 at byte"; do
        expect "the data area must be covered exactly: ${case%%|*}" 1 "^error: ${case%%|*}.safetensors: ${case#*|}" \
            $MLP eval --data "$DATA/digits.csv" --weights "${case%%|*}.safetensors"
    done
    expect "a wrong shape is refused" 1 "^error: transposed.safetensors: tensor 'fc1.weight' has shape \[64, 32\], expected \[32, 64\]" $MLP train --init transposed.safetensors

    # Values and metadata: NaN/inf refused in every tensor (path, tensor, element); metadata
    # numbers read by the JSON grammar, in range (path, key); impossible positions refused
    # before any arithmetic on them. A pair saved mid-epoch (5 of 45 batches) is the base.
    $MLP train --steps 50 --save base.safetensors > /dev/null 2>&1
    $LIN train --epochs 1 --save lbase.safetensors > /dev/null 2>&1
    python3 - <<'PY' > meta_edit.txt 2>&1
import shutil
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
def edit(src, dst, meta=None, tensor=None):
    t, m = load_file(src), dict(safe_open(src, "np").metadata())
    if meta: m.update(meta)
    if tensor: name, index, value = tensor; t[name].reshape(-1)[index] = value
    save_file(t, dst, metadata=m)
def pair(name, meta=None, tensor=None):  # base's params, an edited optimizer file
    shutil.copy("base.safetensors", name + ".safetensors")
    edit("base.optim.safetensors", name + ".optim.safetensors", meta, tensor)
edit("base.safetensors", "nan_params.safetensors", tensor=("fc1.weight", 197, np.nan))
edit("base.safetensors", "inf_params.safetensors", tensor=("fc2.bias", 9, -np.inf))
pair("inf_optim", tensor=("fc1.bias.momentum_buffer", 4, np.inf))
for key, value in [("lr", "0x10"), ("lr", "1e400"), ("lr", "-0.5"), ("lr", "+0.5"), ("epoch", "+3"), ("epoch", " 3"),
                   ("epoch", "9223372036854775807"), ("epoch_rows", "9223372036854775807"), ("epoch_batches", "1000"),
                   ("epoch_rows", "100000"), ("epoch_loss_sum", "inf"), ("seed", " 5"), ("seed", "0x5"),
                   ("schedule.last_epoch", "-1"), ("schedule.best", "nan"), ("rng.shuffle", "18446744073709551616")]:
    pair("m_%s_%s" % (key, value.strip().replace("+", "plus")), {key: value})
for name, key, value in [("std_big", "std", "[1e39]"), ("std_zero", "std", "[0]"), ("std_neg", "std", "[-2]"),
                         ("std_hex", "std", "[0x10]"), ("mean_big", "mean", "[-1e39]"), ("std_tiny", "std", "[1e-42]")]:
    edit("lbase.safetensors", name + ".safetensors", {"normalize.x." + key: value})
shutil.copy("base.safetensors", "huge_step.safetensors")
edit("base.safetensors", "huge_step.safetensors", {"dlc.step": "9223372036854775807"})
edit("base.optim.safetensors", "huge_step.optim.safetensors", {"dlc.step": "9223372036854775807"})
print("edited")
PY
    check "checkpoints with bad values and metadata written for the checks below" $? "$(cat meta_edit.txt)"
    expect "NaN in a params file is refused (path, tensor, element)" 1 "^error: nan_params.safetensors: tensor 'fc1.weight' element 197 is NaN" \
        $MLP eval --data "$DATA/digits.csv" --weights nan_params.safetensors
    expect "-inf in a params file is refused" 1 "^error: inf_params.safetensors: tensor 'fc2.bias' element 9 is -inf" $MLP train --init inf_params.safetensors
    expect "inf in the optimizer state is refused" 1 "^error: inf_optim.optim.safetensors: tensor 'fc1.bias.momentum_buffer' element 4 is inf" \
        $MLP train --resume inf_optim.safetensors
    for case in "lr_0x10|'lr' is not a JSON number: '0x10'" "lr_1e400|'lr' is out of range: '1e400'" \
        "lr_-0.5|'lr' must be a finite number >= 0, got '-0.5'" "lr_plus0.5|'lr' is not a JSON number: '\+0.5'" \
        "epoch_plus3|'epoch' is not a count: '\+3'" "epoch_3|'epoch' is not a count: ' 3'" \
        "epoch_9223372036854775807|'epoch' is out of range: '9223372036854775807' \(at most 9007199254740992\)" \
        "epoch_rows_9223372036854775807|'epoch_rows' is out of range" "epoch_loss_sum_inf|'epoch_loss_sum' is not a JSON number: 'inf'" \
        "seed_5|'seed' is not an unsigned integer: ' 5'" "seed_0x5|'seed' is not an unsigned integer: '0x5'" \
        "schedule.last_epoch_-1|'schedule.last_epoch' is not a count: '-1'" "schedule.best_nan|'schedule.best' is not a JSON number: 'nan'" \
        "rng.shuffle_18446744073709551616|'rng.shuffle' is out of range: '18446744073709551616'" \
        "epoch_batches_1000|'epoch_batches' = 1000: the run stopped 1000 batches into an epoch, but an epoch here has 45" \
        "epoch_rows_100000|'epoch_rows' = 100000 rows done in the epoch, but 5 batches of 32 make 160"; do
        expect "metadata read strictly: ${case%%|*}" 1 "^error: m_${case%%|*}.optim.safetensors: __metadata__ ${case#*|}" \
            $MLP train --resume "m_${case%%|*}.safetensors" --epochs 1
    done
    expect "a step of INT64_MAX is refused" 1 "^error: huge_step.safetensors: __metadata__ 'dlc.step' is out of range: '9223372036854775807'" \
        $MLP train --resume huge_step.safetensors --epochs 1
    for case in "std_big|normalize.x.std element 0 is not a positive f32: 1e\+39" "std_zero|normalize.x.std element 0 is not a positive f32: 0" \
        "std_neg|normalize.x.std element 0 is not a positive f32: -2" "std_tiny|normalize.x.std element 0 is not a positive f32: 1e-42" \
        "std_hex|normalize.x.std: bad JSON" "mean_big|normalize.x.mean element 0 is out of range for f32: -1e\+39"; do
        expect "normalize statistics read strictly: ${case%%|*}" 1 "^error: ${case%%|*}.safetensors: __metadata__ ${case#*|}" \
            $LIN eval --data "$DATA/cars.csv" --weights "${case%%|*}.safetensors"
    done
    ref_out=$(python3 "$HERE/optim_reference.py" "$LIN" "$DATA/cars.csv" "$W" 2>&1)
    check "sgd/adam/adamw/adagrad and step_lr/cosine/plateau follow torch.optim's formulas" $? "$ref_out"
    fuzz_out=$(python3 "$HERE/fuzz_inputs.py" "$MLP" "$DATA/digits.csv" "$W" 2>&1)
    check "malformed CSV/npy/IDX/safetensors files never crash or hang the trainer (${fuzz_out##*$'\n'})" $? "$fuzz_out"
fi

# ---- Accumulation, --steps, --log, progress on a terminal ------------------------------------------

# The step count a checkpoint records (its metadata, readable without Python).
ckpt_step() { tr -c '[:print:]' '\n' < "$1" | grep -o '"dlc.step":"[0-9]*"' | head -1 | grep -o '[0-9][0-9]*'; }

# --log: a header, one row per epoch, the values of the epoch lines. digits: 1438 training rows
# in batches of 32 = 45 updates an epoch; lr 0.005 throughout; the loss falls.
awk -F, 'NR == 1 { next }
    { n++; if (NF != 7 || $1 != n || $2 != 45 * n || !($3 > 0 && $3 < 5) || !($4 > 0 && $4 < 5) ||
               !($5 >= 0 && $5 <= 1) || $6 != 0.005 || !($7 >= 0 && $7 < 60)) bad = 1 }
    n == 1 { first = $3 } { last = $3 }
    END { exit !(n == 10 && !bad && last < first) }' mlp_log.csv
check "--log rows: epoch, step (45 a epoch), loss, val_loss, accuracy in [0, 1], lr, seconds" $? "$(cat mlp_log.csv)"
paste -d' ' <(tail -n +2 mlp_log.csv | cut -d, -f1,3-6 | awk -F, '{ printf "%s %.6f %.6f %.6f %g\n", $1, $2, $3, $4, $5 }') \
    <(grep '^epoch ' train.txt | awk '{ split($2, e, "/"); print e[1], $4, $6, $8, $10 }') |
    awk 'function far(a, b) { return a - b > 1.5e-6 || b - a > 1.5e-6 }
         { if ($1 != $6 || far($2, $7) || far($3, $8) || far($4, $9) || $5 != $10) exit 1 }'
check "... and they agree with the printed epoch lines" $? "$(cat mlp_log.csv train.txt)"
$MLP train --epochs 2 --save lg.safetensors --log lg.csv > /dev/null 2>&1 &&
    $MLP train --epochs 1 --resume lg.safetensors --save lg.safetensors --log lg.csv > /dev/null 2>&1 &&
    [ "$(cut -d, -f1,2 lg.csv | tr '\n' ' ')" = "epoch,step 1,45 2,90 3,135 " ]
check "--log with --resume appends the new epochs under the one header" $? "$(cat lg.csv)"

# Not a terminal: plain lines only (no carriage return, escape or other control character).
! LC_ALL=C grep -q '[[:cntrl:]]' train.txt && [ "$(grep -c '^epoch ' train.txt)" -eq 10 ]
check "progress on a non-terminal is plain lines, no control characters" $? "$(cat -A train.txt | head -5)"

# --steps N: N updates, across epochs, stopping mid-epoch; saved; exit 0.
expect "--steps 50 stops mid-epoch 2 and says so (exit 0)" 0 '^epoch 2  loss [0-9.]+  val_loss .*  \(stopped after 5 of 45 batches\)$' \
    $MLP train --steps 50 --save st50.safetensors
[ "$(ckpt_step st50.safetensors)" = 50 ] && [ "$(ckpt_step st50.optim.safetensors)" = 50 ]
check "... and saves after exactly 50 updates" $?
# accumulate 4 over 45 micro-batches: 11 cycles of 4 and a tail of 1 = 12 updates an epoch.
$MLP train --steps 12 --accumulate 4 --save st12.safetensors > st12.txt 2>&1 &&
    [ "$(grep -c '^epoch ' st12.txt)" -eq 1 ] && grep -Eq '^epoch 1  loss [0-9.]+  val_loss .*s$' st12.txt &&
    [ "$(ckpt_step st12.safetensors)" = 12 ]
check "--steps counts updates: 12 with accumulate 4 is exactly one epoch (the tail makes the 12th)" $? "$(cat st12.txt)"
$MLP train --epochs 2 --accumulate 4 --save acc_tail.safetensors > /dev/null 2>&1 && [ "$(ckpt_step acc_tail.safetensors)" = 24 ]
check "accumulate 4: every epoch's tail of 1 micro-batch still updates (2 epochs = 24 updates)" $? "step $(ckpt_step acc_tail.safetensors)"
expect "--steps 0 trains nothing and exits 0" 0 '^train digits_mlp' $MLP train --steps 0

# accumulate k over micro-batches of b rows = one batch of k*b rows (spec section 6: each
# micro-batch's gradient / k). shuffle false keeps the rows in file order, and dropout draws
# its masks row after row, so both runs see the same rows and masks; they differ only in the
# order f32 sums are rounded. The params (|w| < 1) then agree to a few ulps (1e-8 observed):
# a 1e-6 tolerance is ~30x that, and far below what another rule gives (batch 8 without
# accumulation, or gradients summed instead of averaged = lr x 4: 0.05 to 0.3).
if [ $have_py -eq 1 ]; then
    acc_opts=(--shuffle false --steps 10)
    $MLP train "${acc_opts[@]}" --batch 8 --accumulate 4 --save acc_k.safetensors > /dev/null 2>&1 &&
        $MLP train "${acc_opts[@]}" --batch 32 --save acc_big.safetensors > /dev/null 2>&1 &&
        $MLP train "${acc_opts[@]}" --batch 8 --save acc_small.safetensors > /dev/null 2>&1 &&
        $MLP train "${acc_opts[@]}" --batch 32 --lr 0.02 --save acc_sum.safetensors > /dev/null 2>&1
    # The tail: 16 rows in micro-batches of 8 with accumulate 4 make one update per epoch of
    # (g1 + g2) / 4 = one batch of 16 at half the learning rate (SGD with momentum is linear in
    # the gradient). Three epochs: three tail updates.
    head -17 "$DATA/digits.csv" > rows16.csv
    tail_opts=(--data rows16.csv --validation 0 --shuffle false --epochs 3)
    $MLP train "${tail_opts[@]}" --batch 8 --accumulate 4 --save tail_k.safetensors > /dev/null 2>&1 &&
        $MLP train "${tail_opts[@]}" --batch 16 --lr 0.0025 --save tail_half.safetensors > /dev/null 2>&1 &&
        $MLP train "${tail_opts[@]}" --batch 16 --save tail_full.safetensors > /dev/null 2>&1
    acc_out=$(python3 - <<'EOF' 2>&1
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
def diff(a, b):
    a, b = load_file(a + ".safetensors"), load_file(b + ".safetensors")
    return max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in a)
tol = 1e-6
for same, other in [(("acc_k", "acc_big"), [("acc_k", "acc_small"), ("acc_k", "acc_sum")]),
                    (("tail_k", "tail_half"), [("tail_k", "tail_full")])]:
    d = diff(*same)
    assert d <= tol, f"{same}: differ by {d:.3g} > {tol}"
    for o in other:
        assert diff(*o) > 1000 * tol, f"{o}: differ by only {diff(*o):.3g}: the check cannot tell the rules apart"
assert safe_open("tail_k.safetensors", "np").metadata()["dlc.step"] == "3"
print(f"accumulate 4 x 8 rows vs 32 rows: {diff('acc_k', 'acc_big'):.2g}; tail: {diff('tail_k', 'tail_half'):.2g}")
EOF
)
    check "accumulate 4 x batch 8 = batch 32, within 1e-6 (${acc_out##*$'\n'})" $? "$acc_out"
fi

# A terminal (a pseudo-terminal from script(1), or Python's pty): a bar redrawn in place with
# carriage returns, replaced at the end of each epoch by the very line a file gets.
in_pty() {
    if command -v script > /dev/null; then
        script -qfec "$(printf '%q ' "$@")" /dev/null < /dev/null
    else
        python3 -c 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))' "$@" < /dev/null
    fi
}
# What a terminal shows: each line's text after its last carriage return, erasures removed.
screen() { sed 's/\r$//' "$1" | awk -F'\r' '{ print $NF }' | sed $'s/\033\\[K//g; s/  [0-9.]*s$//'; }
if command -v script > /dev/null || python3 -c 'import pty' 2> /dev/null; then
    $MLP train --epochs 3 2>&1 | sed 's/  [0-9.]*s$//' > plain3.txt
    env TERM=xterm LC_ALL=C NO_COLOR= COLUMNS=100 bash -c "$(declare -f in_pty); in_pty $MLP train --epochs 3" > tty.txt 2>&1
    rc=$?
    [ $rc -eq 0 ] && [ "$(grep -o $'\r''epoch [0-9]/3 |' tty.txt | sort -u | wc -l)" -eq 3 ] &&
        grep -q $'|  0/45\033\\[K\r' tty.txt && grep -q '#####*'$'\033\\[39m| 45/45  loss 1.20' tty.txt &&
        grep -q $'|\033\\[32m#' tty.txt
    check "on a terminal: a live bar per epoch (\\r, |####| 45/45  loss, colour)" $? "exit $rc; $(cat -A tty.txt | head -5)"
    diff <(screen tty.txt) plain3.txt > /dev/null
    check "... and each epoch ends as the plain line, as on a non-terminal" $? "$(diff <(screen tty.txt) plain3.txt)"
    env TERM=xterm LC_ALL=C.UTF-8 NO_COLOR=1 bash -c "$(declare -f in_pty); in_pty $MLP train --epochs 1" > tty_nc.txt 2>&1
    grep -q $'|\xe2\x96\x88' tty_nc.txt && ! grep -q $'\033\\[3' tty_nc.txt
    check "NO_COLOR: the bar without colour; a UTF-8 locale: block characters" $? "$(cat -A tty_nc.txt | head -5)"
    env TERM=dumb bash -c "$(declare -f in_pty); in_pty $MLP train --epochs 2" > tty_dumb.txt 2>&1
    ! grep -q $'\033' tty_dumb.txt && ! sed 's/\r$//' tty_dumb.txt | grep -q $'\r' &&
        diff <(screen tty_dumb.txt) <(head -3 plain3.txt | sed 's/epoch \([0-9]\)\/3/epoch \1\/2/') > /dev/null
    check "TERM=dumb: plain lines only, even on a terminal" $? "$(cat -A tty_dumb.txt | head -5)"
else
    echo "skip neither script(1) nor python3's pty module: the terminal checks are skipped"
fi

# ---- gradcheck ----------------------------------------------------------------------------------

for m in mlp linreg grid descend; do
    expect "gradcheck passes: $m" 0 '^gradcheck passed$' "$W/bin/$m" gradcheck
done
expect "gradcheck catches a 5% error in a gradient (exit 1)" 1 '^  fc1\.weight .*FAILED$' "$W/bin/mlp_broken" gradcheck

# ---- Ctrl-C ----------------------------------------------------------------------------------------

$MLP train --epochs 100000 --save int.safetensors > int.txt 2>&1 &
pid=$!
for _ in $(seq 600); do [ -e int.safetensors ] && break; sleep 0.05; done
sleep 0.2
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] && grep -q '^interrupted: saved int.safetensors' int.txt
check "Ctrl-C during training saves and exits 130" $? "exit $rc; $(tail -3 int.txt)"
steps=$(tr -c '[:print:]' '\n' < int.optim.safetensors | grep -o '"dlc.step":"[0-9]*"' | head -1 | grep -o '[0-9]*')
$MLP train --steps "${steps:-0}" --save int_ref.safetensors > /dev/null 2>&1 && cmp -s int.safetensors int_ref.safetensors
check "the Ctrl-C checkpoint equals a run of the same $steps steps, bit for bit" $?
lines=$(grep -c '^epoch ' int.txt)
[ "$lines" -eq $(((${steps:-0} + 44) / 45)) ] && [ "$(grep '^epoch ' int.txt | tail -1 | cut -d' ' -f2 | cut -d/ -f1)" = "$lines" ] &&
    [ "$(tail -1 int.txt)" = "interrupted: saved int.safetensors" ]
check "... every epoch line up to the interrupted one reached the file, before the stderr message" $? "$lines lines for $steps steps; $(tail -2 int.txt)"

# ---- SIGTERM, full disks, crashes in a save ------------------------------------------------------

# SIGTERM is Ctrl-C: the update under way finishes, the pair is saved, exit 143.
$MLP train --epochs 100000 --save term.safetensors > term.txt 2>&1 &
pid=$!
for _ in $(seq 600); do [ -e term.safetensors ] && break; sleep 0.05; done
sleep 0.2
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 143 ] && [ "$(tail -1 term.txt)" = "terminated: saved term.safetensors" ]
check "SIGTERM during training saves and exits 143" $? "exit $rc; $(tail -3 term.txt)"
steps=$(tr -c '[:print:]' '\n' < term.optim.safetensors | grep -o '"dlc.step":"[0-9]*"' | head -1 | grep -o '[0-9]*')
$MLP train --steps "${steps:-0}" --save term_ref.safetensors > /dev/null 2>&1 && cmp -s term.safetensors term_ref.safetensors
check "... and its checkpoint equals a run of the same $steps steps, bit for bit" $?
# Many SIGTERMs at random moments of a run that saves thousands of times a second (linreg:
# one full batch an epoch): whenever it lands, no temporary file is left and the pair loads.
mkdir -p sigloop
bad=""
for i in $(seq 20); do
    $LIN train --epochs 1000000 --save sigloop/p.safetensors > /dev/null 2> sigloop/err.txt &
    pid=$!
    sleep "0.$((RANDOM % 25))"
    kill -TERM $pid
    wait $pid
    rc=$?
    left=$(ls sigloop | grep -v -e '^p.safetensors$' -e '^p.optim.safetensors$' -e '^err.txt$')
    if [ $rc -ne 143 ] || [ -n "$left" ]; then bad="run $i: exit $rc, left: $left"; break; fi
    if [ -e sigloop/p.safetensors ] && ! $LIN train --resume sigloop/p.safetensors --steps 0 > /dev/null 2>> sigloop/err.txt; then
        bad="run $i: the pair does not load: $(cat sigloop/err.txt)"
        break
    fi
done
[ -z "$bad" ]
check "20 SIGTERMs at random moments: exit 143, no temporary file, the pair loads" $? "$bad"

# predict --out: SIGTERM while it writes removes its temporary file (100 000 rows: the
# temporary file is there for a while).
if [ $have_py -eq 1 ]; then
    python3 -c 'import numpy as np; np.save("px.npy", np.zeros((100000, 64), np.float32)); np.save("py.npy", np.zeros(100000, np.int32))'
    $MLP predict --input x=px.npy --input y=py.npy --weights mlp.safetensors --out pbig.csv > /dev/null 2> pbig.err &
    pid=$!
    for _ in $(seq 500); do ls pbig.csv.tmp-* > /dev/null 2>&1 && break; sleep 0.01; done
    kill -TERM $pid
    wait $pid
    rc=$?
    [ $rc -eq 143 ] && [ "$(cat pbig.err)" = "terminated: pbig.csv not written" ] && [ ! -e pbig.csv ] && ! ls pbig.csv.tmp-* > /dev/null 2>&1
    check "SIGTERM during predict --out: exit 143, no output and no temporary file" $? "exit $rc; $(cat pbig.err); $(ls pbig*)"
    rm -f px.npy py.npy
fi

# A full disk (here a file-size limit: writes fail with EFBIG) while the optimizer file is
# written: exit 1 naming it, the old pair intact, no temporary file.
adam=(--optimizer 'adam(lr: 0.001)')
$MLP train --epochs 1 "${adam[@]}" --save full.safetensors > /dev/null 2>&1 && cp full.safetensors full0.safetensors && cp full.optim.safetensors full0.optim.safetensors
(trap '' XFSZ; ulimit -f 15; exec $MLP train --epochs 1 "${adam[@]}" --resume full.safetensors --save full.safetensors) > /dev/null 2> full.err
rc=$?
[ $rc -eq 1 ] && [ "$(cat full.err)" = "error: full.optim.safetensors: cannot write: File too large" ] &&
    cmp -s full.safetensors full0.safetensors && cmp -s full.optim.safetensors full0.optim.safetensors && [ -z "$(ls | grep '\.tmp-')" ]
check "a full disk during a save: exit 1 naming the file, the old pair intact, no temporary file" $? "exit $rc; $(cat full.err); $(ls | grep '\.tmp-')"
expect "a --log write error (/dev/full) stops the run, exit 1" 1 '^error: /dev/full: cannot write: No space left on device$' $MLP train --epochs 2 --log /dev/full
(trap '' XFSZ; ulimit -f 4; exec $LIN train --epochs 3000 --log cut.csv) > /dev/null 2> cut.err
rc=$?
[ $rc -eq 1 ] && [ "$(cat cut.err)" = "error: cut.csv: cannot write: File too large" ]
check "a --log cut short by a full disk: exit 1 naming it" $? "exit $rc; $(cat cut.err)"
expect "a failed write to stdout (/dev/full) is reported, exit 1" 1 '^error: cannot write the standard output: No space left on device$' \
    bash -c "$MLP eval --data '$DATA/digits.csv' --weights mlp.safetensors > /dev/full"
expect "... in train too" 1 '^error: cannot write the standard output: No space left on device$' bash -c "$MLP train --epochs 1 > /dev/full"
(trap '' XFSZ; ulimit -f 10; exec $MLP predict --data "$DATA/digits.csv" --weights mlp.safetensors --out pred_cut.csv) > /dev/null 2> pred_cut.err
rc=$?
[ $rc -eq 1 ] && [ "$(cat pred_cut.err)" = "error: pred_cut.csv: cannot write: File too large" ] && [ ! -e pred_cut.csv ] && [ -z "$(ls | grep '\.tmp-')" ]
check "predict --out on a full disk: exit 1, no partial file" $? "exit $rc; $(cat pred_cut.err)"

# A crash (SIGKILL) before each rename or unlink of a save's commit, from crash_shim.c: the
# loader then finds the old pair (three first moments) or the new one (the last, and no
# crash), never a mix; the next save settles what the crash left and removes its temporary
# files. base: linreg after epoch 1; new: base + 1 epoch, saved without a crash.
shim_log=$($CC -shared -fPIC -O2 "$HERE/crash_shim.c" -o crash_shim.so -ldl 2>&1)
check "builds crash_shim.so" $? "$shim_log"
$LIN train --epochs 1 --save cbase.safetensors > /dev/null 2>&1
cp cbase.safetensors cnew.safetensors && cp cbase.optim.safetensors cnew.optim.safetensors
$LIN train --epochs 1 --resume cnew.safetensors --save cnew.safetensors > /dev/null 2>&1
cp cnew.safetensors cnext.safetensors && cp cnew.optim.safetensors cnext.optim.safetensors
$LIN train --epochs 1 --resume cnext.safetensors --save cnext.safetensors > /dev/null 2>&1
same_pair() { cmp -s "$1.safetensors" "$2.safetensors" && cmp -s "$1.optim.safetensors" "$2.optim.safetensors"; }
found="" settled=1
for k in 1 2 3 4 5; do
    rm -rf crash && mkdir crash && cp cbase.safetensors cbase.optim.safetensors crash/
    # (in a subshell of its own, whose stderr takes bash's "Killed" report)
    ( (export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" DLC_CRASH_AT=$k LD_PRELOAD="$W/crash_shim.so"
       exec $LIN train --epochs 1 --resume crash/cbase.safetensors --save crash/cbase.safetensors) > /dev/null 2>&1; exit $? ) 2> /dev/null
    rc=$?
    # What the loader finds, saved again elsewhere (the same state saves to the same bytes).
    $LIN train --resume crash/cbase.safetensors --steps 0 --save crash/seen.safetensors > /dev/null 2>&1
    if same_pair crash/seen cbase; then found="$found $k:old"; elif same_pair crash/seen cnew; then found="$found $k:new"; else found="$found $k:none"; fi
    [ $k -lt 5 ] && [ $rc -ne 137 ] && found="$found(exit $rc)"
    # The next save settles what the crash left: one more epoch gives the pair after it.
    $LIN train --epochs 1 --resume crash/cbase.safetensors --save crash/cbase.safetensors > /dev/null 2>&1
    want=cnext
    case "$found" in *"$k:old") want=cnew ;; esac
    same_pair crash/cbase $want && [ "$(ls crash | grep -c -v -e '^cbase\.' -e '^cbase\.optim\.' -e '^seen')" -eq 0 ] &&
        [ ! -e crash/cbase.optim.prev.safetensors ] || settled=0
done
[ "$found" = " 1:old 2:old 3:old 4:new 5:new" ]
check "a crash at each step of a save's commit leaves the old pair or the new one:$found" $?
[ $settled -eq 1 ]
check "... and the next save goes on from it, leaving no temporary or prev file" $? "$(ls crash)"

# SIGTERM in the moment the probe of an output (--save's temporary file, created and removed
# while the flags are read) exists: the process ends with 143 and leaves nothing behind.
rm -rf probe && mkdir probe
( (export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" DLC_TERM_AT_PROBE=1 LD_PRELOAD="$W/crash_shim.so"
   exec $LIN train --epochs 1 --save probe/p.safetensors) > /dev/null 2>&1; exit $? ) 2> /dev/null
rc=$?
[ $rc -eq 143 ] && [ -z "$(ls probe)" ]
check "SIGTERM while an output's probe exists: exit 143, no file left" $? "exit $rc, left: $(ls probe)"

# ---- Output to a file, OpenBLAS threads -------------------------------------------------------------

# Not a terminal: stdio buffers the epoch lines (and log rows); no write per epoch.
if command -v strace > /dev/null && strace -o /dev/null true 2> /dev/null; then
    strace -e trace=write -o writes.txt $LIN train --epochs 3000 --log lin3000.csv > lin3000.txt 2>&1
    w=$(grep -c '^write(' writes.txt)
    [ "$(grep -c '^epoch ' lin3000.txt)" -eq 3000 ] && [ "$(wc -l < lin3000.csv)" -eq 3001 ] && [ "$w" -lt 300 ]
    check "3000 epochs to a file: every line and log row, in $w writes (not one per epoch)" $? "$(tail -2 lin3000.txt)"
else
    echo "skip strace is not available: the write count is not checked"
fi

# A model whose steps make no BLAS call (linreg: uses_blas returns 0) runs without OpenBLAS's
# worker threads, which would otherwise spin beside it. With --threads N the trainer's own
# workers start with the first work that splits: none for linreg (nothing large enough), one
# when every split pays (mlp with DLC_PARALLEL_MIN_WORK=0: its optimizer updates split).
tasks() { # tasks AT_LEAST CMD...: the threads of CMD 0.3 s after its start, or as soon as it
    # has AT_LEAST of them within 10 s (a loaded machine, a sanitized build: a slow start)
    local want=$1 n
    shift
    "$@" > /dev/null 2>&1 &
    local pid=$!
    sleep 0.3
    for _ in $(seq 100); do
        n=$(ls "/proc/$pid/task" 2> /dev/null | wc -l)
        [ "$n" -ge "$want" ] && break
        sleep 0.1
    done
    echo "$n"
    kill "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
}
if [ -d /proc/self/task ]; then
    n1=$(tasks 1 $LIN train --epochs 1000000) n2=$(tasks 1 $LIN train --epochs 1000000 --threads 2)
    n3=$(DLC_PARALLEL_MIN_WORK=0 tasks 2 $MLP train --epochs 1000000 --threads 2)
    [ "$n1" -eq 1 ] && [ "$n2" -eq 1 ] && [ "$n3" -eq 2 ]
    check "no BLAS in the steps: one thread (got $n1); with --threads 2 still one, nothing splits (got $n2); mlp two when every split pays (got $n3)" $?
    # Without --threads, a model that calls BLAS takes OpenBLAS's count as it loaded: the
    # cores, or OPENBLAS_NUM_THREADS, or OMP_NUM_THREADS.
    cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) # (nproc reads OMP_NUM_THREADS)
    if [ "$cores" -ge 2 ]; then
        # (each run without the variables the machine's environment may set, but the one it tests)
        plain_env=(env -u OPENBLAS_NUM_THREADS -u GOTO_NUM_THREADS -u OMP_NUM_THREADS DLC_PARALLEL_MIN_WORK=0)
        d_cores=$(tasks 2 "${plain_env[@]}" $MLP train --epochs 1000000)
        d_env=$(tasks 1 "${plain_env[@]}" OPENBLAS_NUM_THREADS=1 $MLP train --epochs 1000000)
        d_omp=$(tasks 1 "${plain_env[@]}" OMP_NUM_THREADS=1 $MLP train --epochs 1000000)
        [ "$d_cores" -ge 2 ] && [ "$d_env" -eq 1 ] && [ "$d_omp" -eq 1 ]
        check "default threads: the cores (got $d_cores on $cores cores), OPENBLAS_NUM_THREADS=1 (got $d_env), OMP_NUM_THREADS=1 (got $d_omp)" $?
    fi
fi

# ---- End to end under the sanitizers: trainers that dlc itself compiles ---------------------------

# With --sanitize, a few models/ compiled by dlc (the generated kernels as well as the runtime,
# through CC, with a build cache of their own) train, save, resume, evaluate, predict and
# gradcheck, and refuse a bad row, under ASan and UBSan. Needs a built dlc (DLC, else
# .build/debug/dlc, as scripts/test.sh leaves it).
DLC=${DLC:-$ROOT/.build/debug/dlc}
if [[ "${EXTRA_CFLAGS:-}" == *sanitize* ]] && [ -x "$DLC" ]; then
    e2e_cc="$CC $EXTRA_CFLAGS"
    for spec in "line_grid c" "digits c" "cars c" "line_grid llvm"; do
        set -- $spec
        log=$(cd "$W" && DLC_CACHE_DIR="$W/dlc-cache" CC="$e2e_cc" "$DLC" compile "$ROOT/models/$1.dl" --backend "$2" -o "$W/bin/e2e_$1_$2" 2>&1)
        check "dlc compiles models/$1.dl ($2 backend) with the sanitizers" $? "$log"
    done
    for spec in "line_grid_c line_grid.csv" "digits_c digits.csv" "cars_c cars.csv" "line_grid_llvm line_grid.csv"; do
        set -- $spec
        exe=$W/bin/e2e_$1 data=$DATA/$2
        $exe train --data "$data" --epochs 2 --save "e2e_$1.safetensors" --log "e2e_$1.csv" > "e2e_$1.txt" 2>&1 &&
            $exe train --data "$data" --epochs 1 --resume "e2e_$1.safetensors" --save "e2e_$1.safetensors" >> "e2e_$1.txt" 2>&1 &&
            $exe eval --data "$data" --weights "e2e_$1.safetensors" >> "e2e_$1.txt" 2>&1 &&
            $exe predict --data "$data" --weights "e2e_$1.safetensors" --out "e2e_$1_pred.csv" >> "e2e_$1.txt" 2>&1 &&
            $exe gradcheck --data "$data" >> "e2e_$1.txt" 2>&1
        check "$1: train, resume, eval, predict, gradcheck under the sanitizers" $? "$(tail -5 "e2e_$1.txt")"
    done
    for exe in e2e_line_grid_c e2e_line_grid_llvm; do
        expect "$exe: an x outside the grid is reported at its row, under the sanitizers" 1 \
            '^far.csv:3: error: index 25 is out of range for a first axis of 21 \(line_grid.dl:12:[0-9]+\), computed from this row$' \
            "$W/bin/$exe" train --data far.csv
    done
    printf '%s' "$(tail -n +2 "$DATA/line_grid.csv")" > e2e_no_header_no_newline.csv
    expect "line_grid: a CSV without a header or a final newline, under the sanitizers" 0 \
        "^train line_grid: $(tail -n +2 "$DATA/line_grid.csv" | grep -c .) rows" \
        "$W/bin/e2e_line_grid_c" train --data e2e_no_header_no_newline.csv --epochs 1
elif [[ "${EXTRA_CFLAGS:-}" == *sanitize* ]]; then
    echo "skip no dlc at $DLC (build it, or set DLC): the end-to-end sanitizer runs are skipped"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
