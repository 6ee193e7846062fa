#!/usr/bin/env bash
# End-to-end: the real Gemini CLI (tests/e2e/install_gemini.sh) through aigate, offline, against
# the shared mock (--tool-round: the first request with a shell tool gets a call to it, the one
# carrying its result gets "MOCK-OK TOOL-RESULT:<output>"). Checks:
#   - `aigate run gemini` through a Chat-only provider: a shell tool round (--yolo) prints
#     TOOL-RESULT:TOOL-RAN-42, with settings that select a Google login (the session gets its own
#     Gemini home) and with settings that already select the API key (environment only); the
#     user's settings.json stays byte-identical, what Gemini writes (history, projects.json)
#     lands in the real ~/.gemini, and no session home is left behind;
#   - `aigate run gemini` through a Messages-only, a Responses-only and a Gemini-API-only
#     provider (the last one passes through: the mock sees the provider key, never the token);
#   - Codex, Claude Code and OpenCode each complete a tool round through a Gemini-API-only provider;
#   - usage rows for Gemini name the provider and carry tokens;
#   - `aigate skill add` shows in `gemini skills list` (the shared ~/.agents/skills);
#   - `aigate mcp add --client gemini` shows in `gemini mcp list`, `mcp disable` as Blocked,
#     `mcp remove` gives the file back byte for byte;
#   - `use gateway --client gemini` + `aigate serve`: `gemini -p` answers through serve;
#     `use official` gives back settings.json and .env byte for byte.
#
#   bash tests/e2e/gemini_clients.sh     # exit 0 only if every check passed
#   KEEP=1 / RC_NO_NETNS=1 / AIGATE=... / SHARED=... / GEMINI_BIN=...   as in run_clients.sh
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_gemini
e2e_setup aigate-e2e-gemini "$@"
e2e_start_mock --tool-round
echo "mock upstream (tool-round): $URL   network: $NETNOTE   tmp: $T"
GEM="$GEMINI_BIN/gemini"
echo "versions: gemini=$(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$T" timeout 60 "$GEM" --version 2>/dev/null)"

e2e_flat_home
GD="$H/.gemini"; mkdir -p "$GD"
MOCK_KEY_VALUE="sk-mock-gemini-$(date +%s)"
BASE_ENV+=(MOCK_KEY="$MOCK_KEY_VALUE" GEMINI_CLI_TRUST_WORKSPACE=true)
aig() { env -i "${BASE_ENV[@]}" timeout 60 "$AIGATE" "$@" </dev/null; }
for api in chat messages responses; do
  aig provider add "only-$api" --base-url "$URL/v1" --api "$api" --key-env MOCK_KEY \
    --default-model mock-model >"$T/provider-$api.out" 2>&1 \
    || { echo "FAIL: aigate provider add only-$api"; cat "$T/provider-$api.out"; exit 2; }
done
aig provider add only-gemini --base-url "$URL/v1beta" --api gemini --key-env MOCK_KEY \
  --default-model mock-model >"$T/provider-gemini.out" 2>&1 \
  || { echo "FAIL: aigate provider add only-gemini"; cat "$T/provider-gemini.out"; exit 2; }

PROMPT="Run the shell command the test asks for, then report."
lines() { wc -l < "$LOG"; }
run_gemini() { # run_gemini OUT PROVIDER GEMINI_ARGS...
  local out=$1 provider=$2; shift 2
  ( cd "$W" && env -i "${BASE_ENV[@]}" timeout 120 "$AIGATE" run gemini --bin "$GEM" --provider "$provider" -- "$@" \
      >"$out" 2>"$out.err" </dev/null )
}
stream_path=":streamGenerateContent"
path_of() { case $1 in chat) echo /v1/chat/completions;; messages) echo /v1/messages;; responses) echo /v1/responses;; gemini) echo "$stream_path";; esac; }

