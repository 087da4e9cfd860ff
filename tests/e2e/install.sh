#!/usr/bin/env bash
# The README's cluster install, job and uninstall commands, run as written against the test API
# server: `kubectl apply -k deploy/`, the operator started with the Deployment's own args (its
# image cannot run here), `kubectl apply -f examples/cpu-job.yaml`, `kubectl get tj`, and
# `kubectl delete -k deploy/`, which must leave nothing behind (the server terminates
# namespaces asynchronously, as a real one does).
source "$(dirname "$0")/lib.sh" "$@"
cd "$E2E_REPO"

start_server --nodes 2 --node-cpus 8 --pod-start-delay-ms 100
out=$(k apply -k deploy/ 2>&1) || fail "kubectl apply -k deploy/: $out"
for object in namespace/ringleader-system customresourcedefinition.apiextensions.k8s.io/trainingjobs.ringleader.dev \
  serviceaccount/ringleader-operator clusterrole.rbac.authorization.k8s.io/ringleader-operator \
  clusterrolebinding.rbac.authorization.k8s.io/ringleader-operator role.rbac.authorization.k8s.io/ringleader-leader-election \
  rolebinding.rbac.authorization.k8s.io/ringleader-leader-election deployment.apps/ringleader-operator; do
  expect "^$object (created|configured|unchanged)$" "$out"
done
expect_eq "True" "$(k get crd trainingjobs.ringleader.dev -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" \
  "CRD Established"
out=$(k apply -k deploy/ 2>&1) || fail "second kubectl apply -k deploy/: $out"
expect_not 'created' "$out"  # idempotent: a re-apply (an upgrade) creates nothing new

# The operator as the Deployment runs it: its args, leader election in ringleader-system.
args=()
for arg in $(k get deployment ringleader-operator -n ringleader-system -o jsonpath='{.spec.template.spec.containers[0].args[*]}'); do
  [[ $arg == --metrics-addr=* ]] || args+=("$arg")  # a free port instead of 0.0.0.0:8080
done
expect_eq "--leader-elect=true --leader-election-namespace=ringleader-system --log-format=json" "${args[*]}" "Deployment args"
POD_NAME=ringleader-operator-0 POD_NAMESPACE=ringleader-system start_operator a "${args[@]}"
wait_for 20 "the operator holds the Lease in ringleader-system" bash -c \
  "[[ \$($E2E_KUBECTL get lease ringleader-operator -n ringleader-system -o jsonpath='{.spec.holderIdentity}') == ringleader-operator-0_* ]]"

out=$(k apply -f examples/cpu-job.yaml 2>&1) || fail "kubectl apply -f examples/cpu-job.yaml: $out"
expect '^trainingjob.ringleader.dev/mlp-cpu created$' "$out"
wait_for 20 "mlp-cpu Running" tj_is mlp-cpu Running
expect '^mlp-cpu +Running +4/4 +0 +[0-9]+s$' "$(k get tj --no-headers)"
expect 'Normal +GangRunning ' "$(k describe tj mlp-cpu)"

stop_operator a TERM
out=$(k delete -k deploy/ 2>&1) || fail "kubectl delete -k deploy/: $out"
expect '^namespace "ringleader-system" deleted$' "$out"
expect '^deployment.apps "ringleader-operator" deleted$' "$out"
wait_for 10 "namespace ringleader-system gone" bash -c "! $E2E_KUBECTL get namespace ringleader-system >/dev/null 2>&1"
expect_eq "" "$(k get clusterroles,clusterrolebindings -o name | grep ringleader || true)" "cluster-scoped RBAC left"
k get trainingjobs >/dev/null 2>&1 && fail "the TrainingJob API is still served after uninstall"
log "PASS"
