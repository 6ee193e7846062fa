#!/usr/bin/env bash
# Runs every real-client end-to-end suite: Codex CLI, Claude Code and OpenCode from
# ../shared/realclients and Gemini CLI from tests/e2e/install_gemini.sh, offline (each suite re-executes itself in a private network
# namespace with only loopback when run as root), against ../shared/realclients/mock_upstream.py.
#
#   bash tests/e2e/run_all.sh          # uses target/debug/aigate (cargo build first)
#   AIGATE_BIN=/path/to/aigate bash tests/e2e/run_all.sh
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export AIGATE_SHARED="${AIGATE_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
export AIGATE_BIN="${AIGATE_BIN:-$ROOT/target/debug/aigate}"
[ -x "$AIGATE_BIN" ] || { echo "FAIL: $AIGATE_BIN missing: run cargo build"; exit 2; }
# The suites read these names too.
export AIGATE="$AIGATE_BIN" SHARED="$AIGATE_SHARED"
# Install the pinned real clients once for every suite.
export REALCLIENTS_BIN="${REALCLIENTS_BIN:-$(bash "$AIGATE_SHARED/realclients/install.sh")}" || {
  echo "FAIL: could not install the real clients"; exit 2; }
export GEMINI_BIN="${GEMINI_BIN:-$(bash "$HERE/install_gemini.sh")}" || {
  echo "FAIL: could not install Gemini CLI"; exit 2; }

status=0
suites=0
for suite in run_clients.sh gateway_clients.sh mcp_skills_clients.sh convert_clients.sh gemini_clients.sh; do
  [ -f "$HERE/$suite" ] || continue
  suites=$((suites + 1))
  echo "==== $suite"
  if ! bash "$HERE/$suite"; then
    echo "==== $suite FAILED"
    status=1
  fi
done
[ "$suites" -gt 0 ] || { echo "FAIL: no e2e suite found"; exit 2; }
exit "$status"
