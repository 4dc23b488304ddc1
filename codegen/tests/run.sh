#!/usr/bin/env bash
# codegen/tests/run.sh: builds the C runtime with hand-written "generated" model files and
# checks the trainers they make against spec sections 6 and 8: training, eval/predict
# formats, every bad-data message, bad flags, checkpoints (round trip, Python interchange,
# malformed files), determinism, stop-and-resume, optimizer formulas, accumulation, --steps,
# --log, progress on a file and on a (pseudo-)terminal, gradcheck, Ctrl-C.
#
# usage: codegen/tests/run.sh      (needs clang or cc, libopenblas-dev, zlib1g-dev; python3
#                                   with numpy + safetensors for the interchange checks)
# Data: models/data/ or ../shared/data/ (DLC_DATA overrides). Ends with "N passed, M failed".
set -u
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
# The runtime of a single-process trainer: every file but the MPI communicator (built below).
runtime_sources() { ls dlc_*.c | grep -v '^dlc_comm_mpi\.c$'; }
build_log=$(cd "$CODEGEN" && runtime_sources | xargs -P 2 -I{} sh -c "$CC $CFLAGS -c {} -o '$W/obj/\$(basename {} .c).o'" 2>&1)
check "runtime compiles without warnings ($(basename "$CC") $CFLAGS)" $? "$build_log"
if command -v gcc >/dev/null && [ "$(basename "$CC")" != gcc ]; then
    gcc_log=$(cd "$CODEGEN" && runtime_sources | xargs -P 2 -I{} sh -c "gcc $CFLAGS -c {} -o /dev/null" 2>&1)
    check "runtime compiles without warnings (gcc $CFLAGS)" $? "$gcc_log"
fi
link() { # link NAME MODEL_FILE DATA_FILE [extra flags]
    local log
    log=$($CC $CFLAGS -I"$CODEGEN" -DDATA_PATH="\"$3\"" ${4:-} "$HERE/$2" "$W"/obj/*.o $LIBS -o "$W/bin/$1" 2>&1)
    check "builds $1 ($2)" $? "$log"
}
link mlp mlp_model.c "$DATA/digits.csv"
link mlp_broken mlp_model.c "$DATA/digits.csv" -DBROKEN_GRADIENT
link linreg linreg_model.c "$DATA/cars.csv"
link grid grid_model.c "$DATA/line_grid.csv"
link descend descend_model.c ""
MLP=$W/bin/mlp LIN=$W/bin/linreg GRID=$W/bin/grid DESC=$W/bin/descend
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
printf 'x,a,b\n3.5,0.1,0.2\n25,1,2\n' > far.csv
expect "a gather index out of range names the source line, exit 1" 1 'error: line_grid.dl:12:16: index 25 is out of range for a first axis of 21' \
    $GRID train --data far.csv --save far.safetensors
[ ! -e far.safetensors ]
check "... and writes nothing" $?
expect "a model without data trains its steps" 0 '^step 20/20  loss -3\.825' $DESC train --save desc.safetensors
expect "... and predict writes its one output" 0 '^0\.398' $DESC predict --weights desc.safetensors
expect "mlp --val FILE validates on that file" 0 '1797 for validation' $MLP train --epochs 1 --val "$DATA/digits.csv"
tail -n +2 "$DATA/digits.csv" > no_header.csv
expect "a CSV without a header row is read from its first line" 0 '1438 rows, 359 for validation' $MLP train --epochs 1 --data no_header.csv
expect "--threads 1 and --shuffle false are accepted" 0 '^epoch 1/1 ' $MLP train --epochs 1 --threads 1 --shuffle false
expect "--threads 2 is accepted" 0 '^epoch 1/1 ' $MLP train --epochs 1 --threads 2
expect "info lists params, shapes, memory and FLOPs" 0 '^  fc1\.weight +\[32, 64\] +2048 +kaiming_uniform$' $MLP info
expect "info reports the arena for the batch" 0 '^  arena +18944 bytes' $MLP info

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
rm -f p_bad.csv
expect "predict on bad data exits 1" 1 '^short.csv:3:65: error: short row' $MLP predict --data short.csv --weights mlp.safetensors --out p_bad.csv
[ ! -e p_bad.csv ]
check "... and writes no --out file" $?
expect "eval on bad data exits 1" 1 'label10.csv:3:65: error: label 10' $MLP eval --data label10.csv --weights mlp.safetensors

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
h = json.loads(json.dumps(hdr)); del h["fc2.bias"]; write("missing.safetensors", h)
save_file(dict(p, extra=np.zeros(3, np.float32)), "extra.safetensors")
save_file(dict(p, **{"fc1.bias": p["fc1.bias"].astype(np.float64)}), "f64.safetensors")
save_file(dict(p, **{"fc1.weight": np.ascontiguousarray(p["fc1.weight"].T)}), "transposed.safetensors")
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
    expect "a wrong shape is refused" 1 "^error: transposed.safetensors: tensor 'fc1.weight' has shape \[64, 32\], expected \[32, 64\]" $MLP train --init transposed.safetensors
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
        grep -q $'|  0/45\033\\[K\r' tty.txt && grep -q '#####*'$'\033\\[39m| 45/45  loss 1.48' tty.txt &&
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
for _ in $(seq 50); do [ -e int.safetensors ] && break; sleep 0.05; done
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
# worker threads, which would otherwise spin beside it; --threads N still sets N.
tasks() { # tasks CMD...: the threads of CMD 0.3 s after its start
    "$@" > /dev/null 2>&1 &
    local pid=$!
    sleep 0.3
    ls "/proc/$pid/task" 2> /dev/null | wc -l
    kill "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
}
if [ -d /proc/self/task ]; then
    n1=$(tasks $LIN train --epochs 1000000) n2=$(tasks $LIN train --epochs 1000000 --threads 2)
    [ "$n1" -eq 1 ] && [ "$n2" -eq 2 ]
    check "no BLAS in the steps: one thread (got $n1); with --threads 2: two (got $n2)" $?
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
