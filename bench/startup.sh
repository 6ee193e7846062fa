#!/usr/bin/env bash
# What `aigate run` adds to an agent's start-up: a stub agent (/bin/true) run directly vs
# through `aigate run` (release build; no providers registered, so the chain is `official`
# and no db is opened). Target: <= 2 ms median added. Uses hyperfine -N (no shell).
#
#   bash bench/startup.sh                 # builds --release, then measures (~1 min)
#   AIGATE=/path/to/aigate bash bench/startup.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
if ! command -v hyperfine >/dev/null; then
  apt-get install -y hyperfine >/dev/null 2>&1 || { echo "hyperfine is missing (apt-get install -y hyperfine)" >&2; exit 2; }
fi
if [ -z "${AIGATE:-}" ]; then
  (cd "$REPO" && cargo build --release -q --bin aigate)
  AIGATE="${CARGO_TARGET_DIR:-$REPO/target}/release/aigate"
fi
T="$(mktemp -d /tmp/aigate-bench.XXXXXX)"
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/home" "$T/codex" "$T/claude" "$T/xdg"
STUB=/bin/true
export HOME="$T/home" CODEX_HOME="$T/codex" CLAUDE_CONFIG_DIR="$T/claude" XDG_CONFIG_HOME="$T/xdg" AIGATE_HOME="$T/aigate"
unset AIGATE_SESSION
timeout 300 hyperfine -N --warmup 10 --min-runs 100 --export-json "$T/startup.json" \
  -n 'stub agent directly' "$STUB" \
  -n 'aigate run codex (stub)' "$AIGATE run codex --bin $STUB" \
  -n 'aigate run claude (stub)' "$AIGATE run claude --bin $STUB"
python3 - "$T/startup.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["median"]
for r in results[1:]:
    print(f"{r['command']}: median {r['median']*1000:.2f} ms, added {(r['median']-base)*1000:.2f} ms over the stub ({base*1000:.2f} ms)")
PY
