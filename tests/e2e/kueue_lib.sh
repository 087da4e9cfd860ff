# Helpers of the Kueue scenarios (kueue_*.sh), sourced after lib.sh. The Kueue CRDs are
# tests/e2e/data/kueue-crds.yaml; ringleader-testapiserver --simulate-kueue plays Kueue's
# scheduler (src/testing/kueue_admitter.cc).

E2E_KUEUE_CRDS=$E2E_REPO/tests/e2e/data/kueue-crds.yaml

# kueue_queues CPU [PREEMPTION]: ResourceFlavor "reserved" (nodes node-0 and node-1, labelled
# pool=reserved and tainted reserved=true:NoSchedule here: the flavor's nodeLabels and
# toleration must reach every Pod for it to schedule), ClusterQueue "cluster-total" with CPU
# of nominal quota (withinClusterQueue PREEMPTION, default Never), LocalQueue "team-a" in
# namespace default. Other nodes stay as they are.
kueue_queues() {
  local cpu=$1 preemption=${2:-Never} node
  for node in node-0 node-1; do
    k label nodes "$node" pool=reserved --overwrite >/dev/null
    k taint nodes "$node" reserved=true:NoSchedule --overwrite >/dev/null
  done
  k apply -f - >/dev/null <<YAML
apiVersion: kueue.x-k8s.io/v1beta2
kind: ResourceFlavor
metadata:
  name: reserved
spec:
  nodeLabels:
    pool: reserved
  nodeTaints:
  - {key: reserved, value: "true", effect: NoSchedule}
  tolerations:
  - {key: reserved, operator: Equal, value: "true", effect: NoSchedule}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: ClusterQueue
metadata:
  name: cluster-total
spec:
  namespaceSelector: {}
  preemption:
    withinClusterQueue: $preemption
  resourceGroups:
  - coveredResources: [cpu]
    flavors:
    - name: reserved
      resources:
      - {name: cpu, nominalQuota: "$cpu"}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: LocalQueue
metadata:
  name: team-a
  namespace: default
spec:
  clusterQueue: cluster-total
YAML
}

# new_queued_job NAME WORKERS [new_job args...]: new_job with the queue-name label team-a.
new_queued_job() {
  local name=$1 workers=$2
  shift 2
  new_job "$name" "$workers" "jq=.metadata.labels[\"kueue.x-k8s.io/queue-name\"] = \"team-a\"" "$@"
}

# wl_name JOB: the job's Workload. wl_field JOB JSONPATH. wl_condition JOB TYPE: STATUS/REASON.
wl_name() { k get workloads -l "ringleader.dev/job-name=$1" -o jsonpath='{.items[0].metadata.name}'; }
wl_field() { k get workload "$(wl_name "$1")" -o jsonpath="$2"; }
wl_condition() {
  wl_field "$1" "{.status.conditions[?(@.type==\"$2\")].status}/{.status.conditions[?(@.type==\"$2\")].reason}"
}
wl_condition_is() { [[ $(wl_condition "$1" "$2") == "$3" ]]; }

# pods_placed JOB N: N pods of JOB, each with the flavor's node selector, its toleration and
# Kueue's pod set label.
pods_placed() {
  local job=$1 want=$2 line count=0
  while read -r line; do
    [[ -n $line ]] || continue
    [[ $line == "reserved true workers" ]] || return 1
    count=$((count + 1))
  done < <(k get pods -l "ringleader.dev/job-name=$job" -o jsonpath='{range .items[*]}{.spec.nodeSelector.pool} {.spec.tolerations[?(@.key=="reserved")].value} {.metadata.labels.kueue\.x-k8s\.io/podset}{"\n"}{end}')
  ((count == want))
}
