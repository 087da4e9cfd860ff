#!/bin/sh
# `ringleader-worker train --backend mpi` under `mpirun --oversubscribe -np 2`: both ranks
# finish and print the same `final ... checksum=` line. Small buckets make several bucket
# all-reduces run on GradientAverager's overlap thread.
set -u
mpirun="$1"
worker="$2"
out=$("$mpirun" --oversubscribe --bind-to none -np 2 --mca mpi_yield_when_idle 1 \
  "$worker" train --backend mpi --steps 40 --log-every 20 --bucket-mb 0.004 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "FAIL: mpirun exited $rc"; exit 1; }
finals=$(echo "$out" | grep -E '^final step=40 loss=[0-9.eE+-]+ checksum=[0-9a-f]{16}$')
[ "$(echo "$finals" | wc -l)" -eq 2 ] || { echo "FAIL: want 2 final lines, got: $finals"; exit 1; }
[ "$(echo "$finals" | sort -u | wc -l)" -eq 1 ] || { echo "FAIL: the ranks' checksums differ"; exit 1; }
echo "PASS"
