//! Shared test support: a hermetic [`TestContext`] for CLI tests.
//!
//! Every path a command could touch (`HOME`, `CODEX_HOME`, `CLAUDE_CONFIG_DIR`,
//! `XDG_CONFIG_HOME`, `AIGATE_HOME`) points into one `TempDir`, and variables that could
//! leak the machine's own setup are removed.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]
#![allow(clippy::expect_used, reason = "test setup panics on failure")]

use std::path::{Path, PathBuf};

/// One throw-away world for a test.
pub(crate) struct TestContext {
    pub(crate) root: tempfile::TempDir,
}

impl TestContext {
    pub(crate) fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        for dir in ["home", "codex", "claude", "xdg"] {
            fs_err::create_dir_all(root.path().join(dir)).expect("mkdir");
        }
        Self { root }
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// `AIGATE_HOME` (created by aigate on first use).
    pub(crate) fn aigate_home(&self) -> PathBuf {
        self.root.path().join("aigate")
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.aigate_home().join("aigate.db")
    }

    /// `aigate` with the hermetic environment.
    pub(crate) fn command(&self) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::cargo_bin("aigate").expect("aigate binary");
        self.apply_env(&mut command);
        command
    }

    fn apply_env(&self, command: &mut assert_cmd::Command) {
        let root = self.root.path();
        command
            .env("HOME", root.join("home"))
            .env("CODEX_HOME", root.join("codex"))
            .env("CLAUDE_CONFIG_DIR", root.join("claude"))
            .env("XDG_CONFIG_HOME", root.join("xdg"))
            .env("AIGATE_HOME", self.aigate_home())
            .env("NO_COLOR", "1")
            .env_remove("OPENCODE_CONFIG")
            .env_remove("OPENCODE_CONFIG_CONTENT")
            .env_remove("AIGATE_SESSION")
            .env_remove("AIGATE_TOKEN")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy");
    }

    /// Open the aigate db directly (for seeding and asserting rows).
    pub(crate) fn db(&self) -> rusqlite::Connection {
        aigate::db::open(&self.aigate_home()).expect("open db")
    }
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

/// The unix mode bits of `path`.
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs_err::metadata(path).expect("metadata").permissions().mode() & 0o777
}
