#!/usr/bin/env bash
# Kubernetes < 1.27 has no Pod scheduling gates: its API server prunes spec.schedulingGates
# (the test server's --no-scheduling-gates). Builtin gangs must degrade, not loop: pods are
# created ungated and run, the operator says so once in its log, never sends a gate-removal
# patch, and reconciles end without errors.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 4 --no-scheduling-gates
start_operator
new_job first 2 succeed=2 cpu=1
new_job second 2 succeed=2 cpu=1

wait_for 20 "first Succeeded" tj_is first Succeeded
wait_for 20 "second Succeeded" tj_is second Succeeded
for job in first second; do
  expect_eq "True/GangAdmitted" "$(tj_condition $job Admitted)" "$job Admitted"
  expect_eq "True/AllWorkersSucceeded" "$(tj_condition $job Succeeded)" "$job Succeeded"
done
expect_eq 0 "$(count_requests 'patch pods')" "gate-removal patches (there are no gates)"
expect_eq 1 "$(grep -c "the API server dropped the pods' schedulingGates (Kubernetes < 1.27" "$E2E_TMP/operator-a.log")" \
  "warnings about the missing gates (once, not per job or pod)"
m=$(metrics)
expect_not '^ringleader_reconcile_total\{[^}]*result="error"\} [1-9]' "$m"
expect '^ringleader_pods_created_total 4$' "$m"
log "PASS"
