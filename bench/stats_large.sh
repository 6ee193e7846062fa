#!/usr/bin/env bash
# Benchmark: `aigate stats` over one million synthetic usage rows.
#
#   bash bench/stats_large.sh               # builds the release binary first
#   ROWS=1000000 RUNS=3 bash bench/stats_large.sh
#
# Fills a throw-away AIGATE_HOME with ROWS rows spread evenly over the last 179 days
# (6 providers, 12 models, 4 clients, a session per 40 requests, 3% errors, 2% failovers),
# then prints the db file size and the median wall time and peak memory of:
# `stats` (the default 24h), `stats --since 180d` (every row), the same `--by model` with
# charts, `--json`, `--html`, `logs`, and `stats --prune --dry-run`. Needs `sqlite3`.
# It reports; it does not gate.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROWS="${ROWS:-1000000}"
RUNS="${RUNS:-3}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
(cd "$REPO" && cargo build --release --quiet)
AIGATE="$TARGET/release/aigate"
T="$(mktemp -d /tmp/aigate-bench.XXXXXX)"
trap 'rm -rf "$T"' EXIT
export HOME="$T/home" AIGATE_HOME="$T/aigate" NO_COLOR=1
mkdir -p "$HOME"
"$AIGATE" stats --prune --dry-run -q   # creates the db with the current schema

NOW_MS=$(($(date +%s) * 1000))
SPAN_MS=$((179 * 86400000))
GEN_START=$(date +%s.%N)
sqlite3 "$AIGATE_HOME/aigate.db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO usage (ts, request_id, session_id, client, api, provider, model_requested, model_sent, status,
                   stream, ttfb_ms, ttft_ms, duration_ms, input_tokens, output_tokens, cached_tokens, cost_usd,
                   error_class, attempts)
SELECT $NOW_MS - ($SPAN_MS * ($ROWS - i) / $ROWS),
       printf('req-%08x', i),
       printf('sess-%06d', i / 40),
       CASE i % 4 WHEN 0 THEN 'codex' WHEN 1 THEN 'claude' WHEN 2 THEN 'opencode' ELSE 'gemini' END,
       CASE i % 3 WHEN 0 THEN 'responses' WHEN 1 THEN 'messages' ELSE 'chat' END,
       CASE i % 6 WHEN 0 THEN 'deepseek' WHEN 1 THEN 'anthropic' WHEN 2 THEN 'openrouter'
                  WHEN 3 THEN 'moonshot' WHEN 4 THEN 'zhipu' ELSE 'official' END,
       printf('model-%02d', i % 12),
       printf('model-%02d', i % 12),
       CASE WHEN i % 33 = 0 THEN 429 WHEN i % 97 = 0 THEN 502 ELSE 200 END,
       1,
       50 + i % 400,
       100 + (i * 7) % 2000,
       300 + (i * 13) % 30000,
       1000 + (i * 31) % 60000,
       50 + (i * 17) % 4000,
       (i * 11) % 20000,
       ((i * 31) % 60000) * 0.000002 + ((i * 17) % 4000) * 0.00001,
       CASE WHEN i % 33 = 0 THEN 'http_429' WHEN i % 97 = 0 THEN 'exhausted' END,
       CASE WHEN i % 50 = 0 THEN 2 ELSE 1 END
FROM n;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
GEN_END=$(date +%s.%N)
BYTES=$(stat -c %s "$AIGATE_HOME/aigate.db")
echo "rows=$ROWS generated_in=$(echo "$GEN_END - $GEN_START" | bc)s db_bytes=$BYTES db_mib=$(echo "scale=1; $BYTES / 1048576" | bc)"

measure() {
    local name="$1"; shift
    local times=() rss=()
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$T/time" "$AIGATE" "$@" >"$T/out" 2>"$T/err" || { cat "$T/err"; exit 1; }
        read -r seconds kib <"$T/time"
        times+=("$seconds"); rss+=("$kib")
    done
    local median_time median_rss
    median_time=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    median_rss=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    printf '%-42s %6ss  %6s MiB peak  (%s bytes out)\n' "$name" "$median_time" "$((median_rss / 1024))" "$(stat -c %s "$T/out")"
}

measure "stats (24h)" stats
measure "stats --since 180d" stats --since 180d
measure "stats --since 180d --by model --charts" stats --since 180d --by model --charts
measure "stats --since 180d --json" --json stats --since 180d
measure "stats --since 180d --html" stats --since 180d --html "$T/report.html"
measure "stats --since 7d --provider deepseek" stats --since 7d --provider deepseek
measure "logs" logs
measure "stats --prune --dry-run" stats --prune --dry-run
