//! `aigate mcp` as a user runs it, against copies of the client fixtures in a throw-away
//! home: whole-file expected output for every edit, and byte-identical round trips.
//!
//! Expected files live in `tests/fixtures/mcp/expected/`; run with `AIGATE_BLESS=1` to
//! (re)write them, then review the diff by eye.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::path::{Path, PathBuf};

use crate::common::TestContext;
use pretty_assertions::assert_eq;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
/// The project path the `.claude.json` fixture's local-scope servers belong to.
const FIXTURE_PROJECT: &str = "/home/alice/src/aigate";

/// A throw-away home, run from its `project/` directory.
fn new_home() -> TestContext {
    TestContext::in_home().with_inherited_path().with_cwd("project")
}

/// Put the three user-scope fixtures in place.
fn with_fixtures(home: TestContext) -> TestContext {
    copy(&fixture("codex/config.toml"), &home.codex_config());
    copy(&fixture("claude/.claude.json"), &home.claude_json());
    copy(&fixture("opencode/opencode.jsonc"), &home.opencode_config());
    home
}

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn copy(from: &Path, to: &Path) {
    fs_err::create_dir_all(to.parent().unwrap()).unwrap();
    fs_err::copy(from, to).unwrap();
}

fn read(path: &Path) -> String {
    fs_err::read_to_string(path).unwrap()
}

/// Compare `actual` with the whole expected file `name` (or write it with AIGATE_BLESS=1).
fn expect_file(name: &str, actual: &str) {
    let path = fixture("mcp/expected").join(name);
    if std::env::var_os("AIGATE_BLESS").is_some() {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, actual).unwrap();
    }
    let expected = fs_err::read_to_string(&path).unwrap_or_else(|_| panic!("missing {}", path.display()));
    assert_eq!(actual, expected, "{name}");
}

// ------------------------------------------------------------------------------ Codex

#[test]
fn codex_add_and_remove_on_every_form_of_mcp_servers() {
    for fixture_name in ["config.toml", "config.inline-mcp.toml", "config.dotted-root.toml"] {
        let home = new_home();
        copy(&fixture(&format!("codex/{fixture_name}")), &home.codex_config());
        let original = read(&home.codex_config());

        home.ok(&[
            "mcp",
            "add",
            "fs",
            "--client",
            "codex",
            "--env",
            "ROOT=/srv",
            "--",
            "npx",
            "-y",
            "@mcp/fs",
            "/srv",
        ]);
        home.ok(&[
            "mcp",
            "add",
            "web",
            "--client",
            "codex",
            "--url",
            "https://mcp.example.com/mcp",
            "--header",
            "Authorization: Bearer ${REMOTE_TOKEN}",
            "--header",
            "X-Team: ${TEAM}",
            "--header",
            "X-Mode: ro",
        ]);
        let added = read(&home.codex_config());
        toml_edit::DocumentMut::from_str_checked(&added);
        expect_file(&format!("codex/{fixture_name}.add"), &added);

        home.ok(&["mcp", "remove", "fs", "--client", "codex"]);
        home.ok(&["mcp", "remove", "web", "--client", "codex"]);
        assert_eq!(read(&home.codex_config()), original, "{fixture_name}: add then remove is byte-identical");
    }
}

trait CheckedParse {
    fn from_str_checked(text: &str);
}

impl CheckedParse for toml_edit::DocumentMut {
    /// The result must still be TOML Codex can read.
    fn from_str_checked(text: &str) {
        text.parse::<toml_edit::DocumentMut>()
            .unwrap_or_else(|error| panic!("invalid TOML: {error}\n{text}"));
    }
}

#[test]
fn codex_disable_then_enable_is_byte_identical() {
    let home = new_home();
    copy(&fixture("codex/config.toml"), &home.codex_config());
    let original = read(&home.codex_config());
    home.ok(&["mcp", "disable", "docs"]);
    home.ok(&["mcp", "disable", "my.weird server"]);
    expect_file("codex/config.toml.disable", &read(&home.codex_config()));
    home.ok(&["mcp", "enable", "docs"]);
    home.ok(&["mcp", "enable", "my.weird server"]);
    assert_eq!(read(&home.codex_config()), original);

    // A server the user disabled by hand is enabled with `enabled = true`.
    home.ok(&["mcp", "enable", "github"]);
    assert!(
        read(&home.codex_config())
            .contains("enabled = true        # disabled, but the user wants to keep it around\n")
    );

    let inline = new_home();
    copy(&fixture("codex/config.inline-mcp.toml"), &inline.codex_config());
    let original = read(&inline.codex_config());
    inline.ok(&["mcp", "disable", "context7"]);
    expect_file("codex/config.inline-mcp.toml.disable", &read(&inline.codex_config()));
    inline.ok(&["mcp", "enable", "context7"]);
    assert_eq!(read(&inline.codex_config()), original);
}

