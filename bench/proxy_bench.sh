#!/usr/bin/env bash
# Benchmark aigate's proxy against the shared perf harness (direct mock and nginx), all on
# 127.0.0.1. Builds aigate in release, starts the hidden `aigate proxy-bench-serve` twice with
# one provider pointing at the harness's mock (127.0.0.1:18080): `aigate` (the provider speaks
# every API: pass-through) and `aigate-converted` (the provider speaks only the other API of
# CONVERT_VIA, so every request and stream goes through the conversion stage), and runs
# bench.sh with both as external subjects, in the same run as direct and nginx, and then nginx
# once more (`nginx-again`, after every subject: how far the machine drifted over the run; not
# judged). Results land
# in /tmp/perf-run/results/ (table.md, results.json), and the figures issue 12 sets goals for,
# each aigate figure against nginx's in the same run, in goals.md (printed at the end).
#
#   bash bench/proxy_bench.sh                      # --api responses
#   API=messages bash bench/proxy_bench.sh --no-matrix
#
# Env: PERF_DIR (default ../shared/perf next to the repo), CARGO_TARGET_DIR (where the build
# lands, default target/), API (responses), PORT (18787),
# CONVERTED_PORT (18788), CONVERT_VIA (chat; messages when API=chat), MOCK_PORT (18080),
# PAIRS (3; 0: none) and PAIR_DURATION (4 s): the interleaved c=64 pairs printed after the goal
# table (bench/pairs.py: nginx and aigate cells alternated, seconds apart, a diagnostic of the
# machine's drift between the single run's cells, not a goal). Extra arguments go to bench.sh
# (see `bash $PERF_DIR/bench.sh --help`).
# Needs nginx for the nginx peer (Debian: apt-get install -y nginx-light).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PERF_DIR="${PERF_DIR:-$REPO/../shared/perf}"
API="${API:-responses}"
PORT="${PORT:-18787}"
CONVERTED_PORT="${CONVERTED_PORT:-18788}"
if [[ "$API" == chat ]]; then CONVERT_VIA="${CONVERT_VIA:-messages}"; else CONVERT_VIA="${CONVERT_VIA:-chat}"; fi
MOCK_PORT="${MOCK_PORT:-18080}"

if [[ ! -f "$PERF_DIR/bench.sh" ]]; then
  echo "proxy_bench: no bench.sh under $PERF_DIR (set PERF_DIR)" >&2
  exit 2
fi

(cd "$REPO" && cargo build --release -q --bin aigate)
AIGATE="${CARGO_TARGET_DIR:-$REPO/target}/release/aigate"

