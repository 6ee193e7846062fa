#!/usr/bin/env bash
# Benchmark aigate's proxy against the shared perf harness (direct mock and nginx), all on
# 127.0.0.1. Builds aigate in release, starts the hidden `aigate proxy-bench-serve` with one
# provider pointing at the harness's mock (127.0.0.1:18080), and runs bench.sh with aigate
# as an external subject. Results land in /tmp/perf-run/results/ (table.md, results.json).
#
#   bash bench/proxy_bench.sh                      # --api responses
#   API=messages bash bench/proxy_bench.sh --no-matrix
#
# Env: PERF_DIR (default ../shared/perf next to the repo), API (responses), PORT (18787),
# MOCK_PORT (18080). Extra arguments go to bench.sh (see `bash $PERF_DIR/bench.sh --help`).
# Needs nginx for the nginx peer (Debian: apt-get install -y nginx-light).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PERF_DIR="${PERF_DIR:-$REPO/../shared/perf}"
API="${API:-responses}"
PORT="${PORT:-18787}"
MOCK_PORT="${MOCK_PORT:-18080}"

if [[ ! -f "$PERF_DIR/bench.sh" ]]; then
  echo "proxy_bench: no bench.sh under $PERF_DIR (set PERF_DIR)" >&2
  exit 2
fi

(cd "$REPO" && cargo build --release -q --bin aigate)

WORK="$(mktemp -d)"
chmod 700 "$WORK"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A throw-away AIGATE_HOME: usage rows of the benchmark do not land in the user's db.
AIGATE_HOME="$WORK/aigate" HOME="$WORK" "$REPO/target/release/aigate" proxy-bench-serve \
  --port "$PORT" --upstream "http://127.0.0.1:$MOCK_PORT/v1" --token-file "$WORK/token" \
  2>"$WORK/serve.log" &
SERVER_PID=$!

for _ in $(seq 1 100); do
  if [[ -s "$WORK/token" ]] && curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "proxy_bench: aigate exited early:" >&2
    cat "$WORK/serve.log" >&2
    exit 2
  fi
  sleep 0.1
done
TOKEN="$(cat "$WORK/token")"

bash "$PERF_DIR/bench.sh" --peers direct,nginx \
  --subject "aigate=http://127.0.0.1:$PORT|token=$TOKEN|pid=$SERVER_PID" \
  --api "$API" --mock-port "$MOCK_PORT" "$@"
