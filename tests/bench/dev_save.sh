#!/usr/bin/env bash
# What a save costs a learner in `ticketctl dev`: non-200 answers through the ingress while the
# saved service's pod is replaced, and how long Ctrl-C takes. Runs the real binary (`dev`, its own
# state directory, the ingress on a free port) on a copy of examples/blog (no readiness probes) or
# of a one-service app whose pod has a readinessProbe (`probe`), in a temporary directory. Then,
# per save: a client loop (curl, a new connection per request) runs 8 s; after 1 s a line is
# appended to the service's index/server file; the loop's status codes are counted. Last, SIGINT
# to dev's process group (as a terminal's Ctrl-C) and the time until dev exits. A benchmark,
# never pass/fail, and CI does not run it.
#
#   tests/bench/dev_save.sh [BUILD_DIR] [blog|probe] [SAVES]     e.g. tests/bench/dev_save.sh build probe 3
#
# Environment: TICKETCTL (another ticketctl binary to measure, e.g. an older build placed in
# BUILD/cli so that it finds the preload library and the shim). Needs node and curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
SOURCE=$PWD
BUILD=${1:-build}
APP=${2:-blog}
SAVES=${3:-3}
BIN=${TICKETCTL:-$SOURCE/$BUILD/cli/ticketctl}
WORK=$(mktemp -d)
DEV=
cleanup() {
  if [ -n "$DEV" ] && kill -0 "$DEV" 2>/dev/null; then
    kill -INT -- "-$DEV" 2>/dev/null || true
    wait "$DEV" 2>/dev/null || true
  fi
  "$BIN" down --state-dir "$WORK/state" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$APP" = blog ]; then
  mkdir -p "$WORK/examples" "$WORK/manifests"
  cp -r examples/blog "$WORK/examples/"
  cp -r manifests/blog "$WORK/manifests/"
  PROJECT=$WORK/examples/blog
  SAVED=$PROJECT/client/index.js
  HOST=posts.com
else
  PROJECT=$WORK/probe
  mkdir -p "$PROJECT/web" "$PROJECT/k8s"
  printf 'manifests: [k8s]\nimages:\n  bench/web: {context: web, command: [node, server.js]}\n' \
    > "$PROJECT/ticketctl.yaml"
  cat > "$PROJECT/web/server.js" <<'EOF'
const http = require("http");
const server = http.createServer((req, res) => res.end("ok\n"));
server.listen(8080, () => console.log("Listening on 8080"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
EOF
  cat > "$PROJECT/k8s/app.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: bench/web
          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
EOF
  SAVED=$PROJECT/web/server.js
  HOST=localhost
fi

LOG=$WORK/dev.log
(cd "$PROJECT" && TICKETCTL_INGRESS_HTTP=0 TICKETCTL_INGRESS_HTTPS=0 \
  exec setsid "$BIN" dev --state-dir "$WORK/state" >"$LOG" 2>&1) &
DEV=$!
for _ in $(seq 300); do grep -q '^ingress: http' "$LOG" && break; sleep 0.1; done
PORT=$(sed -n 's|^ingress: http://127.0.0.1:\([0-9]*\).*|\1|p' "$LOG" | tail -1)
[ -n "$PORT" ] || { echo "dev did not start:"; cat "$LOG"; exit 1; }
URL=http://127.0.0.1:$PORT/
for _ in $(seq 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "$URL")" = 200 ] && break
  sleep 0.1
done
sleep 2
echo "$("$BIN" version 2>/dev/null | head -1 || true) — $APP, $SAVES saves"
for save in $(seq "$SAVES"); do
  CODES=$WORK/codes
  : >"$CODES"
  (end=$((SECONDS + 8))
   while [ $SECONDS -lt $end ]; do
     curl -s -o /dev/null -w '%{http_code}\n' -m 2 -H "Host: $HOST" "$URL" >>"$CODES" || true
   done) &
  LOOP=$!
  sleep 1
  echo "// save $save" >>"$SAVED"
  wait "$LOOP"
  echo "save $save: $(wc -l <"$CODES") requests, $(grep -vc '^200$' "$CODES" || true) not 200" \
    "($(sort "$CODES" | uniq -c | awk '{printf "%s×%s ", $1, $2}'))"
done
START=$(date +%s.%N)
kill -INT -- "-$DEV"
STATUS=0
wait "$DEV" || STATUS=$?
DEV=
echo "Ctrl-C: exit $STATUS after $(echo "$(date +%s.%N) - $START" | bc) s"
