#!/usr/bin/env bash
# codegen/tests/mpi.sh: data-parallel trainers (dlc compile --mpi) under Open MPI's mpirun,
# against spec section 10: K processes equal one process (every optimizer, dropout, normalize,
# validation, shuffling, accumulation, a partial last batch, a process with no rows, the LLVM
# backend, TCP between processes, --resume with another K), eval and predict identical, one
# voice (stdout and the log written once), and failures that end the job with one message,
# no half-written file, within 10 s (a bad flag, a missing file or a bad row on one process,
# an index out of range on one process, a killed process, Ctrl-C).
#
# usage: codegen/tests/mpi.sh      (needs dlc built: DLC=path, default .build/debug/dlc; Open
#                                   MPI: openmpi-bin libopenmpi-dev; python3)
# Ends with "N passed, M failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$(dirname "$HERE")")
DLC=${DLC:-$ROOT/.build/debug/dlc}
# Absolute: the checks run in a scratch folder (scripts/test.sh passes a relative path).
DLC=$(cd "$(dirname "$DLC")" && pwd)/$(basename "$DLC")
MODELS=$ROOT/models
DIGITS=$MODELS/data/digits.csv
W=$(mktemp -d "${TMPDIR:-/tmp}/dlc-mpi-tests.XXXXXX")
ns=dlc$$ # the network namespaces of the two-"machine" test, when it can make them
cleanup() {
    local job
    for job in $(jobs -p); do kill "$job" 2>/dev/null; done # a job left by a failed check
    ip netns del "${ns}a" 2>/dev/null
    ip netns del "${ns}b" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
cd "$W" || exit 1

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -n 25 | sed 's/^/       /'
    return 0
}
check() { if [ "$2" -eq 0 ]; then ok "$1"; else fail "$1" "${3:-}"; fi; }

if ! command -v mpirun >/dev/null || ! command -v mpicc >/dev/null; then
    echo "FAIL Open MPI is not installed (scripts/install-deps.sh installs openmpi-bin libopenmpi-dev)"
    echo "0 passed, 1 failed"
    exit 1
fi
# A 2-core CI machine runs 3 processes; root (a container) must say it means it. Waiting
# processes yield the core instead of spinning (the machine may be busy with other work).
MPIRUN=(mpirun --oversubscribe --bind-to none --mca mpi_yield_when_idle 1)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
run_k() { local k=$1; shift; "${MPIRUN[@]}" -np "$k" "$@"; }

# ---- Build -----------------------------------------------------------------------------------

log=$(cd "$ROOT/codegen" && mpicc -O2 -Wall -Wextra -Werror -std=c11 -DDLC_COMM_MPI -I. -Icore -Idevice -Icomm \
    -c comm/dlc_comm_mpi.c -o "$W/comm.o" 2>&1)
check "the MPI communicator compiles without warnings (mpicc -Wall -Wextra -Werror -DDLC_COMM_MPI)" $? "$log"

build() { # build NAME MODEL [dlc flags]
    local name=$1 model=$2 log
    shift 2
    log=$("$DLC" compile "$MODELS/$model" -o "$W/$name" "$@" 2>&1)
    check "dlc compile $model $* builds" $? "$log"
}
build digits digits.dl
build digits_mpi digits.dl --mpi
build digits_llvm_mpi digits.dl --backend llvm --mpi
build dropout digits_dropout.dl
build dropout_mpi digits_dropout.dl --mpi
build grid_mpi line_grid.dl --mpi
build descend descend.dl
build descend_mpi descend.dl --mpi
build cnn digits_cnn.dl
build cnn_mpi digits_cnn.dl --mpi
MODELS=$HERE build bn digits_bn.dl
MODELS=$HERE build bn_mpi digits_bn.dl --mpi
MODELS=$HERE build bn_llvm_mpi digits_bn.dl --backend llvm --mpi

same() { python3 "$HERE/compare_params.py" "$1" "$2" 1e-5; }

# ---- K processes equal one -------------------------------------------------------------------

