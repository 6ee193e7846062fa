#!/usr/bin/env bash
# Installs the pinned Gemini CLI (tests/e2e/gemini/package.json + package-lock.json) from the
# npm registry into a cache directory outside the repository, and prints the directory holding
# its binary. ../shared/realclients pins Codex, Claude Code and OpenCode; this is the fourth.
#   bash tests/e2e/install_gemini.sh   -> e.g. /root/.cache/aigate-e2e-gemini/node_modules/.bin
# Re-running is cheap: nothing happens when the installed lockfile matches.
# GEMINI_CLI_DIR overrides the install directory.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$HERE/gemini"
DIR="${GEMINI_CLI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aigate-e2e-gemini}"
mkdir -p "$DIR"
if ! cmp -s "$SRC/package-lock.json" "$DIR/package-lock.json" || [ ! -x "$DIR/node_modules/.bin/gemini" ]; then
  cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
  (cd "$DIR" && { npm ci --no-audit --no-fund --loglevel=error >&2 || npm install --no-audit --no-fund --loglevel=error >&2; })
fi
[ -x "$DIR/node_modules/.bin/gemini" ] || { echo "install_gemini.sh: gemini missing after install" >&2; exit 2; }
echo "$DIR/node_modules/.bin"
