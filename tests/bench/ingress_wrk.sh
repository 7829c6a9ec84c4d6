#!/usr/bin/env bash
# Throughput and tail latency of the ingress proxy against nginx, both in front of the same small
# backend (bench_backend), measured with wrk over keep-alive connections. Prints figures; it is
# a benchmark, not a test, and CI does not run it.
#
#   tests/bench/ingress_wrk.sh [BUILD_DIR] [DURATION]      e.g. tests/bench/ingress_wrk.sh build 10s
#
# Environment: INGRESS_THREADS (ticketctl I/O threads, default 1 = like nginx's one worker),
# CONNECTIONS (default "50 500"), WRK_THREADS (default 2).
# Needs: wrk and nginx (installed with apt-get when missing), targets bench_backend and
# ingress_bench_proxy built with -DTICKETCTL_BENCH=ON.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
DURATION=${2:-10s}
INGRESS_THREADS=${INGRESS_THREADS:-1}
CONNECTIONS=${CONNECTIONS:-"50 500"}
WRK_THREADS=${WRK_THREADS:-2}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cmake --build "$BUILD" --target bench_backend ingress_bench_proxy >/dev/null
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

# Reads "WORD PORT" from a process's first output line, waiting up to 10 s.
port_from() {
  local file=$1 i
  for i in $(seq 1 200); do
    if [ -s "$file" ]; then awk 'NR==1{print $2}' "$file"; return 0; fi
    sleep 0.05
  done
  echo "no port in $file" >&2
  return 1
}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

"$BUILD/tests/bench_backend" 0 1 >"$work/backend.out" &
pids+=($!)
backend_port=$(port_from "$work/backend.out")

nginx_port=$(free_port)
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $work/nginx/logs/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  # Enough idle upstream connections for 500 clients (ingress_bench_proxy uses the same), so
  # that both proxies are measured relaying, not reconnecting.
  upstream backend { server 127.0.0.1:$backend_port; keepalive 1024; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # What ingress-nginx adds, so both proxies do the same work per request.
      proxy_set_header Host \$host;
      proxy_set_header X-Request-ID \$request_id;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header X-Forwarded-Port \$server_port;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
CONF
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
pids+=($!)

"$BUILD/tests/ingress_bench_proxy" 0 "$backend_port" "$INGRESS_THREADS" >"$work/proxy.out" &
pids+=($!)
proxy_port=$(port_from "$work/proxy.out")

for i in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$nginx_port/" >/dev/null 2>&1 && break
  sleep 0.05
done
curl -fsS "http://127.0.0.1:$proxy_port/" >/dev/null

# wrk output → "requests/s p99"
measure() {
  local port=$1 conns=$2 out
  out=$(wrk -t"$WRK_THREADS" -c"$conns" -d"$DURATION" --latency "http://127.0.0.1:$port/")
  local rps p99 errors
  rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/{$1=$1; printf "%s; ", $0}' <<<"$out")
  echo "$rps $p99 ${errors:-}"
}

printf '%-28s %6s %14s %10s  %s\n' target conns requests/s p99 notes
for conns in $CONNECTIONS; do
  for target in "backend-direct:$backend_port" "nginx-1-worker:$nginx_port" \
                "ticketctl-${INGRESS_THREADS}-thread:$proxy_port"; do
    name=${target%%:*}
    port=${target##*:}
    read -r rps p99 notes <<<"$(measure "$port" "$conns")"
    printf '%-28s %6s %14s %10s  %s\n' "$name" "$conns" "$rps" "$p99" "${notes:-}"
  done
done
