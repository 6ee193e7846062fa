//! `use gateway` on real-world shaped files: the whole expected output for each fixture,
//! then `use official` from a fresh parse (as a later process would) gives back the input
//! byte for byte.
//!
//! Expected files live in `tests/fixtures/gateway/expected/`; `UPDATE_EXPECT=1` rewrites
//! them (review the diff before committing).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::path::{Path, PathBuf};

use aigate::clients::gateway::{self, FileRecord, Target};
use aigate::clients::{Client, Format};
use aigate::doc::Document;
use pretty_assertions::assert_eq;

const TOKEN: &str = "tok-FIXTURE-0123456789abcdef";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn target(model: Option<&str>, codex_login: bool) -> Target {
    Target {
        address: "127.0.0.1:8787".into(),
        token: TOKEN.into(),
        model: model.map(String::from),
        codex_login,
    }
}

/// Switch `input` (None: missing file) to gateway mode, compare with the expected file,
/// then switch back from a fresh parse and compare with the input: once through the
/// exact-bytes path (the file is as aigate wrote it) and once key by key (as after a user
/// edit elsewhere), which must be byte-exact too unless `key_level_exact` is false.
fn round_trip_with(
    client: Client,
    input: Option<&str>,
    expected: &str,
    target: &Target,
    key_level_exact: bool,
) {
    let original = input.map(|name| fs_err::read(fixtures().join(name)).unwrap());
    // Gemini CLI's second file is its `.env`, told apart by its name.
    let path = if expected.starts_with("gemini.env") {
        Path::new("/fixture/.env")
    } else {
        Path::new("/fixture/file")
    };
    let format = gateway::gateway_format(client, path);
    let (switched, record) =
        gateway::gateway_bytes(client, path, original.as_deref(), Some(0o644), target, None).unwrap();

    let expected_path = fixtures().join("gateway/expected").join(expected);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        fs_err::write(&expected_path, &switched).unwrap();
    }
    let want = fs_err::read(&expected_path).unwrap();
    assert_eq!(String::from_utf8_lossy(&switched), String::from_utf8_lossy(&want), "{expected}");
    assert_eq!(switched, want, "{expected}: bytes (BOM, line endings)");
    assert!(!record.edits.is_empty());

    // A second `use gateway` changes nothing and keeps the original `before` values.
    let (again, second) =
        gateway::gateway_bytes(client, path, Some(&switched), Some(0o600), target, Some(&record)).unwrap();
    assert_eq!(again, switched, "{expected}: second use gateway");
    assert_eq!(second, record, "{expected}: records after a second use gateway");
    assert_eq!(second.before_bytes, record.before_bytes);

    // `use official` on the untouched file: the exact bytes, or no file.
    let (back, conflicts) = gateway::official_bytes(Some(&switched), &record, false).unwrap();
    assert_eq!(conflicts, Vec::new(), "{expected}: conflicts");
    assert_eq!(back, original, "{expected}: use official is byte-exact");

    // Key by key from a fresh parse (what happens after an edit elsewhere).
    let mut fresh = Document::parse(&switched, format, path).unwrap();
    let plan = gateway::plan_official(&mut fresh, &record, false).unwrap();
    assert_eq!(plan.conflicts, Vec::new(), "{expected}: conflicts");
    match &original {
        Some(bytes) => {
            assert!(!plan.remove_file, "{expected}: an existing file is kept");
            if key_level_exact {
                assert_eq!(String::from_utf8_lossy(&fresh.to_bytes()), String::from_utf8_lossy(bytes));
                assert_eq!(&fresh.to_bytes(), bytes, "{expected}: key-level undo is byte-exact");
            } else {
                let before = Document::parse(bytes, format, path).unwrap();
                assert_eq!(
                    fresh.to_value(),
                    before.to_value(),
                    "{expected}: key-level undo restores the values"
                );
            }
        }
        None => assert!(plan.remove_file, "{expected}: a file aigate created is removed again"),
    }
}

fn round_trip(client: Client, input: Option<&str>, expected: &str, target: &Target) {
    round_trip_with(client, input, expected, target, true);
}

#[test]
fn codex_commented_file_with_providers_and_no_final_newline() {
    round_trip(Client::Codex, Some("codex/config.toml"), "codex.config.toml", &target(None, false));
}

#[test]
fn codex_with_login_keeps_requires_openai_auth_and_sends_the_token_in_a_header() {
    round_trip(
        Client::Codex,
        Some("codex/config.toml"),
        "codex.config.login.toml",
        &target(Some("gpt-5"), true),
    );
}

