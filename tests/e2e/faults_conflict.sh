#!/usr/bin/env bash
# Scenario 12b: 409 Conflict on TrainingJob status writes (the first write of a new job, and
# the write that starts a restart): jobs still complete, and a restart is counted once, in the
# status and in the operator's metrics.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator

# The very first status write of each job (Admitted=True, after the pods were created) fails.
fault '{"conflictNextUpdates":{"count":2,"resource":"trainingjobs","subresource":"status"}}'
new_job twice 2 fail=2 exit=1 backoff=1
new_job fine 3 succeed=1
wait_for 20 "twice Running" tj_is twice Running
# Then the write that records the failure and the restart fails too.
fault '{"conflictNextUpdates":{"count":2,"resource":"trainingjobs","subresource":"status"}}'
wait_for 20 "fine Succeeded" tj_is fine Succeeded
wait_for 30 "twice Failed" tj_is twice Failed
expect_eq "1 1" "$(tj_field twice '{.status.restarts} {.status.attempt}')" "restarts/attempt"
expect_eq "True/BackoffLimitExceeded" "$(tj_condition twice Failed)" "Failed condition"
expect 'backoffLimit 1 reached after 1 restart$' "$(tj_field twice '{.status.message}')"
conflicts=$(count_requests 'update trainingjobs/status' 409)  # the injected 4, plus real ones from stale caches
((conflicts >= 4)) || fail "status writes answered 409: $conflicts, want >= 4"
expect_eq "7" "$(count_requests 'create pods' 201)" "pods created (2 attempts of 2, 1 of 3)"
expect 'ringleader_job_restarts_total 1$' "$(metrics)"
expect_eq "1" "$(k get events --field-selector involvedObject.name=twice,reason=GangRestarting -o name | wc -l)" "GangRestarting events"
log "PASS"
