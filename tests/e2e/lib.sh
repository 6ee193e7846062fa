# Shared preamble of the real-client e2e suites; sourced, never run:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   e2e_setup aigate-e2e "$@"      # build, clients, network namespace, temp dir T
#   e2e_start_mock                 # LOG, URL: the shared mock upstream, stopped on exit
#   ... ok / bad / check ...
#   e2e_finish                     # "N passed, N failed"; the suite's exit status
#
# Environment: SHARED or AIGATE_SHARED (default: $(dirname repo)/shared), AIGATE or AIGATE_BIN,
# REALCLIENTS_BIN, RC_NO_NETNS=1 (no network namespace), KEEP=1 (keep the temp dir).

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$E2E_DIR/../.." && pwd)"
SHARED="${SHARED:-${AIGATE_SHARED:-$(dirname "$REPO")/shared}}"
export SHARED AIGATE_SHARED="$SHARED"

# The aigate binary: $AIGATE or $AIGATE_BIN, else a debug build (before any network isolation:
# cargo may want the network).
e2e_build() {
  AIGATE="${AIGATE:-${AIGATE_BIN:-}}"
  if [ -z "$AIGATE" ]; then
    (cd "$REPO" && cargo build -q --bin aigate) || { echo "FAIL: cargo build"; exit 2; }
    AIGATE="${CARGO_TARGET_DIR:-$REPO/target}/debug/aigate"
  fi
  [ -x "$AIGATE" ] || { echo "FAIL: $AIGATE missing"; exit 2; }
  export AIGATE AIGATE_BIN="$AIGATE"
}

# BIN: the directory of the pinned real clients (installed with npm before any isolation).
e2e_clients() {
  BIN="${REALCLIENTS_BIN:-$(bash "$SHARED/realclients/install.sh")}" \
    || { echo "FAIL: cannot install the real clients"; exit 2; }
  export REALCLIENTS_BIN="$BIN"
  local c
  for c in codex claude opencode; do
    [ -x "$BIN/$c" ] || { echo "FAIL: $BIN/$c missing - run bash $SHARED/realclients/install.sh"; exit 2; }
  done
}

# GEMINI_BIN: the directory of the pinned Gemini CLI (tests/e2e/install_gemini.sh, before any
# isolation).
e2e_gemini() {
  GEMINI_BIN="${GEMINI_BIN:-$(bash "$E2E_DIR/install_gemini.sh")}" \
    || { echo "FAIL: cannot install Gemini CLI"; exit 2; }
  export GEMINI_BIN
  [ -x "$GEMINI_BIN/gemini" ] || { echo "FAIL: $GEMINI_BIN/gemini missing"; exit 2; }
}

