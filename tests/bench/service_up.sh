#!/usr/bin/env bash
# Services as users run them: `ticketctl up -d` of a benchmark app (a server Deployment behind the
# Service bench-srv, and a client pod), then, with tests/bench/service_bench.c at both ends:
#   - from inside the client pod (`ticketctl exec`, so under the preload library): BYTES read
#     over one connection and the median connect latency (connect + 1-byte round trip + close),
#     by Service name (balanced at connect time) and by the server pod's IP;
#   - from the host (no preload): the same to the ClusterIP (through the relay) and to the pod IP;
#   - from the host, the same through Debian's HAProxy in TCP mode with kernel splicing
#     (`option splice-request`, `splice-response`; nbthread 1) in front of the pod IP: a peer L4 relay on the same
#     machine, so the relay's figure can be read against what another relay gets here. Skipped,
#     with a line saying so, when haproxy is not installed (benchmark-only: `apt-get install
#     haproxy`); HAPROXY=0 skips it too.
# Each path is measured ROUNDS times, interleaved, and summarised by its median (and, for
# throughput, also its best run: on a shared machine a run's speed depends on where the scheduler
# puts the two ends). Prints figures; never pass/fail.
#
#   tests/bench/service_up.sh [BINARY] [GiB] [CONNECTS] [ROUNDS]
#   (default: build/cli/ticketctl 1 2000 5)
set -euo pipefail

bin=$(realpath "${1:-build/cli/ticketctl}")
gib=${2:-1}
connects=${3:-2000}
rounds=${4:-5}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/haproxy_peer.sh
. "$here/haproxy_peer.sh"
export TICKETCTL_INGRESS_HTTP=0 TICKETCTL_INGRESS_HTTPS=0
bytes=$((gib * 1024 * 1024 * 1024))

work=$(mktemp -d "${TMPDIR:-/tmp}/ticketctl-service-bench.XXXXXX")
state="$work/state"
haproxy_pid=""
cleanup() {
  [ -z "$haproxy_pid" ] || kill "$haproxy_pid" 2>/dev/null || true
  "$bin" down --state-dir "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bin"
cc -O2 -pthread -o "$work/bin/service_bench" "$here/service_bench.c"
mkdir -p "$work/app/k8s"
cat >"$work/app/ticketctl.yaml" <<YAML
manifests: [k8s]
images:
  bench/server: {context: $work/bin, command: [$work/bin/service_bench, serve, '5000']}
  bench/client: {context: $work/bin, command: [sleep, infinity]}
YAML
cat >"$work/app/k8s/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench-server}
spec:
  replicas: 1
  selector: {matchLabels: {app: bench-server}}
  template:
    metadata: {labels: {app: bench-server}}
    spec:
      containers:
      - name: server
        image: bench/server
        ports: [{containerPort: 5000}]
        readinessProbe: {tcpSocket: {port: 5000}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: bench-srv}
spec:
  selector: {app: bench-server}
  ports: [{port: 5000, targetPort: 5000}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench-client}
spec:
  replicas: 1
  selector: {matchLabels: {app: bench-client}}
  template:
    metadata: {labels: {app: bench-client}}
    spec:
      containers:
      - name: client
        image: bench/client
YAML

tc() { "$bin" "$1" --state-dir "$state" "${@:2}"; }

(cd "$work/app" && tc up -d >/dev/null)
pod_ip=""
for _ in $(seq 600); do
  pod_ip=$(tc get endpoints bench-srv -o 'jsonpath={.subsets[0].addresses[0].ip}' 2>/dev/null || true)
  [ -n "$pod_ip" ] && break
  sleep 0.1
done
[ -n "$pod_ip" ] || {
  echo "service_up: bench-srv has no ready endpoint after 60 s" >&2
  tc get pods >&2
  exit 1
}
cluster_ip=$(tc get svc bench-srv -o 'jsonpath={.spec.clusterIP}')
client=$(tc get pods -l app=bench-client -o 'jsonpath={.items[0].metadata.name}')

paths="pod-service pod-podip host-relay host-direct"
if start_haproxy_peer tcp "$pod_ip:5000" "$work"; then
  paths="$paths host-haproxy"
fi

echo "# $(date -u +%FT%TZ) $(uptime)"
echo "# ${gib} GiB read, ${connects} connects per run, ${rounds} rounds; server pod ${pod_ip}," \
  "ClusterIP ${cluster_ip}, client pod ${client}"
results="$work/results"
: >"$results"
for round in $(seq "$rounds"); do
  for path in $paths; do
    case $path in
      pod-service) line=$(tc exec "$client" -- "$work/bin/service_bench" client bench-srv 5000 "$bytes" "$connects") ;;
      pod-podip) line=$(tc exec "$client" -- "$work/bin/service_bench" client "$pod_ip" 5000 "$bytes" "$connects") ;;
      host-relay) line=$("$work/bin/service_bench" client "$cluster_ip" 5000 "$bytes" "$connects") ;;
      host-direct) line=$("$work/bin/service_bench" client "$pod_ip" 5000 "$bytes" "$connects") ;;
      host-haproxy) line=$("$work/bin/service_bench" client 127.0.0.1 "$haproxy_port" "$bytes" "$connects") ;;
    esac
    echo "round $round $path $line"
    echo "$path $line" >>"$results"
  done
