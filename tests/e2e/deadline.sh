#!/usr/bin/env bash
# Scenario 6: activeDeadlineSeconds fails the job (reason DeadlineExceeded) that long after
# status.startTime and deletes its running pods even under cleanPodPolicy None; a job that
# finishes in time is not touched.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator

new_job slow 2 deadline=3 clean=None
new_job quick 2 deadline=30 succeed=1
wait_for 10 "slow Running" tj_is slow Running
wait_for 10 "quick Succeeded" tj_is quick Succeeded
expect_eq "" "$(tj_field quick '{.status.conditions[?(@.type=="Failed")].status}')" "quick Failed condition"

wait_for 10 "slow Failed" tj_is slow Failed
expect_eq "True/DeadlineExceeded" "$(tj_condition slow Failed)" "Failed condition"
expect_eq "False/DeadlineExceeded" "$(tj_condition slow Running)" "Running condition"
expect_eq "the job ran longer than activeDeadlineSeconds=3" "$(tj_field slow '{.status.message}')" "message"
# Not early, not much later: startTime and completionTime are whole seconds.
start=$(date -d "$(tj_field slow '{.status.startTime}')" +%s)
done_at=$(date -d "$(tj_field slow '{.status.completionTime}')" +%s)
(( done_at - start >= 3 && done_at - start <= 5 )) || fail "failed $((done_at - start))s after startTime, want 3..5"
# cleanPodPolicy None keeps pods, but the deadline stops work: the running workers go.
wait_for 10 "slow's pods deleted" pod_count_is slow 0
expect 'Warning +DeadlineExceeded ' "$(k describe tj slow)"
expect_eq "2" "$(pod_count quick)" "quick's finished pods (cleanPodPolicy Running keeps them)"
log "PASS"