# equal NAME FLAGS...: the single-process trainer and 2 and 3 processes, 2 epochs each.
equal() {
    local name=$1
    shift
    local out
    out=$(./digits train --data "$DIGITS" --epochs 2 --threads 1 --save "ref_$name.safetensors" "$@" 2>&1) ||
        { fail "$name: the single-process run" "$out"; return; }
    for k in 2 3; do
        out=$(run_k $k ./digits_mpi train --data "$DIGITS" --epochs 2 --threads 1 --save "k${k}_$name.safetensors" "$@" 2>&1) ||
            { fail "$name: $k processes run" "$out"; continue; }
        out=$(same "ref_$name.safetensors" "k${k}_$name.safetensors")
        check "$k processes = 1 process, $name: $out" $? "$out"
    done
}
# digits: 1438 training rows after the 20% validation split, normalize x, shuffled.
equal "sgd (fused in one process), batch 32 (last 30 rows)" --optimizer 'sgd(lr: 0.05)'
equal "sgd momentum nesterov weight_decay, accumulate 2, batch 100 (last 38)" \
    --optimizer 'sgd(lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 0.0001)' --accumulate 2 --batch 100
equal "adam, normalize, validation" --optimizer 'adam(lr: 0.001)'
equal "adamw, accumulate 3, step_lr" --optimizer 'adamw(lr: 0.002, weight_decay: 0.01)' --accumulate 3 \
    --schedule 'step_lr(every: 1, gamma: 0.5)'
equal "adagrad, batch 479 (last 1 row: processes with none)" --optimizer 'adagrad(lr: 0.05)' --batch 479

# One process under mpirun is the trainer without --mpi, to the bit: its runtime is built by
# mpicc (gcc here) and the other's by dlc's C compiler (clang), and every optimizer rounds its
# update the same under both (dlc_update_rules.h: fmaf where the host has FMA, not whatever
# each compiler contracts).
differ=""
for opt in 'sgd(lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 0.0001)' 'adam(lr: 0.001)' \
    'adamw(lr: 0.002, weight_decay: 0.01)' 'adagrad(lr: 0.05)'; do
    ./digits train --data "$DIGITS" --epochs 2 --threads 1 --optimizer "$opt" --save one_plain.safetensors >/dev/null 2>&1 &&
        run_k 1 ./digits_mpi train --data "$DIGITS" --epochs 2 --threads 1 --optimizer "$opt" --save one_mpi.safetensors >/dev/null 2>&1 &&
        python3 "$HERE/compare_params.py" one_plain.safetensors one_mpi.safetensors 0 >/dev/null &&
        python3 "$HERE/compare_params.py" one_plain.optim.safetensors one_mpi.optim.safetensors 0 >/dev/null || differ="$differ [$opt]"
done
[ -z "$differ" ]
check "1 process under mpirun = the trainer without --mpi, bit for bit (params and optimizer state; sgd, adam, adamw, adagrad)" $? "differ:$differ"

# Dropout masks are drawn by each row's position in the epoch (docs/rng.md), so a process draws
# for its part of a batch the masks one process draws for those rows.
./dropout train --data "$DIGITS" --epochs 2 --threads 1 --save dropout1.safetensors >/dev/null 2>&1
for k in 2 3; do
    out=$(run_k $k ./dropout_mpi train --data "$DIGITS" --epochs 2 --threads 1 --save "dropout$k.safetensors" 2>&1 &&
        same dropout1.safetensors "dropout$k.safetensors")
    check "$k processes = 1 process, dropout (p 0.3, AdamW, normalize): ${out##*$'\n'}" $? "$out"
done

out=$(run_k 2 ./digits_llvm_mpi train --data "$DIGITS" --epochs 2 --threads 1 --save llvm.safetensors --optimizer 'adam(lr: 0.001)' 2>&1 &&
    same "ref_adam, normalize, validation.safetensors" llvm.safetensors)
check "--backend llvm --mpi: 2 processes = 1 process: ${out##*$'\n'}" $? "$out"

out=$(run_k 2 --mca btl self,tcp ./digits_mpi train --data "$DIGITS" --epochs 2 --threads 1 --save tcp.safetensors \
    --optimizer 'adam(lr: 0.001)' 2>&1 && same "ref_adam, normalize, validation.safetensors" tcp.safetensors)
