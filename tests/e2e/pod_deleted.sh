#!/usr/bin/env bash
# Scenario 10: a worker deleted out of band (kubectl delete pod), then one evicted, each
# restart the whole gang once: restarts 1 then 2, new attempts with their own pods; the third
# attempt runs to success.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator
watch_jobs
watch_pods

# Only attempt 2 ends by itself (the simulator's timers apply to that attempt alone).
new_job victim 3 only=2 succeed=1 policy=ExitCode
wait_for 20 "victim Running" tj_is victim Running
k delete pod victim-worker-1 --wait=false >/dev/null
wait_for 20 "victim attempt 1 Running" bash -c "[[ \$($E2E_KUBECTL get tj victim -o jsonpath='{.status.phase} {.status.restarts} {.status.attempt}') == 'Running 1 1' ]]"
expect_eq "1 1 1" "$(k get pods -l ringleader.dev/job-name=victim -o jsonpath='{.items[*].metadata.labels.ringleader\.dev/attempt}')" "attempt labels after the delete"
expect 'worker 1 was disrupted \(Deleted\): pod victim-worker-1 (was deleted|is being deleted); restarting the gang \(restart 1 of 3\)' \
  "$(k get events --field-selector involvedObject.name=victim,reason=GangRestarting -o jsonpath='{.items[*].message}')"

curl -sf -X POST "$E2E_SERVER_URL/testing/evict" -d '{"namespace":"default","name":"victim-worker-2"}' >/dev/null
wait_for 20 "victim Succeeded" tj_is victim Succeeded
expect_eq "2 2" "$(tj_field victim '{.status.restarts} {.status.attempt}')" "restarts/attempt"
expect 'worker 2 was disrupted \(Evicted\): pod victim-worker-2 on node node-[0-9]+; restarting the gang \(restart 2 of 3\)' \
  "$(k get events --field-selector involvedObject.name=victim,reason=GangRestarting -o jsonpath='{.items[*].message}')"
# One restart per disruption: exactly 3 gangs of 3 pods were created.
expect_eq "9" "$(count_requests 'create pods' 201)" "pods created"
expect '^Scheduling Running Restarting Pending Scheduling Running Restarting Pending Scheduling Running Succeeded $' "$(phases_seen victim)"
log "PASS"