#[test]
fn codex_never_gets_keys_it_rejects() {
    let home = with_fixtures(new_home());
    let before = [read(&home.codex_config()), read(&home.claude_json()), read(&home.opencode_config())];
    let stderr = home.refused(&["mcp", "add", "events", "--url", "https://x/sse", "--transport", "sse"]);
    assert!(stderr.contains("Codex supports stdio and streamable HTTP servers, not SSE"), "{stderr}");
    let stderr = home.refused(&[
        "mcp",
        "add",
        "mixed",
        "--url",
        "https://x/mcp",
        "--header",
        "Authorization: Token ${T}",
    ]);
    assert!(
        stderr.contains("Codex cannot put an environment variable inside header `Authorization`"),
        "{stderr}"
    );
    let stderr = home.refused(&["mcp", "add", "my.server", "--", "npx", "x"]);
    assert!(stderr.contains("Codex accepts only letters, digits"), "{stderr}");
    assert!(stderr.contains("Claude Code accepts only letters, digits"), "{stderr}");
    let stderr = home.refused(&["mcp", "add", "x", "--url", "https://x", "--env", "A=1"]);
    assert!(stderr.contains("`--env` is for stdio servers"), "{stderr}");
    assert_eq!(
        [read(&home.codex_config()), read(&home.claude_json()), read(&home.opencode_config())],
        before,
        "nothing written"
    );

    // The header forms Codex has keys for become those keys, never `http_headers` on stdio
    // or an inline `bearer_token`.
    let home = new_home();
    home.ok(&[
        "mcp",
        "add",
        "r",
        "--client",
        "codex",
        "--url",
        "https://x/mcp",
        "--header",
        "Authorization: Bearer ${TOK}",
    ]);
    home.ok(&["mcp", "add", "s", "--client", "codex", "--env", "A=1", "--", "srv"]);
    assert_eq!(
        read(&home.codex_config()),
        "[mcp_servers.r]\nurl = \"https://x/mcp\"\nbearer_token_env_var = \"TOK\"\n\n[mcp_servers.s]\ncommand = \"srv\"\nenv = { A = \"1\" }\n"
    );
}

// ------------------------------------------------------------------------------ Claude

/// The `.claude.json` fixture with its local-scope project moved to this test's project.
fn claude_with_local_project(home: &TestContext) -> String {
    let text = read(&fixture("claude/.claude.json"))
        .replace(&format!("\"{FIXTURE_PROJECT}\""), &format!("\"{}\"", home.cwd().display()));
    fs_err::write(home.claude_json(), &text).unwrap();
    text
}

#[test]
fn claude_add_remove_user_scope_and_local_scope_disable_enable() {
    let home = new_home();
    let original = claude_with_local_project(&home);
    let project = home.cwd().display().to_string();
    let placeholder = |text: String| text.replace(&project, FIXTURE_PROJECT);

    home.ok(&["mcp", "add", "fs", "--client", "claude", "--env", "ROOT=/srv", "--", "npx", "-y", "@mcp/fs"]);
    home.ok(&[
        "mcp",
        "add",
        "docs",
        "--client",
        "claude",
        "--url",
        "https://docs/mcp",
        "--header",
        "Authorization: Bearer ${DOCS}",
    ]);
    home.ok(&["mcp", "add", "mine", "--client", "claude", "--scope", "local", "--", "my-server"]);
    expect_file("claude/.claude.json.add", &placeholder(read(&home.claude_json())));
    home.ok(&["mcp", "remove", "fs"]);
    home.ok(&["mcp", "remove", "docs"]);
    home.ok(&["mcp", "remove", "mine"]);
    assert_eq!(read(&home.claude_json()), original);

    // local-db exists only in the local scope of this project: found there.
    let list = home.json(&["mcp", "list", "--client", "claude"]);
    let local = list["servers"].as_array().unwrap().iter().find(|row| row["name"] == "local-db").unwrap();
    assert_eq!(local["clients"][0]["scope"], "local");

    home.ok(&["mcp", "disable", "local-db"]);
    home.ok(&["mcp", "disable", "context7"]);
    home.ok(&["mcp", "disable", "linear"]);
    expect_file("claude/.claude.json.disable", &placeholder(read(&home.claude_json())));
    let list = home.json(&["mcp", "list", "--client", "claude"]);
    let row = list["servers"].as_array().unwrap().iter().find(|row| row["name"] == "context7").unwrap();
    assert_eq!(
        (row["clients"][0]["present"].clone(), row["clients"][0]["enabled"].clone()),
        (true.into(), false.into())
    );
    // Enabled in another order than disabled: the adjacent entries still land in place.
    home.ok(&["mcp", "enable", "context7"]);
    home.ok(&["mcp", "enable", "local-db"]);
    home.ok(&["mcp", "enable", "linear"]);
    assert_eq!(read(&home.claude_json()), original);
}

