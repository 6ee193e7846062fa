//! MCP servers and Skills across every client: the canonical [`McpServer`], its mapping to
//! and from each client's own format, the pure edits `aigate mcp` applies to client files,
//! and SKILL.md validation.
//!
//! Invariants:
//! - Client files are the source of truth. aigate keeps no second MCP database that could
//!   bring a deleted server back; its records hold only what it needs to undo its own
//!   edits byte for byte (reverse patches) and the entries Claude Code servers parked by
//!   `mcp disable`. Gemini CLI servers are disabled in the file itself (`mcp.excluded`).
//! - Edits here are pure (bytes in, bytes out); every write goes through [`crate::write`].
//! - Keys a client rejects are never written; a server a client cannot take is refused
//!   with the reason before anything is written.

pub mod claude;
pub mod codex;
pub mod edit;
pub mod gemini;
pub mod opencode;
pub mod ops;
pub mod patch;
pub mod records;
pub mod server;
pub mod skill_store;
pub mod skills;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::clients::{Client, Format};
use crate::paths::Paths;
pub use server::{McpServer, ServerView, Transport};
pub use skills::{Problem, validate_skill_dir};

/// Where a server is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The client's user config.
    User,
    /// Files in the current directory (`.codex/config.toml`, `.mcp.json`, `opencode.json`,
    /// `.gemini/settings.json`).
    Project,
    /// Claude Code only: `.claude.json` → `projects[<current dir>].mcpServers`.
    Local,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
            Scope::Local => "local",
        }
    }
}

/// One file (and the object in it) that holds a client's MCP servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpFile {
    pub client: Client,
    pub scope: Scope,
    pub path: PathBuf,
    pub format: Format,
    /// The key path of the object whose keys are server names.
    pub container: Vec<String>,
}

impl McpFile {
    /// The key path of one server.
    pub fn entry_path(&self, name: &str) -> Vec<String> {
        let mut path = self.container.clone();
        path.push(name.to_string());
        path
    }
}

/// The MCP file of `client` in `scope`; `cwd` is the project directory.
pub fn mcp_file(client: Client, scope: Scope, paths: &Paths, cwd: &Path) -> Result<McpFile, String> {
    let file = |path: PathBuf, format: Format, container: &[&str]| McpFile {
        client,
        scope,
        path,
        format,
        container: container.iter().map(ToString::to_string).collect(),
    };
    match (client, scope) {
        (Client::Codex, Scope::User) => Ok(file(paths.codex_config(), Format::Toml, &["mcp_servers"])),
        (Client::Codex, Scope::Project) => {
            Ok(file(cwd.join(".codex").join("config.toml"), Format::Toml, &["mcp_servers"]))
        }
        (Client::Claude, Scope::User) => Ok(file(paths.claude_json.clone(), Format::Json, &["mcpServers"])),
        (Client::Claude, Scope::Project) => Ok(file(cwd.join(".mcp.json"), Format::Json, &["mcpServers"])),
        (Client::Claude, Scope::Local) => {
            let project = cwd.to_string_lossy().into_owned();
            Ok(file(paths.claude_json.clone(), Format::Json, &["projects", &project, "mcpServers"]))
        }
        (Client::OpenCode, Scope::User) => Ok(file(paths.opencode_config(), Format::Jsonc, &["mcp"])),
        (Client::OpenCode, Scope::Project) => {
            let jsonc = cwd.join("opencode.jsonc");
            let path = if jsonc.symlink_metadata().is_ok() { jsonc } else { cwd.join("opencode.json") };
            Ok(file(path, Format::Jsonc, &["mcp"]))
        }
        (Client::Gemini, Scope::User) => {
            Ok(file(paths.gemini_settings(), Format::JsonComments, &["mcpServers"]))
        }
        // Gemini CLI reads project settings only from the cwd itself, and none in its home
        // (there `.gemini/settings.json` is the user file).
        (Client::Gemini, Scope::Project) if same_dir(cwd, &paths.gemini_home) => Err(format!(
            "{client} has no project scope in its home directory (`.gemini/settings.json` there is the user file); use `--scope user`"
        )),
        (Client::Gemini, Scope::Project) => {
            Ok(file(cwd.join(".gemini").join("settings.json"), Format::JsonComments, &["mcpServers"]))
        }
        (Client::Codex | Client::OpenCode | Client::Gemini, Scope::Local) => Err(format!(
            "{client} has no local scope (only Claude Code does); use `--scope user` or `--scope project`"
        )),
    }
}

/// Whether two paths are the same directory (through symlinks when both exist).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The scopes a client has, in the order `remove`/`enable`/`disable` look for a name.
pub fn scopes(client: Client) -> &'static [Scope] {
    match client {
        Client::Claude => &[Scope::User, Scope::Local, Scope::Project],
        Client::Codex | Client::OpenCode | Client::Gemini => &[Scope::User, Scope::Project],
    }
}

/// Whether `client` can take a server called `name`.
pub fn check_name(client: Client, name: &str) -> Result<(), String> {
    match client {
        Client::Codex => codex::check_name(name),
        Client::Claude => claude::check_name(name),
        Client::Gemini => gemini::check_name(name),
        Client::OpenCode => opencode::check_name(name),
    }
}

/// The client entry for `server`, keeping the extras of the entry it replaces.
pub fn to_entry(client: Client, server: &McpServer, existing: Option<&Value>) -> Result<Value, String> {
    match client {
        Client::Codex => codex::to_entry(server, existing),
        Client::Claude => claude::to_entry(server, existing),
        Client::Gemini => gemini::to_entry(server, existing),
        Client::OpenCode => opencode::to_entry(server, existing),
    }
}

/// The canonical server of a client entry.
pub fn from_entry(client: Client, name: &str, entry: &Value) -> Result<McpServer, String> {
    match client {
        Client::Codex => codex::from_entry(name, entry),
        Client::Claude => claude::from_entry(name, entry),
        Client::Gemini => gemini::from_entry(name, entry),
        Client::OpenCode => opencode::from_entry(name, entry),
    }
}
