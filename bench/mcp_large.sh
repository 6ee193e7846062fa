#!/usr/bin/env bash
# Benchmark: every command that reads or writes a large `~/.claude.json`, against a
# durable copy of the same file (`dd ... conv=fsync`, i.e. `cp` + fsync), for every shape
# that has been slow:
#
#   populated  many projects with history entries, a populated top-level `mcpServers`
#   small      many small `projects.*.history` entries (the shape real files grow into),
#              a populated top-level `mcpServers`
#   empty      the same, with an empty top-level `mcpServers`
#   missing    the same, without a top-level `mcpServers`
#   huge       a few huge strings (cached blobs), a populated `mcpServers`
#
# Commands: `mcp add` (the write path: snapshot, atomic write, read-back), then on the
# file it leaves `mcp disable`, `mcp enable` and `mcp remove` (the undo of the edit before,
# checked against the semantic edit, and written the same way), `use gateway
# --client claude` (writes `settings.json`, but its first snapshot takes `.claude.json`
# too), and the readers `mcp list --client claude`, `status` and `doctor`.
#
#   bash bench/mcp_large.sh                    # builds the release binary first
#   SIZE_MB=20 RUNS=10 AIGATE=/path/to/aigate bash bench/mcp_large.sh
#   SHAPES="small huge" bash bench/mcp_large.sh
#
# `mcp add` and `use gateway` start from a fresh copy of the file in a throw-away home
# (so they include the first snapshot of the file into a new snapshot store); the
# readers run in the home `mcp add` leaves (a snapshot store with the file in it).
# Needs `hyperfine` (`apt-get install hyperfine`) and python3. Prints one table of
# medians with each command's time over the copy's; the target is <= 3 everywhere.
# It reports, it does not gate: the exit status is 0 unless something failed to run.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-10}"
SIZE_MB="${SIZE_MB:-20}"
SHAPES="${SHAPES:-populated small empty missing huge}"
command -v hyperfine > /dev/null || { echo "bench needs hyperfine: apt-get install hyperfine" >&2; exit 2; }
if [ -z "${AIGATE:-}" ]; then
  (cd "$REPO" && cargo build --release --locked --quiet)
  AIGATE="${CARGO_TARGET_DIR:-$REPO/target}/release/aigate"
fi
T="$(mktemp -d /tmp/aigate-bench.XXXXXX)"
trap 'rm -rf "$T"' EXIT

python3 - "$T" "$SIZE_MB" <<'PY'
import json, sys
out, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
SERVERS = ('  "mcpServers": {\n    "context7": {\n      "type": "stdio",\n      "command": "npx",\n'
           '      "args": [\n        "-y",\n        "@upstash/context7-mcp"\n      ],\n      "env": {}\n    }\n  },\n')

def projects(per_project, entry):
    parts, length, index = [], 0, 0
    while length < size:
        history = ",\n".join(entry(n, index) for n in range(per_project))
        chunk = ('' if index == 0 else ',\n') + (
            '    "/home/alice/src/project-%d": {\n      "allowedTools": [],\n      "history": [\n%s\n      ],\n'
            '      "mcpServers": {},\n      "lastCost": 1.25\n    }' % (index, history))
        parts.append(chunk); length += len(chunk); index += 1
    return '  "projects": {\n' + "".join(parts) + '\n  },\n'

big = lambda n, i: ('        {\n          "display": "refactor module %d of project %d and keep every byte \\u00e9",\n'
                    '          "pastedContents": {}\n        }' % (n, i))