# As root (and unless RC_NO_NETNS is set), re-exec the calling script ($0) in a private network
# namespace with only `lo` up; the re-executed script gets --in-netns as its first argument.
# Sets NETNOTE.
e2e_isolate() {
  if [ "${1:-}" = "--in-netns" ]; then
    ip link set lo up || { echo "FAIL: cannot bring up lo in netns"; exit 2; }
    NETNOTE="private netns (loopback only)"
    return 0
  fi
  if [ -z "${RC_NO_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null \
     && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    exec unshare -n -- bash "$0" --in-netns "$@"
  fi
  NETNOTE="host network (no netns)"
}

# Everything before a suite's own checks: the aigate binary (e2e_build), the real clients
# (e2e_clients), a private network namespace (e2e_isolate, which re-execs the calling script
# with the same arguments, so call this from its top level with "$@"), and a temp dir
# /tmp/PREFIX.XXXXXX (e2e_tmp). The suites take no arguments of their own.
e2e_setup() {
  local prefix=$1; shift
  e2e_build
  e2e_clients
  e2e_isolate "$@"
  e2e_tmp "$prefix"
}

# T: a fresh temp dir /tmp/PREFIX.XXXXXX; on exit every process in E2E_PIDS is stopped (the
# last started first) and T is removed unless KEEP is set.
E2E_PIDS=()
e2e_tmp() {
  T="$(mktemp -d "/tmp/$1.XXXXXX")"
  trap e2e_cleanup EXIT
}
e2e_cleanup() {
  local i pid
  for ((i = ${#E2E_PIDS[@]} - 1; i >= 0; i--)); do
    pid="${E2E_PIDS[i]}"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  done
  if [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "kept: $T"; fi
}

# The shared mock upstream on a free loopback port: LOG (its JSON-lines log), URL. Extra
# arguments go to the mock (`--tool-round`).
e2e_start_mock() {
  LOG="$T/mock.jsonl"; : > "$LOG"
  python3 "$SHARED/realclients/mock_upstream.py" "$@" --port 0 --port-file "$T/port" --log "$LOG" --max-seconds 900 \
    >"$T/mock.stderr" 2>&1 </dev/null &
  E2E_PIDS+=("$!")
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
  [ -s "$T/port" ] || { echo "FAIL: mock did not start"; cat "$T/mock.stderr"; exit 2; }
  URL="http://127.0.0.1:$(cat "$T/port")"
}

# A throw-away home with the client directories side by side: H CX CL XDG AH W, and BASE_ENV,
# the environment every aigate and client call starts from (all traffic through the mock).
e2e_flat_home() {
  H="$T/home"; CX="$T/codex"; CL="$T/claude"; XDG="$T/xdg"; AH="$T/aigate"; W="$T/work"
  mkdir -p "$H" "$CX" "$CL" "$XDG/opencode" "$W"
  BASE_ENV=(PATH=/usr/local/bin:/usr/bin:/bin TERM=xterm HOME="$H" CODEX_HOME="$CX" CLAUDE_CONFIG_DIR="$CL"
    XDG_CONFIG_HOME="$XDG" AIGATE_HOME="$AH"
    HTTPS_PROXY="$URL" HTTP_PROXY="$URL" https_proxy="$URL" http_proxy="$URL"
    NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost)
}

PASS=0; FAIL=0
ok()  { PASS=$((PASS+1)); echo "PASS: $1"; }
bad() { FAIL=$((FAIL+1)); echo "FAIL: $1"; [ -n "${2:-}" ] && [ -f "$2" ] && cat "$2" "$2.err" 2>/dev/null | sed 's/^/    | /' | tail -15; }
check() { local label=$1; shift; if "$@"; then ok "$label"; else bad "$label" "${OUT:-}"; fi; }

# Which APIs the mock saw KEY on (printed); succeeds only if on all of /responses, /messages
# and /chat/completions.
e2e_key_on_every_api() {
  python3 - "$LOG" "$1" <<'PY'
import json, sys
log, key = sys.argv[1], sys.argv[2]
paths = {}
for line in open(log):
    e = json.loads(line)
    h = {k.lower(): v for k, v in e["headers"].items()}
    if h.get("authorization") == f"Bearer {key}" or h.get("x-api-key") == key:
        for api in ("/responses", "/messages", "/chat/completions"):
            if e["path"].endswith(api):
                paths[api] = paths.get(api, 0) + 1
print(paths)
sys.exit(0 if len(paths) == 3 else 1)
PY
}

# Which foreign hosts the mock refused (the clients' own phone-home attempts).
e2e_report_foreign() {
  local refused
  refused=$(python3 - "$LOG" <<'PY'
import json, sys, collections
c = collections.Counter()
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["method"] == "CONNECT" or e.get("handled_as") == "foreign": c[e["path"] if e["method"] == "CONNECT" else e["host"]] += 1
print(", ".join(f"{h} x{n}" for h, n in c.items()) or "none")
PY
)
  echo "foreign hosts the mock refused: $refused"
}

# tool_round SINCE PATH_SUFFIX: did the mock (in --tool-round mode), since that log line,
# answer a tool call and then a tool result holding TOOL-RAN-42 on that path? Prints what it
# saw; rc 0 when both happened.
e2e_tool_round() {
  python3 - "$LOG" "$1" "$2" <<'PY'
import json, sys
log, since, suffix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen = []
for i, l in enumerate(open(log)):
    if i < since: continue
    e = json.loads(l)
    if e["method"] == "POST" and e["path"].endswith(suffix) and e.get("mode"):
        seen.append(f'{e["mode"]}:{e.get("mode_detail")}' if e.get("mode_detail") else e["mode"])
print("mock answers on *%s: %s" % (suffix, ", ".join(seen) or "none"))
call = next((k for k, s in enumerate(seen) if s.startswith("tool_call:")), None)
sys.exit(0 if call is not None and "tool_result:TOOL-RAN-42" in seen[call + 1:] else 1)
PY
}

# The closing line; the suite exits 0 only if every check passed.
e2e_finish() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" = 0 ]
}
