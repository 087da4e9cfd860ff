#!/usr/bin/env bash
# Scenario 9: Volcano and Coscheduling gangs. Without the scheduler's PodGroup CRD the job waits
# (Admitted=False, PodGroupCRDMissing) and creates no pod; once the CRDs are installed it gets
# a PodGroup (minMember = workers) and pods addressed to that scheduler, which the simulator
# stands in for (--simulate-schedulers).
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8 --simulate-schedulers volcano,scheduler-plugins-scheduler
start_operator
watch_jobs

new_job vc 3 gang=Volcano queue=research priority=high cpu=1 succeed=1
new_job cs 2 gang=Coscheduling timeout=30 memory=1Gi succeed=1
wait_for 10 "vc Admitted=False" tj_condition_is vc Admitted False/PodGroupCRDMissing
wait_for 10 "cs Admitted=False" tj_condition_is cs Admitted False/PodGroupCRDMissing
expect_eq "Pending" "$(tj_field vc '{.status.phase}')" "vc phase"
expect_eq "PodGroup scheduling.volcano.sh/v1beta1 is not served by this cluster: install Volcano or set spec.gang.scheduler to Builtin" \
  "$(tj_field vc '{.status.message}')" "vc message"
expect_eq "PodGroup scheduling.x-k8s.io/v1alpha1 is not served by this cluster: install Coscheduling or set spec.gang.scheduler to Builtin" \
  "$(tj_field cs '{.status.message}')" "cs message"
holds_for 1.5 "no pods while the PodGroup API is missing" bash -c "[[ -z \$($E2E_KUBECTL get pods -o name) ]]"
expect_eq "0" "$(count_requests 'create pods')" "pod creates"
# One look per job, not a hot loop (the operator looks again every 60 s).
creates=$(count_requests_to POST '/podgroups$')
((creates >= 2 && creates <= 4)) || fail "PodGroup creates while the CRD is missing: $creates, want 2..4"
expect 'Warning +PodGroupCRDMissing ' "$(k describe tj vc)"

# Install the schedulers' CRDs; touching the jobs makes the operator look at once.
k apply -f "$E2E_REPO/tests/e2e/data/volcano-podgroup-crd.yaml" -f "$E2E_REPO/tests/e2e/data/coscheduling-podgroup-crd.yaml" >/dev/null
k wait --for=condition=Established crd/podgroups.scheduling.volcano.sh crd/podgroups.scheduling.x-k8s.io --timeout=10s >/dev/null
k annotate tj vc cs e2e/nudge=1 >/dev/null

wait_for 20 "vc Succeeded" tj_is vc Succeeded
wait_for 20 "cs Succeeded" tj_is cs Succeeded
expect_eq "True/GangAdmitted" "$(tj_condition vc Admitted)" "vc Admitted"
expect_eq "admission delegated to Volcano" "$(tj_field vc '{.status.conditions[?(@.type=="Admitted")].message}')" "vc Admitted message"

uid=$(tj_field vc '{.metadata.uid}')
vc_group=podgroups.v1beta1.scheduling.volcano.sh
expect_eq "3 3 research high" "$(k get $vc_group vc -o jsonpath='{.spec.minMember} {.spec.minResources.cpu} {.spec.queue} {.spec.priorityClassName}')" "Volcano PodGroup spec"
expect_eq "$uid true vc" "$(k get $vc_group vc -o jsonpath='{.metadata.ownerReferences[0].uid} {.metadata.ownerReferences[0].controller} {.metadata.labels.ringleader\.dev/job-name}')" "Volcano PodGroup owner"
for rank in 0 1 2; do
  expect_eq "volcano vc high " \
    "$(k get pod vc-worker-$rank -o jsonpath='{.spec.schedulerName} {.metadata.annotations.scheduling\.k8s\.io/group-name} {.spec.priorityClassName} {.spec.schedulingGates}')" \
    "vc-worker-$rank scheduler, group annotation, priority, no gate"
done

cs_group=podgroups.v1alpha1.scheduling.x-k8s.io
expect_eq "2 30" "$(k get $cs_group cs -o jsonpath='{.spec.minMember} {.spec.scheduleTimeoutSeconds}')" "Coscheduling PodGroup spec"
expect_eq "$(tj_field cs '{.metadata.uid}')" "$(k get $cs_group cs -o jsonpath='{.metadata.ownerReferences[0].uid}')" "Coscheduling PodGroup owner"
for rank in 0 1; do
  expect_eq "scheduler-plugins-scheduler cs " \
    "$(k get pod cs-worker-$rank -o jsonpath='{.spec.schedulerName} {.metadata.labels.scheduling\.x-k8s\.io/pod-group} {.spec.schedulingGates}')" \
    "cs-worker-$rank scheduler, group label, no gate"
done
# The wait was not counted as an attempt or a restart.
expect_eq "0 0" "$(tj_field vc '{.status.restarts} {.status.attempt}')" "vc restarts/attempt"
expect '^Pending Scheduling Running Succeeded $' "$(phases_seen vc)"

# Deleting the job takes its PodGroup along.
k delete tj vc >/dev/null
wait_for 5 "vc PodGroup deleted" bash -c "! $E2E_KUBECTL get $vc_group vc"
log "PASS"