# ---- run gemini, Google login in the settings: a session home --------------------------------
cat > "$GD/settings.json" <<'CFG'
{
  // the user's own settings: a Google login, telemetry off
  "security": { "auth": { "selectedType": "oauth-personal" } },
  "privacy": { "usageStatisticsEnabled": false }
}
CFG
cp "$GD/settings.json" "$T/settings.before"
n0=$(lines)
run_gemini "$T/g-chat.out" only-chat -p "$PROMPT" --yolo
rc=$?; r="$(e2e_tool_round "$n0" /v1/chat/completions)"; rrc=$?
if [ $rc = 0 ] && grep -q 'TOOL-RESULT:TOOL-RAN-42' "$T/g-chat.out" && [ $rrc = 0 ] && grep -q 'converted via' "$T/g-chat.out.err"; then
  ok "gemini (Gemini API) through a chat-only provider printed TOOL-RESULT:TOOL-RAN-42 ($r)"
else bad "gemini through a chat-only provider (rc=$rc; $r)" "$T/g-chat.out"; fi
if cmp -s "$T/settings.before" "$GD/settings.json"; then ok "run gemini left ~/.gemini/settings.json (Google login, comments) byte-identical"
else bad "run gemini changed ~/.gemini/settings.json"; diff "$T/settings.before" "$GD/settings.json" | sed 's/^/    | /'; fi
if [ -d "$GD/history" ] && [ -f "$GD/projects.json" ] && [ ! -L "$GD/projects.json" ]; then
  ok "what Gemini CLI wrote in the session (history/, projects.json) is in the real ~/.gemini"
else bad "Gemini CLI's own state did not reach ~/.gemini: $(ls -la "$GD" | tr '\n' ' ')"; fi
if [ -z "$(ls -A "$AH/sessions" 2>/dev/null)" ]; then ok "no session home left under AIGATE_HOME/sessions"
else bad "a session home was left: $(ls -A "$AH/sessions")"; fi

# ---- run gemini, settings already select the API key: environment only ------------------------
cat > "$GD/settings.json" <<'CFG'
{ "security": { "auth": { "selectedType": "gemini-api-key" } }, "privacy": { "usageStatisticsEnabled": false } }
CFG
cp "$GD/settings.json" "$T/settings.before"
for api in messages responses; do
  n0=$(lines)
  run_gemini "$T/g-$api.out" "only-$api" -p "$PROMPT" --yolo
  rc=$?; r="$(e2e_tool_round "$n0" "$(path_of "$api")")"; rrc=$?
  if [ $rc = 0 ] && grep -q 'TOOL-RESULT:TOOL-RAN-42' "$T/g-$api.out" && [ $rrc = 0 ]; then
    ok "gemini through a $api-only provider printed TOOL-RESULT:TOOL-RAN-42 ($r)"
  else bad "gemini through a $api-only provider (rc=$rc; $r)" "$T/g-$api.out"; fi
done
n0=$(lines)
run_gemini "$T/g-gemini.out" only-gemini -p "say hi"
rc=$?
if [ $rc = 0 ] && grep -q 'MOCK-OK' "$T/g-gemini.out" \
   && python3 - "$LOG" "$n0" "$MOCK_KEY_VALUE" <<'PY'
import json, sys
log, since, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ents = [json.loads(l) for i, l in enumerate(open(log)) if i >= since and json.loads(l)["method"] == "POST"]
hk = lambda e: {k.lower(): v for k, v in e["headers"].items()}.get("x-goog-api-key")
ok = ents and all(e["path"].startswith("/v1beta/models/mock-model:") and hk(e) == key and not e.get("query", "").count("key=") for e in ents)
sys.exit(0 if ok else 1)
PY
then ok "gemini through a Gemini-API-only provider passes through (model mapped in the path, the provider's key in x-goog-api-key)"
else bad "gemini pass-through (rc=$rc)" "$T/g-gemini.out"; fi
if cmp -s "$T/settings.before" "$GD/settings.json"; then ok "run gemini (API key selected) left settings.json byte-identical"
else bad "run gemini changed settings.json (API key selected)"; fi

# ---- Codex, Claude Code and OpenCode through a Gemini-API-only provider ----------------------------------
printf 'model = "mock-model"\n\n[features]\nplugins = false\n\n[analytics]\nenabled = false\n' > "$CX/config.toml"
printf '{ "env": { "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1" } }\n' > "$CL/settings.json"
n0=$(lines)
( cd "$W" && env -i "${BASE_ENV[@]}" timeout 120 "$AIGATE" run codex --bin "$BIN/codex" --provider only-gemini -- \
    exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox "$PROMPT" >"$T/codex.out" 2>"$T/codex.out.err" </dev/null )
