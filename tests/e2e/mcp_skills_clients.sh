#!/usr/bin/env bash
# Real-client acceptance test for `aigate mcp` and `aigate skill` (issue 6): the real Codex
# CLI, Claude Code and OpenCode must see what aigate added, stop seeing what it removed, and
# the client files must be byte-identical (sha256) after add + remove.
#
#   bash tests/e2e/mcp_skills_clients.sh        # exit 0 only if every check passed
#   KEEP=1 bash tests/e2e/mcp_skills_clients.sh # keep the temp dir (client outputs)
#   AIGATE_SHARED=/path/to/shared  AIGATE_BIN=/path/to/aigate  RC_NO_NETNS=1
#
# Modelled on shared/realclients/run_all.sh: every client call is `env -i ... timeout 60 ...
# </dev/null` in a throw-away home; as root the whole run re-execs itself in a private
# network namespace with only loopback up. Claude Code's stream-json check needs one model
# call, answered by shared/realclients/mock_upstream.py (ANTHROPIC_BASE_URL points at it).
#
# Claude Code rewrites `.claude.json` every time it starts, so the clients are run against
# a copy (`cp -a`) of the throw-away home taken right after aigate's change; aigate's own
# add/remove round trip is checked on the original files, which nothing else touches.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup aigate-e2e-mcp "$@"

e2e_start_mock
echo "mock upstream: $URL   network: $NETNOTE   tmp: $T"

# ---- the throw-away home -------------------------------------------------------
H="$T/home"; W="$T/work"
mkdir -p "$H/.codex" "$H/.claude" "$H/.config/opencode" "$W"
cat > "$H/.codex/config.toml" <<TOML
# written by mcp_skills_clients.sh -- comments must survive
model = "mock-model"
model_provider = "mock"

[features]
plugins = false          # no github/chatgpt traffic at startup

[analytics]
enabled = false

[model_providers.mock]
name = "Mock"
base_url = "$URL/v1"
env_key = "MOCK_API_KEY"
wire_api = "responses"

[mcp_servers.keep-me]
command = "/bin/true"
args = ["--keep"]
TOML
cat > "$H/.claude/.claude.json" <<'JSON'
{
  "numStartups": 3,
  "hasCompletedOnboarding": true,
  "mcpServers": {
    "keep-me": {
      "type": "stdio",
      "command": "/bin/true",
      "args": [
        "--keep"
      ],
      "env": {}
    }
  }
}
JSON
cat > "$H/.config/opencode/opencode.json" <<'JSON'
// written by mcp_skills_clients.sh -- comments must survive
{
  "$schema": "https://opencode.ai/config.json",
  "mcp": {
    "keep-me": { "type": "local", "command": ["/bin/true", "--keep"], "enabled": true },
  },
}
JSON
FILES=("$H/.codex/config.toml" "$H/.claude/.claude.json" "$H/.config/opencode/opencode.json")
sums() { sha256sum "${FILES[@]}" | awk '{print $1}'; }
BEFORE="$(sums)"

