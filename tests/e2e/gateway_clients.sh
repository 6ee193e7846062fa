#!/usr/bin/env bash
# End-to-end: the real Codex CLI, Claude Code and OpenCode switched with `aigate use gateway`
# answer through `aigate serve` (in front of the shared mock upstream, registered as an
# aigate provider); `aigate use official` then gives back every client file byte for byte.
#
#   bash tests/e2e/gateway_clients.sh          # exit 0 only if every check passed
#   KEEP=1 bash tests/e2e/gateway_clients.sh   # keep the temp dir (mock log, outputs)
#   RC_NO_NETNS=1 ...                          # do not wrap in a private network namespace
#   AIGATE=/path/to/aigate ...                 # use this binary (default: cargo build, debug)
#   SHARED=/path/to/shared ...                 # default: $(dirname repo)/shared or $AIGATE_SHARED
#
# Modelled on $SHARED/realclients/run_all.sh: as root it re-execs itself under `unshare -n`
# with only `lo` up; every client call is `env -i ... timeout 60 ... </dev/null` in a
# throw-away home; HTTPS_PROXY points at the mock, which refuses foreign hosts.
#
# Checks:
#   - `use gateway` writes the three files (0600) and `status --json` says gateway + health ok;
#   - Codex `exec`, Claude Code `-p` and OpenCode `run` each print MOCK-OK through the gateway;
#   - the mock saw the provider key and never the gateway token;
#   - a second `use gateway` changes nothing;
#   - `use official` gives back each seeded file byte for byte (sha256) with its mode.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup aigate-gw-e2e "$@"

# ---- mock upstream ------------------------------------------------------------
e2e_start_mock
echo "mock upstream: $URL   network: $NETNOTE   tmp: $T"
echo "aigate: $AIGATE ($("$AIGATE" --version 2>/dev/null))"

# ---- the throw-away home and its seeded client files ----------------------------
e2e_flat_home
cat > "$CX/config.toml" <<'EOF'
# seeded by gateway_clients.sh: aigate use official must give this back byte for byte
model = "gpt-5-codex"   # the user's own model

[features]
plugins = false

[analytics]
enabled = false

[mcp_servers.seeded]
command = "/bin/true"
args = ["--seeded"]
enabled = false
EOF
cat > "$CL/settings.json" <<'EOF'
{
    "env": {
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"
    },
    "hooks": {
        "Stop": [
            { "hooks": [ { "type": "command", "command": "true" } ] }
        ]
    },
    "permissions": { "allow": [] }
}
EOF
cat > "$XDG/opencode/opencode.jsonc" <<'EOF'
// seeded by gateway_clients.sh (JSONC: comments and trailing commas)
{
  "autoupdate": false, // no update checks offline
  /* a block comment */
  "share": "disabled",
}
EOF
chmod 644 "$CX/config.toml" "$CL/settings.json" "$XDG/opencode/opencode.jsonc"
CLIENT_FILES=("$CX/config.toml" "$CL/settings.json" "$XDG/opencode/opencode.jsonc")
sha256sum "${CLIENT_FILES[@]}" > "$T/files.before"
stat -c '%a %n' "${CLIENT_FILES[@]}" > "$T/modes.before"

MOCK_KEY_VALUE="sk-mock-gw-e2e-$(date +%s)"
BASE_ENV+=(MOCK_KEY="$MOCK_KEY_VALUE")
aig() { env -i "${BASE_ENV[@]}" timeout 60 "$AIGATE" "$@" </dev/null; }

# ---- provider and gateway ---------------------------------------------------------------
if aig provider add mock --base-url "$URL/v1" --api responses --api chat --api messages \
     --key-env MOCK_KEY --default-model mock-model >"$T/provider.out" 2>&1; then
  ok "aigate provider add mock"
else
  bad "aigate provider add mock (needs branch proxy)" "$T/provider.out"; echo "$PASS passed, $FAIL failed"; exit 1
fi

env -i "${BASE_ENV[@]}" "$AIGATE" serve --port 0 --provider mock >"$T/serve.out" 2>"$T/serve.out.err" </dev/null &
SERVE_PID=$!
E2E_PIDS+=("$SERVE_PID")
for _ in $(seq 200); do
  [ -s "$AH/serve.json" ] && grep -q "\"pid\": $SERVE_PID" "$AH/serve.json" && break
  kill -0 "$SERVE_PID" 2>/dev/null || break
  sleep 0.05
