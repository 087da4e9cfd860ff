#!/usr/bin/env bash
# Scenario 13: SIGTERM stops the operator with exit status 0 within a few seconds (also while it
# leads); with --leader-elect=true exactly one of two replicas leads (ringleader_is_leader 1);
# when the leader stops (SIGTERM: the Lease is released, the standby takes over at once) or
# dies (SIGKILL: the standby waits out the 15 s lease), the other one runs new jobs.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8

# sigterm ID: SIGTERM, then the exit status must be 0 within 5 s.
sigterm() {
  local started=$(date +%s%N)
  local pid=${E2E_OPERATOR_PIDS[$1]}
  kill -TERM "$pid"
  wait_for 5 "operator $1 exits after SIGTERM" bash -c "! kill -0 $pid"
  reap_operator "$1"
  log "operator $1 exited $E2E_OPERATOR_RC $((($(date +%s%N) - started) / 1000000)) ms after SIGTERM"
  expect_eq 0 "$E2E_OPERATOR_RC" "exit status of operator $1 after SIGTERM"
}
is_leader() { metrics "$1" | grep -qx 'ringleader_is_leader 1'; }
is_standby() { metrics "$1" | grep -qx 'ringleader_is_leader 0'; }
lease_holder() { k get lease ringleader-operator -n default -o jsonpath='{.spec.holderIdentity}'; }

# Without leader election, while a job runs.
start_operator solo
new_job early 2 succeed=30
wait_for 20 "early Running" tj_is early Running
sigterm solo

# Two replicas: one leads.
le=(--leader-elect=true --leader-election-namespace default)
start_operator one "${le[@]}"
wait_for 10 "one leads" is_leader one
start_operator two "${le[@]}"
wait_for 5 "two is a standby" is_standby two
holds_for 2.5 "two stays a standby while one renews" is_standby two
expect "became the leader \(lease default/ringleader-operator, identity $(lease_holder)\)" "$(cat "$E2E_TMP/operator-one.log")"
new_job led-by-one 2 succeed=1
wait_for 20 "led-by-one Succeeded" tj_is led-by-one Succeeded
expect_not 'trainingjob=default/led-by-one' "$(cat "$E2E_TMP/operator-two.log")"

# The leader stops cleanly: it releases the Lease and the standby takes over at once.
sigterm one
wait_for 8 "two leads after one released the Lease" is_leader two
new_job led-by-two 2 succeed=1
wait_for 20 "led-by-two Succeeded" tj_is led-by-two Succeeded
expect 'trainingjob=default/led-by-two' "$(cat "$E2E_TMP/operator-two.log")"

# The leader dies: the standby takes over when the Lease expires (15 s without renewal).
start_operator three "${le[@]}"
wait_for 5 "three is a standby" is_standby three
stop_operator two KILL
killed_at=$(date +%s%N)
new_job led-by-three 2 succeed=1
wait_for 25 "three leads after two died" is_leader three
log "three took over $((($(date +%s%N) - killed_at) / 1000000)) ms after two was killed"
wait_for 20 "led-by-three Succeeded" tj_is led-by-three Succeeded
expect 'trainingjob=default/led-by-three' "$(cat "$E2E_TMP/operator-three.log")"
sigterm three
log "PASS"
