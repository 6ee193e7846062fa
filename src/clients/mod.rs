//! The four clients and the files each one owns (product.md §2, client-formats.md).
//!
//! This module knows *where* files are and *what format* they are in; editing them goes
//! through [`crate::doc`] (pure edits) and [`crate::write`] (the one write path).

use std::path::PathBuf;

use serde::Serialize;

use crate::paths::Paths;

pub mod gateway;
pub mod gemini_home;
pub mod launch;

/// The provider id aigate uses in every client's config (never `openai` & co., which newer
/// Codex rejects; one stable id keeps Codex's resume history together).
pub const PROVIDER_ID: &str = "aigate";

/// A coding agent aigate manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    Codex,
    Claude,
    OpenCode,
    Gemini,
}

impl Client {
    pub const ALL: [Client; 4] = [Client::Codex, Client::Claude, Client::OpenCode, Client::Gemini];

    pub fn name(self) -> &'static str {
        match self {
            Client::Codex => "codex",
            Client::Claude => "claude",
            Client::OpenCode => "opencode",
            Client::Gemini => "gemini",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "codex" => Some(Client::Codex),
            "claude" => Some(Client::Claude),
            "opencode" => Some(Client::OpenCode),
            "gemini" => Some(Client::Gemini),
            _ => None,
        }
    }

    /// The name people know it by (`OpenCode`).
    pub fn title(self) -> &'static str {
        match self {
            Client::Codex => "Codex",
            Client::Claude => "Claude Code",
            Client::OpenCode => "OpenCode",
            Client::Gemini => "Gemini CLI",
        }
    }

    /// The wire API the client speaks to its provider (OpenCode: through
    /// `@ai-sdk/openai-compatible`, the provider `aigate run` and `use gateway` give it).
    pub fn api(self) -> crate::providers::Api {
        match self {
            Client::Codex => crate::providers::Api::Responses,
            Client::Claude => crate::providers::Api::Messages,
            Client::OpenCode => crate::providers::Api::Chat,
            Client::Gemini => crate::providers::Api::Gemini,
        }
    }

    /// Whether the client has an official login aigate can pass through (`official`).
    /// Gemini CLI's Google login talks to the Code Assist API, not the Gemini API a base URL
    /// can redirect, so a session cannot carry it.
    pub fn has_official_login(self) -> bool {
        match self {
            Client::Codex | Client::Claude => true,
            Client::OpenCode | Client::Gemini => false,
        }
    }

    /// The files aigate reads for this client (user scope), in display order.
    pub fn files(self, paths: &Paths) -> Vec<ClientFile> {
        match self {
            Client::Codex => vec![
                ClientFile::new(self, "config", paths.codex_config(), Format::Toml, true),
                ClientFile::new(self, "auth", paths.codex_auth(), Format::Json, false),
            ],
            Client::Claude => vec![
                ClientFile::new(self, "settings", paths.claude_settings(), Format::Json, true),
                ClientFile::new(self, "state", paths.claude_json.clone(), Format::Json, true),
            ],
            Client::OpenCode => {
                vec![ClientFile::new(self, "config", paths.opencode_config(), Format::Jsonc, true)]
            }
            Client::Gemini => vec![
                ClientFile::new(self, "settings", paths.gemini_settings(), Format::JsonComments, true),
                ClientFile::new(self, "env", paths.gemini_env(), Format::Dotenv, true),
            ],
        }
    }

    /// Whether this client looks installed/configured: any of its files or its home exists.
    pub fn detected(self, paths: &Paths) -> bool {
        let home_exists = match self {
            Client::Codex => paths.codex_home.exists(),
            Client::Claude => paths.claude_dir.exists(),
            Client::OpenCode => paths.opencode_dir.exists(),
            Client::Gemini => paths.gemini_dir().exists(),
        };
        home_exists || self.files(paths).iter().any(|file| file.path.symlink_metadata().is_ok())
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The syntax a client file is written in (defined by the document layer).
pub use crate::doc::Format;

/// One file a client owns.
#[derive(Debug, Clone, Serialize)]
pub struct ClientFile {
    pub client: Client,
    pub role: &'static str,
    pub path: PathBuf,
    pub format: Format,
    /// False for files aigate must never write (Codex `auth.json`).
    pub writable: bool,
}

impl ClientFile {
    pub fn new(client: Client, role: &'static str, path: PathBuf, format: Format, writable: bool) -> Self {
        Self { client, role, path, format, writable }
    }
}

/// `--client` resolution: the named ones, else every client whose files exist.
pub fn select(requested: &[Client], paths: &Paths) -> Vec<Client> {
    if requested.is_empty() {
        Client::ALL.into_iter().filter(|client| client.detected(paths)).collect()
    } else {
        let mut chosen = requested.to_vec();
        chosen.sort();
        chosen.dedup();
        chosen
    }
}