rc=$?; r="$(e2e_tool_round "$n0" "$stream_path")"; rrc=$?
if [ $rc = 0 ] && grep -q 'TOOL-RESULT:TOOL-RAN-42' "$T/codex.out" && [ $rrc = 0 ]; then
  ok "codex (Responses) through a Gemini-API-only provider printed TOOL-RESULT:TOOL-RAN-42 ($r)"
else bad "codex through a Gemini-API-only provider (rc=$rc; $r)" "$T/codex.out"; fi
n0=$(lines)
( cd "$W" && env -i "${BASE_ENV[@]}" CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 timeout 120 "$AIGATE" run claude \
    --bin "$BIN/claude" --provider only-gemini -- -p --allowedTools Bash -- "$PROMPT" >"$T/claude.out" 2>"$T/claude.out.err" </dev/null )
rc=$?; r="$(e2e_tool_round "$n0" "$stream_path")"; rrc=$?
if [ $rc = 0 ] && grep -q 'TOOL-RESULT:TOOL-RAN-42' "$T/claude.out" && [ $rrc = 0 ]; then
  ok "claude (Messages) through a Gemini-API-only provider printed TOOL-RESULT:TOOL-RAN-42 ($r)"
else bad "claude through a Gemini-API-only provider (rc=$rc; $r)" "$T/claude.out"; fi

n0=$(lines)
printf '{\n  "$schema": "https://opencode.ai/config.json",\n  "autoupdate": false\n}\n' > "$XDG/opencode/opencode.json"
( cd "$W" && env -i "${BASE_ENV[@]}" OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1 timeout 120 "$AIGATE" run opencode \
    --bin "$BIN/opencode" --provider only-gemini --model mock-model -- run --auto "$PROMPT" >"$T/opencode.out" 2>"$T/opencode.out.err" </dev/null )
rc=$?; r="$(e2e_tool_round "$n0" "$stream_path")"; rrc=$?
if [ $rc = 0 ] && grep -q 'TOOL-RESULT:TOOL-RAN-42' "$T/opencode.out" && [ $rrc = 0 ]; then
  ok "opencode (Chat) through a Gemini-API-only provider printed TOOL-RESULT:TOOL-RAN-42 ($r)"
else bad "opencode through a Gemini-API-only provider (rc=$rc; $r)" "$T/opencode.out"; fi

# ---- usage rows -------------------------------------------------------------------------------
aig logs --json --limit 100 >"$T/logs.json" 2>"$T/logs.err"
if python3 - "$T/logs.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["requests"]
g = [r for r in rows if r.get("client") == "gemini" and r.get("api") == "gemini"]
good = [r for r in g if r.get("provider") == "only-chat" and (r.get("input_tokens") or 0) > 0 and not r.get("error_class")]
print(f"gemini rows: {len(g)}, through only-chat with tokens and no error: {len(good)}")
sys.exit(0 if good else 1)
PY
then ok "usage rows for Gemini CLI name the provider, carry tokens, no error class"
else bad "usage rows for Gemini CLI" "$T/logs.json"; fi

# ---- MCP --------------------------------------------------------------------------------------
cp "$GD/settings.json" "$T/mcp.before"
aig mcp add gsrv --client gemini -- /bin/true --aigate-e2e >"$T/mcp-add.out" 2>&1
( cd "$W" && env -i "${BASE_ENV[@]}" timeout 60 "$GEM" mcp list >"$T/gl.out" 2>"$T/gl.out.err" </dev/null )
if grep -q 'gsrv: /bin/true --aigate-e2e (stdio)' "$T/gl.out.err"; then ok "aigate mcp add --client gemini: gemini mcp list shows gsrv"
else bad "gemini mcp list after aigate mcp add" "$T/gl.out"; fi
aig mcp disable gsrv --client gemini >"$T/mcp-dis.out" 2>&1
( cd "$W" && env -i "${BASE_ENV[@]}" timeout 60 "$GEM" mcp list >"$T/gl2.out" 2>"$T/gl2.out.err" </dev/null )
if grep -q 'gsrv: .*Blocked\|gsrv: .*Disabled' "$T/gl2.out.err"; then ok "aigate mcp disable: gemini mcp list shows gsrv blocked"
else bad "gemini mcp list after aigate mcp disable" "$T/gl2.out"; fi
aig mcp enable gsrv --client gemini >/dev/null 2>&1
aig mcp remove gsrv --client gemini >"$T/mcp-rm.out" 2>&1
if cmp -s "$T/mcp.before" "$GD/settings.json"; then ok "mcp add/disable/enable/remove gave settings.json back byte for byte"
else bad "settings.json differs after the MCP round"; diff "$T/mcp.before" "$GD/settings.json" | sed 's/^/    | /'; fi