#[test]
fn codex_dotted_root_keys() {
    round_trip(
        Client::Codex,
        Some("codex/config.dotted-root.toml"),
        "codex.dotted-root.toml",
        &target(None, false),
    );
}

#[test]
fn codex_inline_tables() {
    round_trip(
        Client::Codex,
        Some("codex/config.inline-mcp.toml"),
        "codex.inline-mcp.toml",
        &target(None, false),
    );
}

#[test]
fn codex_minimal_with_model() {
    round_trip(
        Client::Codex,
        Some("codex/config.minimal.toml"),
        "codex.minimal.toml",
        &target(Some("mock-model"), false),
    );
}

#[test]
fn codex_crlf() {
    round_trip(Client::Codex, Some("hostile/crlf.config.toml"), "codex.crlf.toml", &target(None, false));
}

#[test]
fn codex_bom() {
    round_trip(Client::Codex, Some("hostile/bom.config.toml"), "codex.bom.toml", &target(None, false));
}

#[test]
fn codex_comments_only() {
    round_trip(
        Client::Codex,
        Some("hostile/comments-only.toml"),
        "codex.comments-only.toml",
        &target(None, false),
    );
}

#[test]
fn codex_existing_aigate_table_comes_back_as_it_was() {
    round_trip(
        Client::Codex,
        Some("gateway/codex.existing-aigate.toml"),
        "codex.existing-aigate.toml",
        &target(None, false),
    );
}

#[test]
fn codex_missing_file() {
    round_trip(Client::Codex, None, "codex.missing.toml", &target(None, false));
}

#[test]
fn claude_full_settings_with_env() {
    round_trip(
        Client::Claude,
        Some("claude/settings.json"),
        "claude.settings.json",
        &target(Some("opus"), false),
    );
}

#[test]
fn claude_settings_without_env_and_no_final_newline() {
    round_trip(
        Client::Claude,
        Some("gateway/claude.no-env.json"),
        "claude.no-env.json",
        &target(None, false),
    );
}

#[test]
fn claude_crlf() {
    round_trip(Client::Claude, Some("hostile/crlf.settings.json"), "claude.crlf.json", &target(None, false));
}

#[test]
fn claude_bom() {
    round_trip(Client::Claude, Some("hostile/bom.settings.json"), "claude.bom.json", &target(None, false));
}

#[test]
fn claude_missing_file() {
    round_trip(Client::Claude, None, "claude.missing.json", &target(None, false));
}

#[test]
fn opencode_jsonc_with_comments_and_trailing_commas() {
    round_trip(
        Client::OpenCode,
        Some("opencode/opencode.jsonc"),
        "opencode.jsonc",
        &target(Some("mock-model"), false),
    );
}

#[test]
fn opencode_without_schema_gets_one() {
    round_trip(
        Client::OpenCode,
        Some("opencode/opencode.no-schema.json"),
        "opencode.no-schema.json",
        &target(None, false),
    );
}

#[test]
fn opencode_plain_json() {
    round_trip(Client::OpenCode, Some("opencode/opencode.json"), "opencode.json", &target(None, false));
}

#[test]
fn opencode_tabs_and_trailing_comma() {
    round_trip(
        Client::OpenCode,
        Some("gateway/opencode.tabs.jsonc"),
        "opencode.tabs.jsonc",
        &target(None, false),
    );
}

#[test]
fn opencode_bom_one_line_object() {
    // The JSON layer spreads a one-line object over lines when a key is added, so only
    // the exact-bytes path gives the same bytes back; key by key the values come back.
    round_trip_with(
        Client::OpenCode,
        Some("hostile/bom.opencode.jsonc"),
        "opencode.bom.jsonc",
        &target(None, false),
        false,
    );
}

#[test]
fn opencode_missing_file() {
    round_trip(Client::OpenCode, None, "opencode.missing.json", &target(Some("mock-model"), false));
}

#[test]
fn gemini_commented_settings_get_the_api_key_login_and_the_model() {
    round_trip(
        Client::Gemini,
        Some("gemini/settings.commented.json"),
        "gemini.settings.commented.json",
        &target(Some("gemini-2.5-flash"), false),
    );
}

#[test]
fn gemini_settings_that_already_select_the_api_key_keep_their_model_without_model() {
    round_trip(Client::Gemini, Some("gemini/settings.json"), "gemini.settings.json", &target(None, false));
    // With `--model`, the user's `model.name` is replaced and comes back on `use official`.
    round_trip(
        Client::Gemini,
        Some("gemini/settings.json"),
        "gemini.settings.model.json",
        &target(Some("mock-model"), false),
    );
}

#[test]
fn gemini_missing_settings() {
    round_trip(Client::Gemini, None, "gemini.settings.missing.json", &target(None, false));
}