check "TCP between the processes (--mca btl self,tcp, as between machines): 2 = 1: ${out##*$'\n'}" $? "$out"

# Batch normalization (spec section 9): the batch statistics of each step, and their
# gradients, are summed across processes (as PyTorch's SyncBatchNorm), so the params and the
# running statistics (state, in the same checkpoint) of K processes equal one process's.
# equal_bn NAME ONE MPI FLAGS...: 3 epochs of the single-process trainer ONE, and of MPI in 2
# and 3 processes (3: uneven parts; 1438 rows in batches of 32 leave a last batch of 30).
equal_bn() {
    local name=$1 one=$2 mpi=$3
    shift 3
    local out
    out=$(./$one train --data "$DIGITS" --epochs 3 --threads 1 --save "ref_$name.safetensors" "$@" 2>&1) ||
        { fail "$name: the single-process run" "$out"; return; }
    for k in 2 3; do
        out=$(run_k $k ./$mpi train --data "$DIGITS" --epochs 3 --threads 1 --save "k${k}_$name.safetensors" "$@" 2>&1 &&
            same "ref_$name.safetensors" "k${k}_$name.safetensors")
        check "$k processes = 1 process, $name: ${out##*$'\n'}" $? "$out"
    done
}
equal_bn "BatchNorm1d (digits_bn), adam, an L2 term" bn bn_mpi --optimizer 'adam(lr: 0.001)'
equal_bn "BatchNorm1d, sgd momentum, accumulate 2, batch 100 (last 38)" bn bn_mpi \
    --optimizer 'sgd(lr: 0.05, momentum: 0.9)' --accumulate 2 --batch 100
# digits_cnn's convolution has a bias before its BatchNorm2d: its gradient is a sum that is zero
# up to rounding, which Adam would scale up to steps of lr; SGD keeps it as small as it is.
equal_bn "BatchNorm2d (digits_cnn), sgd momentum" cnn cnn_mpi --optimizer 'sgd(lr: 0.05, momentum: 0.9)'
out=$(run_k 3 ./bn_llvm_mpi train --data "$DIGITS" --epochs 3 --threads 1 --save bn_llvm.safetensors \
    --optimizer 'adam(lr: 0.001)' 2>&1 && same "ref_BatchNorm1d (digits_bn), adam, an L2 term.safetensors" bn_llvm.safetensors)
check "--backend llvm --mpi, batch normalization: 3 processes = 1 process: ${out##*$'\n'}" $? "$out"

./descend train --save d1.safetensors >d1.txt 2>&1
run_k 3 ./descend_mpi train --save d3.safetensors >d3.txt 2>&1
out=$(same d1.safetensors d3.safetensors)
check "a model without data: 3 processes = 1 process: $out" $? "$out"
cmp -s d1.txt d3.txt
check "... and the same step lines" $? "$(diff d1.txt d3.txt)"

# The CUDA backend: its device keeps tensors out of host memory. Under the CPU emulation (no GPU
# here) the gradient goes through the host to MPI and back; with nvcc (DLC_NVCC, as
# scripts/test.sh sets it) the real build is checked to compile and link with NCCL (the GPUs'
# own all-reduce, from the wheels beside nvcc), and, run on this machine without a GPU, to stop
# every process with one message and exit 1 rather than hang.
if command -v g++ >/dev/null || command -v clang++ >/dev/null; then
    out=$("$DLC" compile "$MODELS/digits.dl" --backend cuda --emulate -o cuda1 2>&1 &&
        "$DLC" compile "$MODELS/digits.dl" --backend cuda --emulate --mpi -o cuda_mpi 2>&1 &&
        ./cuda1 train --data "$DIGITS" --steps 10 --save cuda1.safetensors 2>&1 &&
        run_k 2 ./cuda_mpi train --data "$DIGITS" --steps 10 --save cuda2.safetensors 2>&1 &&
        same cuda1.safetensors cuda2.safetensors)
    check "--backend cuda --mpi (CPU emulation): 2 processes = 1 process, 10 updates: ${out##*$'\n'}" $? "$out"
    out=$("$DLC" compile "$HERE/digits_bn.dl" --backend cuda --emulate --mpi -o bn_cuda_mpi 2>&1 &&
        ./bn train --data "$DIGITS" --steps 10 --save bn10.safetensors 2>&1 &&
        run_k 2 ./bn_cuda_mpi train --data "$DIGITS" --steps 10 --save bn_cuda2.safetensors 2>&1 &&
        same bn10.safetensors bn_cuda2.safetensors)
    check "--backend cuda --mpi (CPU emulation), batch normalization: 2 processes = 1 process, 10 updates: ${out##*$'\n'}" $? "$out"
