#!/usr/bin/env bash
# Scenario 11: deleting a TrainingJob deletes its children through their ownerReferences
# (background and foreground propagation), and the operator does not recreate any of them.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator

new_job bg 3
new_job fg 2
wait_for 20 "bg Running" tj_is bg Running
wait_for 20 "fg Running" tj_is fg Running
k get svc bg fg >/dev/null

k delete tj bg >/dev/null
wait_for 10 "bg's pods and Service gone" bash -c "[[ -z \$($E2E_KUBECTL get pods,svc -l ringleader.dev/job-name=bg -o name) ]]"
k delete tj fg --cascade=foreground >/dev/null
wait_for 10 "fg gone" tj_gone fg
wait_for 10 "fg's pods and Service gone" bash -c "[[ -z \$($E2E_KUBECTL get pods,svc -l ringleader.dev/job-name=fg -o name) ]]"
creates=$(count_requests 'create pods')
holds_for 1.5 "nothing comes back" bash -c "[[ -z \$($E2E_KUBECTL get pods,svc -l ringleader.dev/job-name -o name) ]]"
expect_eq "$creates" "$(count_requests 'create pods')" "pod creates after the deletes"
expect_eq "5" "$creates" "pod creates"
# No orphans of any kind: the only Service left is none (the server has no default one).
expect_eq "" "$(k get pods,svc -o name)" "objects left"
log "PASS"