WORK="$(mktemp -d)"
chmod 700 "$WORK"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME PORT [--api API...]: a bench server with a throw-away AIGATE_HOME (usage rows of
# the benchmark do not land in the user's db); its token in $WORK/NAME.token.
start() {
  local name=$1 port=$2; shift 2
  AIGATE_HOME="$WORK/$name" HOME="$WORK" "$AIGATE" proxy-bench-serve \
    --port "$port" --upstream "http://127.0.0.1:$MOCK_PORT/v1" --token-file "$WORK/$name.token" "$@" \
    2>"$WORK/$name.log" &
  PIDS+=("$!")
  local pid=$!
  for _ in $(seq 1 100); do
    if [[ -s "$WORK/$name.token" ]] && curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "proxy_bench: aigate ($name) exited early:" >&2
      cat "$WORK/$name.log" >&2
      exit 2
    fi
    sleep 0.1
  done
}
start aigate "$PORT"
start converted "$CONVERTED_PORT" --api "$CONVERT_VIA"
TOKEN="$(cat "$WORK/aigate.token")"
CONVERTED_TOKEN="$(cat "$WORK/converted.token")"

bash "$PERF_DIR/bench.sh" --peers direct,nginx \
  --subject "aigate=http://127.0.0.1:$PORT|token=$TOKEN|pid=${PIDS[0]}" \
  --subject "aigate-converted=http://127.0.0.1:$CONVERTED_PORT|apis=$API|token=$CONVERTED_TOKEN|pid=${PIDS[1]}" \
  --subject "nginx-again=http://127.0.0.1:18081" --api "$API" --mock-port "$MOCK_PORT" "$@"

# Issue 12's goals, each aigate figure against nginx's in this run (nginx being the anchor);
# the converted rows are reported beside, not judged. Also written to goals.md.
RESULTS="${RESULTS_DIR:-/tmp/perf-run/results}"
python3 - "$RESULTS/results.json" <<'PY' | tee "$RESULTS/goals.md"
import json, sys
runs = {r["subject"]: r for r in json.load(open(sys.argv[1]))["results"]}
nginx = runs.get("nginx")
if not nginx:
    sys.exit("proxy_bench: no nginx row, so no goal table (is nginx installed?)")
def fmt(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.3f}"
def get(run, cell, key):
    return (run.get(cell) or {}).get(key)
# (figure, cell, key, goal, higher is better)
rows = [
    ("small request p50, c=1", "ns1", "ttlb_p50_ms", 1.2, False),
    ("req/s at c=64", "ns64", "rps", 0.83, True),
    ("CPU per request at c=64", "ns64", "cpu_us_per_req", 2.5, False),
    ("unpaced streams/s at c=32", "stu32", "rps", 0.83, True),
    ("stream first content token, c=1", "st1", "ttft_p50_ms", 1.2, False),
    ("stream first content token, c=32", "st32", "ttft_p50_ms", 1.2, False),
    ("10 MB request p50", "big", "ttlb_p50_ms", 1.2, False),
]
subjects = [name for name in ("aigate", "aigate-converted") if name in runs]
print("| figure | goal | nginx | " + " | ".join(subjects) + " |")
print("|---|---|---|" + "---|" * len(subjects))
misses = 0
for label, cell, key, goal, higher in rows:
    base = get(nginx, cell, key)
    cells = []
    for name in subjects:
        value = get(runs[name], cell, key)
        if value is None or not base:
            cells.append("-")
            continue
        ratio = value / base
        met = ratio >= goal if higher else ratio <= goal
        if name == "aigate" and not met:
            misses += 1
        cells.append(f"{fmt(value)} ({ratio:.3f}x){'' if met or name != 'aigate' else ' MISSED'}")
    sign = ">=" if higher else "<="
    print(f"| {label} | {sign} {goal}x | {fmt(base)} | " + " | ".join(cells) + " |")
peaks = []
for name in subjects:
    peak = runs[name].get("rss_peak_kb")
    mb = peak / 1024 if peak else None
    met = mb is not None and mb <= 20
    if name == "aigate" and not met:
        misses += 1
    peaks.append("-" if mb is None else f"{mb:.1f} MB{'' if met or name != 'aigate' else ' MISSED'}")
nginx_peak = nginx.get("rss_peak_kb")
print(f"| peak RSS | <= 20 MB | {nginx_peak / 1024:.1f} MB | " + " | ".join(peaks) + " |")
print()
print("aigate: every goal met" if misses == 0 else f"aigate: {misses} goal(s) missed")
# The machine's drift over the run: the same nginx measured again after every subject.
again = runs.get("nginx-again")
if again:
    print()
    print("Drift check (not judged): nginx measured again at the end of the run, against nginx at its start:")
    for label, cell, key, goal, higher in rows:
        base, value = get(nginx, cell, key), get(again, cell, key)
        if base and value:
            print(f"- {label}: {fmt(base)} then {fmt(value)} ({value / base:.3f}x)")
PY

if [[ "${PAIRS:-3}" != 0 ]]; then
  echo
  python3 "$REPO/bench/pairs.py" --loadgen "${PERF_TARGET:-/tmp/perf-target}/release/loadgen" \
    --mock "${PERF_TARGET:-/tmp/perf-target}/release/mock-upstream" --nginx-conf "$PERF_DIR/configs/nginx.conf" \
    --work "$WORK" --mock-port "$MOCK_PORT" --api "$API" --aigate "http://127.0.0.1:$PORT" "$TOKEN" "${PIDS[0]}" \
    --pairs "${PAIRS:-3}" --duration "${PAIR_DURATION:-4}" | tee -a "$RESULTS/goals.md"
fi