else
    echo "skip --backend cuda --mpi: no C++ compiler for the CUDA emulation"
fi
if [ -n "${DLC_NVCC:-}" ] && [ -x "$DLC_NVCC" ]; then
    out=$("$DLC" compile "$MODELS/digits.dl" --backend cuda --mpi -o cuda_nvcc_mpi 2>&1)
    check "--backend cuda --mpi builds with nvcc and mpicc" $? "$out"
    out=$(ldd ./cuda_nvcc_mpi 2>&1)
    echo "$out" | grep -q "libnccl.so"
    check "... and links NCCL for the gradients' all-reduce" $? "$out"
    out=$(timeout 120 "${MPIRUN[@]}" -np 2 ./cuda_nvcc_mpi train --data "$DIGITS" --steps 2 2>&1)
    status=$?
    [ $status -eq 1 ] && [ "$(echo "$out" | grep -c "error: no CUDA GPU is available")" -ge 1 ]
    check "... and without a GPU, 2 processes stop with the message, exit 1 (got $status)" $? "$out"
else
    echo "skip --backend cuda --mpi with nvcc: DLC_NVCC is not set"
fi

# Two "machines": network namespaces joined by a veth pair, each with its own address; mpirun
# starts the other one's daemon through a hostfile and an ssh stand-in (ip netns exec), and the
# processes talk TCP over the veth, as over a network. Needs root (CAP_NET_ADMIN); skipped
# where namespaces cannot be made.
if ip netns add "${ns}a" 2>/dev/null; then
    ip netns add "${ns}b" && ip link add "${ns}va" type veth peer name "${ns}vb" &&
        ip link set "${ns}va" netns "${ns}a" && ip link set "${ns}vb" netns "${ns}b" &&
        ip -n "${ns}a" addr add 10.231.0.1/24 dev "${ns}va" && ip -n "${ns}b" addr add 10.231.0.2/24 dev "${ns}vb" &&
        ip -n "${ns}a" link set "${ns}va" up && ip -n "${ns}b" link set "${ns}vb" up &&
        ip -n "${ns}a" link set lo up && ip -n "${ns}b" link set lo up
    printf '10.231.0.1 slots=1\n10.231.0.2 slots=1\n' >hosts
    printf '#!/bin/sh\n# ssh HOST COMMAND for the namespace "hosts"\nhost=$1; shift\ncase "$host" in 10.231.0.2) ns=%sb ;; *) ns=%sa ;; esac\nexec ip netns exec "$ns" sh -c "$*"\n' \
        "$ns" "$ns" >agent
    chmod +x agent
    net=(--hostfile hosts --mca plm_rsh_agent "$W/agent" --mca btl self,tcp --mca btl_tcp_if_include 10.231.0.0/24
        --mca oob_tcp_if_include 10.231.0.0/24)
    where=$(ip netns exec "${ns}a" "${MPIRUN[@]}" "${net[@]}" -np 2 sh -c 'readlink /proc/self/ns/net' 2>&1 | sort -u | wc -l)
    out=$(ip netns exec "${ns}a" "${MPIRUN[@]}" "${net[@]}" -np 2 "$W/digits_mpi" train --data "$DIGITS" --epochs 2 \
        --threads 1 --save "$W/netns.safetensors" --optimizer 'adam(lr: 0.001)' 2>&1 &&
        same "ref_adam, normalize, validation.safetensors" netns.safetensors)
    rc=$?
    check "two network namespaces (hostfile, TCP over veth): 2 = 1: ${out##*$'\n'}; $where namespaces" \
        "$([ $rc -eq 0 ] && [ "$where" -eq 2 ] && echo 0 || echo 1)" "$out"
    rm -f hosts agent