done

# Median of each figure per path, then the ratios the targets are stated in.
awk '
  function median(path, key,   n, i, j, t, v) {
    n = count[path]
    for (i = 1; i <= n; i++) v[i] = value[path, key, i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  {
    path = $1; i = ++count[path]
    for (f = 2; f <= NF; f++) { split($f, kv, "="); value[path, kv[1], i] = kv[2] }
  }
  END {
    printf "\n%-12s %8s %8s %10s %11s %10s %11s %10s\n", "path", "MB/s", "best", "cpu-s/GiB",
      "connect us", "p99 us", "nb conn us", "p99 us"
    n = split("pod-service pod-podip host-relay host-direct host-haproxy", paths, " ")
    for (p = 1; p <= n; p++) {
      if (!count[paths[p]]) continue
      path = paths[p]
      mb[path] = median(path, "read_mb_s"); lat[path] = median(path, "connect_median_us")
      nb[path] = median(path, "nb_connect_median_us"); best[path] = 0
      for (i = 1; i <= count[path]; i++)
        if (value[path, "read_mb_s", i] > best[path]) best[path] = value[path, "read_mb_s", i]
      printf "%-12s %8.0f %8.0f %10.3f %11.1f %10.1f %11.1f %10.1f\n", path, mb[path], best[path],
        median(path, "client_cpu_s_per_gib"), lat[path], median(path, "connect_p99_us"), nb[path],
        median(path, "nb_connect_p99_us")
    }
    printf "\nin a pod, by Service name vs pod IP: %.2fx throughput (best runs %.2fx), %+.1f us median connect, %+.1f us non-blocking\n",
      mb["pod-service"] / mb["pod-podip"], best["pod-service"] / best["pod-podip"],
      lat["pod-service"] - lat["pod-podip"], nb["pod-service"] - nb["pod-podip"]
    printf "from the host, ClusterIP relay vs pod IP: %.2fx throughput (best runs %.2fx), %+.1f us median connect\n",
      mb["host-relay"] / mb["host-direct"], best["host-relay"] / best["host-direct"],
      lat["host-relay"] - lat["host-direct"]
    if (count["host-haproxy"])
      printf "from the host, HAProxy (TCP, splice) vs pod IP: %.2fx throughput (best runs %.2fx), %+.1f us median connect\n",
        mb["host-haproxy"] / mb["host-direct"], best["host-haproxy"] / best["host-direct"],
        lat["host-haproxy"] - lat["host-direct"]
  }' "$results"
