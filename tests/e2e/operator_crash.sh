#!/usr/bin/env bash
# Scenario 12d: the operator is killed (SIGKILL) while it creates a 64-worker gang, with the
# API server answering slowly; a new operator finishes the gang: exactly 64 pods, one per rank,
# all of attempt 0 and owned by the job, no restart, and the job completes.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator a

created() { count_requests 'create pods' 201; }
created_at_least() { [[ $(created) -ge $1 ]]; }
# Every answer now takes 100 ms: the slow-start batches (1, 2, 4, 8, 16, 16, 16) take ~0.7 s.
fault '{"delayMs":100}'
new_job wide 64 succeed=2
wait_for 20 "some pods of wide created" created_at_least 3
stop_operator a KILL
expect_eq 137 "$E2E_OPERATOR_RC" "operator exit status after SIGKILL"
fault '{"clear":true}'
at_kill=$(created)
log "operator killed after $at_kill of 64 pod creates"
((at_kill < 64)) || fail "the gang was complete before the kill ($at_kill pods): not a mid-creation kill"
expect_eq "" "$(tj_field wide '{.status.conditions[?(@.type=="GangScheduled")].reason}' | grep PodsCreated || true)" "gang released before the kill"

start_operator b
wait_for 30 "wide Running" tj_is wide Running
expect_eq "64/64" "$(tj_field wide '{.status.ready}')" "ready"
wait_for 30 "wide Succeeded" tj_is wide Succeeded
expect_eq "64" "$(created)" "pods created in total"
uid=$(tj_field wide '{.metadata.uid}')
pods=$(k get pods -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.labels.ringleader\.dev/attempt} {.metadata.ownerReferences[0].uid}{"\n"}{end}')
expect_eq 64 "$(grep -c . <<<"$pods")" "pods in the namespace"
expect_eq "" "$(awk -v u="$uid" '$2 != "0" || $3 != u' <<<"$pods")" "pods not of attempt 0 or not owned by wide"
expect_eq "$(seq 0 63 | sed 's/^/wide-worker-/' | sort)" "$(awk '{print $1}' <<<"$pods" | sort)" "pod names"
expect_eq "0 0" "$(tj_field wide '{.status.restarts} {.status.attempt}')" "restarts/attempt"
log "PASS"