else
    echo "skip two network namespaces: cannot create one here (needs root and CAP_NET_ADMIN)"
fi

# --resume with another K: 1 epoch on 2 processes, then 1 more on 3, = 2 epochs on one.
out=$(run_k 2 ./digits_mpi train --data "$DIGITS" --epochs 1 --threads 1 --save r.safetensors --optimizer 'adam(lr: 0.001)' 2>&1 &&
    run_k 3 ./digits_mpi train --data "$DIGITS" --epochs 1 --threads 1 --resume r.safetensors --save r.safetensors 2>&1 &&
    same "ref_adam, normalize, validation.safetensors" r.safetensors)
check "--resume with another K: 1 epoch on 2 processes + 1 on 3 = 2 epochs on one: ${out##*$'\n'}" $? "$out"

# ---- One voice -------------------------------------------------------------------------------

./digits train --data "$DIGITS" --epochs 2 --threads 1 --log log1.csv >out1.txt 2>&1
run_k 3 ./digits_mpi train --data "$DIGITS" --epochs 2 --threads 1 --log log3.csv >out3.txt 2>&1
check "3 processes: the log is written once (a header and 2 rows)" "$([ "$(wc -l <log3.csv)" -eq 3 ] && echo 0 || echo 1)" "$(cat log3.csv)"
check "... and stdout has each line once, as one process prints them" \
    "$([ "$(grep -c '^epoch' out3.txt)" -eq 2 ] && [ "$(grep -c '^train digits' out3.txt)" -eq 1 ] && echo 0 || echo 1)" "$(cat out3.txt)"
# The losses are sums in another order: equal to the printed digits but for the last one.
check "... the same epoch lines as one process, but for the seconds" \
    "$(diff <(sed -E 's/ [0-9.]+s$//; s/[0-9]$//' out1.txt | sed -E 's/([0-9]\.[0-9]{4})[0-9]*/\1/g') \
            <(sed -E 's/ [0-9.]+s$//; s/[0-9]$//' out3.txt | sed -E 's/([0-9]\.[0-9]{4})[0-9]*/\1/g') >/dev/null; echo $?)" \
    "$(diff out1.txt out3.txt)"

W1="ref_adam, normalize, validation.safetensors"
./digits eval --data "$DIGITS" --weights "$W1" >eval1.txt 2>&1 &&
    run_k 3 ./digits_mpi eval --data "$DIGITS" --weights "$W1" >eval3.txt 2>&1 &&
    grep -q '^loss: ' eval1.txt && cmp -s eval1.txt eval3.txt
check "eval on 3 processes prints what one process prints: $(tr '\n' ' ' <eval3.txt)" $? "$(diff eval1.txt eval3.txt)"
./digits predict --data "$DIGITS" --weights "$W1" --out pred1.csv >/dev/null 2>&1
run_k 3 ./digits_mpi predict --data "$DIGITS" --weights "$W1" --out pred3.csv >/dev/null 2>&1
cmp -s pred1.csv pred3.csv
check "predict --out on 3 processes: the same file, rows in file order ($(wc -l <pred3.csv) lines)" $?
run_k 2 ./digits_mpi predict --data "$DIGITS" --weights "$W1" --batch 500 >pred2.csv 2>/dev/null
./digits predict --data "$DIGITS" --weights "$W1" --batch 500 >pred1b.csv 2>/dev/null
cmp -s pred1b.csv pred2.csv
check "predict to stdout on 2 processes, batch 500: the same rows" $?

