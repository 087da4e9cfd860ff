#!/usr/bin/env bash
# Scenario 2: a failed worker restarts the whole gang as a new attempt; the restart policy and
# backoffLimit decide when the job fails, and the message names the worker and exit code.
# Five jobs run at once:
#   flaky   OnFailure, every attempt exits 1, backoffLimit 2 -> 2 restarts, BackoffLimitExceeded
#   perm    ExitCode, exit 3 -> Failed at once (PermanentExitCode), no restart
#   oom     ExitCode, exit 137 -> retried; backoffLimit 1 -> BackoffLimitExceeded after 1 restart
#   once    fails on attempt 0 only -> attempt 1 runs and succeeds, restarts 1
#   ranked  worker 2 alone exits 7 (kubelet status written by the test), backoffLimit 0
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 16 --pod-start-delay-ms 100
start_operator
watch_jobs
watch_pods

new_job flaky 2 fail=1.5 exit=1 backoff=2
new_job perm 2 fail=1 exit=3 policy=ExitCode backoff=3
new_job oom 2 fail=1 exit=137 policy=ExitCode backoff=1
new_job once 3 fail=1 exit=1 only=0 backoff=3
new_job ranked 3 backoff=0

# ranked: worker 2 exits 7 while its peers run.
wait_for 20 "ranked Running" tj_is ranked Running
pod_finish ranked-worker-2 Failed 7
wait_for 10 "ranked Failed" tj_is ranked Failed
expect_eq "True/BackoffLimitExceeded" "$(tj_condition ranked Failed)" "ranked Failed condition"
expect '^worker 2 exited with code 7 \(Error\): pod ranked-worker-2; backoffLimit 0 reached after 0 restarts$' \
  "$(tj_field ranked '{.status.message}')"
# cleanPodPolicy Running (default): the peers that were still running are deleted.
wait_for 10 "ranked's running workers deleted" pod_count_is ranked 1

# once: attempt 1 (restarts 1) runs; the simulator's timers apply to attempt 0 only, so the test
# ends attempt 1 as a kubelet would.
wait_for 20 "once attempt 1 Running" bash -c "[[ \$($E2E_KUBECTL get tj once -o jsonpath='{.status.phase} {.status.attempt} {.status.restarts}') == 'Running 1 1' ]]"
for rank in 0 1 2; do
  expect_eq "1" "$(k get pod once-worker-$rank -o jsonpath='{.metadata.labels.ringleader\.dev/attempt}')" "once-worker-$rank attempt"
  pod_finish once-worker-$rank Succeeded 0
done
wait_for 10 "once Succeeded" tj_is once Succeeded
expect_eq "1 1" "$(tj_field once '{.status.restarts} {.status.attempt}')" "once restarts/attempt"

wait_for 10 "perm Failed" tj_is perm Failed
expect_eq "True/PermanentExitCode" "$(tj_condition perm Failed)" "perm Failed condition"
expect '^worker [01] exited with code 3 \(Error\): pod perm-worker-[01]; restartPolicy ExitCode treats 1-127 as permanent$' \
  "$(tj_field perm '{.status.message}')"
expect_eq "0 0" "$(tj_field perm '{.status.restarts} {.status.attempt}')" "perm restarts/attempt"

wait_for 20 "oom Failed" tj_is oom Failed
expect_eq "True/BackoffLimitExceeded" "$(tj_condition oom Failed)" "oom Failed condition"
expect '^worker [01] exited with code 137 .*backoffLimit 1 reached after 1 restart$' "$(tj_field oom '{.status.message}')"
expect_eq "1 1" "$(tj_field oom '{.status.restarts} {.status.attempt}')" "oom restarts/attempt"

wait_for 30 "flaky Failed" tj_is flaky Failed
expect_eq "True/BackoffLimitExceeded" "$(tj_condition flaky Failed)" "flaky Failed condition"
expect '^worker [01] exited with code 1 \(Error\): pod flaky-worker-[01]; backoffLimit 2 reached after 2 restarts$' \
  "$(tj_field flaky '{.status.message}')"
expect_eq "2 2" "$(tj_field flaky '{.status.restarts} {.status.attempt}')" "flaky restarts/attempt"
expect '^flaky +Failed +0/2 +2 ' "$(k get tj flaky --no-headers)"

# The watches: every attempt's pods carried their attempt label and ran; the restart counter
# went up on each restart, then the attempt on the next start, never skipping or repeating.
for attempt in 0 1 2; do
  expect_eq 2 "$(awk -v a=$attempt '$1 ~ /^flaky-worker-/ && $2 == a && $3 == "Running" {print $1}' "$E2E_TMP/pods.watch" | sort -u | wc -l)" \
    "flaky pods of attempt $attempt seen Running"
done
expect_eq "" "$(awk '$1 ~ /^flaky-worker-/ && $2 > 2' "$E2E_TMP/pods.watch")" "flaky pods beyond attempt 2"
expect_eq "0 0,1 0,1 1,2 1,2 2," "$(awk '$1 == "flaky" && $3 != "" {print $3, $4}' "$E2E_TMP/jobs.watch" | uniq | tr '\n' ,)" \
  "flaky restarts/attempt sequence"
expect '^Scheduling Running Restarting Pending Scheduling Running Restarting Pending Scheduling Running Failed $' \
  "$(phases_seen flaky)"
expect_eq "0 0,1 0,1 1," "$(awk '$1 == "once" && $3 != "" {print $3, $4}' "$E2E_TMP/jobs.watch" | uniq | tr '\n' ,)" \
  "once restarts/attempt sequence"
expect_eq "" "$(awk '$1 == "perm" && $3 != "" && $3 != "0"' "$E2E_TMP/jobs.watch")" "perm restarts in the watch"

events=$(k describe tj flaky)
expect 'Warning +WorkerFailed ' "$events"
expect 'Warning +GangRestarting ' "$events"
log "PASS"