aigate() { (cd "$W" && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$H" CODEX_HOME="$H/.codex" CLAUDE_CONFIG_DIR="$H/.claude" \
  XDG_CONFIG_HOME="$H/.config" AIGATE_HOME="$H/.aigate" timeout 60 "$AIGATE" "$@" </dev/null); }

# A copy of the home for the clients to run in; prints its path.
probe_home() { local P="$T/$1"; rm -rf "$P"; cp -a "$H" "$P"; echo "$P"; }
run() { # run <outfile> <home> -- <cmd...>
  local out=$1 home=$2; shift 3
  ( cd "$W" && env -i PATH=/usr/local/bin:/usr/bin:/bin TERM=xterm HOME="$home" CODEX_HOME="$home/.codex" \
      CLAUDE_CONFIG_DIR="$home/.claude" XDG_CONFIG_HOME="$home/.config" MOCK_API_KEY=sk-mock \
      ANTHROPIC_BASE_URL="$URL" ANTHROPIC_API_KEY=sk-ant-mock CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
      OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1 NO_PROXY=127.0.0.1,localhost \
      timeout 60 "$@" >"$out" 2>"$out.err" </dev/null )
}

# ---- aigate adds one stdio and one http server, and a skill ----------------------
aigate mcp add e2e-stdio --all --env E2E_MODE=test -- /bin/true --e2e >"$T/add1.out" 2>&1 \
  && aigate mcp add e2e-http --all --url http://127.0.0.1:9/mcp --header 'Authorization: Bearer ${E2E_TOKEN}' >"$T/add2.out" 2>&1 \
  && ok "aigate mcp add (stdio + http) to codex, claude and opencode" || { bad "aigate mcp add" "$T/add1.out"; cat "$T/add2.out"; }
aigate skill add "$REPO/tests/fixtures/skills/pdf-tools" >"$T/skill.out" 2>&1 \
  && ok "aigate skill add pdf-tools" || bad "aigate skill add" "$T/skill.out"
[ "$(sums)" != "$BEFORE" ] && ok "the three client files changed" || bad "client files did not change"

P="$(probe_home probe-added)"
OUT="$T/codex-mcp.json"; run "$OUT" "$P" -- "$BIN/codex" mcp list --json
check "codex mcp list --json: e2e-stdio is stdio, e2e-http is streamable_http with bearer_token_env_var" python3 - "$OUT" <<'PY'
import json, sys
servers = {s["name"]: s for s in json.load(open(sys.argv[1]))}
stdio, http = servers["e2e-stdio"]["transport"], servers["e2e-http"]["transport"]
assert stdio["type"] == "stdio" and stdio["command"] == "/bin/true" and stdio["args"] == ["--e2e"], stdio
assert stdio["env"] == {"E2E_MODE": "test"}, stdio
assert http["type"] == "streamable_http" and http["url"] == "http://127.0.0.1:9/mcp", http
assert http["bearer_token_env_var"] == "E2E_TOKEN", http
assert "keep-me" in servers
PY
for name in e2e-stdio e2e-http; do
  OUT="$T/claude-get-$name.out"; run "$OUT" "$P" -- "$BIN/claude" mcp get "$name"; rc=$?
  check "claude mcp get $name finds it in user scope (rc=$rc)" grep -q 'Scope: User config' "$OUT"
done
grep -q 'Type: stdio' "$T/claude-get-e2e-stdio.out" && grep -q 'Command: /bin/true' "$T/claude-get-e2e-stdio.out" \
  && ok "claude sees e2e-stdio as stdio /bin/true" || bad "claude e2e-stdio details" "$T/claude-get-e2e-stdio.out"
grep -q 'Type: http' "$T/claude-get-e2e-http.out" && grep -q 'URL: http://127.0.0.1:9/mcp' "$T/claude-get-e2e-http.out" \
  && ok "claude sees e2e-http as http" || bad "claude e2e-http details" "$T/claude-get-e2e-http.out"
OUT="$T/opencode-config.json"; run "$OUT" "$P" -- "$BIN/opencode" debug config
check "opencode debug config shows e2e-stdio (local) and e2e-http (remote)" python3 - "$OUT" <<'PY'
import json, sys
mcp = json.load(open(sys.argv[1]))["mcp"]
assert mcp["e2e-stdio"]["type"] == "local" and mcp["e2e-stdio"]["command"] == ["/bin/true", "--e2e"], mcp
assert mcp["e2e-stdio"]["environment"] == {"E2E_MODE": "test"}, mcp
assert mcp["e2e-http"]["type"] == "remote" and mcp["e2e-http"]["url"] == "http://127.0.0.1:9/mcp", mcp
# OpenCode masks header values in its output ("***"); the file itself is checked below.
assert list(mcp["e2e-http"]["headers"]) == ["Authorization"], mcp
PY
check "opencode.json got the header as OpenCode's own {env:E2E_TOKEN}" grep -q '"Authorization": "Bearer {env:E2E_TOKEN}"' "$P/.config/opencode/opencode.json"

OUT="$T/codex-prompt.out"; run "$OUT" "$P" -- "$BIN/codex" debug prompt-input -c features.plugins=false "hi"
check "codex debug prompt-input lists skill pdf-tools" grep -q 'pdf-tools' "$OUT"
OUT="$T/claude-init.out"; run "$OUT" "$P" -- "$BIN/claude" -p "say hi" --output-format stream-json --verbose
check "claude stream-json init lists skill pdf-tools and both MCP servers" python3 - "$OUT" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try: event = json.loads(line)
    except Exception: continue
    if event.get("subtype") == "init":
        assert "pdf-tools" in event.get("skills", []), event.get("skills")
        names = {server["name"] for server in event.get("mcp_servers", [])}
        assert {"e2e-stdio", "e2e-http"} <= names, names
        sys.exit(0)
sys.exit(1)
PY
OUT="$T/opencode-skill.out"; run "$OUT" "$P" -- "$BIN/opencode" debug skill
check "opencode debug skill lists pdf-tools" grep -q '"name": "pdf-tools"' "$OUT"

# ---- aigate removes them: the files are as before, the clients stop seeing them ---
aigate mcp remove e2e-stdio >"$T/rm1.out" 2>&1 && aigate mcp remove e2e-http >"$T/rm2.out" 2>&1 \
  && aigate skill remove pdf-tools >"$T/rm3.out" 2>&1 && ok "aigate mcp remove + skill remove" || bad "aigate remove" "$T/rm1.out"
[ "$(sums)" = "$BEFORE" ] && ok "codex, claude and opencode files are byte-identical to before (sha256)" \
  || { bad "client files differ from before"; sha256sum "${FILES[@]}"; }
[ ! -e "$H/.agents/skills/pdf-tools" ] && [ ! -L "$H/.claude/skills/pdf-tools" ] && ok "the skill and its Claude link are gone" \
  || bad "skill still on disk"

P="$(probe_home probe-removed)"
OUT="$T/codex-mcp2.json"; run "$OUT" "$P" -- "$BIN/codex" mcp list --json
check "codex mcp list --json no longer lists them (keep-me stays)" python3 -c "
import json, sys; names = {s['name'] for s in json.load(open(sys.argv[1]))}
assert 'keep-me' in names and not names & {'e2e-stdio', 'e2e-http'}, names" "$OUT"
for name in e2e-stdio e2e-http; do
  OUT="$T/claude-get2-$name.out"; run "$OUT" "$P" -- "$BIN/claude" mcp get "$name"; rc=$?
  check "claude mcp get $name no longer finds it (rc=$rc)" test "$rc" != 0
done
OUT="$T/opencode-config2.json"; run "$OUT" "$P" -- "$BIN/opencode" debug config
check "opencode debug config no longer shows them" python3 -c "
import json, sys; mcp = json.load(open(sys.argv[1])).get('mcp', {})
assert 'keep-me' in mcp and 'e2e-stdio' not in mcp and 'e2e-http' not in mcp, mcp" "$OUT"
OUT="$T/codex-prompt2.out"; run "$OUT" "$P" -- "$BIN/codex" debug prompt-input -c features.plugins=false "hi"
check "codex debug prompt-input no longer lists pdf-tools" bash -c "! grep -q pdf-tools '$OUT'"
OUT="$T/claude-init2.out"; run "$OUT" "$P" -- "$BIN/claude" -p "say hi" --output-format stream-json --verbose
check "claude stream-json init no longer lists pdf-tools" python3 - "$OUT" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try: event = json.loads(line)
    except Exception: continue
    if event.get("subtype") == "init":
        sys.exit(0 if "pdf-tools" not in event.get("skills", []) else 1)
sys.exit(1)
PY
OUT="$T/opencode-skill2.out"; run "$OUT" "$P" -- "$BIN/opencode" debug skill
check "opencode debug skill no longer lists pdf-tools" bash -c "[ -s '$OUT' ] && ! grep -q '\"name\": \"pdf-tools\"' '$OUT'"

e2e_finish