# Processes on one machine share its cores: without --threads each takes its share of threads
# (here with --bind-to none, where each may run on every core). The trainer's workers start with
# the first work that splits: digits splits nothing at the default sizes, so the extra thread of
# --threads share+1 shows with DLC_PARALLEL_MIN_WORK=0 (every split pays).
rank_tasks() { # rank_tasks FLAGS...: the threads of rank 0 of 2 processes, once the first epoch is saved
    rm -f pid.0 pid.1 tasks.safetensors tasks.optim.safetensors
    # mpirun itself in the background (not a function running it), so that $! is mpirun's.
    "${MPIRUN[@]}" -np 2 sh -c "echo \$\$ >pid.\${OMPI_COMM_WORLD_RANK:-\$PMIX_RANK}; exec ./digits_mpi train \
        --data $DIGITS --epochs 100000 --save tasks.safetensors $*" >/dev/null 2>&1 &
    local job=$!
    for _ in $(seq 600); do [ -f tasks.optim.safetensors ] && [ -f pid.0 ] && break; sleep 0.1; done
    ls "/proc/$(cat pid.0)/task" 2>/dev/null | wc -l
    kill $job
    wait $job 2>/dev/null
    rm -f pid.0 pid.1 tasks.safetensors tasks.optim.safetensors
}
cores=$(nproc)
if [ -d /proc/self/task ] && [ "$cores" -ge 2 ]; then
    share=$((cores / 2))
    n_default=$(DLC_PARALLEL_MIN_WORK=0 rank_tasks) n_share=$(DLC_PARALLEL_MIN_WORK=0 rank_tasks --threads $share)
    n_more=$(DLC_PARALLEL_MIN_WORK=0 rank_tasks --threads $((share + 1)))
    [ "$n_default" -eq "$n_share" ] && [ "$n_more" -gt "$n_share" ]
    check "2 processes on $cores cores: each takes $share thread(s) by default ($n_default threads in all; with --threads $((share + 1)): $n_more)" $?
fi

# Batch normalization (digits_cnn): its running statistics are state, loaded on every process
# and copied to the device with the params, so eval and predict in 2 processes equal 1.
out=$(run_k 1 ./cnn_mpi train --data "$DIGITS" --epochs 1 --threads 1 --save cnn.safetensors 2>&1 &&
    run_k 1 ./cnn_mpi eval --weights cnn.safetensors --data "$DIGITS" --threads 1 >cnn_eval1.txt 2>&1 &&
    run_k 2 ./cnn_mpi eval --weights cnn.safetensors --data "$DIGITS" --threads 1 >cnn_eval2.txt 2>&1 &&
    cmp cnn_eval1.txt cnn_eval2.txt && grep -q "^accuracy: 0\.[5-9]" cnn_eval1.txt)
check "digits_cnn (batch normalization's state): eval in 2 processes = 1 ($(tr '\n' ' ' <cnn_eval1.txt 2>/dev/null))" $? \
    "$out$(diff cnn_eval1.txt cnn_eval2.txt 2>&1)"
out=$(run_k 1 ./cnn_mpi predict --weights cnn.safetensors --data "$DIGITS" --threads 1 --out cnn_pred1.csv 2>&1 &&
    run_k 2 ./cnn_mpi predict --weights cnn.safetensors --data "$DIGITS" --threads 1 --out cnn_pred2.csv 2>&1 &&
    cmp cnn_pred1.csv cnn_pred2.csv)
check "digits_cnn: predict in 2 processes = 1" $? "$out"

# ---- Failures: one message, the job ends, nothing half-written, within 10 s ---------------------

