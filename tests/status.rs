//! `aigate status` in a throw-away home: files (exists, symlink target, parse errors with
//! line and column, modes), modes, snapshots, the gateway's `/health`; exit 0 always.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::path::PathBuf;

struct Home {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for sub in ["home", "codex", "claude", "xdg/opencode"] {
            fs_err::create_dir_all(root.join(sub)).unwrap();
        }
        Self { _dir: dir, root }
    }
    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
    fn aigate(&self, args: &[&str]) -> std::process::Output {
        let mut command = assert_cmd::Command::cargo_bin("aigate").unwrap();
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.root.join("home"))
            .env("CODEX_HOME", self.root.join("codex"))
            .env("CLAUDE_CONFIG_DIR", self.root.join("claude"))
            .env("XDG_CONFIG_HOME", self.root.join("xdg"))
            .env("AIGATE_HOME", self.root.join("aigate"))
            .current_dir(&self.root);
        command.args(args).output().unwrap()
    }
    fn status(&self) -> serde_json::Value {
        let output = self.aigate(&["status", "--json"]);
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

fn client<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["clients"].as_array().unwrap().iter().find(|client| client["client"] == name).unwrap()
}

#[test]
fn files_parse_errors_and_symlinks() {
    let home = Home::new();
    fs_err::write(home.path("codex/config.toml"), "model = \"x\"\n[broken\n").unwrap();
    fs_err::write(home.path("claude/real.json"), "{}\n").unwrap();
    std::os::unix::fs::symlink("real.json", home.path("claude/settings.json")).unwrap();
    let json = home.status();
    assert_eq!(json["version"], 1);
    let codex = &client(&json, "codex")["files"][0];
    assert_eq!(codex["exists"], true);
    assert_eq!(codex["parses"], false);
    assert_eq!(codex["error"]["line"], 2);
    assert_eq!(codex["format"], "toml");
    assert!(codex["mode"].as_str().unwrap().starts_with('0'));
    let claude = &client(&json, "claude")["files"][0];
    assert!(claude["symlink_target"].as_str().unwrap().ends_with("claude/real.json"), "{claude}");
    assert_eq!(claude["parses"], true);
    let opencode = &client(&json, "opencode")["files"][0];
    assert_eq!(opencode["exists"], false);
    assert!(!home.path("aigate").exists(), "status creates nothing");

    // Human output names the position too.
    let output = home.aigate(&["status"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("config.toml:2:"), "{stdout}");
}

#[test]
fn snapshots_and_a_gateway_that_answers() {
    let home = Home::new();
    fs_err::write(home.path("claude/settings.json"), "{}\n").unwrap();
    assert!(home.aigate(&["use", "gateway", "--client", "claude"]).status.success());
    let json = home.status();
    assert_eq!(client(&json, "claude")["mode"], "gateway");
    assert_eq!(client(&json, "claude")["snapshots"], 1);
    assert_eq!(client(&json, "claude")["files"][0]["holds_gateway_token"], true);
    assert_eq!(client(&json, "claude")["files"][0]["mode"], "0600");

    // The real gateway on a free port; readiness is a bounded poll of serve.json.
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_aigate"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path("home"))
        .env("AIGATE_HOME", home.path("aigate"))
        .env("CODEX_HOME", home.path("codex"))
        .env("CLAUDE_CONFIG_DIR", home.path("claude"))
        .env("XDG_CONFIG_HOME", home.path("xdg"))
        .args(["serve", "--port", "0", "--provider", "official"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let address = loop {
        let info = fs_err::read_to_string(home.path("aigate/serve.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
        if let Some(info) = info.filter(|info| info["pid"] == serve.id()) {
            break info["address"].as_str().unwrap().to_string();
        }
        assert!(serve.try_wait().unwrap().is_none(), "serve exited early");
        assert!(std::time::Instant::now() < deadline, "serve never became ready");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let json = home.status();
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(json["gateway"]["address"], address);
    assert_eq!(json["gateway"]["health"]["state"], "ok");
    assert_eq!(json["gateway"]["providers_source"], "serve");
}
