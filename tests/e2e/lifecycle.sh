#!/usr/bin/env bash
# Scenario 1: a 4-worker job goes Scheduling -> Running -> Succeeded; kubectl get shows the
# printer columns, describe shows the transition events; children carry what docs/api.md says;
# the operator's metrics and its JSON log lines agree.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 4 --node-cpus 8 --pod-start-delay-ms 300
start_operator a --log-format json

watch_jobs
new_job demo 4 succeed=4 cpu=1

wait_for 20 "demo Running" tj_is demo Running
out=$(k get tj)
expect '^NAME +PHASE +READY +RESTARTS +AGE$' "$(sed -n 1p <<<"$out")"
expect '^demo +Running +4/4 +0 +[0-9]+s$' "$(sed -n 2p <<<"$out")"
out=$(k get tj -o wide)
expect '^NAME +PHASE +READY +RESTARTS +AGE +WORKERS +GANG +STEP +LOSS +MESSAGE$' "$(sed -n 1p <<<"$out")"
expect '^demo +Running +4/4 +0 +[0-9]+s +4 +Builtin +all 4 workers running$' "$(sed -n 2p <<<"$out")"
expect_eq "4" "$(tj_field demo '{.status.workers.running}')" "workers.running"
expect_eq "True/AllRunning" "$(tj_condition demo GangScheduled)" "GangScheduled while running"

# Children: 4 pods with rank/attempt labels, the gate removed, env injected, a headless
# Service; all owned by the job.
uid=$(tj_field demo '{.metadata.uid}')
expect_eq 4 "$(pod_count demo)" "pods"
for rank in 0 1 2 3; do
  pod=demo-worker-$rank
  expect_eq "$rank 0" "$(k get pod $pod -o jsonpath='{.metadata.labels.ringleader\.dev/rank} {.metadata.labels.ringleader\.dev/attempt}')" "$pod labels"
  expect_eq "" "$(k get pod $pod -o jsonpath='{.spec.schedulingGates}')" "$pod gates"
  expect_eq "$uid true" "$(k get pod $pod -o jsonpath='{.metadata.ownerReferences[0].uid} {.metadata.ownerReferences[0].controller}')" "$pod owner"
done
expect_eq "2" "$(k get pod demo-worker-2 -o jsonpath='{.spec.containers[0].env[?(@.name=="RINGLEADER_WORKER_RANK")].value}')" "injected rank"
expect_eq "demo-worker-0.demo.default.svc" "$(k get pod demo-worker-2 -o jsonpath='{.spec.containers[0].env[?(@.name=="MASTER_ADDR")].value}')" "MASTER_ADDR"
expect_eq "None $uid" "$(k get svc demo -o jsonpath='{.spec.clusterIP} {.metadata.ownerReferences[0].uid}')" "service"

wait_for 20 "demo Succeeded" tj_is demo Succeeded
expect '^demo +Succeeded +0/4 +0 ' "$(k get tj --no-headers)"
expect_eq "True/AllWorkersSucceeded" "$(tj_condition demo Succeeded)" "Succeeded condition"
expect_eq "4" "$(tj_field demo '{.status.workers.succeeded}')" "workers.succeeded"
expect '^[0-9]{4}-' "$(tj_field demo '{.status.completionTime}')"

# Events are written asynchronously after the status.
has_events() {
  local d
  d=$(k describe tj demo)
  grep -Eq 'Normal +GangAdmitted ' <<<"$d" && grep -Eq 'Normal +GangCreated ' <<<"$d" &&
    grep -Eq 'Normal +GangRunning ' <<<"$d" && grep -Eq 'Normal +Succeeded ' <<<"$d"
}
wait_for 10 "describe shows GangAdmitted, GangCreated, GangRunning, Succeeded" has_events
describe=$(k describe tj demo)
expect 'Phase: +Succeeded' "$describe"
expect_not 'Warning' "$describe"

# The watch saw Scheduling, then Running, then Succeeded (and nothing after Succeeded).
phases=$(phases_seen demo)
log "phases seen: $phases"
expect '^(Pending )?Scheduling Running Succeeded $' "$phases"
# Metrics: the phase gauge (refreshed every second) and the pods created.
wait_for 5 "ringleader_trainingjobs{phase=\"Succeeded\"} 1" bash -c "curl -sf http://${E2E_OPERATOR_METRICS[a]}/metrics | grep -qx 'ringleader_trainingjobs{phase=\"Succeeded\"} 1'"
m=$(metrics)
expect '^ringleader_pods_created_total 4$' "$m"
expect '^ringleader_trainingjobs\{phase="Running"\} 0$' "$m"
expect '^ringleader_is_leader 1$' "$m"
expect '^ringleader_job_restarts_total 0$' "$m"
# Every metric the operator documents is served, with what this one job must have left in it.
expect '^ringleader_reconcile_total\{controller="[a-z]+",result="[a-z_]+"\} [1-9][0-9]*$' "$m"
expect '^ringleader_reconcile_duration_seconds_count\{controller="[a-z]+"\} [1-9][0-9]*$' "$m"
expect '^ringleader_reconcile_duration_seconds_bucket\{controller="[a-z]+",le="\+Inf"\} [1-9][0-9]*$' "$m"
expect '^ringleader_gang_admission_wait_seconds_count 1$' "$m"
# 4 pods + the Service (+ Events): at least 5 creates answered 201.
expect '^ringleader_api_requests_total\{verb="create",code="201"\} ([5-9]|[1-9][0-9]+)$' "$m"
expect '^ringleader_api_requests_total\{verb="(update|patch)",code="200"\} [1-9][0-9]*$' "$m"
expect '^ringleader_workqueue_depth\{controller="[a-z]+"\} [0-9]+$' "$m"
# --log-format json: every line is one JSON object with time, level and msg.
jq -e -s 'length > 0 and all(.[]; (.time | type) == "string" and (.level | type) == "string" and (.msg | type) == "string")' \
  "$E2E_TMP/operator-a.log" >/dev/null || fail "operator log is not one JSON object per line"
expect '"msg":"trainingjob=default/demo phase Running -> Succeeded: all 4 workers succeeded"' "$(cat "$E2E_TMP/operator-a.log")"
log "PASS"
