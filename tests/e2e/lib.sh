# Shared helpers of the controller e2e tests: the real ringleader-operator and real kubectl
# against ringleader-testapiserver with its pod simulator. Sourced by every scenario:
#
#   source "$(dirname "$0")/lib.sh" "$@"     # args: OPERATOR_BIN SERVER_BIN REPO_ROOT
#   start_server --nodes 4 --node-cpus 8
#   start_operator
#   new_job demo 4 succeed=2
#   wait_for 30 "demo Succeeded" tj_is demo Succeeded
#
# Every wait has a deadline; on any failure (a `fail`, an unmet wait, a failing command under
# set -e) the operator and server logs and the cluster's state are printed before exiting 1.
# Exits 77 (ctest: skipped) when kubectl is missing. E2E_KEEP=1 keeps the temp dir.
set -euo pipefail

E2E_OPERATOR_BIN=${1:?usage: SCENARIO OPERATOR_BIN SERVER_BIN REPO_ROOT}
E2E_SERVER_BIN=${2:?}
E2E_REPO=${3:?}
E2E_KUBECTL=${KUBECTL:-/usr/bin/kubectl}
E2E_NAME=$(basename "$0" .sh)
if [[ ! -x $E2E_KUBECTL ]]; then
  echo "SKIP: $E2E_KUBECTL not found"
  exit 77
fi

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringleader-e2e-$E2E_NAME.XXXXXX")
export HOME=$E2E_TMP/home KUBECONFIG=$E2E_TMP/kubeconfig
mkdir -p "$HOME"
E2E_SERVER_PID=
E2E_SERVER_URL=
# Extra curl arguments for the server's /testing/ endpoints (fault, requests): a scenario
# serving HTTPS with a token (tls.sh) sets (--cacert FILE -H "Authorization: Bearer TOKEN").
E2E_SERVER_CURL_ARGS=()
declare -A E2E_OPERATOR_PIDS=()     # operator id -> pid
declare -A E2E_OPERATOR_METRICS=()  # operator id -> host:port
E2E_BACKGROUND_PIDS=()              # helpers started with `background`
E2E_START=$(date +%s%N)
E2E_DUMPED=

log() {
  local ms=$((($(date +%s%N) - E2E_START) / 1000000))
  printf '[%3d.%02ds] %s\n' $((ms / 1000)) $((ms % 1000 / 10)) "$*"
}

dump_state() {
  [[ -n $E2E_DUMPED ]] && return
  E2E_DUMPED=1
  echo "================ diagnostics ($E2E_NAME) ================"
  if [[ -n $E2E_SERVER_URL ]]; then
    echo "---- kubectl get tj,pods,svc -o wide"
    k get tj,pods,svc -o wide 2>&1 | head -80 || true
    echo "---- trainingjobs (yaml)"
    k get tj -o yaml 2>&1 | head -200 || true
    echo "---- events"
    k get events 2>&1 | tail -40 || true
  fi
  local id
  for f in "$E2E_TMP"/operator-*.log; do
    [[ -e $f ]] || continue
    echo "---- $(basename "$f") (last 150 lines)"
    tail -n 150 "$f"
  done
  if [[ -e $E2E_TMP/server.stderr ]]; then
    echo "---- server stderr (last 50 lines)"
    tail -n 50 "$E2E_TMP/server.stderr"
  fi
  echo "---- temp dir: $E2E_TMP"
}

fail() {
  log "FAIL: $*"
  dump_state
  exit 1
}

cleanup() {
  local rc=$?
  trap - ERR
  if [[ $rc -ne 0 && $rc -ne 77 ]]; then dump_state; fi
  local id pid
  for pid in "${E2E_BACKGROUND_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for id in "${!E2E_OPERATOR_PIDS[@]}"; do
    pid=${E2E_OPERATOR_PIDS[$id]}
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $E2E_SERVER_PID ]]; then
    kill "$E2E_SERVER_PID" 2>/dev/null || true
    wait "$E2E_SERVER_PID" 2>/dev/null || true
  fi
  if [[ $rc -eq 0 && -z ${E2E_KEEP:-} ]]; then rm -rf "$E2E_TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "FAIL: line $LINENO: $BASH_COMMAND"' ERR

# background CMD...: runs CMD in the background; cleanup kills it by its pid.
background() {
  "$@" &
  E2E_BACKGROUND_PIDS+=($!)
}

k() { "$E2E_KUBECTL" --cache-dir "$E2E_TMP/kcache" --request-timeout=20s "$@"; }

