#!/bin/sh
# `ringleader-worker train --backend mpi` with a hung peer: rank 1 is stopped (SIGSTOP) mid-run,
# so rank 0 waits in MPI_Allreduce; the watchdog must end it after --collective-timeout-seconds
# with the retryable exit code 175 and a line saying what timed out, instead of hanging forever.
set -u
mpirun="$1"
worker="$2"
start=$(date +%s)
out=$(timeout 90 "$mpirun" --oversubscribe --bind-to none -np 2 --mca mpi_yield_when_idle 1 sh -c '
  "$0" train --backend mpi --steps 100000000 --log-every 10 --collective-timeout-seconds 3 &
  pid=$!
  if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then sleep 2; kill -STOP $pid; fi
  wait $pid' "$worker" 2>&1)
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$out" | tail -5
echo "mpirun exited $rc after ${elapsed}s"
[ $rc -ne 124 ] || { echo "FAIL: still hanging after 90 s"; exit 1; }
[ $rc -ne 0 ] || { echo "FAIL: mpirun succeeded with a stopped rank"; exit 1; }
echo "$out" | grep -q "rank 0: MPI_Allreduce of .* timed out after 3s" || { echo "FAIL: no timeout line from rank 0"; exit 1; }
echo "PASS"
