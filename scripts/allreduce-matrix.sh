#!/usr/bin/env bash
# The issue-19 matrix of allreduce_bench runs: 4 ranks and 2 ranks on this machine, each with
# and without one competing busy loop, in rotation, ROUNDS times, every run kept. Each run is
# `--repeat 5` (medians of 5 interleaved repeats, Open MPI in the same run). Logs go to OUT;
# summary.txt gets one line per run with the ratios the issue asks about.
#   scripts/allreduce-matrix.sh BENCH OUT [ROUNDS] [extra allreduce_bench flags...]
set -euo pipefail
bench=$1
out=$2
rounds=${3:-3}
shift $(( $# >= 3 ? 3 : $# ))
mkdir -p "$out"
flags=(--min-bytes 64K --max-bytes 64M --repeat 5 --stats "$@")
run=0
for round in $(seq 1 "$rounds"); do
  for condition in "4 0" "2 0" "4 1" "2 1"; do
    read -r ranks busy <<<"$condition"
    run=$((run + 1))
    log="$out/run$run-${ranks}ranks-busy$busy.log"
    start=$(date -u +%H:%M)
    "$bench" --ranks "$ranks" --busy-loops "$busy" "${flags[@]}" >"$log" 2>&1 || true
    pick() { grep -E "^RESULT $1" "$log" | head -1 | sed -E 's/^RESULT [^=]*=//'; }
    printf 'run %2d %s-%s ranks=%s busy=%s shm/mpi@64MiB=%s | min>=64KiB=%s | tcp/mpi-tcp@64MiB=%s | min tcp/mpi-tcp=%s | %s\n' \
      "$run" "$start" "$(date -u +%H:%M)" "$ranks" "$busy" \
      "$(pick "busbw_ratio_shm_vs_mpi_64MiB")" "$(pick "min_busbw_ratio_shm_vs_mpi_ge64KiB")" \
      "$(pick "busbw_ratio_tcp_vs_mpi_tcp_64MiB")" "$(pick "min_busbw_ratio_tcp_vs_mpi_tcp_ge")" \
      "$(pick correctness)" | tee -a "$out/summary.txt"
  done
done
