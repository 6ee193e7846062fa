//! `aigate backup` and `aigate restore` as a user runs them, in a throw-away home.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::os::unix::fs::symlink;

use crate::common::{TestContext, mode, write};
use pretty_assertions::assert_eq;

const CODEX: &[u8] = b"# my config\r\nmodel = \"gpt-5\"\r\n\r\n[mcp_servers.docs]\r\ncommand = \"docs\"\r\n";
const SETTINGS: &[u8] = b"\xef\xbb\xbf{\n    \"env\": { \"A\": \"1\" }\n}";
const OPENCODE: &[u8] = b"{\n  // comment\n  \"$schema\": \"https://opencode.ai/config.json\",\n}\n";

/// The acceptance scenario of the foundation issue: back up, change and delete, restore
/// every byte and mode with the symlink kept a symlink, then restore again to undo.
#[test]
fn restore_gives_back_every_byte_mode_and_symlink_and_a_second_restore_undoes_it() {
    let home = TestContext::in_home().with_inherited_path();
    let real = home.path("dotfiles/codex.toml");
    fs_err::create_dir_all(real.parent().unwrap()).unwrap();
    write(&real, CODEX, 0o644);
    symlink("../../dotfiles/codex.toml", home.codex_config()).unwrap();
    write(&home.claude_settings(), SETTINGS, 0o640);
    write(&home.opencode_config(), OPENCODE, 0o600);

    home.command().args(["backup", "create", "--label", "before"]).assert().success();

    write(&real, b"model = \"changed\"\n", 0o644);
    fs_err::remove_file(home.claude_settings()).unwrap();
    write(&home.opencode_config(), b"{}\n", 0o644);
    write(&home.claude_json(), b"{\"new\": true}\n", 0o644);

    home.command().arg("restore").assert().success();
    assert!(fs_err::symlink_metadata(home.codex_config()).unwrap().file_type().is_symlink());
    assert_eq!(fs_err::read(&real).unwrap(), CODEX);
    assert_eq!(fs_err::read(home.claude_settings()).unwrap(), SETTINGS);
    assert_eq!(mode(&home.claude_settings()), 0o640);
    assert_eq!(fs_err::read(home.opencode_config()).unwrap(), OPENCODE);
    assert_eq!(mode(&home.opencode_config()), 0o600);
    assert!(!home.claude_json().exists(), "a file that did not exist is removed");

    home.command().arg("restore").assert().success();
    assert_eq!(fs_err::read(&real).unwrap(), b"model = \"changed\"\n");
    assert!(!home.claude_settings().exists());
    assert_eq!(fs_err::read(home.opencode_config()).unwrap(), b"{}\n");
    assert_eq!(fs_err::read(home.claude_json()).unwrap(), b"{\"new\": true}\n");
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let home = TestContext::in_home().with_inherited_path();
    write(&home.codex_config(), b"model = \"a\"\n", 0o644);
    home.command().args(["backup", "create"]).assert().success();
    write(&home.codex_config(), b"model = \"b\"\n", 0o644);
    let output = home.command().args(["restore", "--dry-run"]).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("-model = \"b\"\n+model = \"a\"\n"), "{stdout}");
    assert_eq!(fs_err::read(home.codex_config()).unwrap(), b"model = \"b\"\n");
    let list = home.json(&["backup", "list", "--client", "codex"]);
    assert_eq!(list["snapshots"].as_array().unwrap().len(), 1, "a dry run takes no snapshot");
}

#[test]
fn list_json_shows_the_pinned_original_after_sixty_more_snapshots() {
    let home = TestContext::in_home().with_inherited_path();
    write(&home.codex_config(), b"model = \"first\"\n", 0o644);
    let created = home.json(&["backup", "create", "--client", "codex"]);
    let original_id = created["snapshots"][0]["id"].as_i64().unwrap();
    let original_sha = created["snapshots"][0]["files"][0]["sha256"].as_str().unwrap().to_string();
    for round in 0..60 {
        write(&home.codex_config(), format!("model = \"{round}\"\n").as_bytes(), 0o644);
        home.command().args(["backup", "create", "--client", "codex"]).assert().success();
    }
    let list = home.json(&["backup", "list", "--client", "codex"]);
    let snapshots = list["snapshots"].as_array().unwrap();
    assert_eq!(list["version"], 1);
    assert_eq!(snapshots.len(), 51, "50 rotating plus the pinned original");
    let pinned: Vec<_> = snapshots.iter().filter(|snapshot| snapshot["pinned"] == true).collect();
    assert_eq!(pinned.len(), 1);
    assert_eq!(pinned[0]["id"].as_i64().unwrap(), original_id);
    assert_eq!(pinned[0]["files"][0]["sha256"].as_str().unwrap(), original_sha);
    assert_eq!(pinned[0]["files"][0]["existed"], true);
    assert_eq!(pinned[0]["files"][0]["mode"], "0644");
    assert_eq!(pinned[0]["client"], "codex");

    home.command().args(["restore", &original_id.to_string()]).assert().success();
    assert_eq!(fs_err::read(home.codex_config()).unwrap(), b"model = \"first\"\n");
}