#[test]
fn claude_project_scope_creates_and_removes_mcp_json() {
    let home = new_home();
    let mcp_json = home.cwd().join(".mcp.json");
    home.ok(&["mcp", "add", "fs", "--client", "claude", "--scope", "project", "--", "npx", "-y", "@mcp/fs"]);
    assert_eq!(
        read(&mcp_json),
        "{\n  \"mcpServers\": {\n    \"fs\": {\n      \"type\": \"stdio\",\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@mcp/fs\"],\n      \"env\": {}\n    }\n  }\n}\n"
    );
    home.ok(&["mcp", "remove", "fs", "--scope", "project"]);
    assert!(!mcp_json.exists(), "the file aigate created is removed again");

    copy(&fixture("claude/.mcp.json"), &mcp_json);
    let original = read(&mcp_json);
    home.ok(&[
        "mcp",
        "add",
        "web",
        "--client",
        "claude",
        "--scope",
        "project",
        "--url",
        "https://web/mcp",
        "--transport",
        "sse",
    ]);
    expect_file("claude/.mcp.json.add", &read(&mcp_json));
    home.ok(&["mcp", "remove", "web", "--client", "claude", "--scope", "project"]);
    assert_eq!(read(&mcp_json), original);
}

// ------------------------------------------------------------------------------ OpenCode

#[test]
fn opencode_jsonc_keeps_comments_and_trailing_commas() {
    let home = new_home();
    copy(&fixture("opencode/opencode.jsonc"), &home.opencode_config());
    let original = read(&home.opencode_config());
    home.ok(&[
        "mcp",
        "add",
        "fs",
        "--client",
        "opencode",
        "--env",
        "TOKEN=${FS_TOKEN}",
        "--",
        "npx",
        "-y",
        "@mcp/fs",
    ]);
    home.ok(&[
        "mcp",
        "add",
        "docs",
        "--client",
        "opencode",
        "--url",
        "https://docs/mcp",
        "--header",
        "Authorization: Bearer ${DOCS}",
    ]);
    expect_file("opencode/opencode.jsonc.add", &read(&home.opencode_config()));
    home.ok(&["mcp", "remove", "fs"]);
    home.ok(&["mcp", "remove", "docs"]);
    assert_eq!(read(&home.opencode_config()), original);

    home.ok(&["mcp", "disable", "context7"]);
    home.ok(&["mcp", "disable", "sentry"]);
    expect_file("opencode/opencode.jsonc.disable", &read(&home.opencode_config()));
    home.ok(&["mcp", "enable", "sentry"]);
    home.ok(&["mcp", "enable", "context7"]);
    assert_eq!(read(&home.opencode_config()), original);
}

/// Issue 10 #15: `mcp` adds no `$schema` (OpenCode adds its own), so adding two servers
/// and removing both, in either order, gives back the file byte for byte.
#[test]
fn opencode_file_without_schema_stays_without_one() {
    for order in [["fs", "git"], ["git", "fs"]] {
        let home = new_home();
        let path = home.home().join(".config/opencode/opencode.json");
        copy(&fixture("opencode/opencode.no-schema.json"), &path);
        let original = read(&path);
        home.ok(&["mcp", "add", "fs", "--client", "opencode", "--", "npx", "-y", "@mcp/fs"]);
        expect_file("opencode/opencode.no-schema.json.add", &read(&path));
        assert!(!read(&path).contains("$schema"));
        home.ok(&["mcp", "add", "git", "--client", "opencode", "--", "uvx", "mcp-git"]);
        home.ok(&["mcp", "remove", order[0]]);
        home.ok(&["mcp", "remove", order[1]]);
        assert_eq!(read(&path), original, "{order:?}");
    }
}

// ------------------------------------------------------------------------- Gemini CLI

fn gemini_settings(home: &TestContext) -> PathBuf {
    home.home().join(".gemini/settings.json")
}