small = lambda n, i: '        {"display": "/clear %d", "pastedContents": {}}' % n
head = '{\n  "numStartups": 4242,\n'
tail = '  "isQualifiedForDataSharing": false\n}\n'
shapes = {
    "populated": head + projects(40, big) + SERVERS + tail,
    "small": head + projects(400, small) + SERVERS + tail,
    "empty": head + projects(400, small) + '  "mcpServers": {},\n' + tail,
    "missing": head + projects(400, small) + tail,
    "huge": head + "".join('  "cachedBlob%d": %s,\n' % (n, json.dumps("x\u00e9\\\" " * (size // 4 // 12)))
                           for n in range(4)) + SERVERS + tail,
}
for name, text in shapes.items():
    open("%s/%s.json" % (out, name), "w").write(text)
PY

ENV="env -i PATH=$PATH HOME=$T/h/home CLAUDE_CONFIG_DIR=$T/h/home/.claude CODEX_HOME=$T/h/home/.codex"
ENV="$ENV XDG_CONFIG_HOME=$T/h/home/.config AIGATE_HOME=$T/h/home/.aigate"
printf '%-10s %5s %8s  %-14s %-14s %-14s %-14s %-14s %-14s %-14s %-14s\n' shape MB "copy ms" "mcp add" \
  "mcp disable" "mcp enable" "mcp remove" "use gateway" "mcp list" "status" "doctor"
for shape in $SHAPES; do
  FILE="$T/$shape.json"
  FRESH="rm -rf $T/h && mkdir -p $T/h/home/.claude $T/h/project && cp $FILE $T/h/home/.claude/.claude.json"
  RUN="cd $T/h/project && $ENV $AIGATE -q"
  ADD="$RUN mcp add bench --client claude -- npx -y @bench/server"
  DISABLE="$RUN mcp disable bench --client claude"
  ENABLE="$RUN mcp enable bench --client claude"
  REMOVE="$RUN mcp remove bench --client claude"
  hyperfine --style none --runs "$RUNS" --warmup 1 --export-json "$T/$shape.result.json" \
    --prepare "rm -f $T/copy.json" -n copy "dd if=$FILE of=$T/copy.json bs=4M conv=fsync status=none" \
    --prepare "$FRESH" -n add "$ADD" \
    --prepare "$FRESH && $ADD" -n disable "$DISABLE" \
    --prepare "$FRESH && $ADD && $DISABLE" -n enable "$ENABLE" \
    --prepare "$FRESH && $ADD" -n remove "$REMOVE" \
    --prepare "$FRESH" -n gateway "$RUN use gateway --client claude" \
    --prepare "$FRESH && $ADD" -n list "$RUN mcp list --client claude" \
    --prepare "$FRESH && $ADD" -n status "$RUN status" \
    --prepare "$FRESH && $ADD" -n doctor "$RUN doctor; true" > /dev/null 2> "$T/hyperfine.log" \
    || { cat "$T/hyperfine.log" >&2; exit 1; }
  # Disable, enable and remove after add give the file back byte for byte.
  sh -c "$FRESH && $ADD && $DISABLE && $ENABLE && $REMOVE"
  cmp -s "$FILE" "$T/h/home/.claude/.claude.json" || { echo "$shape: not byte-identical after the round trip" >&2; exit 1; }
  # The edit really happened, and kept every other byte.
  sh -c "$FRESH && $ADD"
  python3 - "$FILE" "$T/h/home/.claude/.claude.json" "$T/$shape.result.json" "$shape" <<'PY'
import json, sys
original, edited, results, shape = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3], sys.argv[4]
assert '"bench": {' in edited, "the server was not added"
assert json.loads(edited)["mcpServers"]["bench"]["command"] == "npx"
position = 0
for line in original.splitlines():
    if line.startswith('  "mcpServers": {'):
        continue  # the object the server goes into
    found = edited.find(line.rstrip(","), position)
    assert found >= 0, "lost line %r" % line
    position = found + len(line.rstrip(","))
median = {r["command"]: sorted(r["times"])[len(r["times"]) // 2] * 1000 for r in json.load(open(results))["results"]}
cell = lambda name: "%6.1f (%4.1fx)" % (median[name], median[name] / median["copy"])
print("%-10s %5.1f %8.1f  %s %s %s %s %s %s %s %s" % (shape, len(original) / 1048576, median["copy"], cell("add"),
      cell("disable"), cell("enable"), cell("remove"), cell("gateway"), cell("list"), cell("status"), cell("doctor")))
PY
done