# fails NAME CODE REGEX K CMD...: the job of K processes running CMD exits CODE (any non-zero
# for -1), REGEX matches exactly one line of its output, no file appeared, and it ended within
# 10 s of mpirun's own start-up (`mpirun -np K true`, timed just before: on a loaded 2-core
# machine that alone can take seconds).
fails() {
    local name=$1 code=$2 regex=$3 k=$4
    shift 4
    local before after t0 t1 out rc lines
    t0=$(date +%s.%N)
    run_k "$k" true
    t1=$(date +%s.%N)
    local startup
    startup=$(echo "$t1 - $t0" | bc)
    before=$(ls)
    t0=$(date +%s.%N)
    out=$(run_k "$k" "$@" 2>&1)
    rc=$?
    t1=$(date +%s.%N)
    t1=$(echo "$t1 - $startup" | bc)
    after=$(ls)
    lines=$(printf '%s\n' "$out" | grep -cE -- "$regex")
    if { [ "$code" -ge 0 ] && [ "$rc" -ne "$code" ]; } || { [ "$code" -lt 0 ] && [ "$rc" -eq 0 ]; }; then
        fail "$name (exit $rc, want $code)" "$out"
    elif [ "$lines" -ne 1 ]; then
        fail "$name ($lines lines match /$regex/, want 1)" "$out"
    elif [ "$before" != "$after" ]; then
        fail "$name (files appeared)" "$(diff <(echo "$before") <(echo "$after"))"
    elif [ "$(echo "$t1 - $t0 < 10" | bc)" -ne 1 ]; then
        fail "$name (took $(echo "$t1 - $t0" | bc) s after a start-up of $startup s)" "$out"
    else
        ok "$name ($(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s after a start-up of $(printf '%.1f' "$startup") s)"
    fi
}
# on_rank R CMD_R CMD_OTHERS: process R runs one command line, the others another.
on_rank() {
    printf 'if [ "${OMPI_COMM_WORLD_RANK:-$PMIX_RANK}" = %s ]; then exec %s; else exec %s; fi' "$1" "$2" "$3"
}
fails "a bad flag: one message on 3 processes, exit 2" 2 "error: --bogus: unknown flag" \
    3 ./digits_mpi train --data "$DIGITS" --bogus 1 --save never.safetensors
fails "a missing file on process 1 only: its message, exit 1" 1 "error: nothere.csv: No such file" \
    3 sh -c "$(on_rank 1 "./digits_mpi train --data nothere.csv --save never.safetensors" \
        "./digits_mpi train --data $DIGITS --save never.safetensors")"
{ head -n 1500 "$DIGITS"; echo "$(sed -n 1501p "$DIGITS" | sed 's/,[^,]*$/,12/')"; tail -n +1502 "$DIGITS"; } >bad.csv
fails "a bad row in process 2's rows only: its located message, exit 1" 1 "^bad.csv:1501:65: error: .*12" \
    3 sh -c "$(on_rank 2 "./digits_mpi train --data bad.csv --save never.safetensors" \
        "./digits_mpi train --data $DIGITS --save never.safetensors")"
rm -f bad.csv
# Every process sees the summed loss go infinite; the process whose rows hold the cause blames
# it (each runs its own rows alone with the starting params), and the others wait for it.
awk -F, -v OFS=, 'NR == 1501 { for (i = 1; i < NF; i++) $i = "3e38" } 1' "$DIGITS" >huge.csv
fails "a row whose loss overflows, in one process's rows: that row, once, exit 1, no log" 1 \
    "^huge.csv:1501:[0-9]+: error: the forward pass of this row gives a loss of" \
    3 ./digits_mpi train --data huge.csv --normalize none --shuffle false --save never.safetensors --log never.csv
rm -f huge.csv
{ head -n 200 "$MODELS/data/line_grid.csv"; echo "25.5,0,0"; tail -n +201 "$MODELS/data/line_grid.csv"; } >grid_bad.csv
fails "an index out of range in one process's rows, mid-training: its message, the job ends" -1 \
    "index 25 is out of range for a first axis of 21" \
    2 ./grid_mpi train --data grid_bad.csv --shuffle false --save never.safetensors
rm -f grid_bad.csv

# Batch normalization sums its statistics over every process's rows: a batch with fewer rows
# than processes (here the last one, of 2 rows) is refused before the first step.
fails "batch normalization, a batch of 2 rows in 3 processes: refused before training, exit 1" 1 \
    "digits_bn: a batch of 2 rows \(1438 training rows in batches of 4\) leaves some of the 3 processes no rows" \
    3 ./bn_mpi train --data "$DIGITS" --batch 4 --save never.safetensors
