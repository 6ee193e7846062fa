#!/usr/bin/env bash
# Benchmark: `aigate mcp add` on a ~20 MB `.claude.json` against `cp` of the same file.
#
#   bash bench/mcp_large.sh            # builds the release binary first
#   RUNS=9 SIZE_MB=20 bash bench/mcp_large.sh
#
# Each run starts from a fresh copy of the generated file in a throw-away home and times
# one `aigate mcp add` (read, parse, edit, snapshot, atomic write with fsync, read-back)
# and one `cp` of the same file. The medians and their ratio are printed; the target is a
# ratio of at most 3. Prints `ratio=<x>` last; exits 0 either way (it reports, it does not
# gate).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-7}"
SIZE_MB="${SIZE_MB:-20}"
(cd "$REPO" && cargo build --release --quiet)
AIGATE="$REPO/target/release/aigate"
T="$(mktemp -d /tmp/aigate-bench.XXXXXX)"
trap 'rm -rf "$T"' EXIT

python3 - "$T/large.claude.json" "$SIZE_MB" <<'PY'
import sys
path, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
parts = ['{\n  "numStartups": 4242,\n  "projects": {\n']
length, index = len(parts[0]), 0
while length < size:
    history = ",\n".join(
        '        {\n          "display": "refactor module %d of project %d and keep every byte \\u00e9",\n'
        '          "pastedContents": {}\n        }' % (entry, index) for entry in range(40))
    chunk = ('' if index == 0 else ',\n') + (
        '    "/home/alice/src/project-%d": {\n      "allowedTools": [],\n      "history": [\n%s\n      ],\n'
        '      "mcpServers": {},\n      "lastCost": 1.25\n    }' % (index, history))
    parts.append(chunk); length += len(chunk); index += 1
parts.append('\n  },\n  "mcpServers": {\n    "context7": {\n      "type": "stdio",\n      "command": "npx",\n'
             '      "args": [\n        "-y",\n        "@upstash/context7-mcp"\n      ],\n      "env": {}\n    }\n  },\n'
             '  "isQualifiedForDataSharing": false\n}\n')
open(path, "w").write("".join(parts))
PY
BYTES=$(stat -c %s "$T/large.claude.json")

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: > "$T/aigate.ns"; : > "$T/cp.ns"
for run in $(seq "$RUNS"); do
  H="$T/run$run"; mkdir -p "$H/home/.claude" "$H/project"
  cp "$T/large.claude.json" "$H/home/.claude/.claude.json"
  sync
  start=$(now)
  (cd "$H/project" && env -i PATH="$PATH" HOME="$H/home" CLAUDE_CONFIG_DIR="$H/home/.claude" \
      CODEX_HOME="$H/home/.codex" XDG_CONFIG_HOME="$H/home/.config" AIGATE_HOME="$H/home/.aigate" \
      "$AIGATE" -q mcp add bench --client claude -- npx -y @bench/server)
  end=$(now); echo $((end - start)) >> "$T/aigate.ns"
  start=$(now)
  cp "$T/large.claude.json" "$H/copy.json"
  end=$(now); echo $((end - start)) >> "$T/cp.ns"
  grep -q '"bench": {' "$H/home/.claude/.claude.json" || { echo "FAIL: the server was not added"; exit 1; }
  rm -rf "$H"
done
A=$(median < "$T/aigate.ns"); C=$(median < "$T/cp.ns")
awk -v a="$A" -v c="$C" -v b="$BYTES" -v r="$RUNS" 'BEGIN {
  printf "file: %.1f MB, runs: %d (medians)\n", b / 1048576, r
  printf "aigate mcp add: %.1f ms\n", a / 1e6
  printf "cp:             %.1f ms\n", c / 1e6
  ratio = a / c
  printf "ratio=%.2f (target <= 3: %s)\n", ratio, (ratio <= 3 ? "met" : "NOT met")
}'
