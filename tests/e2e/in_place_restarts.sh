#!/usr/bin/env bash
# Scenario: a crash-looping gang whose launchers restart the training processes in place
# (issue 14). Rank 0 reports them in status.progress.inPlaceRestarts (the test writes what
# ApiProgressSink sends); the operator counts them as restarts (RESTARTS, backoffLimit) with a
# RestartedInPlace Event. A worker failure then restarts the gang as usual, and the next
# attempt's in-place restarts push it past backoffLimit 3: Failed, BackoffLimitExceeded.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator
watch_jobs

new_job crashy 2 backoff=3
wait_for 20 "crashy Running" tj_is crashy Running

in_place() {  # in_place ATTEMPT N: rank 0's report after N in-place restarts in ATTEMPT
  k patch tj crashy --subresource=status --type=merge \
    -p "{\"status\":{\"progress\":{\"attempt\":$1,\"inPlaceRestarts\":$2}}}" >/dev/null
}
in_place 0 2
wait_for 10 "two in-place restarts counted" bash -c "[[ \$($E2E_KUBECTL get tj crashy -o jsonpath='{.status.restarts}') == 2 ]]"
expect '^crashy +Running +2/2 +2 ' "$(k get tj crashy --no-headers)"
expect_eq "0 2" "$(tj_field crashy '{.status.attempt} {.status.inPlaceRestarts}')" "attempt/inPlaceRestarts"
expect '^the workers restarted in place 2 times in attempt 0 \(restart 2 of 3\)$' "$(events_of crashy RestartedInPlace)"

# Then a worker exits 1 for good: the gang restart is restart 3 of 3.
pod_finish crashy-worker-1 Failed 1
wait_for 15 "crashy attempt 1 Running" bash -c \
  "[[ \$($E2E_KUBECTL get tj crashy -o jsonpath='{.status.phase} {.status.attempt} {.status.restarts}') == 'Running 1 3' ]]"
expect 'restarting the gang \(restart 3 of 3\)' "$(events_of crashy GangRestarting)"
expect_eq "" "$(tj_field crashy '{.status.inPlaceRestarts}')" "inPlaceRestarts of attempt 1 (0: omitted)"

# Attempt 0's report, still in status, is not counted again; attempt 1's first one is.
holds_for 1 "the old report is not counted twice" bash -c "[[ \$($E2E_KUBECTL get tj crashy -o jsonpath='{.status.restarts}') == 3 ]]"
in_place 1 1
wait_for 10 "crashy Failed" tj_is crashy Failed
expect_eq "True/BackoffLimitExceeded" "$(tj_condition crashy Failed)" "Failed condition"
expect '^the workers restarted in place 1 time in attempt 1; backoffLimit 3 exceeded after 4 restarts$' \
  "$(tj_field crashy '{.status.message}')"
expect '^crashy +Failed +0/2 +4 ' "$(k get tj crashy --no-headers)"
expect_eq "2" "$(events_of crashy RestartedInPlace | grep -c .)" "RestartedInPlace events"
wait_for 10 "crashy's workers deleted" pod_count_is crashy 0
log "PASS"
