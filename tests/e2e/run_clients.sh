#!/usr/bin/env bash
# End-to-end: the real Codex CLI, Claude Code and OpenCode launched through `aigate run`,
# offline, against the shared mock upstream registered as an aigate provider.
#
#   bash tests/e2e/run_clients.sh          # exit 0 only if every check passed
#   KEEP=1 bash tests/e2e/run_clients.sh   # keep the temp dir (mock log, outputs)
#   RC_NO_NETNS=1 ...                      # do not wrap in a private network namespace
#   AIGATE=/path/to/aigate ...             # use this binary (default: cargo build, debug)
#   SHARED=/path/to/shared ...             # default: $(dirname repo)/shared
#
# Modelled on $SHARED/realclients/run_all.sh: as root it re-execs itself under `unshare -n`
# with only `lo` up; every client call is `env -i ... timeout 60 ... </dev/null` in a
# throw-away home; HTTPS_PROXY points at the mock, which refuses foreign hosts.
#
# Checks, each for a chain of just the mock and for a chain with a dead provider first:
#   - each client prints MOCK-OK through `aigate run`;
#   - the mock saw the provider key (`Bearer $MOCK_KEY`) and never a session token
#     (each agent is started through a shim that records $AIGATE_TOKEN, then execs it);
#   - the seeded client files are byte-identical afterwards (sha256);
#   - with `--provider official` (official upstreams pointed at the mock through
#     AIGATE_OFFICIAL_*_URL), Codex's auth.json key and Claude's ANTHROPIC_API_KEY pass through.
# The MOCK-OK checks need the real proxy (the stub serves only /health).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup aigate-e2e "$@"

# ---- mock upstream ------------------------------------------------------------
e2e_start_mock
# A loopback port with nothing listening: the failing provider. The port stays bound (without
# listen, connections to it are refused) for the whole run, so that no listener of aigate's
# can be given it: a port freed at once may come back as a session's own port, and aigate
# then rightly refuses the chain as a loop.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(3600)' "$T/dead-port" </dev/null >/dev/null 2>&1 &
E2E_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$T/dead-port" ] && break; sleep 0.05; done
DEAD_PORT="$(cat "$T/dead-port")"
echo "mock upstream: $URL   dead provider port: $DEAD_PORT   network: $NETNOTE   tmp: $T"
echo "aigate: $AIGATE ($("$AIGATE" --version 2>/dev/null))"

# ---- the throw-away home and its seeded client files ----------------------------
e2e_flat_home
mkdir -p "$T/shim"
cat > "$CX/config.toml" <<'EOF'
# seeded by run_clients.sh; aigate run must leave this file alone
model = "mock-model"

[features]
plugins = false

[analytics]
enabled = false
EOF
cat > "$CL/settings.json" <<'EOF'
{
    "env": { "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1" },
    "permissions": { "allow": [] }
}
EOF
cat > "$XDG/opencode/opencode.json" <<'EOF'
{
  "$schema": "https://opencode.ai/config.json",
  "autoupdate": false
}
EOF
# An API-key login for Codex's `official` link (read only; never written).
printf '{"OPENAI_API_KEY":"sk-codex-login-e2e"}' > "$CX/auth.json"
CLIENT_FILES=("$CX/config.toml" "$CX/auth.json" "$CL/settings.json" "$XDG/opencode/opencode.json")
sha256sum "${CLIENT_FILES[@]}" > "$T/files.before"

MOCK_KEY_VALUE="sk-mock-e2e-$(date +%s)"
BASE_ENV+=(MOCK_KEY="$MOCK_KEY_VALUE" AIGATE_OFFICIAL_OPENAI_URL="$URL/v1" AIGATE_OFFICIAL_ANTHROPIC_URL="$URL")
aig() { env -i "${BASE_ENV[@]}" "$AIGATE" "$@"; }

# ---- register the providers ---------------------------------------------------------
register() { # register NAME BASE_URL PRIORITY
  if aig provider add "$1" --base-url "$2" --api responses --api chat --api messages \
       --key-env MOCK_KEY --default-model mock-model --priority "$3" >"$T/provider-$1.out" 2>&1 </dev/null; then
    return 0
  fi
  echo "FAIL: aigate provider add $1"; cat "$T/provider-$1.out"; return 1
}
register mock "$URL/v1" 20 && register dead "http://127.0.0.1:$DEAD_PORT/v1" 10 \
  || { echo "FAIL: cannot register the providers"; exit 2; }

# ---- shims: record each session's token, then exec the real client ---------------------
for c in codex claude opencode; do
  printf '#!/bin/sh\nprintf "%%s\\n" "$AIGATE_TOKEN" >> "%s"\nexec "%s" "$@"\n' "$T/tokens" "$BIN/$c" > "$T/shim/$c"
  chmod +x "$T/shim/$c"
