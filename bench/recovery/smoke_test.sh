#!/bin/sh
# recovery_bench, one repeat: it must run, both interrupted runs must end with the uninterrupted
# checksum, and the four RESULT lines must close the output. Nothing about speed is asserted.
set -u
bench="$1"
out=$("$bench" --repeat 1 --steps 600 --kill-at 175 --checkpoint-every 50 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "FAIL: recovery_bench exited $rc"; exit 1; }
echo "$out" | grep -q '^case  *recovery_s_med' || { echo "FAIL: no table header"; exit 1; }
tail=$(echo "$out" | tail -n 4 | sed 's/=.*//')
want=$(printf 'RESULT in_place_recovery_seconds\nRESULT process_restart_recovery_seconds\nRESULT lost_steps\nRESULT checksum_equal')
[ "$tail" = "$want" ] || { echo "FAIL: RESULT lines: $tail"; exit 1; }
echo "$out" | grep -q '^RESULT checksum_equal=1$' || { echo "FAIL: a resumed run ended with another checksum"; exit 1; }
echo "PASS"
