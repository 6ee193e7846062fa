//! Where every file aigate reads or writes lives, from the environment (product.md §2).
//!
//! `$HOME` is always taken from the environment so that every command can run against
//! a throw-away home. Nothing here touches the disk except to check what exists.

use std::path::{Path, PathBuf};

use crate::env_vars::{self, var};
use crate::error::{Error, Result};

/// Resolved locations for one invocation.
#[derive(Debug, Clone)]
pub struct Paths {
    pub home: PathBuf,
    pub aigate_home: PathBuf,
    pub codex_home: PathBuf,
    /// `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
    pub claude_dir: PathBuf,
    /// `$CLAUDE_CONFIG_DIR/.claude.json` when the variable is set, else `~/.claude.json`.
    pub claude_json: PathBuf,
    /// `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode`.
    pub opencode_dir: PathBuf,
    /// `OPENCODE_CONFIG` when set.
    pub opencode_config_override: Option<PathBuf>,
    /// `$GEMINI_CLI_HOME`, else `$HOME`: Gemini CLI keeps `.gemini/` and `.agents/` here.
    pub gemini_home: PathBuf,
}

impl Paths {
    pub fn from_env() -> Result<Self> {
        let home = var(env_vars::HOME)
            .map(PathBuf::from)
            .ok_or_else(|| Error::internal("`HOME` is not set").hint("set `HOME` to your home directory"))?;
        let aigate_home = var(env_vars::AIGATE_HOME).map_or_else(|| home.join(".aigate"), PathBuf::from);
        let codex_home = var(env_vars::CODEX_HOME).map_or_else(|| home.join(".codex"), PathBuf::from);
        let (claude_dir, claude_json) = match var(env_vars::CLAUDE_CONFIG_DIR) {
            Some(dir) => {
                let dir = PathBuf::from(dir);
                let json = dir.join(".claude.json");
                (dir, json)
            }
            None => (home.join(".claude"), home.join(".claude.json")),
        };
        let xdg = var(env_vars::XDG_CONFIG_HOME).map_or_else(|| home.join(".config"), PathBuf::from);
        Ok(Self {
            aigate_home,
            codex_home,
            claude_dir,
            claude_json,
            opencode_dir: xdg.join("opencode"),
            opencode_config_override: var(env_vars::OPENCODE_CONFIG).map(PathBuf::from),
            // Absolute, so the links of a `run gemini` session home point at it.
            gemini_home: var(env_vars::GEMINI_CLI_HOME)
                .map(PathBuf::from)
                .map_or_else(|| home.clone(), |path| std::path::absolute(&path).unwrap_or(path)),
            home,
        })
    }

    /// Every location at its default under `home` (no variable read): for tests.
    #[cfg(test)]
    pub fn for_home(home: &Path) -> Self {
        Self {
            home: home.to_path_buf(),
            aigate_home: home.join(".aigate"),
            codex_home: home.join(".codex"),
            claude_dir: home.join(".claude"),
            claude_json: home.join(".claude.json"),
            opencode_dir: home.join(".config").join("opencode"),
            opencode_config_override: None,
            gemini_home: home.to_path_buf(),
        }
    }

    pub fn db_file(&self) -> PathBuf {
        self.aigate_home.join("aigate.db")
    }

    pub fn codex_config(&self) -> PathBuf {
        self.codex_home.join("config.toml")
    }

    /// Read only, never written (product.md §2).
    pub fn codex_auth(&self) -> PathBuf {
        self.codex_home.join("auth.json")
    }

    pub fn claude_settings(&self) -> PathBuf {
        self.claude_dir.join("settings.json")
    }

    pub fn claude_skills(&self) -> PathBuf {
        self.claude_dir.join("skills")
    }

    /// The OpenCode global config: `OPENCODE_CONFIG`, else the first of `opencode.jsonc`,
    /// `opencode.json`, `config.json` that exists, else `opencode.json` (to be created).
    pub fn opencode_config(&self) -> PathBuf {
        if let Some(path) = &self.opencode_config_override {
            return path.clone();
        }
        for name in ["opencode.jsonc", "opencode.json", "config.json"] {
            let candidate = self.opencode_dir.join(name);
            if candidate.symlink_metadata().is_ok() {
                return candidate;
            }
        }
        self.opencode_dir.join("opencode.json")
    }

    /// `~/.gemini` (under `$GEMINI_CLI_HOME` when set).
    pub fn gemini_dir(&self) -> PathBuf {
        self.gemini_home.join(".gemini")
    }

    /// Gemini CLI's user settings (JSON with comments, no trailing commas).
    pub fn gemini_settings(&self) -> PathBuf {
        self.gemini_dir().join("settings.json")
    }

    /// Gemini CLI's `.env` (dotenv `KEY=value` lines): where `use gateway` puts its endpoint
    /// and key, which it reads from nowhere else but the environment.
    pub fn gemini_env(&self) -> PathBuf {
        self.gemini_dir().join(".env")
    }

    /// Gemini CLI's own MCP on/off switches (`gemini mcp enable|disable`): read, never
    /// written by aigate.
    pub fn gemini_mcp_enablement(&self) -> PathBuf {
        self.gemini_dir().join("mcp-server-enablement.json")
    }

    /// The shared skills store read by Codex, OpenCode and Gemini CLI (when
    /// `GEMINI_CLI_HOME` does not move its home).
    pub fn agents_skills(&self) -> PathBuf {
        self.home.join(".agents").join("skills")
    }

    pub fn serve_info(&self) -> PathBuf {
        self.aigate_home.join("serve.json")
    }

    pub fn serve_token(&self) -> PathBuf {
        self.aigate_home.join("serve.token")
    }
}

/// Make `~/.aigate` (0700) if missing.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !dir.exists() {
        fs_err::create_dir_all(dir)?;
        fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
