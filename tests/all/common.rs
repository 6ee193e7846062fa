//! Shared test support: one hermetic [`TestContext`] for every CLI test binary.
//!
//! Every path a command could touch (`HOME`, `CODEX_HOME`, `CLAUDE_CONFIG_DIR`,
//! `XDG_CONFIG_HOME`, `AIGATE_HOME`) points into one `TempDir`, the environment is cleared,
//! and the working directory is inside the `TempDir` too.
#![allow(dead_code, reason = "each test binary uses part of the shared context")]
#![allow(clippy::expect_used, reason = "test setup panics on failure")]

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Where the client directories sit inside the `TempDir`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `home/`, `codex/`, `claude/`, `xdg/` and `aigate/` side by side under the root.
    Flat,
    /// A real user's home: `home/.codex`, `home/.claude`, `home/.config`, `home/.aigate`.
    InHome,
}

/// One throw-away world for a test.
pub(crate) struct TestContext {
    root: tempfile::TempDir,
    layout: Layout,
    path: OsString,
    cwd: PathBuf,
    /// Extra variables every command gets (a provider's key variable, say).
    env: Vec<(String, OsString)>,
}

impl TestContext {
    /// The flat layout, `PATH=/usr/bin:/bin`, run from the root.
    pub(crate) fn new() -> Self {
        Self::with_layout(Layout::Flat)
    }

    /// The client directories as dot-directories of `HOME`.
    pub(crate) fn in_home() -> Self {
        Self::with_layout(Layout::InHome)
    }

    pub(crate) fn with_layout(layout: Layout) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let cwd = root.path().to_path_buf();
        let context = Self { root, layout, path: OsString::from("/usr/bin:/bin"), cwd, env: Vec::new() };
        for dir in
            [context.home(), context.codex_home(), context.claude_dir(), context.xdg().join("opencode")]
        {
            fs_err::create_dir_all(dir).expect("mkdir");
        }
        context
    }

    /// Run commands from `RELATIVE` under the root (created).
    pub(crate) fn with_cwd(mut self, relative: &str) -> Self {
        self.cwd = self.path(relative);
        fs_err::create_dir_all(&self.cwd).expect("mkdir cwd");
        self
    }

    /// Run commands with this `PATH`.
    pub(crate) fn with_path(mut self, path: impl Into<OsString>) -> Self {
        self.path = path.into();
        self
    }

    /// Run commands with `NAME=VALUE` in their environment too.
    pub(crate) fn with_env(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.env.push((name.to_string(), value.into()));
        self
    }

    /// Run commands with the test process's own `PATH`.
    pub(crate) fn with_inherited_path(self) -> Self {
        let path = std::env::var_os("PATH").unwrap_or_default();
        self.with_path(path)
    }

    pub(crate) fn root(&self) -> &Path {
        self.root.path()
    }

    /// `RELATIVE` under the root.
    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    /// The working directory of every command.
    pub(crate) fn cwd(&self) -> &Path {
        &self.cwd
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// `CODEX_HOME`.
    pub(crate) fn codex_home(&self) -> PathBuf {
        self.config_dir("codex", ".codex")
    }

    /// `CLAUDE_CONFIG_DIR`.
    pub(crate) fn claude_dir(&self) -> PathBuf {
        self.config_dir("claude", ".claude")
    }

    /// `XDG_CONFIG_HOME`.
    pub(crate) fn xdg(&self) -> PathBuf {
        self.config_dir("xdg", ".config")
    }

    /// `AIGATE_HOME` (created by aigate on first use).
    pub(crate) fn aigate_home(&self) -> PathBuf {
        self.config_dir("aigate", ".aigate")
    }

    fn config_dir(&self, flat: &str, in_home: &str) -> PathBuf {
        match self.layout {
            Layout::Flat => self.path(flat),
            Layout::InHome => self.home().join(in_home),
        }
    }

    pub(crate) fn codex_config(&self) -> PathBuf {
        self.codex_home().join("config.toml")
    }

    pub(crate) fn claude_settings(&self) -> PathBuf {
        self.claude_dir().join("settings.json")
    }

    pub(crate) fn claude_json(&self) -> PathBuf {
        self.claude_dir().join(".claude.json")
    }

    pub(crate) fn opencode_config(&self) -> PathBuf {
        self.xdg().join("opencode/opencode.jsonc")
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.aigate_home().join("aigate.db")
    }

    pub(crate) fn serve_json(&self) -> PathBuf {
        self.aigate_home().join("serve.json")
    }

    pub(crate) fn token_file(&self) -> PathBuf {
        self.aigate_home().join("serve.token")
    }

    /// `aigate` as a plain process (for spawning), with the hermetic environment and no stdin.
    pub(crate) fn process(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_aigate"));
        command
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", self.home())
            .env("CODEX_HOME", self.codex_home())
            .env("CLAUDE_CONFIG_DIR", self.claude_dir())
            .env("XDG_CONFIG_HOME", self.xdg())
            .env("AIGATE_HOME", self.aigate_home())
            .env("NO_COLOR", "1")
            .current_dir(&self.cwd)
            .stdin(Stdio::null());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// `aigate` with the hermetic environment.
    pub(crate) fn command(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.process())
    }

    /// Run `aigate ARGS`, whatever its exit.
    pub(crate) fn run(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().expect("run aigate")
    }

    /// Run `aigate --json ARGS` (before ARGS, which may end in `-- COMMAND`), assert it
    /// succeeded, and parse its stdout.
    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let (stdout, _) = self.ok(&[&["--json"], args].concat());
        serde_json::from_str(&stdout).expect("stdout is JSON")
    }

    /// Run `aigate ARGS` and expect success; returns (stdout, stderr).
    pub(crate) fn ok(&self, args: &[&str]) -> (String, String) {
        let output = self.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "aigate {args:?} failed:\n{stderr}");
        (String::from_utf8(output.stdout).expect("stdout is UTF-8"), stderr)
    }

    /// Run `aigate ARGS` and expect exit 1; returns stderr.
    pub(crate) fn refused(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(1), "aigate {args:?} should be refused:\n{stderr}");
        stderr
    }

    /// Start `aigate serve ARGS` and wait (a bounded poll) until serve.json names it.
    pub(crate) fn start_serve(&self, args: &[&str]) -> (Child, serde_json::Value) {
        let mut child = self
            .process()
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let info = fs_err::read_to_string(self.serve_json())
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
            if let Some(info) = info.filter(|info| info["pid"] == child.id()) {
                return (child, info);
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                let output = child.wait_with_output().expect("serve output");
                panic!("serve exited early with {status}: {}", String::from_utf8_lossy(&output.stderr));
            }
            assert!(Instant::now() < deadline, "serve never became ready");
            std::thread::sleep(Duration::from_millis(10));
        }
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

/// Write `bytes` to `path` and set its unix mode.
pub(crate) fn write(path: &Path, bytes: &[u8], mode: u32) {
    fs_err::write(path, bytes).expect("write");
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The unix mode bits of `path`.
pub(crate) fn mode(path: &Path) -> u32 {
    fs_err::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// A loopback port that refuses connections for as long as this test process runs: bound
/// but never listening. A port freed at once (bind a listener, note its port, drop it) may be
/// handed to another test's listener meanwhile, and the "refused" link would then answer.
pub(crate) fn refused_port() -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket.bind(([127, 0, 0, 1], 0).into()).expect("bind a loopback port");
    let port = socket.local_addr().expect("its address").port();
    // Kept open to the end of the process, so the port is never given out again.
    std::mem::forget(socket);
    port
}