expect() {  # expect PATTERN TEXT: TEXT matches the extended regex PATTERN
  local pattern=$1
  shift
  grep -Eq -- "$pattern" <<<"$*" || fail "expected /$pattern/ in:
$*"
}
expect_not() {  # expect_not PATTERN TEXT
  local pattern=$1
  shift
  if grep -Eq -- "$pattern" <<<"$*"; then fail "did not expect /$pattern/ in:
$*"; fi
}
expect_eq() {  # expect_eq WANT GOT WHAT
  [[ $1 == "$2" ]] || fail "$3: want '$1', got '$2'"
}

# deadline_ns SECONDS: now + SECONDS (fractional allowed) in ns since the epoch
deadline_ns() { echo $(($(date +%s%N) + $(awk -v s="$1" 'BEGIN {printf "%.0f", s * 1e9}'))); }

# wait_for SECONDS DESCRIPTION CMD...: runs CMD every 100 ms until it succeeds; fails the
# test when SECONDS pass first. CMD's output is discarded.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline
  deadline=$(deadline_ns "$seconds")
  while true; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if (($(date +%s%N) >= deadline)); then fail "timed out after ${seconds}s waiting for: $what"; fi
    sleep 0.1
  done
}

# holds_for SECONDS DESCRIPTION CMD...: CMD keeps succeeding for SECONDS (checks that
# something does NOT happen, e.g. no pods while a gang waits); fails at the first miss.
holds_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline
  deadline=$(deadline_ns "$seconds")
  while (($(date +%s%N) < deadline)); do
    "$@" >/dev/null 2>&1 || fail "stopped holding: $what"
    sleep 0.2
  done
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server [testapiserver flags...]: the TrainingJob CRD and --simulate-pods are always
# passed; pod start delay 50 ms unless given.
start_server() {
  "$E2E_SERVER_BIN" --listen 127.0.0.1:0 --kubeconfig-out "$KUBECONFIG" \
    --crd "$E2E_REPO/crds/ringleader.dev_trainingjobs.yaml" --simulate-pods "$@" \
    >"$E2E_TMP/server.stdout" 2>"$E2E_TMP/server.stderr" &
  E2E_SERVER_PID=$!
  local i
  for i in $(seq 1 200); do
    grep -q '^ready$' "$E2E_TMP/server.stdout" 2>/dev/null && break
    kill -0 "$E2E_SERVER_PID" 2>/dev/null || fail "server exited: $(cat "$E2E_TMP/server.stderr")"
    sleep 0.05
  done
  grep -q '^ready$' "$E2E_TMP/server.stdout" || fail "server did not print ready"
  E2E_SERVER_URL=$(awk '/server:/ {print $2; exit}' "$KUBECONFIG")
  log "server $E2E_SERVER_URL (pid $E2E_SERVER_PID)"
}

# start_operator [ID] [extra flags...]: starts an operator (default ID "a") with fast backoffs,
# waits until /readyz answers 200 (caches synced, or a standby under leader election).
start_operator() {
  local id=${1:-a}
  [[ $# -gt 0 ]] && shift
  local attempt port pid
  for attempt in 1 2 3; do
    port=$(free_port)
    "$E2E_OPERATOR_BIN" --kubeconfig "$KUBECONFIG" --leader-elect=false --metrics-addr "127.0.0.1:$port" \
      --restart-backoff 200ms --admission-retry 200ms "$@" >>"$E2E_TMP/operator-$id.log" 2>&1 &
    pid=$!
    E2E_OPERATOR_PIDS[$id]=$pid
    E2E_OPERATOR_METRICS[$id]=127.0.0.1:$port
    local deadline=$(($(date +%s) + 15))
    while (($(date +%s) < deadline)); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]]; then
        log "operator $id pid $pid metrics 127.0.0.1:$port"
        return 0
      fi
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then fail "operator $id did not become ready"; fi
    wait "$pid" 2>/dev/null || true
    unset "E2E_OPERATOR_PIDS[$id]"
    grep -q 'address\|bind\|in use' "$E2E_TMP/operator-$id.log" || fail "operator $id exited at start"
  done
  fail "operator $id could not bind a metrics port"
}

# stop_operator ID SIGNAL: sends SIGNAL and reaps the operator. reap_operator ID: waits for
# its exit. The exit status is left in $E2E_OPERATOR_RC (not printed: a $(...) subshell could
# not wait for the operator).
E2E_OPERATOR_RC=
stop_operator() {
  kill "-$2" "${E2E_OPERATOR_PIDS[$1]}"
  reap_operator "$1"
}
reap_operator() {
  E2E_OPERATOR_RC=0
  wait "${E2E_OPERATOR_PIDS[$1]}" 2>/dev/null || E2E_OPERATOR_RC=$?
  unset "E2E_OPERATOR_PIDS[$1]"
}