done
: > "$T/tokens"

run_client() { # run_client OUT CLIENT EXTRA_ENV... -- AIGATE_RUN_ARGS...
  local out=$1 client=$2; shift 2; local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  ( cd "$W" && env -i "${BASE_ENV[@]}" "${envs[@]}" timeout 60 \
      "$AIGATE" run "$client" --bin "$T/shim/$client" "$@" >"$out" 2>"$out.err" </dev/null )
}

for chain in "mock" "dead mock"; do
  label="chain [${chain}]"
  providers=(); for p in $chain; do providers+=(--provider "$p"); done
  tag="${chain// /-}"

  run_client "$T/codex-$tag.out" codex -- "${providers[@]}" -- \
    -c features.plugins=false -c analytics.enabled=false exec --skip-git-repo-check "say hi"
  rc=$?
  if [ $rc = 0 ] && grep -qx 'MOCK-OK' "$T/codex-$tag.out"; then ok "codex through aigate run, $label"
  else bad "codex through aigate run, $label (rc=$rc)" "$T/codex-$tag.out"; fi

  run_client "$T/claude-$tag.out" claude CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 -- "${providers[@]}" -- -p "say hi"
  rc=$?
  if [ $rc = 0 ] && grep -qx 'MOCK-OK' "$T/claude-$tag.out"; then ok "claude through aigate run, $label"
  else bad "claude through aigate run, $label (rc=$rc)" "$T/claude-$tag.out"; fi

  run_client "$T/opencode-$tag.out" opencode OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1 -- \
    "${providers[@]}" --model mock-model -- run "say hi"
  rc=$?
  if [ $rc = 0 ] && grep -q 'MOCK-OK' "$T/opencode-$tag.out"; then ok "opencode through aigate run, $label"
  else bad "opencode through aigate run, $label (rc=$rc)" "$T/opencode-$tag.out"; fi
done

# ---- the `official` link: the agent's own login passes through, aigate's token does not ----
# (official upstreams point at the mock through AIGATE_OFFICIAL_*_URL)
n0=$(wc -l < "$LOG")
run_client "$T/codex-official.out" codex -- --provider official -- \
  -c features.plugins=false -c analytics.enabled=false exec --skip-git-repo-check "say hi"
rc=$?
if [ $rc = 0 ] && grep -qx 'MOCK-OK' "$T/codex-official.out" \
   && tail -n +$((n0+1)) "$LOG" | grep -q '"Bearer sk-codex-login-e2e"'; then
  ok "codex --provider official: the login's key reached the official upstream"
else bad "codex --provider official (rc=$rc)" "$T/codex-official.out"; fi
n0=$(wc -l < "$LOG")
run_client "$T/claude-official.out" claude CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 ANTHROPIC_API_KEY=sk-ant-login-e2e -- \
  --provider official -- -p "say hi"
rc=$?
if [ $rc = 0 ] && grep -qx 'MOCK-OK' "$T/claude-official.out" \
   && tail -n +$((n0+1)) "$LOG" | grep -q '"sk-ant-login-e2e"'; then
  ok "claude --provider official: the login's key reached the official upstream"
else bad "claude --provider official (rc=$rc)" "$T/claude-official.out"; fi

# ---- what the mock saw ---------------------------------------------------------------------
sessions=$(grep -c . "$T/tokens")
if [ "$sessions" = 8 ] && [ "$(sort -u "$T/tokens" | grep -c .)" = 8 ]; then
  ok "each of the 8 sessions had its own AIGATE_TOKEN in the agent's env"
else bad "expected 8 distinct session tokens, got $sessions"; fi

if e2e_key_on_every_api "$MOCK_KEY_VALUE" > "$T/keycheck" 2>&1; then
  ok "the mock saw the provider key on /responses, /messages and /chat/completions: $(cat "$T/keycheck")"
else bad "the provider key was not seen on every API: $(cat "$T/keycheck")"; fi

leaked=0
while read -r token; do
  [ -n "$token" ] || continue
  if grep -qF "$token" "$LOG"; then leaked=$((leaked+1)); fi
done < "$T/tokens"
if [ -s "$T/tokens" ] && [ $leaked = 0 ]; then ok "no session token ever reached the upstream"
else bad "session tokens in the mock log: $leaked (or no token recorded)"; fi

if sha256sum -c --quiet "$T/files.before"; then ok "the seeded client files are byte-identical"
else bad "a client file changed"; fi

e2e_report_foreign
e2e_finish
