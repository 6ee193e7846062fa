//! `aigate doctor` in a throw-away home: exit 0 when clean, exit 1 with a hint for each
//! problem (broken file with file:line:column, reserved Codex id, both Anthropic
//! credentials, gateway down while a client uses it, drift, skills, file modes).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::TestContext;

/// `aigate ARGS` with extra environment variables.
fn aigate(home: &TestContext, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    home.command().args(args).envs(env.iter().copied()).output().unwrap()
}

/// `aigate doctor --json`: (exit code, report, stderr).
fn doctor(home: &TestContext, env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let output = aigate(home, &["doctor", "--json"], env);
    let json = serde_json::from_slice(&output.stdout).unwrap();
    (output.status.code().unwrap(), json, String::from_utf8_lossy(&output.stderr).into_owned())
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn checks(json: &serde_json::Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["check"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_clean_home_passes_and_nothing_is_created() {
    let home = TestContext::new();
    fs_err::copy(fixture("codex/config.minimal.toml"), home.path("codex/config.toml")).unwrap();
    fs_err::copy(fixture("claude/settings.local.json"), home.path("claude/settings.json")).unwrap();
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!(json["findings"], serde_json::json!([]), "{json}");
    assert_eq!(code, 0);
    assert_eq!(json["version"], 1);
    assert_eq!(json["ok"], true);
    assert!(!home.path("aigate").exists(), "doctor creates nothing");
}

#[test]
fn a_broken_file_is_reported_with_its_position_and_a_hint() {
    let home = TestContext::new();
    fs_err::copy(fixture("hostile/invalid-unterminated.toml"), home.path("codex/config.toml")).unwrap();
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!(code, 1);
    let finding = &json["findings"][0];
    assert_eq!(finding["check"], "parse");
    assert_eq!(finding["severity"], "error");
    let location = finding["location"].as_str().unwrap();
    assert!(location.contains("codex/config.toml:"), "{location}");
    assert_eq!(location.matches(':').count(), 2, "{location}");
    assert!(finding["hint"].as_str().unwrap().contains("aigate restore"));

    // The human form has `hint:` lines too.
    let output = aigate(&home, &["doctor"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("hint: "));
}

#[test]
fn reserved_codex_id_and_legacy_chat() {
    let home = TestContext::new();
    fs_err::copy(fixture("codex/config.reserved-provider.toml"), home.path("codex/config.toml")).unwrap();
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!(code, 1);
    assert!(checks(&json).contains(&"codex-reserved-id".to_string()), "{json}");
    fs_err::copy(fixture("codex/config.legacy-chat.toml"), home.path("codex/config.toml")).unwrap();
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!(code, 1);
    assert!(checks(&json).contains(&"codex-wire-api".to_string()), "{json}");
}

#[test]
fn both_anthropic_credentials() {
    let home = TestContext::new();
    fs_err::write(home.path("claude/settings.json"), "{\"env\": {\"ANTHROPIC_AUTH_TOKEN\": \"x\"}}").unwrap();
    let (code, json, _) = doctor(&home, &[("ANTHROPIC_API_KEY", "sk-ant-FIXTURE")]);
    assert_eq!(code, 1);
    assert_eq!(checks(&json), vec!["claude-two-credentials"]);
    assert!(!json.to_string().contains("sk-ant-FIXTURE"));
    let (code, _, _) = doctor(&home, &[]);
    assert_eq!(code, 0);
}

#[test]
fn http_proxy_without_loopback_exemption() {
    let home = TestContext::new();
    let (code, json, _) = doctor(&home, &[("HTTPS_PROXY", "http://proxy.invalid:3128")]);
    assert_eq!(code, 1);
    assert_eq!(checks(&json), vec!["http-proxy"]);
    let (code, _, _) =
        doctor(&home, &[("HTTPS_PROXY", "http://proxy.invalid:3128"), ("NO_PROXY", "example.com,127.0.0.1")]);
    assert_eq!(code, 0);
}

#[test]
fn gateway_mode_without_a_gateway_and_drift() {
    let home = TestContext::new();
    fs_err::copy(fixture("claude/settings.json"), home.path("claude/settings.json")).unwrap();
    let output = aigate(&home, &["use", "gateway", "--client", "claude"], &[]);
    assert!(output.status.success());
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!(code, 1);
    assert_eq!(checks(&json), vec!["gateway"], "{json}");
    let settings = fs_err::read_to_string(home.path("claude/settings.json")).unwrap();
    fs_err::write(home.path("claude/settings.json"), settings.replace("127.0.0.1:8787", "127.0.0.1:1"))
        .unwrap();
    let (_, json, _) = doctor(&home, &[]);
    assert!(checks(&json).contains(&"drift".to_string()), "{json}");
    let token = fs_err::read_to_string(home.path("aigate/serve.token")).unwrap();
    assert!(!json.to_string().contains(token.trim()));
}

#[test]
fn secret_files_open_to_others() {
    let home = TestContext::new();
    assert!(aigate(&home, &["use", "gateway", "--client", "claude"], &[]).status.success());
    fs_err::set_permissions(home.path("claude/settings.json"), std::fs::Permissions::from_mode(0o644))
        .unwrap();
    fs_err::set_permissions(home.path("aigate"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (_, json, _) = doctor(&home, &[]);
    let modes = checks(&json).into_iter().filter(|check| check == "file-mode").count();
    assert_eq!(modes, 2, "{json}");
}

#[test]
fn skills_with_bad_frontmatter() {
    let home = TestContext::new();
    let skills = home.path("home/.agents/skills");
    for name in ["pdf-tools", "Bad_Name", "name-mismatch"] {
        let dir = skills.join(name);
        fs_err::create_dir_all(&dir).unwrap();
        let declared = if name == "name-mismatch" { "other" } else { name };
        let text = format!("---\nname: {declared}\ndescription: A test skill.\n---\nBody.\n");
        fs_err::write(dir.join("SKILL.md"), text).unwrap();
    }
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!(code, 1);
    assert_eq!(checks(&json), vec!["skill-frontmatter", "skill-frontmatter"], "{json}");
}

#[test]
fn a_codex_profile_that_shadows_the_gateway() {
    let home = TestContext::new();
    fs_err::write(
        home.path("codex/config.toml"),
        "profile = \"work\"\n\n[profiles.work]\nmodel_provider = \"azure\"\n",
    )
    .unwrap();
    assert!(aigate(&home, &["use", "gateway", "--client", "codex"], &[]).status.success());
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!(code, 1);
    assert!(checks(&json).contains(&"codex-profile".to_string()), "{json}");
}

#[test]
fn gemini_in_gateway_mode_with_shadowing_variables_env_files_and_logins() {
    let home = TestContext::new().with_cwd("work/project");
    let dir = home.path("home/.gemini");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::copy(fixture("gemini/settings.commented.json"), dir.join("settings.json")).unwrap();
    assert!(aigate(&home, &["use", "gateway", "--client", "gemini"], &[]).status.success());
    let gemini_checks = |json: &serde_json::Value| -> Vec<String> {
        checks(json).into_iter().filter(|check| check.starts_with("gemini-")).collect()
    };
    let (_, json, _) = doctor(&home, &[]);
    assert_eq!(gemini_checks(&json), Vec::<String>::new(), "{json}");
    // The same value as the `.env` is harmless; another one beats the file.
    let (_, json, _) = doctor(&home, &[("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:8787")]);
    assert_eq!(gemini_checks(&json), Vec::<String>::new(), "{json}");
    let (code, json, _) = doctor(&home, &[("GEMINI_API_KEY", "AIza-secret-of-mine")]);
    assert_eq!(code, 1);
    assert_eq!(gemini_checks(&json), vec!["gemini-environment"], "{json}");
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["check"] == "gemini-environment")
        .unwrap();
    assert!(finding["hint"].as_str().unwrap().contains("shadows `~/.gemini/.env`"), "{finding}");
    assert!(!json.to_string().contains("AIza-secret-of-mine"));

    // A `.env` in a parent of the cwd is the one Gemini CLI reads.
    fs_err::write(home.path("work/.env"), "OTHER=1\n").unwrap();
    // A project settings file that selects another login outranks the user's.
    fs_err::create_dir_all(home.cwd().join(".gemini")).unwrap();
    fs_err::write(
        home.cwd().join(".gemini/settings.json"),
        "{ \"security\": { \"auth\": { \"selectedType\": \"oauth-personal\" } } }\n",
    )
    .unwrap();
    let (_, json, _) = doctor(&home, &[]);
    assert_eq!(gemini_checks(&json), vec!["gemini-env-file", "gemini-login"], "{json}");
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["check"] == "gemini-env-file")
        .unwrap();
    assert!(finding["location"].as_str().unwrap().ends_with("work/.env"), "{finding}");
}

#[test]
fn gemini_settings_are_checked_in_its_own_dialect() {
    let home = TestContext::new();
    let dir = home.path("home/.gemini");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::copy(fixture("gemini/settings.commented.json"), dir.join("settings.json")).unwrap();
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!((code, checks(&json)), (0, Vec::<String>::new()), "comments are fine: {json}");
    fs_err::copy(fixture("gemini/settings.trailing-comma.json"), dir.join("settings.json")).unwrap();
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!(code, 1);
    assert_eq!(json["findings"][0]["check"], "parse");
    assert!(
        json["findings"][0]["location"].as_str().unwrap().ends_with(".gemini/settings.json:5:60"),
        "{json}"
    );
}

/// Large snapshots are files beside the db: one that is gone is reported.
#[test]
fn a_missing_snapshot_blob_file_is_reported() {
    let home = TestContext::new();
    let large = format!("{{\"pad\": \"{}\"}}\n", "x".repeat(300_000));
    fs_err::write(home.claude_json(), &large).unwrap();
    home.command().args(["backup", "create", "--client", "claude"]).assert().success();
    let (_, json, _) = doctor(&home, &[]);
    assert!(!checks(&json).contains(&"db-integrity".to_string()), "{json}");
    let blobs = home.aigate_home().join("blobs");
    for blob in fs_err::read_dir(&blobs).unwrap() {
        fs_err::remove_file(blob.unwrap().path()).unwrap();
    }
    let (code, json, _) = doctor(&home, &[]);
    assert_eq!(code, 1);
    let finding =
        json["findings"].as_array().unwrap().iter().find(|finding| finding["check"] == "db-integrity");
    let finding = finding.unwrap_or_else(|| panic!("{json}"));
    assert!(finding["what"].as_str().unwrap().contains("missing"), "{finding}");
    assert!(finding["location"].as_str().unwrap().contains("blobs/"), "{finding}");
}
