#!/usr/bin/env bash
# e2e: real kubectl against ringleader-testapiserver.
# usage: kubectl_e2e.sh SERVER_BINARY REPO_ROOT
# Exits 77 (ctest: skipped) when kubectl is not installed.
set -euo pipefail

server_bin=$1
repo=$2
kubectl_bin=${KUBECTL:-/usr/bin/kubectl}
if [[ ! -x $kubectl_bin ]]; then
  echo "SKIP: $kubectl_bin not found"
  exit 77
fi

tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND"' ERR
export HOME=$tmp/home KUBECONFIG=$tmp/kubeconfig
mkdir -p "$HOME"
k() { "$kubectl_bin" --cache-dir "$tmp/cache" --request-timeout=20s "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # expect PATTERN TEXT...
  local pattern=$1; shift
  grep -Eq -- "$pattern" <<<"$*" || fail "expected /$pattern/ in: $*"
}

"$server_bin" --listen 127.0.0.1:0 --kubeconfig-out "$KUBECONFIG" --simulate-pods --nodes 2 --node-gpus 2 \
  >"$tmp/stdout" 2>"$tmp/stderr" &
server_pid=$!
for _ in $(seq 1 200); do
  grep -q '^ready$' "$tmp/stdout" && break
  kill -0 "$server_pid" 2>/dev/null || fail "server exited: $(cat "$tmp/stderr")"
  sleep 0.05
done
grep -q '^ready$' "$tmp/stdout" || fail "server did not print ready"

echo "== CRD and custom resource"
cat >"$tmp/w1.yaml" <<'YAML'
apiVersion: example.dev/v1alpha1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
YAML
cat >"$tmp/w2.yaml" <<'YAML'
apiVersion: example.dev/v1alpha1
kind: Widget
metadata: {name: w2}
spec: {size: 2, unknownField: 1}
YAML
cat >"$tmp/bad.yaml" <<'YAML'
apiVersion: example.dev/v1alpha1
kind: Widget
metadata: {name: bad}
spec: {size: 0}
YAML
expect 'widgets.example.dev created' "$(k apply -f "$repo/tests/testing/testdata/widget-crd.yaml")"
k wait --for=condition=Established crd/widgets.example.dev --timeout=10s >/dev/null
expect 'widget.example.dev/w1 created' "$(k apply -f "$tmp/w1.yaml")"
out=$(k get widgets)
expect '^NAME +PHASE +READY +AGE$' "$(sed -n 1p <<<"$out")"
expect '^w1 ' "$out"
expect '^NAME +PHASE +READY +SIZE +AGE$' "$(k get wd -o wide | sed -n 1p)"
yaml=$(k get widget w1 -o yaml)
expect 'size: 3' "$yaml"
expect 'generation: 1' "$yaml"
# kubectl sends fieldValidation=Strict: unknown fields are refused; with --validate=false
# they are pruned silently.
if strict=$(k apply -f "$tmp/w2.yaml" 2>&1); then fail "unknown field accepted under Strict: $strict"; fi
expect 'unknown field "spec.unknownField"' "$strict"
expect 'widget.example.dev/w2 created' "$(k apply --validate=false -f "$tmp/w2.yaml")"
grep -q unknownField <<<"$(k get widget w2 -o jsonpath='{.spec}')" && fail "unknown field was not pruned"
k delete widget w2 >/dev/null
expect 'patched' "$(k patch widget w1 --subresource=status --type=merge -p '{"status":{"phase":"Running","ready":"3/3"}}')"
expect '^w1 +Running +3/3 ' "$(k get widgets --no-headers)"
expect 'generation: 1' "$(k get widget w1 -o yaml)"
explain=$(k explain widget.spec)
expect 'size.*<integer> -required-' "$(tr '\t' ' ' <<<"$explain")"
if bad=$(k apply -f "$tmp/bad.yaml" 2>&1); then fail "invalid widget was accepted"; fi
expect 'spec.size' "$bad"
# kubectl get -w: a watch whose events carry Tables.
k get wd -w >"$tmp/watch.out" 2>&1 &
watch_pid=$!
for _ in $(seq 1 100); do grep -q '^w1 ' "$tmp/watch.out" && break; sleep 0.05; done
k patch widget w1 --subresource=status --type=merge -p '{"status":{"phase":"Done"}}' >/dev/null
for _ in $(seq 1 100); do grep -q '^w1 .*Done' "$tmp/watch.out" && break; sleep 0.05; done
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
expect '^w1 +Done ' "$(cat "$tmp/watch.out")"
expect 'w1" deleted' "$(k delete widget w1)"
expect 'No resources found' "$(k get wd 2>&1)"

echo "== TrainingJob CRD, examples and printer columns"
expect 'trainingjobs.ringleader.dev created' "$(k apply -f "$repo/crds/ringleader.dev_trainingjobs.yaml")"
count=0
for f in "$repo"/examples/*.yaml; do
  grep -q '^kind: TrainingJob' "$f" || continue
  expect 'created' "$(k apply -f "$f")"
  count=$((count + 1))
done
[[ $count -gt 0 ]] || fail "no TrainingJob examples found"
out=$(k get tj)
expect '^NAME +PHASE +READY +RESTARTS +AGE$' "$(sed -n 1p <<<"$out")"
[[ $(($(wc -l <<<"$out") - 1)) -eq $count ]] || fail "expected $count TrainingJobs in: $out"
expect '^NAME +PHASE +READY +RESTARTS +AGE +WORKERS +GANG +STEP +LOSS +MESSAGE$' "$(k get tj -o wide | sed -n 1p)"
first=$(k get tj -o name | sed -n 1p)
k patch "$first" --subresource=status --type=merge -p '{"status":{"phase":"Running","ready":"2/2","restarts":1}}' >/dev/null
expect ' Running +2/2 +1 ' "$(k get "$first" --no-headers)"
expect 'gang' "$(k explain trainingjob.spec)"
expect 'deleted' "$(k delete tj --all)"

echo "== Pods through the simulator (kubectl wait uses a watch)"
cat >"$tmp/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: p1
  annotations: {sim.ringleader.dev/succeed-after-seconds: "0.5"}
spec:
  containers:
  - name: main
    image: busybox
    resources: {limits: {nvidia.com/gpu: "1"}}
YAML
expect 'pod/p1 created' "$(k apply -f "$tmp/pod.yaml")"
k wait --for=jsonpath='{.status.phase}'=Succeeded pod/p1 --timeout=20s >/dev/null
expect '^p1 +0/1 +Completed ' "$(k get pods --no-headers)"
expect 'node-' "$(k get pod p1 -o jsonpath='{.spec.nodeName}')"
expect 'Ready' "$(k get nodes --no-headers)"
expect 'pod "p1" deleted' "$(k delete pod p1)"
echo "PASS"
