#!/usr/bin/env bash
# Scenario 3: a Builtin gang that does not fit waits Pending (Admitted=False, a message naming
# the shortfall) without creating a single pod, and is admitted once capacity frees (another
# job deleted) or a node is added.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator
watch_jobs

# holder takes 6 of each node's 8 cpus; big needs 4 x 4 cpus.
new_job holder 2 cpu=6
wait_for 20 "holder Running" tj_is holder Running
new_job big 4 cpu=4
wait_for 10 "big Admitted=False" tj_condition_is big Admitted False/InsufficientCapacity
expect_eq "Pending" "$(tj_field big '{.status.phase}')" "big phase"
expect_eq "waiting for capacity: needs 16 cpu, 4 free" "$(tj_field big '{.status.message}')" "big message"
expect '^big +Pending +0/4 +0 +[0-9]+s +4 +Builtin +waiting for capacity: needs 16 cpu, 4 free$' \
  "$(k get tj big -o wide --no-headers)"
# 4 cpus are free in total, but 2 per node: a 3-cpu worker fits nowhere.
new_job frag 1 cpu=3
wait_for 10 "frag Admitted=False" tj_condition_is frag Admitted False/InsufficientCapacity
expect_eq "waiting for capacity: only 0 of 1 workers fit on a single node each (free capacity is fragmented)" \
  "$(tj_field frag '{.status.message}')" "frag message"
# They keep waiting (re-checked every 200 ms) and create nothing meanwhile.
holds_for 2 "big and frag have no pods while they wait" bash -c "[[ -z \$($E2E_KUBECTL get pods -l 'ringleader.dev/job-name in (big,frag)' -o name) ]]"
expect_eq "2" "$(count_requests 'create pods')" "pod creates so far (holder's 2)"
k delete tj frag >/dev/null
# Best-effort FIFO: a younger job that fits is not held back by an older one that does not.
new_job small 1 cpu=2
wait_for 10 "small Running while big waits" tj_is small Running
expect_eq "Pending" "$(tj_field big '{.status.phase}')" "big phase while small runs"
k delete tj small >/dev/null

# Capacity frees: big is admitted and runs.
k delete tj holder >/dev/null
wait_for 20 "big Running" tj_is big Running
expect_eq "True/GangAdmitted" "$(tj_condition big Admitted)" "big Admitted"
expect_eq "all 4 workers fit" "$(tj_field big '{.status.conditions[?(@.type=="Admitted")].message}')" "big Admitted message"
expect_eq "4" "$(pod_count big)" "big pods"

# No node has GPUs: gpus waits until a GPU node joins the cluster through the API.
new_job gpus 2 gpu=2
wait_for 10 "gpus Admitted=False" tj_condition_is gpus Admitted False/InsufficientCapacity
expect_eq "waiting for capacity: needs 4 nvidia.com/gpu, 0 free" "$(tj_field gpus '{.status.message}')" "gpus message"
holds_for 1 "gpus has no pods while it waits" pod_count_is gpus 0
k create -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata:
  name: gpu-node
  labels: {kubernetes.io/hostname: gpu-node, kubernetes.io/os: linux}
status:
  capacity: {cpu: "8", memory: 64Gi, pods: "110", nvidia.com/gpu: "4"}
  allocatable: {cpu: "8", memory: 64Gi, pods: "110", nvidia.com/gpu: "4"}
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady}
YAML
wait_for 20 "gpus Running" tj_is gpus Running
expect_eq "gpu-node gpu-node" "$(k get pods -l ringleader.dev/job-name=gpus -o jsonpath='{.items[*].spec.nodeName}')" "gpus placement"
# Each phase was entered once: no pods were created while waiting, so no restart either.
expect '^Pending Scheduling Running $' "$(phases_seen gpus)"
expect '^Pending Scheduling Running $' "$(phases_seen big)"
log "PASS"