#[test]
fn restore_of_a_snapshot_where_the_file_did_not_exist_removes_it() {
    let home = TestContext::in_home().with_inherited_path();
    home.command().args(["backup", "create", "--client", "claude"]).assert().success();
    write(&home.claude_settings(), b"{}\n", 0o644);
    home.command().args(["restore", "--client", "claude"]).assert().success();
    assert!(!home.claude_settings().exists());
}

#[test]
fn show_and_diff_describe_a_snapshot() {
    let home = TestContext::in_home().with_inherited_path();
    write(&home.codex_config(), b"model = \"a\"\n", 0o600);
    home.command().args(["backup", "create"]).assert().success();
    let shown = home.command().args(["backup", "show", "1"]).output().unwrap();
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("~/.codex/config.toml  (mode 0600, sha256"), "{text}");
    write(&home.codex_config(), b"model = \"b\"\n", 0o600);
    let diff = home.command().args(["backup", "diff", "1"]).output().unwrap();
    assert_eq!(
        String::from_utf8(diff.stdout).unwrap(),
        "--- ~/.codex/config.toml\n+++ ~/.codex/config.toml\n@@ -1 +1 @@\n-model = \"a\"\n+model = \"b\"\n"
    );
}

#[test]
fn unknown_snapshot_is_refused_with_a_hint() {
    let home = TestContext::in_home().with_inherited_path();
    let output = home.command().args(["restore", "99"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "error: No snapshot with id 99\n\nhint: list them with `aigate backup list`\n"
    );
}

#[test]
fn restore_writes_through_a_symlink_that_was_replaced_by_a_file_target() {
    let home = TestContext::in_home().with_inherited_path();
    let real = home.path("real.json");
    write(&real, b"{\"a\": 1}\n", 0o644);
    symlink(&real, home.claude_settings()).unwrap();
    home.command().args(["backup", "create", "--client", "claude"]).assert().success();
    fs_err::remove_file(&real).unwrap();
    home.command().args(["restore"]).assert().failure().code(1);
    // A dangling link is refused, nothing written; put the target back and it works.
    write(&real, b"{}\n", 0o644);
    home.command().args(["restore"]).assert().success();
    assert_eq!(fs_err::read(&real).unwrap(), b"{\"a\": 1}\n");
    assert!(fs_err::symlink_metadata(home.claude_settings()).unwrap().file_type().is_symlink());
}

/// Issue 10 #21: `backup create --dry-run` writes nothing; `backup diff --json` is JSON.
#[test]
fn create_dry_run_writes_nothing_and_diff_speaks_json() {
    let home = TestContext::new();
    write(&home.codex_config(), b"model = \"a\"\n", 0o644);
    let (stdout, _) = home.ok(&["backup", "create", "--client", "codex", "--dry-run"]);
    assert!(stdout.contains("config.toml"), "{stdout}");
    assert!(!home.db_path().exists(), "a dry run creates nothing");
    let created = home.json(&["backup", "create", "--client", "codex"]);
    let id = created["snapshots"][0]["id"].as_i64().unwrap();
    write(&home.codex_config(), b"model = \"b\"\n", 0o644);
    let diff = home.json(&["backup", "diff", &id.to_string()]);
    assert_eq!(diff["snapshot"], id);
    let changed = diff["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1);
    assert!(changed[0]["diff"].as_str().unwrap().contains("+model = \"b\""), "{diff:#}");
}

#[test]
fn gemini_backup_and_restore_cover_settings_and_env() {
    let home = TestContext::in_home().with_inherited_path();
    let dir = home.home().join(".gemini");
    fs_err::create_dir_all(&dir).unwrap();
    let settings = b"{\n  // mine\n  \"ui\": { \"theme\": \"GitHub\" }\n}\n";
    let env = b"# keys\r\nOTHER=1\r\n";
    write(&dir.join("settings.json"), settings, 0o644);
    write(&dir.join(".env"), env, 0o640);
    let created = home.json(&["backup", "create", "--client", "gemini"]);
    let mut files: Vec<String> = created["snapshots"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap().to_string())
        .collect();
    files.sort();
    let expected =
        [dir.join(".env"), dir.join("settings.json")].map(|path| path.to_string_lossy().into_owned());
    assert_eq!(files, expected, "{created:#}");

    // `use gateway`, then `restore`: both files back, and Gemini CLI no longer in gateway mode.
    home.command().args(["use", "gateway", "--client", "gemini"]).assert().success();
    assert_ne!(fs_err::read(dir.join(".env")).unwrap(), env);
    home.command().args(["restore", "--client", "gemini"]).assert().success();
    assert_eq!(fs_err::read(dir.join("settings.json")).unwrap(), settings);
    assert_eq!(fs_err::read(dir.join(".env")).unwrap(), env);
    assert_eq!(mode(&dir.join(".env")), 0o640);
    let status = home.json(&["status", "--client", "gemini"]);
    assert_eq!(status["clients"][0]["mode"], "official", "{status:#}");
}

/// A large file's snapshot is a file beside the db (written once, not twice through
/// SQLite's WAL), private, checked when read back, and gone with the last snapshot
/// that used it.
#[test]
fn a_large_file_is_snapshotted_as_a_private_blob_file_and_restored_byte_for_byte() {
    let home = TestContext::in_home().with_inherited_path();
    let mut large = String::from("{\n  \"projects\": {\n");
    for index in 0..20_000 {
        large.push_str(&format!("    \"/p/{index}\": {{ \"history\": [] }},\n"));
    }
    large.push_str("    \"/last\": {}\n  }\n}\n");
    write(&home.claude_json(), large.as_bytes(), 0o600);
    let created = home.json(&["backup", "create", "--client", "claude"]);
    let id = created["snapshots"][0]["id"].as_i64().unwrap();
    let files = created["snapshots"][0]["files"].as_array().unwrap();
    let sha = files.iter().find(|file| file["existed"] == true).unwrap()["sha256"].as_str().unwrap();
    let blob = home.aigate_home().join("blobs").join(sha);
    assert_eq!(fs_err::read(&blob).unwrap(), large.as_bytes());
    assert_eq!(mode(&blob), 0o600);
    assert_eq!(mode(&home.aigate_home().join("blobs")), 0o700);
    let stored: (i64, i64) = home
        .db()
        .query_row("SELECT length(data), external FROM blobs WHERE sha256 = ?1", [sha], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!(stored, (0, 1), "the bytes are not in the db");

    write(&home.claude_json(), b"{}\n", 0o644);
    home.command().args(["restore", &id.to_string()]).assert().success();
    assert_eq!(fs_err::read(home.claude_json()).unwrap(), large.as_bytes());
    assert_eq!(mode(&home.claude_json()), 0o600);

    // A damaged blob is refused rather than written back.
    write(&blob, b"{\"damaged\": true}\n", 0o600);
    let output = home.run(&["restore", &id.to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not match its sha256"));
    assert_eq!(fs_err::read(home.claude_json()).unwrap(), large.as_bytes());
}

#[test]
fn a_large_blob_file_goes_with_the_last_snapshot_that_used_it() {
    let home = TestContext::in_home().with_inherited_path();
    let large =
        |round: usize| format!("{{\n  \"round\": {round},\n  \"pad\": \"{}\"\n}}\n", "x".repeat(300_000));
    write(&home.claude_json(), large(0).as_bytes(), 0o644);
    home.command().args(["backup", "create", "--client", "claude"]).assert().success();
    // A blob a process staged and never put in place (it died) goes once it is an hour
    // old; a younger one may be another process's.
    let staged = |name: &str, age: u64| {
        let path = home.aigate_home().join("blobs").join(name);
        write(&path, b"partial", 0o600);
        let file = fs_err::File::options().write(true).open(&path).unwrap();
        file.file().set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(age)).unwrap();
        path
    };
    let (stale, fresh) = (staged(".blob-stale.tmp", 7200), staged(".blob-fresh.tmp", 60));
    for round in 1..=52 {
        write(&home.claude_json(), large(round).as_bytes(), 0o644);
        home.command().args(["backup", "create", "--client", "claude"]).assert().success();
    }
    assert!(!stale.exists() && fresh.exists());
    fs_err::remove_file(&fresh).unwrap();
    // The pinned original and the newest 50: rounds 0 and 3..=52.
    let blobs: Vec<_> = fs_err::read_dir(home.aigate_home().join("blobs")).unwrap().collect();
    assert_eq!(blobs.len(), 51);
    let named: i64 =
        home.db().query_row("SELECT count(*) FROM blobs WHERE external = 1", [], |row| row.get(0)).unwrap();
    assert_eq!(named, 51);
}
