//! `aigate status` in a throw-away home: files (exists, symlink target, parse errors with
//! line and column, modes), modes, snapshots, the gateway's `/health`; exit 0 always.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use crate::common::TestContext;

/// `aigate status --json`, which always exits 0.
fn status(home: &TestContext) -> serde_json::Value {
    let output = home.run(&["status", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn client<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["clients"].as_array().unwrap().iter().find(|client| client["client"] == name).unwrap()
}

#[test]
fn files_parse_errors_and_symlinks() {
    let home = TestContext::new();
    fs_err::write(home.path("codex/config.toml"), "model = \"x\"\n[broken\n").unwrap();
    fs_err::write(home.path("claude/real.json"), "{}\n").unwrap();
    std::os::unix::fs::symlink("real.json", home.path("claude/settings.json")).unwrap();
    let json = status(&home);
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
    let output = home.run(&["status"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("config.toml:2:"), "{stdout}");
}

#[test]
fn snapshots_and_a_gateway_that_answers() {
    let home = TestContext::new();
    fs_err::write(home.path("claude/settings.json"), "{}\n").unwrap();
    assert!(home.run(&["use", "gateway", "--client", "claude"]).status.success());
    let json = status(&home);
    assert_eq!(client(&json, "claude")["mode"], "gateway");
    assert_eq!(client(&json, "claude")["snapshots"], 1);
    assert_eq!(client(&json, "claude")["files"][0]["holds_gateway_token"], true);
    assert_eq!(client(&json, "claude")["files"][0]["mode"], "0600");

    // The real gateway on a free port; readiness is a bounded poll of serve.json.
    let (mut serve, info) = home.start_serve(&["--port", "0", "--provider", "official"]);
    let address = info["address"].as_str().unwrap().to_string();
    let json = status(&home);
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(json["gateway"]["address"], address);
    assert_eq!(json["gateway"]["health"]["state"], "ok");
    assert_eq!(json["gateway"]["providers_source"], "serve");
}

/// Issue 10 #16: `use gateway`, then `restore`, leaves no stale records: `status` says
/// official without drift, and `doctor` finds nothing.
#[test]
fn restore_after_use_gateway_leaves_no_false_drift() {
    let home = TestContext::new();
    fs_err::write(home.path("claude/settings.json"), "{\n  \"model\": \"opus\"\n}\n").unwrap();
    fs_err::write(home.path("codex/config.toml"), "model = \"gpt-5\"\n").unwrap();
    assert!(home.run(&["use", "gateway", "--client", "claude", "--client", "codex"]).status.success());
    assert_eq!(client(&status(&home), "claude")["mode"], "gateway");
    let restored = home.run(&["restore"]);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let json = status(&home);
    for name in ["claude", "codex"] {
        assert_eq!(client(&json, name)["mode"], "official", "{name}: {json:#}");
        assert_eq!(client(&json, name)["drift"].as_array().map_or(0, Vec::len), 0, "{name}: {json:#}");
    }
    let doctor = home.run(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let drift: Vec<&serde_json::Value> =
        report["findings"].as_array().unwrap().iter().filter(|finding| finding["check"] == "drift").collect();
    assert!(drift.is_empty(), "{report:#}");
}