done
if grep -q "\"pid\": $SERVE_PID" "$AH/serve.json" 2>/dev/null; then ok "aigate serve is up ($(grep -o '"address": "[^"]*"' "$AH/serve.json"))"
else bad "aigate serve did not start" "$T/serve.out"; echo "$PASS passed, $FAIL failed"; exit 1; fi

# ---- use gateway -------------------------------------------------------------------------
if aig use gateway --model mock-model >"$T/use-gateway.out" 2>"$T/use-gateway.out.err"; then ok "aigate use gateway --model mock-model"
else bad "aigate use gateway" "$T/use-gateway.out"; fi
TOKEN="$(tr -d '\n' < "$AH/serve.token")"
modes=$(stat -c '%a' "${CLIENT_FILES[@]}" | sort -u | tr '\n' ' ')
if [ "$modes" = "600 " ]; then ok "the switched files are 0600 while they hold the token"
else bad "modes after use gateway: $modes"; fi
if grep -qF "$TOKEN" "$T/use-gateway.out" "$T/use-gateway.out.err"; then bad "use gateway printed the token"
else ok "use gateway printed no token"; fi

aig status --json > "$T/status.json" 2>"$T/status.json.err"
if python3 - "$T/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
modes = {c["client"]: c["mode"] for c in s["clients"]}
# Gemini CLI is not set up in this home: `use gateway` (no --client) leaves it unmanaged.
assert modes == {"codex": "gateway", "claude": "gateway", "opencode": "gateway", "gemini": "unmanaged"}, modes
assert s["gateway"]["health"]["state"] == "ok", s["gateway"]
assert all(not c["drift"] for c in s["clients"])
PY
then ok "status --json: all three in gateway mode, gateway answers /health"
else bad "status --json" "$T/status.json"; fi

cp "$CX/config.toml" "$T/codex.switched"; cp "$CL/settings.json" "$T/claude.switched"

# ---- the real clients through the gateway --------------------------------------------------
client() { # client OUT EXTRA_ENV... -- ARGV...
  local out=$1; shift; local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  ( cd "$W" && env -i "${BASE_ENV[@]}" "${envs[@]}" timeout 60 "$@" >"$out" 2>"$out.err" </dev/null )
}
client "$T/codex.out" -- "$BIN/codex" exec --skip-git-repo-check "say hi"; rc=$?
if [ $rc = 0 ] && grep -qx 'MOCK-OK' "$T/codex.out"; then ok "codex exec answers through the gateway"
else bad "codex exec through the gateway (rc=$rc)" "$T/codex.out"; fi

client "$T/claude.out" -- "$BIN/claude" -p "say hi"; rc=$?
if [ $rc = 0 ] && grep -qx 'MOCK-OK' "$T/claude.out"; then ok "claude -p answers through the gateway"
else bad "claude -p through the gateway (rc=$rc)" "$T/claude.out"; fi

client "$T/opencode.out" OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1 -- "$BIN/opencode" run "say hi"; rc=$?
if [ $rc = 0 ] && grep -q 'MOCK-OK' "$T/opencode.out"; then ok "opencode run answers through the gateway"
else bad "opencode run through the gateway (rc=$rc)" "$T/opencode.out"; fi

e2e_key_on_every_api "$MOCK_KEY_VALUE" > "$T/keycheck" 2>&1; key_rc=$?
leaked=$(grep -cF "$TOKEN" "$LOG")
echo "gateway token seen: $leaked" >> "$T/keycheck"
if [ $key_rc = 0 ] && [ "$leaked" = 0 ]; then
  ok "the mock saw the provider key on every API and never the gateway token: $(cat "$T/keycheck")"
else bad "provider key / gateway token check: $(cat "$T/keycheck")"; fi

# ---- idempotence, then back to official ------------------------------------------------------
aig use gateway --model mock-model >/dev/null 2>"$T/again.err"
if cmp -s "$CX/config.toml" "$T/codex.switched" && cmp -s "$CL/settings.json" "$T/claude.switched" \
   && grep -q "nothing changed" "$T/again.err"; then ok "a second use gateway changes nothing"
else bad "second use gateway" "$T/again.err"; fi

if aig use official >"$T/official.out" 2>"$T/official.out.err"; then ok "aigate use official"
else bad "aigate use official" "$T/official.out"; fi
if sha256sum -c --quiet "$T/files.before"; then ok "every client file is byte-identical to before (sha256)"
else bad "a client file differs after use official"; for f in "${CLIENT_FILES[@]}"; do echo "---- $f"; cat "$f"; done; fi
if stat -c '%a %n' "${CLIENT_FILES[@]}" | cmp -s - "$T/modes.before"; then ok "file modes are back (0644)"
else bad "modes after use official: $(stat -c '%a %n' "${CLIENT_FILES[@]}" | tr '\n' ' ')"; fi

e2e_report_foreign
e2e_finish
