#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU, CUDA and NCCL (no Debian -dev packages needed):
# builds the runtime-only configuration (-DRINGLEADER_RUNTIME_ONLY=ON) with all cores, then
#   1. runtime_cuda_test: kernels vs a CPU reference, bucket packing, NCCL on one rank (smoke)
#      and on two ranks in two processes on one GPU (distinct NCCL_HOSTID: NCCL treats them
#      as two hosts over loopback) with exact sums/averages of every dtype against the CPU
#      reference, the averager's overlap thread, the GPU trainer vs the CPU trainer, two ranks
#      refused on one GPU without NCCL_HOSTID, and a collective timeout naming the missing rank;
#   2. allreduce_bench --gpu (pack/unpack vs D2D, NCCL path overhead, fusion);
#   3. `ringleader-worker train --device cuda` vs `--device cpu`, one rank and two ranks (the
#      launcher, each rank with its own NCCL_HOSTID): same final loss, both GPU ranks with the
#      same checksum; and two ranks on one GPU without NCCL_HOSTID exit 2 (configuration).
# Ends with a PASS/FAIL table, every RESULT line, and `RESULT gpu_check=PASS|FAIL|NO_GPU`.
#
# Exit codes: 0 PASS (a GPU was used and every step passed); 1 FAIL (the build failed, or a GPU
# is present and any step failed or skipped); 77 NO_GPU (the build and the no-device paths were
# checked, nothing ran on a GPU; 77 is the usual "skipped" code).
# Environment: GPU_CHECK_BUILD_DIR (build-gpu-check), GPU_CHECK_JOBS (nproc).
set -uo pipefail
cd "$(dirname "$0")/.."
readonly BUILD_DIR=${GPU_CHECK_BUILD_DIR:-build-gpu-check}
readonly JOBS=${GPU_CHECK_JOBS:-$(nproc)}
readonly LOGS=$BUILD_DIR/gpu-check-logs
readonly START=$SECONDS
mkdir -p "$LOGS"

summary=()   # "PASS|FAIL|SKIP name: detail"
results=()   # RESULT lines
failed=0

record() {  # record STATUS NAME DETAIL
  summary+=("$1 $2${3:+: $3}")
  [ "$1" = PASS ] || failed=1
  echo "gpu-check: $1 $2${3:+: $3} ($((SECONDS - START)) s)"
}

finish() {  # finish VERDICT EXIT_CODE
  echo
  echo "==== gpu-check summary ($((SECONDS - START)) s, build dir $BUILD_DIR, logs $LOGS) ===="
  for line in "${summary[@]}"; do echo "  $line"; done
  for line in "${results[@]}"; do echo "$line"; done
  echo "RESULT gpu_check=$1"
  exit "$2"
}

# ---- is there a GPU? ----
gpu_count=0
gpu_reason="nvidia-smi not found"
if command -v nvidia-smi >/dev/null 2>&1; then
  if gpus=$(nvidia-smi -L 2>&1); then
    gpu_count=$(grep -c '^GPU ' <<<"$gpus")
    gpu_reason="nvidia-smi lists $gpu_count GPU(s)"
  else
    gpu_reason="nvidia-smi failed: $(head -n 1 <<<"$gpus")"
  fi
elif ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
  gpu_count=$(ls /dev/nvidia[0-9]* | wc -l)
  gpu_reason="no nvidia-smi, but $gpu_count /dev/nvidiaN device node(s)"
fi
echo "gpu-check: $gpu_reason"

# ---- build (runtime only, all cores) ----
cuda_arch=90
if [ "$gpu_count" -gt 0 ]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' .')
  [[ "$cap" =~ ^[0-9]+$ ]] && cuda_arch=$cap
fi
generator=()
command -v ninja >/dev/null 2>&1 && [ ! -f "$BUILD_DIR/Makefile" ] && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
if ! cmake -S . -B "$BUILD_DIR" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRINGLEADER_RUNTIME_ONLY=ON -DRINGLEADER_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$cuda_arch" \
    >"$LOGS/configure.log" 2>&1; then
  tail -n 30 "$LOGS/configure.log"
  record FAIL configure "cmake failed (CUDA toolkit missing?), see $LOGS/configure.log"
  finish FAIL 1
fi
if grep -q '^NCCL_LIBRARY:FILEPATH=.*NOTFOUND' "$BUILD_DIR/CMakeCache.txt" ||
   ! grep -q '^NCCL_LIBRARY:FILEPATH=' "$BUILD_DIR/CMakeCache.txt"; then
  nccl_found=0
