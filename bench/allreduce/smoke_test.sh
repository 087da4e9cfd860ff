#!/bin/sh
# allreduce_bench at tiny sizes: checks the output format (time, busbw median [min max]
# columns over 2 repeats, the RESULT block ending in correctness=ok) and that a failed rank turns into
# `RESULT correctness=FAIL (...)` with a non-zero exit. It asserts nothing about performance.
set -u
bench="$1"
out=$("$bench" --ranks 2 --backends shm,tcp --max-bytes 64K --mpi-algorithms 1 --target-seconds 0.002 --repeat 2 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "FAIL: allreduce_bench exited $rc"; exit 1; }
echo "$out" | grep -Eq '^# size +\| shm +time\(us\) +busbw +\[min +max\] +ok \| tcp ' || { echo "FAIL: no table header"; exit 1; }
echo "$out" | grep -Eq '^  64KiB( +\| +[0-9.]+ +[0-9.]+ +\[[0-9.]+ [0-9.]+\] +ok){2}' || { echo "FAIL: no 64KiB row"; exit 1; }
[ "$(echo "$out" | tail -n 1)" = "RESULT correctness=ok" ] || { echo "FAIL: last line is not RESULT correctness=ok"; exit 1; }

out=$("$bench" --ranks 3 --backends shm --max-bytes 1K --mpi off --target-seconds 0.002 --fail-rank 1 2>&1)
rc=$?
echo "$out"
[ $rc -ne 0 ] || { echo "FAIL: allreduce_bench exited 0 although rank 1 failed"; exit 1; }
echo "$out" | tail -n 1 | grep -q '^RESULT correctness=FAIL (shm: .*rank 1 exited with 3' ||
  { echo "FAIL: last line does not report rank 1's failure"; exit 1; }
echo "PASS"
