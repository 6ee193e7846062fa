//! `aigate use gateway|official` as a user runs them, in a throw-away home: round trips
//! with user edits in between, drift conflicts, all-or-nothing across clients,
//! idempotence, `--dry-run`, modes, and the token never printed.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::TestContext;
use pretty_assertions::assert_eq;

/// Seed the three clients from the shared fixtures, with mode 0644.
fn seed(home: &TestContext) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (from, to) in [
        ("codex/config.toml", home.codex_config()),
        ("claude/settings.json", home.claude_settings()),
        ("opencode/opencode.jsonc", home.opencode_config()),
    ] {
        fs_err::copy(fixtures.join(from), &to).unwrap();
        fs_err::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

/// Each client file: (path, bytes, mode), `None` where it does not exist.
fn files(home: &TestContext) -> Vec<(PathBuf, Option<Vec<u8>>, Option<u32>)> {
    states_of([home.codex_config(), home.claude_settings(), home.opencode_config()])
}

/// Each file: (path, bytes, mode), `None` where it does not exist.
pub(crate) fn states_of(
    paths: impl IntoIterator<Item = PathBuf>,
) -> Vec<(PathBuf, Option<Vec<u8>>, Option<u32>)> {
    paths
        .into_iter()
        .map(|path| {
            let bytes = fs_err::read(&path).ok();
            let mode = fs_err::metadata(&path).ok().map(|meta| meta.permissions().mode() & 0o777);
            (path, bytes, mode)
        })
        .collect()
}

pub(crate) fn text(output: &[u8]) -> String {
    String::from_utf8_lossy(output).into_owned()
}

pub(crate) fn ok(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
}

pub(crate) fn replace_in(path: &Path, from: &str, to: &str) {
    let content = fs_err::read_to_string(path).unwrap();
    assert!(content.contains(from), "{from} not in {}", path.display());
    fs_err::write(path, content.replacen(from, to, 1)).unwrap();
}

#[test]
fn round_trip_is_byte_exact_and_modes_come_back() {
    let home = TestContext::new();
    seed(&home);
    let before = files(&home);
    let output = home.run(&["use", "gateway", "--client", "all", "--model", "mock-model"]);
    ok(&output);
    assert!(text(&output.stderr).contains("aigate serve"), "{}", text(&output.stderr));
    let token = fs_err::read_to_string(home.token_file()).unwrap().trim().to_string();
    for (path, bytes, mode) in files(&home) {
        assert_eq!(mode, Some(0o600), "{}", path.display());
        assert!(text(&bytes.unwrap()).contains(&token), "{}", path.display());
    }
    assert!(!text(&output.stdout).contains(&token));
    assert!(!text(&output.stderr).contains(&token));
    let codex = fs_err::read_to_string(home.codex_config()).unwrap();
    assert!(codex.contains("model_provider = \"aigate\""));
    assert!(codex.contains("[model_providers.aigate]"));
    assert!(codex.contains("experimental_bearer_token"));

    ok(&home.run(&["use", "official"]));
    assert_eq!(files(&home), before);
}

#[test]
fn user_edits_elsewhere_survive_the_round_trip() {
    let home = TestContext::new();
    seed(&home);
    let original_claude = fs_err::read_to_string(home.claude_settings()).unwrap();
    let original_codex = fs_err::read_to_string(home.codex_config()).unwrap();
    ok(&home.run(&["use", "gateway", "--client", "codex", "--client", "claude"]));
    // The user (or the client itself) edits other keys while in gateway mode.
    replace_in(&home.claude_settings(), "\"model\": \"opusplan\"", "\"model\": \"sonnet\"");
    replace_in(
        &home.codex_config(),
        "[notice]",
        "[projects.\"/new/trusted\"]\ntrust_level = \"trusted\"\n\n[notice]",
    );
    ok(&home.run(&["use", "official"]));
    assert_eq!(
        fs_err::read_to_string(home.claude_settings()).unwrap(),
        original_claude.replacen("\"model\": \"opusplan\"", "\"model\": \"sonnet\"", 1)
    );
    assert_eq!(
        fs_err::read_to_string(home.codex_config()).unwrap(),
        original_codex.replacen(
            "[notice]",
            "[projects.\"/new/trusted\"]\ntrust_level = \"trusted\"\n\n[notice]",
            1
        )
    );
}

#[test]
fn drift_is_a_conflict_unless_forced() {
    let home = TestContext::new();
    seed(&home);
    let original = fs_err::read_to_string(home.claude_settings()).unwrap();
    ok(&home.run(&["use", "gateway", "--client", "claude"]));
    replace_in(
        &home.claude_settings(),
        "\"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:8787\"",
        "\"ANTHROPIC_BASE_URL\": \"http://10.1.1.1:9\"",
    );
    let edited = fs_err::read(home.claude_settings()).unwrap();

    let output = home.run(&["use", "official"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("env.ANTHROPIC_BASE_URL"), "{stderr}");
    assert!(stderr.contains("http://10.1.1.1:9"), "{stderr}");
    assert!(stderr.contains("http://127.0.0.1:8787"), "{stderr}");
    assert!(stderr.contains("hint:") && stderr.contains("--force"), "{stderr}");
    assert_eq!(fs_err::read(home.claude_settings()).unwrap(), edited, "nothing written");

    // status and doctor see the drift.
    let status = home.run(&["status", "--json", "--client", "claude"]);
    ok(&status);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["clients"][0]["mode"], "gateway");
    assert_eq!(json["clients"][0]["drift"][0]["key"], "env.ANTHROPIC_BASE_URL");

    ok(&home.run(&["use", "official", "--force"]));
    assert_eq!(fs_err::read_to_string(home.claude_settings()).unwrap(), original);
    // Records are gone: a second official has nothing to do.
    ok(&home.run(&["use", "official"]));
}

#[test]
fn a_broken_file_stops_every_client() {
    let home = TestContext::new();
    seed(&home);
    fs_err::write(home.opencode_config(), "{\n  \"model\": \"x\",\n  oops\n}\n").unwrap();
    let before = files(&home);
    let output = home.run(&["use", "gateway", "--client", "all"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("opencode.jsonc:3:"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert_eq!(files(&home), before, "no client file changed");
}

#[test]
fn second_use_gateway_writes_nothing() {
    let home = TestContext::new();
    seed(&home);
    ok(&home.run(&["use", "gateway", "--client", "all"]));
    let first = files(&home);
    let mtimes: Vec<_> = [home.codex_config(), home.claude_settings(), home.opencode_config()]
        .iter()
        .map(|path| fs_err::metadata(path).unwrap().modified().unwrap())
        .collect();
    let output = home.run(&["use", "gateway", "--client", "all"]);
    ok(&output);
    assert!(text(&output.stderr).contains("nothing changed"), "{}", text(&output.stderr));
    assert_eq!(files(&home), first);
    let again: Vec<_> = [home.codex_config(), home.claude_settings(), home.opencode_config()]
        .iter()
        .map(|path| fs_err::metadata(path).unwrap().modified().unwrap())
        .collect();
    assert_eq!(mtimes, again);
}

#[test]
fn a_second_use_gateway_with_a_model_keeps_the_original_values() {
    let home = TestContext::new();
    seed(&home);
    let before = files(&home);
    ok(&home.run(&["use", "gateway", "--client", "all"]));
    ok(&home.run(&["use", "gateway", "--client", "all", "--model", "m2"]));
    assert!(fs_err::read_to_string(home.claude_settings()).unwrap().contains("\"ANTHROPIC_MODEL\": \"m2\""));
    ok(&home.run(&["use", "official"]));
    assert_eq!(files(&home), before);
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let home = TestContext::new();
    seed(&home);
    let before = files(&home);
    let output = home.run(&["use", "gateway", "--client", "claude", "--dry-run"]);
    ok(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("+    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:8787\","), "{stdout}");
    assert!(stdout.contains("--- "), "{stdout}");
    assert_eq!(files(&home), before);
    assert!(!home.token_file().exists(), "dry run creates no token");

    ok(&home.run(&["use", "gateway", "--client", "claude"]));
    let token = fs_err::read_to_string(home.token_file()).unwrap().trim().to_string();
    let switched = files(&home);
    let output = home.run(&["use", "official", "--dry-run"]);
    ok(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("-    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:8787\","), "{stdout}");
    assert!(!stdout.contains(&token), "token masked in the diff");
    assert_eq!(files(&home), switched);
}

#[test]
fn missing_files_are_created_and_removed_again() {
    let home = TestContext::new();
    ok(&home.run(&["use", "gateway", "--client", "all", "--model", "m"]));
    // OpenCode got `opencode.json`, with `$schema`.
    let opencode = home.path("xdg/opencode/opencode.json");
    for path in [home.codex_config(), home.claude_settings(), opencode.clone()] {
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    assert!(fs_err::read_to_string(&opencode).unwrap().contains("\"$schema\""));
    ok(&home.run(&["use", "official"]));
    assert!(!home.codex_config().exists());
    assert!(!home.claude_settings().exists());
    assert!(!opencode.exists());
}

#[test]
fn codex_with_a_login_keeps_it_and_sends_the_token_in_a_header() {
    let home = TestContext::new();
    seed(&home);
    let auth = home.path("codex/auth.json");
    fs_err::write(&auth, "{\"OPENAI_API_KEY\": \"sk-FIXTURE\"}").unwrap();
    ok(&home.run(&["use", "gateway", "--client", "codex"]));
    let codex = fs_err::read_to_string(home.codex_config()).unwrap();
    assert!(codex.contains("requires_openai_auth = true"), "{codex}");
    assert!(codex.contains("http_headers = { x-aigate-token = "), "{codex}");
    assert!(!codex.contains("experimental_bearer_token"), "{codex}");
    assert_eq!(fs_err::read_to_string(&auth).unwrap(), "{\"OPENAI_API_KEY\": \"sk-FIXTURE\"}");
}

#[test]
fn unknown_provider_is_refused_and_a_known_chain_is_recorded() {
    let home = TestContext::new();
    seed(&home);
    let before = files(&home);
    let output = home.run(&["use", "gateway", "--provider", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(files(&home), before);
    ok(&home.run(&["use", "gateway", "--client", "claude", "--provider", "official"]));
    let status = home.run(&["status", "--json"]);
    ok(&status);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["gateway"]["providers"], serde_json::json!(["official"]));
}

#[test]
fn status_json_shows_each_mode() {
    let home = TestContext::new();
    seed(&home);
    let output = home.run(&["status", "--json"]);
    ok(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["version"], 1);
    for client in json["clients"].as_array().unwrap() {
        assert_eq!(client["mode"], "unmanaged", "{client}");
    }
    ok(&home.run(&["use", "gateway", "--client", "codex"]));
    ok(&home.run(&["use", "gateway", "--client", "claude"]));
    ok(&home.run(&["use", "official", "--client", "claude"]));
    let output = home.run(&["status", "--json"]);
    ok(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mode = |name: &str| {
        json["clients"].as_array().unwrap().iter().find(|client| client["client"] == name).unwrap()["mode"]
            .clone()
    };
    assert_eq!(mode("codex"), "gateway");
    assert_eq!(mode("claude"), "official");
    assert_eq!(mode("opencode"), "unmanaged");
    assert_eq!(json["gateway"]["health"]["state"], "unreachable");
    let token = fs_err::read_to_string(home.token_file()).unwrap().trim().to_string();
    assert!(!text(&output.stdout).contains(&token));
}

/// Issue 10 #18: a closed stderr (`aigate use gateway 2>&1 | head -1`) must not abort
/// after the files are written; the command ends with its own exit code.
#[test]
fn a_closed_stderr_pipe_ends_quietly_with_the_right_exit_code() {
    let home = TestContext::new();
    seed(&home);
    for args in [&["use", "gateway", "--model", "m"][..], &["use", "official"], &["status"]] {
        let mut child = home
            .process()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close both read ends before aigate writes anything.
        drop(child.stderr.take());
        drop(child.stdout.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {status:?}");
    }
    // The round trip still happened: the files are back.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    assert_eq!(
        fs_err::read(home.codex_config()).unwrap(),
        fs_err::read(fixtures.join("codex/config.toml")).unwrap()
    );
}

/// A client found on disk but not named, which the gateway's chain cannot serve at all
/// (Gemini CLI behind the default, official-only chain), is left as it is with a warning;
/// named, it is switched (with the same warning as before).
#[test]
fn a_found_client_the_chain_cannot_serve_is_left_alone_unless_named() {
    let home = TestContext::new();
    seed(&home);
    let settings = home.home().join(".gemini/settings.json");
    fs_err::create_dir_all(settings.parent().unwrap()).unwrap();
    let google_login = "{ \"security\": { \"auth\": { \"selectedType\": \"oauth-personal\" } } }\n";
    fs_err::write(&settings, google_login).unwrap();
    let output = home.run(&["use", "gateway"]);
    ok(&output);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("Gemini CLI is left as it is (name it with `--client gemini`"), "{stderr}");
    assert_eq!(fs_err::read_to_string(&settings).unwrap(), google_login);
    assert!(fs_err::read_to_string(home.codex_config()).unwrap().contains("model_provider = \"aigate\""));
    let output = home.run(&["use", "gateway", "--client", "gemini"]);
    ok(&output);
    assert!(text(&output.stderr).contains("No provider in the chain can serve Gemini CLI"));
    assert!(fs_err::read_to_string(&settings).unwrap().contains("gemini-api-key"));
}
