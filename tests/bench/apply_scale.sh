#!/usr/bin/env bash
# Times `ticketctl apply` of N generated objects through the real binary and a real control
# plane: the create, the unchanged re-apply, and `up -d -f DIR` of the same objects on a fresh
# state directory. Prints figures; never pass/fail.
#
#   tests/bench/apply_scale.sh [BINARY] [N...]        # default: build/cli/ticketctl 100 500 1000
#
# The mix per 4 objects: a Deployment (1 replica, a container that sleeps, reading the ConfigMap
# and the Secret), a Service selecting it, a ConfigMap, a Secret. The Deployments' pods run, so
# the kubelet and the controllers work while the API takes the writes, as they do for a user.
set -euo pipefail

bin=${1:-build/cli/ticketctl}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(100 500 1000)
bin=$(realpath "$bin")
export TICKETCTL_INGRESS_HTTP=0 TICKETCTL_INGRESS_HTTPS=0

work=$(mktemp -d "${TMPDIR:-/tmp}/ticketctl-apply-bench.XXXXXX")
state=""
cleanup() {
  [ -n "$state" ] && "$bin" down --state-dir "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# generate DIR N: N objects, one file per kind.
generate() {
  local dir=$1 n=$2 groups i
  mkdir -p "$dir"
  groups=$(((n + 3) / 4))
  : >"$dir/deployments.yaml" && : >"$dir/services.yaml" && : >"$dir/configmaps.yaml" &&
    : >"$dir/secrets.yaml"
  for ((i = 0; i < groups; i++)); do
    cat >>"$dir/configmaps.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: app-$i-config}
data: {GREETING: hello-$i, LEVEL: info}
---
YAML
    [ $((i * 4 + 1)) -lt "$n" ] || continue
    cat >>"$dir/secrets.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: app-$i-secret}
type: Opaque
data: {TOKEN: c2VjcmV0LSRp}
---
YAML
    [ $((i * 4 + 2)) -lt "$n" ] || continue
    cat >>"$dir/services.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: app-$i-srv}
spec:
  selector: {app: app-$i}
  ports: [{name: http, port: 3000, targetPort: 3000}]
---
YAML
    [ $((i * 4 + 3)) -lt "$n" ] || continue
    cat >>"$dir/deployments.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-$i-depl}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-$i}}
  template:
    metadata: {labels: {app: app-$i}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: bench/app
        env:
        - {name: GREETING, valueFrom: {configMapKeyRef: {name: app-$i-config, key: GREETING}}}
        - {name: TOKEN, valueFrom: {secretKeyRef: {name: app-$i-secret, key: TOKEN}}}
---
YAML
  done
}

cat >"$work/ticketctl.yaml" <<'YAML'
images:
  bench/app: {command: [sleep, "3600"]}
YAML

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

cd "$work"
for n in "${counts[@]}"; do
  generate "$work/objects-$n" "$n"
  state="$work/state-$n"
  "$bin" up -d --empty --state-dir "$state" >/dev/null
  t=$(now)
  client=$( { TIMEFORMAT='%U %S'; time "$bin" apply --state-dir "$state" -f "objects-$n" \
    >"$work/apply.out"; } 2>&1 | awk '{ printf "%.2f", $1 + $2 }')
  create=$(elapsed "$t")
  t=$(now)
  "$bin" apply --state-dir "$state" -f "objects-$n" >"$work/reapply.out"
  reapply=$(elapsed "$t")
  unchanged=$(grep -c ' unchanged$' "$work/reapply.out" || true)
  cpu=$(awk '{ print ($14 + $15) / 100 }' "/proc/$(sed 's/.*"pid":\([0-9]*\).*/\1/' \
    "$state/apiserver.json")/stat")
  "$bin" down --state-dir "$state" >/dev/null
  state="$work/state-up-$n"
  t=$(now)
  "$bin" up -d --state-dir "$state" -f "objects-$n" >/dev/null
  up=$(elapsed "$t")
  "$bin" down --state-dir "$state" >/dev/null
  state=""
  printf 'N=%-5d apply (create) %6ss (client CPU %ss)   re-apply (unchanged %d/%d) %6ss   control plane CPU %5ss   up -d -f %6ss\n' \
    "$n" "$create" "$client" "$unchanged" "$n" "$reapply" "$cpu" "$up"
done