#[test]
fn gemini_env_with_comments_crlf_export_its_own_key_and_no_final_newline() {
    round_trip(Client::Gemini, Some("gemini/env.crlf"), "gemini.env.crlf", &target(None, false));
}

#[test]
fn gemini_env_with_other_keys() {
    round_trip(Client::Gemini, Some("gemini/env.lf"), "gemini.env.lf", &target(Some("ignored-here"), false));
}

#[test]
fn gemini_missing_env() {
    round_trip(Client::Gemini, None, "gemini.env.missing", &target(None, false));
}

#[test]
fn gemini_env_key_changed_by_hand_is_drift_and_masked() {
    let path = Path::new("/fixture/.env");
    let input = fs_err::read(fixtures().join("gemini/env.crlf")).unwrap();
    let (switched, record) =
        gateway::gateway_bytes(Client::Gemini, path, Some(&input), Some(0o600), &target(None, false), None)
            .unwrap();
    let edited = String::from_utf8(switched).unwrap().replace(TOKEN, "AIzaSy-typed-by-hand");
    let document = Document::parse(edited.as_bytes(), Format::Dotenv, path).unwrap();
    let drift = gateway::drift(&document, &record);
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].key, "GEMINI_API_KEY");
    assert!(!serde_json::to_string(&drift).unwrap().contains(TOKEN));
    let (_, conflicts) = gateway::official_bytes(Some(edited.as_bytes()), &record, false).unwrap();
    assert_eq!(conflicts.len(), 1);
    // Forced: the user's own key from before `use gateway` is back, every other byte kept.
    let (forced, _) = gateway::official_bytes(Some(edited.as_bytes()), &record, true).unwrap();
    assert_eq!(forced.unwrap(), input);
}

#[test]
fn a_key_changed_by_hand_is_a_conflict_and_force_puts_the_old_value_back() {
    let input = fs_err::read(fixtures().join("claude/settings.json")).unwrap();
    let path = Path::new("/fixture/settings.json");
    let mut document = Document::parse(&input, Format::Json, path).unwrap();
    let edits = gateway::plan_gateway(Client::Claude, &mut document, &target(None, false), &[]).unwrap();
    let record = FileRecord {
        client: Client::Claude,
        path: path.into(),
        file_existed: true,
        file_mode: None,
        before_bytes: None,
        written_sha256: None,
        edits,
    };
    let mut edited = Document::parse_owned(document.to_bytes(), Format::Json, path).unwrap();
    edited.set(&["env", "ANTHROPIC_BASE_URL"], &serde_json::json!("http://10.0.0.1:1")).unwrap();
    edited.set(&["theme"], &serde_json::json!("dark")).unwrap();
    let by_hand = edited.to_bytes();

    assert_eq!(gateway::drift(&edited, &record).len(), 1);
    let plan = gateway::plan_official(&mut edited, &record, false).unwrap();
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].key, "env.ANTHROPIC_BASE_URL");
    assert_eq!(plan.conflicts[0].found, Some(serde_json::json!("http://10.0.0.1:1")));
    assert_eq!(edited.get(&["env", "ANTHROPIC_BASE_URL"]), Some(serde_json::json!("http://10.0.0.1:1")));

    let mut forced = Document::parse(&by_hand, Format::Json, path).unwrap();
    let plan = gateway::plan_official(&mut forced, &record, true).unwrap();
    assert_eq!(plan.conflicts.len(), 1);
    let mut expected = Document::parse(&input, Format::Json, path).unwrap();
    expected.set(&["theme"], &serde_json::json!("dark")).unwrap();
    assert_eq!(String::from_utf8_lossy(&forced.to_bytes()), String::from_utf8_lossy(&expected.to_bytes()));
}

#[test]
fn conflicts_mask_the_token() {
    let path = Path::new("/fixture/config.toml");
    let mut document = Document::new_empty(Format::Toml);
    let edits = gateway::plan_gateway(Client::Codex, &mut document, &target(None, false), &[]).unwrap();
    let record = FileRecord {
        client: Client::Codex,
        path: path.into(),
        file_existed: false,
        file_mode: None,
        before_bytes: None,
        written_sha256: None,
        edits,
    };
    let mut edited = Document::parse_owned(document.to_bytes(), Format::Toml, path).unwrap();
    edited.set(&["model_providers", "aigate", "base_url"], &serde_json::json!("http://x/v1")).unwrap();
    let drift = gateway::drift(&edited, &record);
    assert_eq!(drift.len(), 1);
    let shown = serde_json::to_string(&drift).unwrap();
    assert!(!shown.contains(TOKEN), "{shown}");
}