else
  nccl_found=1
fi
if ! cmake --build "$BUILD_DIR" -j "$JOBS" --target ringleader-worker runtime_cuda_test allreduce_bench \
    >"$LOGS/build.log" 2>&1; then
  grep -E 'error|Error' "$LOGS/build.log" | head -n 30
  record FAIL build "see $LOGS/build.log"
  finish FAIL 1
fi
record PASS build "runtime only, sm_$cuda_arch, $JOBS jobs, NCCL $([ $nccl_found = 1 ] && echo found || echo 'NOT found')"
readonly WORKER=$BUILD_DIR/src/cmd/ringleader-worker/ringleader-worker
readonly CUDA_TEST=$BUILD_DIR/tests/runtime/runtime_cuda_test
readonly BENCH=$BUILD_DIR/bench/allreduce/allreduce_bench

# ---- the worker binary: `launch` N ranks of `train` ----
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 40000))
}
# train_run NAME NPROC DEVICE [NCCL_HOSTID per rank: yes|no] -> log $LOGS/NAME.log, exit code
train_run() {
  local name=$1 nproc=$2 device=$3 hostids=${4:-yes}
  local backend=tcp
  [ "$device" = cuda ] && backend=nccl
  local rank_cmd='exec "$0" "$@"'
  [ "$hostids" = yes ] && rank_cmd='NCCL_HOSTID=gpu-check-rank$RINGLEADER_LOCAL_RANK exec "$0" "$@"'
  env -u NCCL_HOSTID RINGLEADER_NUM_WORKERS=1 RINGLEADER_WORKER_RANK=0 RINGLEADER_PROCS_PER_WORKER="$nproc" \
    RINGLEADER_MASTER_ADDR=127.0.0.1 RINGLEADER_MASTER_PORT="$(free_port)" \
    CUDA_VISIBLE_DEVICES="${GPU_CHECK_DEVICE:-0}" NCCL_SOCKET_IFNAME="${NCCL_SOCKET_IFNAME:-lo}" \
    NCCL_IB_DISABLE="${NCCL_IB_DISABLE:-1}" \
    timeout 120 "$WORKER" launch --nproc "$nproc" -- sh -c "$rank_cmd" "$WORKER" train \
      --device "$device" --backend "$backend" --steps 200 --batch-size 16 --log-every 50 \
      --timeout-seconds 30 --rendezvous-timeout-seconds 30 >"$LOGS/$name.log" 2>&1
}
final_field() {  # final_field LOG FIELD -> the field of every `final` line, one per line
  grep '^final ' "$1" | sed -E "s/.* $2=([^ ]+).*/\\1/"
}
# check_ranks NAME NPROC RC: every rank printed its `final` line, all with the same checksum.
check_ranks() {
  local name=$1 n=$2 rc=$3 sums
  sums=$(final_field "$LOGS/$name.log" checksum)
  if [ "$rc" -ne 0 ] || [ "$(grep -c . <<<"$sums")" -ne "$n" ]; then
    tail -n 20 "$LOGS/$name.log" >&2
    echo "exit $rc, $(grep -c . <<<"$sums") of $n final lines, see $LOGS/$name.log"
    return 1
  fi
  if [ "$(sort -u <<<"$sums" | wc -l)" -ne 1 ]; then
    echo "ranks ended with different weights: $(tr '\n' ' ' <<<"$sums")"
    return 1
  fi
}
compare_training() {  # compare_training NPROC
  local n=$1 gpu=train_gpu_${1}rank cpu=train_cpu_${1}rank why
  train_run "$cpu" "$n" cpu
  if ! why=$(check_ranks "$cpu" "$n" $?); then
    record FAIL "train $n rank(s) cpu" "$why"
    return
  fi
  train_run "$gpu" "$n" cuda
  if ! why=$(check_ranks "$gpu" "$n" $?); then
    record FAIL "train $n rank(s) gpu vs cpu" "$why"
    return
  fi
  local cpu_loss gpu_loss diff
  cpu_loss=$(final_field "$LOGS/$cpu.log" loss | head -n 1)
  gpu_loss=$(final_field "$LOGS/$gpu.log" loss | head -n 1)
  diff=$(awk -v a="$gpu_loss" -v b="$cpu_loss" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.3g", d }')
  results+=("RESULT train_${n}rank_final_loss_gpu=$gpu_loss cpu=$cpu_loss abs_diff=$diff")
  if awk -v a="$gpu_loss" -v b="$cpu_loss" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b;
                                                    exit !(d <= 1e-2 * m + 1e-6) }'; then
    record PASS "train $n rank(s) gpu vs cpu" "final loss $gpu_loss vs $cpu_loss"
  else
    record FAIL "train $n rank(s) gpu vs cpu" "final loss $gpu_loss vs $cpu_loss (|diff| $diff > 1% of the cpu loss)"
  fi
}