/// `mcp list --json --client gemini`, by name: (enabled, transport).
fn gemini_rows(home: &TestContext) -> Vec<(String, bool, String)> {
    let json = home.json(&["mcp", "list", "--client", "gemini"]);
    json["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let entry = &row["clients"][0];
            (
                row["name"].as_str().unwrap().to_string(),
                entry["enabled"].as_bool().unwrap(),
                entry["transport"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

#[test]
fn gemini_add_disable_enable_remove_on_a_commented_file_is_byte_identical() {
    let home = new_home();
    let path = gemini_settings(&home);
    copy(&fixture("gemini/settings.commented.json"), &path);
    let original = read(&path);
    home.ok(&[
        "mcp",
        "add",
        "fs",
        "--client",
        "gemini",
        "--env",
        "TOKEN=${GITHUB_PAT}",
        "--env",
        "OWNER=$USER",
        "--",
        "npx",
        "-y",
        "@mcp/fs",
    ]);
    home.ok(&[
        "mcp",
        "add",
        "search",
        "--client",
        "gemini",
        "--url",
        "https://search.example/sse",
        "--transport",
        "sse",
        "--header",
        "Authorization: Bearer $SEARCH_TOKEN",
    ]);
    // References are written verbatim, never expanded (the client's own `mcp add` would).
    let added = read(&path);
    expect_file("gemini/settings.commented.json.add", &added);
    assert!(added.contains("\"TOKEN\": \"${GITHUB_PAT}\"") && added.contains("Bearer $SEARCH_TOKEN"));
    assert_eq!(
        gemini_rows(&home),
        vec![
            ("docs".to_string(), true, "sse".to_string()),
            ("fs".to_string(), true, "stdio".to_string()),
            ("git".to_string(), true, "stdio".to_string()),
            ("github".to_string(), true, "http".to_string()),
            ("search".to_string(), true, "sse".to_string()),
        ]
    );
    let listed = home.json(&["mcp", "list", "--client", "gemini"]);
    let git = listed["servers"].as_array().unwrap().iter().find(|row| row["name"] == "git").unwrap();
    assert_eq!(git["clients"][0]["cwd"], "./");

    // Disable: the name goes to `mcp.excluded` (created), the entry stays.
    home.ok(&["mcp", "disable", "fs"]);
    expect_file("gemini/settings.commented.json.disable", &read(&path));
    assert!(gemini_rows(&home).contains(&("fs".to_string(), false, "stdio".to_string())));
    let (_, stderr) = home.ok(&["mcp", "disable", "fs"]);
    assert!(stderr.contains("already disabled"), "{stderr}");
    home.ok(&["mcp", "enable", "fs"]);
    assert_eq!(read(&path), added, "enable gives back the bytes before disable");

    // Removing a server aigate disabled takes its name out of `mcp.excluded` too.
    home.ok(&["mcp", "disable", "fs"]);
    home.ok(&["mcp", "remove", "fs"]);
    home.ok(&["mcp", "remove", "search"]);
    assert_eq!(read(&path), original);
}

#[test]
fn gemini_disable_appends_to_an_existing_excluded_list_and_enable_takes_it_out() {
    let home = new_home();
    let path = gemini_settings(&home);
    copy(&fixture("gemini/settings.json"), &path);
    let original = read(&path);
    // `experimental` is in the fixture's `mcp.excluded`.
    assert_eq!(
        gemini_rows(&home),
        vec![
            ("docs".to_string(), true, "http".to_string()),
            ("experimental".to_string(), false, "stdio".to_string()),
            ("git".to_string(), true, "stdio".to_string()),
            ("github".to_string(), true, "http".to_string()),
        ]
    );
    home.ok(&["mcp", "disable", "git"]);
    expect_file("gemini/settings.json.disable", &read(&path));
    home.ok(&["mcp", "enable", "git"]);
    assert_eq!(read(&path), original);
    // A server the user excluded by hand is enabled by taking its name out; `mcp.allowed`
    // still leaves it out, which the command says.
    let (_, stderr) = home.ok(&["mcp", "enable", "experimental"]);
    assert!(read(&path).contains("\"excluded\": []"), "{}", read(&path));
    assert!(stderr.contains("still off for Gemini CLI"), "{stderr}");
    let (_, stderr) = home.ok(&["mcp", "add", "new_one", "--client", "gemini", "--", "npx", "new"]);
    assert!(stderr.contains("not in `mcp.allowed`"), "{stderr}");
    assert!(stderr.contains("at the first `_`"), "{stderr}");
}

#[test]
fn gemini_enable_after_a_hand_edit_keeps_what_the_user_added() {
    let home = new_home();
    let path = gemini_settings(&home);
    copy(&fixture("gemini/settings.commented.json"), &path);
    let original = read(&path);
    home.ok(&["mcp", "disable", "git"]);
    // The user adds a name to the list aigate created: the reverse patch no longer applies.
    let edited = read(&path).replace("\"excluded\": [\"git\"]", "\"excluded\": [\"git\", \"mine\"]");
    fs_err::write(&path, &edited).unwrap();
    home.ok(&["mcp", "enable", "git"]);
    assert_eq!(read(&path), edited.replace("[\"git\", \"mine\"]", "[\"mine\"]"));

    // Reformatted by hand: the list aigate created goes once empty, with its `mcp` parent.
    copy(&fixture("gemini/settings.commented.json"), &path);
    home.ok(&["mcp", "disable", "git"]);
    let edited = read(&path).replace("\"excluded\": [\"git\"]", "\"excluded\": [ \"GIT\" ]");
    fs_err::write(&path, &edited).unwrap();
    home.ok(&["mcp", "enable", "git"]);
    assert_eq!(read(&path), original);
}

#[test]
fn gemini_own_switch_file_is_read_for_listing_and_never_written() {
    let home = new_home();
    copy(&fixture("gemini/settings.commented.json"), &gemini_settings(&home));
    let switch = home.home().join(".gemini/mcp-server-enablement.json");
    let switch_text = "{\n  \"github\": {\n    \"enabled\": false\n  }\n}";
    fs_err::write(&switch, switch_text).unwrap();
    let rows = gemini_rows(&home);
    assert!(rows.contains(&("github".to_string(), false, "http".to_string())), "{rows:?}");
    assert!(rows.contains(&("git".to_string(), true, "stdio".to_string())), "{rows:?}");
    // `enable` works on `mcp.excluded` only and says the client's own switch still holds it.
    home.ok(&["mcp", "disable", "github"]);
    let (_, stderr) = home.ok(&["mcp", "enable", "github"]);
    assert!(stderr.contains("mcp-server-enablement.json"), "{stderr}");
    assert_eq!(read(&switch), switch_text);
}

#[test]
fn gemini_trailing_comma_is_refused_with_its_location_and_nothing_is_written() {
    let home = new_home();
    let path = gemini_settings(&home);
    copy(&fixture("gemini/settings.trailing-comma.json"), &path);
    let before = read(&path);
    let stderr = home.refused(&["mcp", "add", "fs", "--client", "gemini", "--", "npx", "fs"]);
    let headline = stderr.lines().next().unwrap_or_default();
    assert!(headline.contains(".gemini/settings.json:5:60"), "{stderr}");
    assert!(stderr.contains("trailing comma"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    for args in [
        &["mcp", "disable", "git", "--client", "gemini"][..],
        &["mcp", "remove", "git", "--client", "gemini"],
    ] {
        let stderr = home.refused(args);
        assert!(stderr.contains("settings.json:5:60"), "{stderr}");
    }
    assert_eq!(read(&path), before);
    assert!(
        !home.db_path().exists()
            || home.json(&["backup", "list"])["snapshots"].as_array().unwrap().is_empty()
    );
    // `mcp list` warns with the location and lists nothing from it.
    let output = home.run(&["mcp", "list", "--client", "gemini"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("settings.json:5:60"));
}

#[test]
fn gemini_project_scope_is_the_cwd_gemini_settings() {
    let home = new_home();
    home.ok(&["mcp", "add", "fs", "--client", "gemini", "--scope", "project", "--", "npx", "fs"]);
    let project = home.cwd().join(".gemini/settings.json");
    expect_file("gemini/project.settings.json", &read(&project));
    assert!(!gemini_settings(&home).exists());
    home.ok(&["mcp", "remove", "fs", "--client", "gemini"]);
    assert!(!project.exists());
    // In its home directory Gemini CLI has no project settings.
    let in_home = TestContext::in_home().with_inherited_path().with_cwd("home");
    let stderr =
        in_home.refused(&["mcp", "add", "fs", "--client", "gemini", "--scope", "project", "--", "npx", "fs"]);
    assert!(stderr.contains("--scope user"), "{stderr}");
}

#[test]
fn gemini_sync_both_ways() {
    let home = with_fixtures(new_home());
    let path = gemini_settings(&home);
    copy(&fixture("gemini/settings.json"), &path);
    let original = read(&path);
    let report = home.json(&["mcp", "sync", "--from", "claude", "--to", "gemini"]);
    let result = |report: &serde_json::Value, client: &str, name: &str| {
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["client"] == client && item["name"] == name)
            .map(|item| item["result"].as_str().unwrap().to_string())
    };
    assert_eq!(result(&report, "gemini", "context7").as_deref(), Some("added"));
    assert_eq!(result(&report, "gemini", "old-sse").as_deref(), Some("added"));
    expect_file("gemini/settings.json.sync-from-claude", &read(&path));
    // The fixture's `mcp.allowed` leaves them out: Gemini CLI blocks them, and so says the list.
    assert!(gemini_rows(&home).contains(&("context7".to_string(), false, "stdio".to_string())));
    let again = home.json(&["mcp", "sync", "--from", "claude", "--to", "gemini"]);
    assert!(again["items"].as_array().unwrap().iter().all(|item| item["result"] == "identical"), "{again}");

    // From Gemini CLI: `cwd` has no place in Claude Code; a server in `mcp.excluded` is
    // disabled, so Claude Code (no disabled state in the file) gets it only once enabled,
    // OpenCode gets it with `enabled: false`.
    copy(&fixture("gemini/settings.json"), &path);
    let report = home.json(&["mcp", "sync", "--from", "gemini", "--to", "claude", "--to", "opencode"]);
    assert_eq!(result(&report, "claude", "git").as_deref(), Some("skipped"));
    assert_eq!(result(&report, "claude", "experimental").as_deref(), Some("skipped"));
    assert_eq!(result(&report, "claude", "github").as_deref(), Some("added"));
    assert_eq!(result(&report, "opencode", "experimental").as_deref(), Some("added"));
    let claude = read(&home.claude_json());
    assert!(
        claude.contains("\"Authorization\": \"Bearer ${GITHUB_PAT}\""),
        "`$VAR` arrives as Claude's `${{VAR}}`"
    );
    let opencode = read(&home.opencode_config());
    assert!(
        opencode.contains("\"command\": [\"node\", \"./tools/exp-mcp.js\"],\n      \"enabled\": false"),
        "{opencode}"
    );
    assert_eq!(read(&path), original, "the source is only read");
}

// ------------------------------------------------------------------------ all clients

#[test]
fn add_to_every_client_then_remove_is_byte_identical_and_one_transaction() {
    let home = with_fixtures(new_home());
    let before = [read(&home.codex_config()), read(&home.claude_json()), read(&home.opencode_config())];
    let report = home.json(&["mcp", "add", "fs", "--all", "--", "npx", "-y", "@mcp/fs"]);
    assert_eq!(report["version"], 1);
    // `--all` is every client, found or not: Gemini CLI's settings are created.
    assert_eq!(report["files"].as_array().unwrap().len(), 4);
    assert!(report["txn"].is_string());
    let gemini = home.home().join(".gemini/settings.json");
    assert!(gemini.exists());
    home.ok(&["mcp", "remove", "fs"]);
    assert_eq!(
        [read(&home.codex_config()), read(&home.claude_json()), read(&home.opencode_config())],
        before
    );
    assert!(!gemini.exists(), "the file mcp add created is gone again");
    // `aigate restore` after an add puts back the state before it.
    home.ok(&["mcp", "add", "fs", "--", "npx", "-y", "@mcp/fs"]);
    home.ok(&["restore"]);
    assert_eq!(
        [read(&home.codex_config()), read(&home.claude_json()), read(&home.opencode_config())],
        before
    );
}

#[test]
fn an_existing_name_is_a_conflict_unless_forced() {
    let home = with_fixtures(new_home());
    let before = [read(&home.codex_config()), read(&home.claude_json()), read(&home.opencode_config())];
    // `docs` exists only in Codex: nothing is written anywhere.
    let stderr = home.refused(&["mcp", "add", "docs", "--", "npx", "docs-mcp"]);
    assert!(stderr.contains("`docs` already exists in codex"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        [read(&home.codex_config()), read(&home.claude_json()), read(&home.opencode_config())],
        before
    );

    // --force replaces the definition and keeps Codex's extra keys and comments.
    home.ok(&[
        "mcp",
        "add",
        "docs",
        "--client",
        "codex",
        "--force",
        "--",
        "npx",
        "-y",
        "@example/docs-mcp@2",
    ]);
    let codex = read(&home.codex_config());
    let start = codex.find("[mcp_servers.docs]").unwrap();
    let end = codex.find("[mcp_servers.github]").unwrap();
    assert_eq!(
        &codex[start..end],
        "[mcp_servers.docs]\ncommand = \"npx\"\nargs = [\"-y\", \"@example/docs-mcp@2\"]\nstartup_timeout_sec = 20\ntool_timeout_sec = 45.5\nenabled_tools = [\"search\", \"fetch_page\"]\n\n"
    );
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let home = with_fixtures(new_home());
    let before = [read(&home.codex_config()), read(&home.claude_json()), read(&home.opencode_config())];
    let (stdout, _) = home.ok(&["mcp", "add", "fs", "--dry-run", "--", "npx", "-y", "@mcp/fs"]);
    assert!(stdout.contains("+[mcp_servers.fs]\n+command = \"npx\"\n"), "{stdout}");
    assert!(stdout.contains("+      \"command\": [\"npx\", \"-y\", \"@mcp/fs\"],"), "{stdout}");
    let (stdout, _) = home.ok(&["mcp", "disable", "context7", "--dry-run"]);
    assert!(stdout.contains("-      \"enabled\": true,\n+      \"enabled\": false,"), "{stdout}");
    let (stdout, _) = home.ok(&["mcp", "remove", "docs", "--dry-run"]);
    assert!(stdout.contains("-[mcp_servers.docs]"), "{stdout}");
    assert_eq!(
        [read(&home.codex_config()), read(&home.claude_json()), read(&home.opencode_config())],
        before
    );
    assert!(
        !home.db_path().exists()
            || home.json(&["backup", "list"])["snapshots"].as_array().unwrap().is_empty()
    );
}

#[test]
fn list_masks_secret_values_and_flags_differences() {
    let home = with_fixtures(new_home());
    home.ok(&["mcp", "add", "same", "--env", "API_KEY=sk-very-secret-value-123456", "--", "npx", "same-mcp"]);
    let (table, _) = home.ok(&["mcp", "list"]);
    let json = home.json(&["mcp", "list"]);
    let text = json.to_string();
    for secret in
        ["sk-very-secret-value-123456", "Bearer FIXTURE", "/home/alice/.config/docs/token", "\"warn\""]
    {
        assert!(!table.contains(secret), "table leaks {secret}:\n{table}");
        assert!(!text.contains(secret), "json leaks {secret}");
    }
    let row = |name: &str| {
        json["servers"].as_array().unwrap().iter().find(|row| row["name"] == name).unwrap().clone()
    };
    assert_eq!(row("same")["differs"], false);
    assert_eq!(row("same")["clients"].as_array().unwrap().len(), 3);
    assert_eq!(row("same")["clients"][0]["env"]["API_KEY"], "sk-…3456");
    assert_eq!(row("context7")["differs"], true, "Claude has no env, OpenCode has LOG_LEVEL");
    let docs = row("docs");
    assert_eq!(docs["clients"][0]["client"], "codex");
    assert_eq!(docs["clients"][0]["transport"], "stdio");
    assert_eq!(docs["clients"][1]["present"], false);
    assert_eq!(row("github")["clients"][0]["enabled"], false);
    assert_eq!(row("old-sse")["clients"][1]["transport"], "sse");
    assert!(table.contains("^ the definitions of `context7` differ between clients"), "{table}");
}

#[test]
fn sync_adds_missing_skips_identical_and_reports_differing() {
    let home = with_fixtures(new_home());
    let opencode_before = read(&home.opencode_config());
    let report = home.json(&["mcp", "sync", "--from", "claude", "--to", "opencode", "--to", "codex"]);
    let result = |client: &str, name: &str| {
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["client"] == client && item["name"] == name)
            .map(|item| item["result"].as_str().unwrap().to_string())
    };
    assert_eq!(result("opencode", "context7").as_deref(), Some("differs"));
    assert_eq!(result("opencode", "linear").as_deref(), Some("identical"));
    assert_eq!(result("opencode", "old-sse").as_deref(), Some("added"));
    assert_eq!(result("codex", "context7").as_deref(), Some("added"));
    assert_eq!(result("codex", "old-sse").as_deref(), Some("skipped"), "Codex has no SSE");
    let opencode = read(&home.opencode_config());
    assert!(
        opencode.contains(
            "\"old-sse\": {\n      \"type\": \"remote\",\n      \"url\": \"https://sse.example.com/sse\","
        ),
        "{opencode}"
    );
    assert!(opencode.contains("\"command\": [\"npx\", \"-y\", \"@upstash/context7-mcp\"],\n      \"environment\": { \"LOG_LEVEL\": \"warn\" },"), "differing one left alone");
    assert_ne!(opencode, opencode_before);

    // Again: everything is identical now (or still differs), nothing is written.
    let codex = read(&home.codex_config());
    let again = home.json(&["mcp", "sync", "--from", "claude", "--to", "opencode", "--to", "codex"]);
    assert!(again["items"].as_array().unwrap().iter().all(|item| item["result"] != "added"));
    assert_eq!((read(&home.opencode_config()), read(&home.codex_config())), (opencode, codex));

    // --force replaces the differing one.
    home.ok(&["mcp", "sync", "--from", "claude", "--to", "opencode", "--force"]);
    assert!(!read(&home.opencode_config()).contains("LOG_LEVEL"));
}

// ------------------------------------------------------------------------- large file

/// A ~20 MB `.claude.json`: many projects with long histories, like a heavy user's.
fn large_claude_json() -> String {
    let mut text = String::from("{\n  \"numStartups\": 4242,\n  \"projects\": {\n");
    let mut index = 0;
    while text.len() < 20 * 1024 * 1024 {
        if index > 0 {
            text.push_str(",\n");
        }
        text.push_str(&format!(
            "    \"/home/alice/src/project-{index}\": {{\n      \"allowedTools\": [],\n      \"history\": [\n"
        ));
        for entry in 0..40 {
            let comma = if entry == 39 { "" } else { "," };
            text.push_str(&format!(
                "        {{\n          \"display\": \"refactor module {entry} of project {index} and keep every byte \\u00e9\",\n          \"pastedContents\": {{}}\n        }}{comma}\n"
            ));
        }
        text.push_str("      ],\n      \"mcpServers\": {},\n      \"lastCost\": 1.25\n    }");
        index += 1;
    }
    text.push_str("\n  },\n  \"mcpServers\": {\n    \"context7\": {\n      \"type\": \"stdio\",\n      \"command\": \"npx\",\n      \"args\": [\n        \"-y\",\n        \"@upstash/context7-mcp\"\n      ],\n      \"env\": {}\n    }\n  },\n  \"isQualifiedForDataSharing\": false\n}\n");
    text
}

#[test]
fn large_claude_json_keeps_every_other_byte() {
    let home = new_home();
    let original = large_claude_json();
    fs_err::write(home.claude_json(), &original).unwrap();
    home.ok(&["mcp", "add", "fs", "--client", "claude", "--", "npx", "-y", "@mcp/fs"]);
    let added = read(&home.claude_json());
    let insert = "    },\n    \"fs\": {\n      \"type\": \"stdio\",\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@mcp/fs\"],\n      \"env\": {}\n    }\n  },\n  \"isQualifiedForDataSharing\"";
    let expected = original.replacen("    }\n  },\n  \"isQualifiedForDataSharing\"", insert, 1);
    assert!(added == expected, "only the new entry was inserted");
    // Its snapshot is a blob file holding the file as it was, and nothing else is left in
    // the blob directory (the blob is staged while the edit runs).
    let blobs = || -> Vec<PathBuf> {
        let mut names: Vec<PathBuf> = fs_err::read_dir(home.aigate_home().join("blobs"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        names.sort();
        names
    };
    let staged = blobs();
    assert_eq!(staged.len(), 1, "{staged:?}");
    assert!(fs_err::read(&staged[0]).unwrap() == original.as_bytes());
    // The same server again changes nothing: no snapshot, and the blob staged meanwhile
    // is gone again.
    home.ok(&["mcp", "add", "fs", "--client", "claude", "--force", "--", "npx", "-y", "@mcp/fs"]);
    assert_eq!(blobs(), staged);
    assert_eq!(
        home.json(&["backup", "list", "--client", "claude"])["snapshots"].as_array().unwrap().len(),
        1
    );
    home.ok(&["mcp", "remove", "fs", "--client", "claude"]);
    assert!(read(&home.claude_json()) == original, "remove gives back every byte");
    home.ok(&["restore", "--client", "claude"]);
    assert!(read(&home.claude_json()) == added, "restore puts back the state before the remove");
}

/// An edit in the middle of a large file (a local-scope server of a project there):
/// the file is copied into its temp file while the edit runs, then only the bytes from
/// the edit on are written again. The result is the input with the entry inserted.
#[test]
fn large_claude_json_local_scope_in_the_middle_keeps_every_other_byte() {
    let home = new_home();
    let project = home.cwd().to_string_lossy().into_owned();
    let large = large_claude_json();
    let middle = large.find("    \"/home/alice/src/project-300\": {").unwrap();
    let entry = format!("    {}: {{\n      \"mcpServers\": {{}}\n    }},\n", serde_json::json!(project));
    let original = format!("{}{entry}{}", &large[..middle], &large[middle..]);
    fs_err::write(home.claude_json(), &original).unwrap();
    home.ok(&["mcp", "add", "fs", "--client", "claude", "--scope", "local", "--", "npx", "-y", "@mcp/fs"]);
    let added = read(&home.claude_json());
    let value: serde_json::Value = serde_json::from_str(&added).unwrap();
    assert_eq!(value["projects"][&project]["mcpServers"]["fs"]["command"], "npx");
    // One insertion, after the start of the entry: every other byte is the input's.
    let prefix = added.bytes().zip(original.bytes()).take_while(|(a, b)| a == b).count();
    let suffix = added.bytes().rev().zip(original.bytes().rev()).take_while(|(a, b)| a == b).count();
    assert!(prefix > middle && prefix + suffix >= original.len(), "{prefix} {suffix}");
    home.ok(&["mcp", "remove", "fs", "--client", "claude", "--scope", "local"]);
    assert!(read(&home.claude_json()) == original, "remove gives back every byte");
}

/// Issue 10 #17: `mcp add` names `file:line:column` in its headline, as `use` does.
#[test]
fn a_broken_file_is_refused_with_its_location_in_the_headline() {
    let home = new_home();
    fs_err::write(home.codex_config(), "model = \"gpt-5\"\n[mcp_servers.x\n").unwrap();
    let before = read(&home.codex_config());
    let output = home.run(&["mcp", "add", "fs", "--client", "codex", "--", "npx", "fs"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let headline = stderr.lines().next().unwrap_or_default();
    assert!(headline.contains("config.toml:2:"), "{stderr}");
    assert_eq!(read(&home.codex_config()), before);
    let output = home.run(&["use", "gateway", "--client", "codex"]);
    let use_stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let use_headline = use_stderr.lines().find(|line| line.starts_with("error:")).unwrap_or_default();
    assert_eq!(use_headline, headline, "one format everywhere");
}

#[test]
fn claude_remove_takes_out_the_mcp_servers_its_add_created_even_after_an_edit_or_a_disable() {
    let home = new_home();
    let add = || home.ok(&["mcp", "add", "demo", "--client", "claude", "--", "npx", "-y", "demo-server"]);
    // The user edits the entry aigate added: its reverse patch no longer applies, and the
    // semantic remove (with what the add recorded) gives `original` back.
    let add_edit_remove = |original: &str| {
        fs_err::write(home.claude_json(), original).unwrap();
        add();
        let edited = read(&home.claude_json()).replace("demo-server", "demo-server@2");
        fs_err::write(home.claude_json(), &edited).unwrap();
        home.ok(&["mcp", "remove", "demo"]);
        assert_eq!(read(&home.claude_json()), original);
    };
    fs_err::create_dir_all(home.claude_json().parent().unwrap()).unwrap();
    let original = "{\n  \"numStartups\": 2,\n  \"projects\": {}\n}\n";
    add_edit_remove(original);

    // Disabled (parked) and then removed: no empty `mcpServers` is left behind.
    add();
    home.ok(&["mcp", "disable", "demo"]);
    assert_eq!(read(&home.claude_json()), original);
    home.ok(&["mcp", "enable", "demo"]);
    assert!(read(&home.claude_json()).contains("\"mcpServers\": {\n    \"demo\""));
    home.ok(&["mcp", "disable", "demo"]);
    home.ok(&["mcp", "remove", "demo"]);
    assert_eq!(read(&home.claude_json()), original);

    // An `mcpServers` the user had, empty, stays.
    add_edit_remove("{\n  \"numStartups\": 2,\n  \"mcpServers\": {}\n}\n");
}
