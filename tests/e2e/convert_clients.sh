#!/usr/bin/env bash
# End-to-end: protocol conversion with the real clients. Each client runs ONE shell tool
# round through `aigate run` against the shared mock (--tool-round) registered as a provider
# that speaks only ONE API the client does not speak:
#   Codex (Responses)       via Chat Completions, via Messages
#   Claude Code (Messages)  via Chat Completions, via Responses
#   OpenCode (Chat)         via Messages, via Responses
# The mock answers the first request with a call to the client's shell tool
# (`echo TOOL-RAN-$((6*7))`) and the request carrying its result with
# "MOCK-OK TOOL-RESULT:<output>": TOOL-RESULT:TOOL-RAN-42 in the client's final answer means
# the shell really ran the command and its result made the round trip through conversion.
# Also: each client's usage rows name the provider, carry tokens and no error class.
#
#   bash tests/e2e/convert_clients.sh        # exit 0 only if every check passed
#   KEEP=1 / RC_NO_NETNS=1 / AIGATE=... / SHARED=...   as in run_clients.sh
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup aigate-e2e-convert "$@"
e2e_start_mock --tool-round
echo "mock upstream (tool-round): $URL   network: $NETNOTE   tmp: $T"

e2e_flat_home
cat > "$CX/config.toml" <<'CFG'
model = "mock-model"

[features]
plugins = false

[analytics]
enabled = false
CFG
cat > "$CL/settings.json" <<'CFG'
{ "env": { "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1" } }
CFG
printf '{\n  "$schema": "https://opencode.ai/config.json",\n  "autoupdate": false\n}\n' > "$XDG/opencode/opencode.json"
CLIENT_FILES=("$CX/config.toml" "$CL/settings.json" "$XDG/opencode/opencode.json")
sha256sum "${CLIENT_FILES[@]}" > "$T/files.before"

BASE_ENV+=(MOCK_KEY="sk-mock-convert-$(date +%s)")
aig() { env -i "${BASE_ENV[@]}" "$AIGATE" "$@"; }
for api in chat messages responses; do
  aig provider add "only-$api" --base-url "$URL/v1" --api "$api" --key-env MOCK_KEY \
    --default-model mock-model >"$T/provider-$api.out" 2>&1 </dev/null \
    || { echo "FAIL: aigate provider add only-$api"; cat "$T/provider-$api.out"; exit 2; }
done

PROMPT="Run the shell command the test asks for, then report."
run_client() { # run_client OUT CLIENT PROVIDER EXTRA_ENV... -- CLIENT_ARGS...
  local out=$1 client=$2 provider=$3; shift 3; local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  ( cd "$W" && env -i "${BASE_ENV[@]}" "${envs[@]}" timeout 120 \
      "$AIGATE" run "$client" --bin "$BIN/$client" --provider "$provider" "$@" >"$out" 2>"$out.err" </dev/null )
}
path_of() { case $1 in chat) echo /v1/chat/completions;; messages) echo /v1/messages;; responses) echo /v1/responses;; esac; }
round_check() { # round_check LABEL RC OUT SINCE API
  local label=$1 rc=$2 out=$3 since=$4 api=$5 r rrc
  r="$(e2e_tool_round "$since" "$(path_of "$api")")"; rrc=$?
  if [ "$rc" = 0 ] && grep -q 'TOOL-RESULT:TOOL-RAN-42' "$out" && [ $rrc = 0 ] \
     && grep -q "converted via" "$out.err"; then
    ok "$label printed TOOL-RESULT:TOOL-RAN-42 ($r)"
  else bad "$label (rc=$rc; $r)" "$out"; fi
}

for api in chat messages; do
  n0=$(wc -l < "$LOG")
  run_client "$T/codex-$api.out" codex "only-$api" -- -- \
    exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox "$PROMPT"
  round_check "codex (Responses) through a $api-only provider" $? "$T/codex-$api.out" "$n0" "$api"
done
for api in chat responses; do
  n0=$(wc -l < "$LOG")
  run_client "$T/claude-$api.out" claude "only-$api" CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 -- -- \
    -p --allowedTools Bash -- "$PROMPT"
  round_check "claude (Messages) through a $api-only provider" $? "$T/claude-$api.out" "$n0" "$api"
done
for api in messages responses; do
  n0=$(wc -l < "$LOG")
  run_client "$T/opencode-$api.out" opencode "only-$api" OPENCODE_DISABLE_MODELS_FETCH=1 \
    OPENCODE_DISABLE_AUTOUPDATE=1 -- --model mock-model -- run --auto "$PROMPT"
  round_check "opencode (Chat) through a $api-only provider" $? "$T/opencode-$api.out" "$n0" "$api"