# ---- no GPU: check that the GPU programs say so cleanly, and stop ----
if [ "$gpu_count" -eq 0 ]; then
  out=$("$CUDA_TEST" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q '^SKIP: no CUDA device' <<<"$out"; then
    record PASS "runtime_cuda_test without a GPU" "$(head -n 1 <<<"$out")"
  else
    record FAIL "runtime_cuda_test without a GPU" "exit $rc: $(head -n 1 <<<"$out")"
  fi
  out=$("$BENCH" --gpu 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q '^SKIP: no CUDA device' <<<"$out"; then
    record PASS "allreduce_bench --gpu without a GPU" "$(head -n 1 <<<"$out")"
  else
    record FAIL "allreduce_bench --gpu without a GPU" "exit $rc: $(head -n 1 <<<"$out")"
  fi
  # The CPU half of step 3, so the launch plumbing is known to work before a GPU session.
  train_run train_cpu_2rank 2 cpu
  if why=$(check_ranks train_cpu_2rank 2 $?); then
    record PASS "train 2 ranks cpu (launch plumbing)" "$(final_field "$LOGS/train_cpu_2rank.log" loss | head -n 1 | sed 's/^/final loss /')"
  else
    record FAIL "train 2 ranks cpu (launch plumbing)" "$why"
  fi
  [ $failed -eq 0 ] || finish FAIL 1
  summary+=("NO_GPU gpu steps: not run ($gpu_reason)")
  finish NO_GPU 77
fi
[ $nccl_found = 1 ] || record FAIL nccl "a GPU is present but CMake found no NCCL (set NCCL_ROOT or NCCL_HOME)"

# ---- 1. the GPU test (one and two ranks) ----
timeout 420 "$CUDA_TEST" >"$LOGS/runtime_cuda_test.log" 2>&1; rc=$?
last=$(grep 'cuda_runtime_test:' "$LOGS/runtime_cuda_test.log" | tail -n 1)
if grep -q '^SKIP' "$LOGS/runtime_cuda_test.log"; then
  record FAIL runtime_cuda_test "skipped although $gpu_reason: $(grep '^SKIP' "$LOGS/runtime_cuda_test.log")"
elif [ $rc -ne 0 ] || ! grep -q ', 0 failures$' <<<"$last"; then
  grep -E '^FAIL' "$LOGS/runtime_cuda_test.log" | head -n 20
  record FAIL runtime_cuda_test "exit $rc, ${last:-no summary line}, see $LOGS/runtime_cuda_test.log"
else
  record PASS runtime_cuda_test "$last"
fi
grep -E 'final loss gpu|timed out after|destroyed in|^---- ' "$LOGS/runtime_cuda_test.log" | sed 's/^/  /'

# ---- 2. the GPU benchmark ----
timeout 180 "$BENCH" --gpu >"$LOGS/allreduce_bench_gpu.log" 2>&1; rc=$?
cat "$LOGS/allreduce_bench_gpu.log"
while IFS= read -r line; do results+=("$line"); done < <(grep '^RESULT' "$LOGS/allreduce_bench_gpu.log")
if [ $rc -eq 0 ] && [ "$(tail -n 1 "$LOGS/allreduce_bench_gpu.log")" = "RESULT correctness=ok" ]; then
  record PASS "allreduce_bench --gpu"
else
  record FAIL "allreduce_bench --gpu" "exit $rc, last line: $(tail -n 1 "$LOGS/allreduce_bench_gpu.log")"
fi

# ---- 3. the worker binary: GPU vs CPU training, one and two ranks ----
compare_training 1
compare_training 2

train_run train_gpu_2rank_shared 2 cuda no; rc=$?
if [ $rc -eq 2 ] && grep -q 'would both drive GPU' "$LOGS/train_gpu_2rank_shared.log"; then
  record PASS "two ranks on one GPU without NCCL_HOSTID" "exit 2 (configuration error)"
else
  record FAIL "two ranks on one GPU without NCCL_HOSTID" "exit $rc (want 2 and 'would both drive GPU'), see $LOGS/train_gpu_2rank_shared.log"
fi

if [ $failed -eq 0 ]; then finish PASS 0; else finish FAIL 1; fi