metrics() { curl -sf "http://${E2E_OPERATOR_METRICS[${1:-a}]}/metrics"; }

# fault JSON: POST /testing/faults
fault() {
  curl -sf "${E2E_SERVER_CURL_ARGS[@]}" -X POST "$E2E_SERVER_URL/testing/faults" -d "$1" >/dev/null ||
    fail "fault $1 refused"
}
# kill_node NODE: the node's simulated kubelet dies (POST /testing/kill-node): Ready turns
# Unknown, the unreachable taints come, and it never confirms a pod deletion again.
kill_node() {
  curl -sf "${E2E_SERVER_CURL_ARGS[@]}" -X POST "$E2E_SERVER_URL/testing/kill-node" -d "{\"name\":\"$1\"}" >/dev/null ||
    fail "kill-node $1 refused"
}
# events_of JOB REASON: the messages of the job's Events with that reason, one a line
events_of() {
  k get events --field-selector "involvedObject.name=$1,reason=$2" -o jsonpath='{range .items[*]}{.message}{"\n"}{end}'
}
requests() { curl -sf "${E2E_SERVER_CURL_ARGS[@]}" "$E2E_SERVER_URL/testing/requests"; }
# count_requests "VERB RESOURCE[/SUB]" [STATUS]: requests of that kind the server got
# (answered with STATUS when given).
count_requests() {
  local verb=${1% *} res=${1#* } status=${2:-}
  local resource=${res%%/*} sub=
  [[ $res == */* ]] && sub=${res#*/}
  requests | jq --arg v "$verb" --arg r "$resource" --arg s "$sub" --arg st "$status" \
    '[.requests[] | select(.verb == $v and .resource == $r and .subresource == $s
                           and ($st == "" or (.status | tostring) == $st))] | length'
}

# count_requests_to METHOD PATH_REGEX: requests by HTTP method and path (also those to
# resources the server does not serve, which the log records without verb and resource)
count_requests_to() {
  requests | jq --arg m "$1" --arg p "$2" '[.requests[] | select(.method == $m and (.path | test($p)))] | length'
}

# tj_field JOB JSONPATH, e.g. tj_field demo '{.status.phase}'
tj_field() { k get trainingjob "$1" -o jsonpath="$2"; }
tj_is() { [[ $(tj_field "$1" '{.status.phase}') == "$2" ]]; }
# tj_condition JOB TYPE: "STATUS/REASON"
tj_condition() { tj_field "$1" "{.status.conditions[?(@.type==\"$2\")].status}/{.status.conditions[?(@.type==\"$2\")].reason}"; }
tj_condition_is() { [[ $(tj_condition "$1" "$2") == "$3" ]]; }
tj_gone() { ! k get trainingjob "$1" >/dev/null 2>&1; }

# Watches that record every state a job or pod passes through (polling could miss one).
# Lines: "NAME PHASE RESTARTS ATTEMPT" in $E2E_TMP/jobs.watch, "NAME ATTEMPT PHASE" in
# $E2E_TMP/pods.watch.
watch_jobs() {
  background k get tj -w -o jsonpath='{.metadata.name} {.status.phase} {.status.restarts} {.status.attempt}{"\n"}' \
    >"$E2E_TMP/jobs.watch" 2>&1
}
watch_pods() {
  background k get pods -w -o jsonpath='{.metadata.name} {.metadata.labels.ringleader\.dev/attempt} {.status.phase}{"\n"}' \
    >"$E2E_TMP/pods.watch" 2>&1
}
# phases_seen JOB: the job's phases in order, repeats folded, space-separated
phases_seen() { awk -v j="$1" '$1 == j && $2 != "" {print $2}' "$E2E_TMP/jobs.watch" | uniq | tr '\n' ' '; }

# pod_finish POD PHASE [EXIT_CODE]: what a kubelet would write when the container ends.
pod_finish() {
  local pod=$1 phase=$2 code=${3:-0} reason=Completed
  [[ $phase == Failed ]] && reason=Error
  local now
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  k patch pod "$pod" --subresource=status --type=merge -p "{\"status\":{\"phase\":\"$phase\",
    \"containerStatuses\":[{\"name\":\"trainer\",\"ready\":false,\"restartCount\":0,\"image\":\"ringleader/worker:e2e\",
    \"imageID\":\"\",\"state\":{\"terminated\":{\"exitCode\":$code,\"reason\":\"$reason\",\"finishedAt\":\"$now\"}}}]}}" >/dev/null
}