# A max along the batch axis mixes the rows in a way no sum across processes splits: refused,
# at its place in the model (one process trains it).
cat >mix.dl <<'MODEL'
model mix {
    input  x: f32[N, 64]
    target y: i32[N]
    layer fc = Linear(64, 10)
    forward {
        z = fc(x)
        logits = z - max(z, 0, true)
        output logits
        loss cross_entropy(logits, y)
    }
    train { optimizer sgd(lr: 0.01); columns x: "0-63", y: "label" }
}
MODEL
out=$("$DLC" compile mix.dl --mpi -o mix_mpi 2>&1 && ./mix_mpi train --data "$DIGITS" --epochs 1 --save mix1.safetensors 2>&1)
check "a max along the batch axis trains in one process" $? "$out"
rm -f mix1.safetensors mix1.optim.safetensors
fails "... and is refused in 2 processes, located, exit 1" 1 "mix: mix.dl:7:22: 'max' mixes the rows of a batch" \
    2 ./mix_mpi train --data "$DIGITS" --save never.safetensors

# A killed process: the job ends within seconds and the last checkpoint is whole.
"${MPIRUN[@]}" -np 2 sh -c "echo \$\$ >pid.\${OMPI_COMM_WORLD_RANK:-\$PMIX_RANK}; exec ./digits_mpi train --data $DIGITS \
    --epochs 100000 --threads 1 --save killed.safetensors" >killed.txt 2>&1 &
job=$!
for _ in $(seq 600); do [ -f killed.optim.safetensors ] && [ -f pid.1 ] && break; sleep 0.1; done
t0=$(date +%s.%N)
kill -KILL "$(cat pid.1)"
wait $job
rc=$?
t1=$(date +%s.%N)
check "a process killed by SIGKILL ends the job (exit $rc) in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s" \
    "$([ $rc -ne 0 ] && [ "$(echo "$t1 - $t0 < 10" | bc)" -eq 1 ] && echo 0 || echo 1)" "$(cat killed.txt)"
out=$(./digits eval --data "$DIGITS" --weights killed.safetensors 2>&1 &&
    ./digits train --data "$DIGITS" --epochs 1 --resume killed.safetensors 2>&1)
check "... and the last checkpoint is whole: eval and --resume read it" $? "$out"
check "... with no temporary file left" "$(ls | grep -c tmp- | sed 's/^0$/0/;s/^[1-9].*/1/')" "$(ls)"

# Ctrl-C on mpirun: Open MPI's mpirun sends every process SIGTERM, and SIGKILL about 1 s later;
# rank 0 saves once, every process stops at the same update, and mpirun exits non-zero.
# (A background job of a script starts with SIGINT ignored, and mpirun keeps it so: the
# wrapper gives it the default back, as a terminal's foreground job has.)
# Each process writes its own stderr file (mpirun stops relaying output once it is stopping:
# a progress line blocked in a full pipe must not keep a process from its save, see
# dlc_catch_stop_signals).
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
    "${MPIRUN[@]}" -np 2 sh -c "exec ./digits_mpi train --data $DIGITS --epochs 100000 \
    --threads 1 --save int.safetensors 2>int.\${OMPI_COMM_WORLD_RANK:-\$PMIX_RANK}.txt" >int.txt 2>&1 &
job=$!
for _ in $(seq 600); do [ -f int.optim.safetensors ] && break; sleep 0.1; done
sleep 0.3
t0=$(date +%s.%N)
kill -INT $job
wait $job
rc=$?
t1=$(date +%s.%N)
check "Ctrl-C on mpirun ends the job (mpirun's exit $rc) in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s" \
    "$([ $rc -ne 0 ] && [ "$(echo "$t1 - $t0 < 10" | bc)" -eq 1 ] && echo 0 || echo 1)" "$(cat int.txt)"
check "... rank 0 saved once" \
    "$([ "$(cat int.[01].txt | grep -c 'terminated: saved int.safetensors')" -eq 1 ] &&
        grep -q 'terminated: saved' int.0.txt && echo 0 || echo 1)" "$(tail -n 3 int.txt int.[01].txt)"
out=$(./digits train --data "$DIGITS" --epochs 1 --resume int.safetensors 2>&1)
check "... and the checkpoint resumes" $? "$out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