# ---- skills: the shared store (~/.agents/skills) is Gemini CLI's too -------------------------
aig skill add "$REPO/tests/fixtures/skills/pdf-tools" >"$T/skill.out" 2>&1
( cd "$W" && env -i "${BASE_ENV[@]}" timeout 60 "$GEM" skills list >"$T/gsk.out" 2>"$T/gsk.out.err" </dev/null )
if grep -q 'pdf-tools' "$T/gsk.out" && grep -q "$H/.agents/skills/pdf-tools" "$T/gsk.out"; then
  ok "aigate skill add: gemini skills list shows pdf-tools from ~/.agents/skills"
else bad "gemini skills list after aigate skill add" "$T/gsk.out"; fi
aig skill list --json >"$T/skill-list.json" 2>/dev/null
if grep -qi 'gemini' "$T/skill-list.json"; then ok "aigate skill list says Gemini CLI reads the shared skills"
else bad "aigate skill list does not mention Gemini CLI" "$T/skill-list.json"; fi

# ---- use gateway + serve, then use official ----------------------------------------------------
cat > "$GD/settings.json" <<'CFG'
{
  // back to a Google login: use gateway must select the API key, use official give this back
  "security": { "auth": { "selectedType": "oauth-personal" } },
  "privacy": { "usageStatisticsEnabled": false }
}
CFG
printf '# my own variables\r\nOTHER=1\r\n' > "$GD/.env"
cp "$GD/settings.json" "$T/gw-settings.before"; cp "$GD/.env" "$T/gw-env.before"
env -i "${BASE_ENV[@]}" "$AIGATE" serve --port 0 --provider only-chat >"$T/serve.out" 2>"$T/serve.out.err" </dev/null &
SERVE_PID=$!; E2E_PIDS+=("$SERVE_PID")
for _ in $(seq 200); do
  [ -s "$AH/serve.json" ] && grep -q "\"pid\": $SERVE_PID" "$AH/serve.json" && break
  kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.05
done
if aig use gateway --client gemini --model mock-model >"$T/use-gw.out" 2>"$T/use-gw.out.err"; then ok "aigate use gateway --client gemini"
else bad "aigate use gateway --client gemini" "$T/use-gw.out"; fi
n0=$(lines)
( cd "$W" && env -i "${BASE_ENV[@]}" timeout 120 "$GEM" -p "$PROMPT" --yolo >"$T/gw.out" 2>"$T/gw.out.err" </dev/null )
rc=$?; r="$(e2e_tool_round "$n0" /v1/chat/completions)"; rrc=$?
if [ $rc = 0 ] && grep -q 'TOOL-RESULT:TOOL-RAN-42' "$T/gw.out" && [ $rrc = 0 ]; then
  ok "gemini after use gateway answers through aigate serve with a tool round ($r)"
else bad "gemini through serve (rc=$rc; $r)" "$T/gw.out"; fi
modes="$(aig status --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print([c.get("mode") for c in d.get("clients", []) if c.get("client") == "gemini"])' 2>/dev/null)"
if grep -q gateway <<<"$modes"; then ok "status says gemini is in gateway mode ($modes)"; else bad "status for gemini: $modes"; fi
if aig use official --client gemini >"$T/use-off.out" 2>"$T/use-off.out.err" \
   && cmp -s "$T/gw-settings.before" "$GD/settings.json" && cmp -s "$T/gw-env.before" "$GD/.env"; then
  ok "use official gave back settings.json and .env (CRLF) byte for byte"
else bad "use official --client gemini"; diff "$T/gw-settings.before" "$GD/settings.json" | sed 's/^/    | /'; diff "$T/gw-env.before" "$GD/.env" | sed 's/^/    | /'; cat "$T/use-off.out.err"; fi

e2e_report_foreign
e2e_finish