# pods JOB [extra kubectl args]: names of the job's pods (those not being deleted as well).
pods_of() { k get pods -l "ringleader.dev/job-name=$1" -o name "${@:2}"; }
pod_count() { pods_of "$@" | grep -c . || true; }
pod_count_is() { [[ $(pod_count "$1") -eq $2 ]]; }
# pods of JOB in PHASE
pod_phase_count() {
  k get pods -l "ringleader.dev/job-name=$1" -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' |
    grep -c "^$2\$" || true
}
pods_in_phase() { [[ $(pod_phase_count "$1" "$2") -eq $3 ]]; }

# new_job NAME WORKERS [KEY=VALUE...]: creates a TrainingJob whose pods the simulator runs.
#   succeed=S fail=S exit=N only=A    simulator annotations (see docs/testing.md)
#   cpu=Q memory=Q gpu=N              container requests
#   gang=SCHED timeout=S queue=Q priority=P   spec.gang.scheduler / timeoutSeconds / queue /
#                                     priorityClassName
#   backoff=N policy=P deadline=S ttl=S clean=P suspend=true|false success=P
#   selector=KEY:VALUE                pod nodeSelector
#   env=NAME:VALUE                    a container env var
#   label=KEY:VALUE                   a pod template label
#   jq=FILTER                         any other change, as a jq filter on the whole object
new_job() {
  local name=$1 workers=$2
  shift 2
  local job
  job=$(jq -n --arg name "$name" --argjson workers "$workers" '{
    apiVersion: "ringleader.dev/v1alpha1", kind: "TrainingJob",
    metadata: {name: $name},
    spec: {workers: $workers, gang: {}, runPolicy: {},
           template: {metadata: {annotations: {}},
                      spec: {containers: [{name: "trainer", image: "ringleader/worker:e2e",
                                           resources: {requests: {}}}]}}}}')
  local kv key value
  for kv in "$@"; do
    key=${kv%%=*}
    value=${kv#*=}
    local filter
    case $key in
      succeed) filter='.spec.template.metadata.annotations["sim.ringleader.dev/succeed-after-seconds"] = $v' ;;
      fail) filter='.spec.template.metadata.annotations["sim.ringleader.dev/fail-after-seconds"] = $v' ;;
      exit) filter='.spec.template.metadata.annotations["sim.ringleader.dev/exit-code"] = $v' ;;
      only) filter='.spec.template.metadata.annotations["sim.ringleader.dev/only-attempt"] = $v' ;;
      cpu) filter='.spec.template.spec.containers[0].resources.requests.cpu = $v' ;;
      memory) filter='.spec.template.spec.containers[0].resources.requests.memory = $v' ;;
      gpu) filter='.spec.template.spec.containers[0].resources.requests["nvidia.com/gpu"] = $v' ;;
      gang) filter='.spec.gang.scheduler = $v' ;;
      timeout) filter='.spec.gang.timeoutSeconds = ($v | tonumber)' ;;
      queue) filter='.spec.gang.queue = $v' ;;
      priority) filter='.spec.gang.priorityClassName = $v' ;;
      backoff) filter='.spec.runPolicy.backoffLimit = ($v | tonumber)' ;;
      policy) filter='.spec.runPolicy.restartPolicy = $v' ;;
      deadline) filter='.spec.runPolicy.activeDeadlineSeconds = ($v | tonumber)' ;;
      ttl) filter='.spec.runPolicy.ttlSecondsAfterFinished = ($v | tonumber)' ;;
      clean) filter='.spec.runPolicy.cleanPodPolicy = $v' ;;
      suspend) filter='.spec.runPolicy.suspend = ($v == "true")' ;;
      success) filter='.spec.runPolicy.successPolicy = $v' ;;
      selector) filter='.spec.template.spec.nodeSelector[($v | split(":")[0])] = ($v | split(":")[1:] | join(":"))' ;;
      env) filter='.spec.template.spec.containers[0].env += [{name: ($v | split(":")[0]), value: ($v | split(":")[1:] | join(":"))}]' ;;
      label) filter='.spec.template.metadata.labels[($v | split(":")[0])] = ($v | split(":")[1:] | join(":"))' ;;
      jq) filter=$value ;;
      *) fail "new_job: unknown key $key" ;;
    esac
    job=$(jq --arg v "$value" "$filter" <<<"$job")
  done
  k create -f - <<<"$job" >/dev/null || fail "kubectl create $name failed"
  log "created job $name ($workers workers${*:+: $*})"
}