done

# ---- images: each client sends one, converted into the provider's own image form ----------
# A second mock, in plain mode (answers MOCK-OK; no tool call), for the image requests.
: > "$T/mock2.jsonl"
python3 "$SHARED/realclients/mock_upstream.py" --port 0 --port-file "$T/port2" --log "$T/mock2.jsonl" \
  --max-seconds 900 >"$T/mock2.stderr" 2>&1 </dev/null &
E2E_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$T/port2" ] && break; sleep 0.1; done
URL2="http://127.0.0.1:$(cat "$T/port2")"
for api in chat messages responses; do
  aig provider add "img-$api" --base-url "$URL2/v1" --api "$api" --key-env MOCK_KEY \
    --default-model mock-model >"$T/provider-img-$api.out" 2>&1 </dev/null \
    || { echo "FAIL: aigate provider add img-$api"; cat "$T/provider-img-$api.out"; exit 2; }
done
python3 - "$W/pixel.png" <<'PY'
import base64, sys
open(sys.argv[1], "wb").write(base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="))
PY
# image_sent SINCE PATH NEEDLE: a request on PATH since that log line carries NEEDLE (the
# provider's own image form) and the PNG's base64.
image_sent() {
  python3 - "$T/mock2.jsonl" "$1" "$2" "$3" <<'PY'
import json, sys
log, since, path, needle = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for i, line in enumerate(open(log)):
    if i < since: continue
    e = json.loads(line)
    body = json.dumps(e.get("body"))
    if e["path"].endswith(path) and needle in body and "iVBORw0KGgo" in body:
        sys.exit(0)
sys.exit(1)
PY
}
img_check() { # img_check LABEL RC OUT SINCE PATH NEEDLE
  if [ "$2" = 0 ] && grep -q 'MOCK-OK' "$3" && image_sent "$4" "$5" "$6"; then ok "$1"
  else bad "$1 (rc=$2)" "$3"; fi
}
lines2() { wc -l < "$T/mock2.jsonl"; }

n0=$(lines2)
( cd "$W" && env -i "${BASE_ENV[@]}" timeout 120 "$AIGATE" run codex --bin "$BIN/codex" --provider img-chat -- \
    exec --skip-git-repo-check "What is in this image?" -i "$W/pixel.png" >"$T/codex-img.out" 2>"$T/codex-img.out.err" </dev/null )
img_check "codex sends an image through a chat-only provider (image_url data URL), streamed answer" $? \
  "$T/codex-img.out" "$n0" /v1/chat/completions '"image_url"'

n0=$(lines2)
printf '%s\n' '{"type":"user","message":{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="}},{"type":"text","text":"What is in this image?"}]}}' > "$T/claude-img.in"
( cd "$W" && env -i "${BASE_ENV[@]}" CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 timeout 120 "$AIGATE" run claude \
    --bin "$BIN/claude" --provider img-responses -- -p --input-format stream-json --output-format stream-json --verbose \
    >"$T/claude-img.out" 2>"$T/claude-img.out.err" <"$T/claude-img.in" )
img_check "claude sends an image through a responses-only provider (input_image), streamed answer" $? \
  "$T/claude-img.out" "$n0" /v1/responses '"input_image"'

n0=$(lines2)
( cd "$W" && env -i "${BASE_ENV[@]}" OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1 timeout 120 \
    "$AIGATE" run opencode --bin "$BIN/opencode" --provider img-messages --model mock-model -- \
    run "What is in this image?" -f "$W/pixel.png" >"$T/opencode-img.out" 2>"$T/opencode-img.out.err" </dev/null )
img_check "opencode sends an image through a messages-only provider (base64 image block), streamed answer" $? \
  "$T/opencode-img.out" "$n0" /v1/messages '"media_type": "image/png"'

# ---- what aigate recorded: every converted request, with tokens and no error ----------------
aig logs --json --limit 200 > "$T/logs.json" 2>"$T/logs.err"
if python3 - "$T/logs.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["requests"]
model_rows = [r for r in rows if (r.get("provider") or "").startswith(("only-", "img-"))]
bad = [r for r in model_rows if r.get("error_class") or not r.get("output_tokens")]
print(f"{len(model_rows)} converted rows, {len(bad)} with an error class or no tokens")
for r in bad[:5]: print("   ", r)
sys.exit(0 if model_rows and not bad else 1)
PY
then ok "usage rows of converted requests carry tokens and no error class"
else bad "usage rows of converted requests" "$T/logs.json"; fi

if sha256sum -c --quiet "$T/files.before"; then ok "client files are byte-identical afterwards"
else bad "client files changed"; fi
e2e_report_foreign
e2e_finish
