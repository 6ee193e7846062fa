//! Every environment variable aigate reads or sets, in one place.

/// The user's home directory; every default path hangs off it.
pub const HOME: &str = "HOME";
/// aigate's state directory (db, snapshots, serve info). Default `~/.aigate`.
pub const AIGATE_HOME: &str = "AIGATE_HOME";
/// Codex's home directory. Default `~/.codex`.
pub const CODEX_HOME: &str = "CODEX_HOME";
/// Claude Code's config directory. Default `~/.claude` (and `~/.claude.json` beside it).
pub const CLAUDE_CONFIG_DIR: &str = "CLAUDE_CONFIG_DIR";
/// XDG base for OpenCode's global config. Default `~/.config`.
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// An explicit OpenCode config file.
pub const OPENCODE_CONFIG: &str = "OPENCODE_CONFIG";
/// Gemini CLI's home (it keeps `.gemini/` and `.agents/` there). Default `$HOME`;
/// `aigate run gemini` may set it to a session home for the agent.
pub const GEMINI_CLI_HOME: &str = "GEMINI_CLI_HOME";
/// Inline OpenCode config; `aigate run opencode` sets it for the agent.
pub const OPENCODE_CONFIG_CONTENT: &str = "OPENCODE_CONFIG_CONTENT";
/// Disable colour in output.
pub const NO_COLOR: &str = "NO_COLOR";
/// The terminal type; unset or `dumb` means no progress bars (they need cursor moves).
pub const TERM: &str = "TERM";
/// The Codex executable for `aigate run codex` (else `codex` on `PATH`; `--bin` wins).
pub const AIGATE_CODEX_BIN: &str = "AIGATE_CODEX_BIN";
/// The Claude Code executable for `aigate run claude` (else `claude` on `PATH`).
pub const AIGATE_CLAUDE_BIN: &str = "AIGATE_CLAUDE_BIN";
/// The OpenCode executable for `aigate run opencode` (else `opencode` on `PATH`).
pub const AIGATE_OPENCODE_BIN: &str = "AIGATE_OPENCODE_BIN";
/// The Gemini CLI executable for `aigate run gemini` (else `gemini` on `PATH`).
pub const AIGATE_GEMINI_BIN: &str = "AIGATE_GEMINI_BIN";
/// Set by `aigate run` in the agent's environment: the session proxy's base URL.
pub const AIGATE_BASE_URL: &str = "AIGATE_BASE_URL";
/// Set by `aigate run` in the agent's environment: the session token (never on argv).
pub const AIGATE_TOKEN: &str = "AIGATE_TOKEN";
/// Set by `aigate run` in the agent's environment; its presence refuses a nested `run`.
pub const AIGATE_SESSION: &str = "AIGATE_SESSION";
/// Test and advanced overrides of the official upstreams used by the `official` provider.
pub const AIGATE_OFFICIAL_OPENAI_URL: &str = "AIGATE_OFFICIAL_OPENAI_URL";
pub const AIGATE_OFFICIAL_CHATGPT_URL: &str = "AIGATE_OFFICIAL_CHATGPT_URL";
pub const AIGATE_OFFICIAL_ANTHROPIC_URL: &str = "AIGATE_OFFICIAL_ANTHROPIC_URL";
/// Loopback must bypass any system HTTP proxy for the agent.
pub const NO_PROXY: &str = "NO_PROXY";
/// The lower-case spelling, which curl and many runtimes read instead; extended alike.
pub const NO_PROXY_LOWER: &str = "no_proxy";
pub const HTTP_PROXY: &str = "HTTP_PROXY";
pub const HTTPS_PROXY: &str = "HTTPS_PROXY";
/// Claude Code's variables aigate sets or checks.
pub const ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
pub const ANTHROPIC_AUTH_TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
pub const ANTHROPIC_CUSTOM_HEADERS: &str = "ANTHROPIC_CUSTOM_HEADERS";
pub const ANTHROPIC_MODEL: &str = "ANTHROPIC_MODEL";
/// Set by `aigate run gemini` for the agent: the session proxy (Gemini CLI adds `/v1beta/...`).
pub const GOOGLE_GEMINI_BASE_URL: &str = "GOOGLE_GEMINI_BASE_URL";
/// Set by `aigate run gemini` for the agent: the session token (sent as `x-goog-api-key`).
pub const GEMINI_API_KEY: &str = "GEMINI_API_KEY";
/// Set by `aigate run gemini` for the agent when a model is known (no model router then).
pub const GEMINI_MODEL: &str = "GEMINI_MODEL";

/// Read a variable, treating an empty value as unset (as Codex does for `CODEX_HOME`).
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
