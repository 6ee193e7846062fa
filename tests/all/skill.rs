//! `aigate skill` as a user runs it, in a throw-away home: the shared store, the Claude
//! Code link, validation of every shared fixture, zip imports (zip-slip refused), modes,
//! enable/disable, and `aigate restore` bringing a removed skill back.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::common::{TestContext, mode};
use pretty_assertions::assert_eq;

const SKILLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/skills");

/// A throw-away home, run from its `work/` directory.
fn new_home() -> TestContext {
    TestContext::in_home().with_inherited_path().with_cwd("work")
}

/// The skill NAME in the shared store.
fn in_store(home: &TestContext, name: &str) -> PathBuf {
    home.home().join(".agents/skills").join(name)
}

/// The skill NAME where Claude Code looks.
fn in_claude(home: &TestContext, name: &str) -> PathBuf {
    home.claude_dir().join("skills").join(name)
}

/// Names under the store and the Claude skills dir (including hidden ones).
fn everything(home: &TestContext) -> Vec<String> {
    let mut names = Vec::new();
    for dir in [home.home().join(".agents/skills"), home.claude_dir().join("skills")] {
        if let Ok(entries) = fs_err::read_dir(&dir) {
            names.extend(entries.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()));
        }
    }
    names.sort();
    names
}

fn fixture(name: &str) -> String {
    Path::new(SKILLS).join(name).display().to_string()
}

/// A zip with the given entries: (name, contents, mode, is_symlink).
fn zip(path: &Path, entries: &[(&str, &str, u32, bool)]) {
    let file = fs_err::File::create(path).unwrap();
    let mut writer = zip::ZipWriter::new(file);
    for (name, contents, mode, is_symlink) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(*mode);
        if *is_symlink {
            writer.add_symlink(*name, *contents, options).unwrap();
        } else {
            writer.start_file(*name, options).unwrap();
            writer.write_all(contents.as_bytes()).unwrap();
        }
    }
    writer.finish().unwrap();
}

#[test]
fn add_from_a_directory_keeps_modes_and_links_it_for_claude() {
    let home = new_home();
    home.ok(&["skill", "add", &fixture("pdf-tools")]);
    let store = in_store(&home, "pdf-tools");
    assert_eq!(
        fs_err::read(store.join("SKILL.md")).unwrap(),
        fs_err::read(Path::new(SKILLS).join("pdf-tools/SKILL.md")).unwrap()
    );
    assert_eq!(mode(&store.join("scripts/extract.sh")), 0o755, "the script stays executable");
    assert_eq!(fs_err::read_link(in_claude(&home, "pdf-tools")).unwrap(), store);
    assert_eq!(everything(&home), vec!["pdf-tools", "pdf-tools"], "no staging directory is left behind");

    // Folded `>-` description and CRLF frontmatter are valid.
    home.ok(&["skill", "add", &fixture("review-helper")]);
    home.ok(&["skill", "add", &fixture("crlf-skill")]);
}

#[test]
fn every_invalid_fixture_is_refused_with_its_reason_and_nothing_is_written() {
    let home = new_home();
    for (name, reason) in [
        ("Bad_Name", "`name` must be lowercase letters, digits and hyphens (at most 64), not `Bad_Name`"),
        (
            "name-mismatch",
            "`name` is `something-else` but the directory is `name-mismatch`; they must be equal",
        ),
        ("no-frontmatter", "SKILL.md has no YAML frontmatter (a `---` block at the top)"),
        ("too-long-description", "`description` is 1100 characters; the limit is 1024"),
    ] {
        let stderr = home.refused(&["skill", "add", &fixture(name)]);
        assert!(stderr.contains(&format!("Caused by: {reason}")), "{name}: {stderr}");
    }
    assert_eq!(everything(&home), Vec::<String>::new());
    // With `--name` equal to the frontmatter's name, the mismatched one is fine.
    home.ok(&["skill", "add", &fixture("name-mismatch"), "--name", "something-else"]);
    assert!(in_store(&home, "something-else/SKILL.md").is_file());
}

#[test]
fn add_from_a_zip_keeps_modes_and_refuses_entries_that_leave_the_skill() {
    let home = new_home();
    let archive = home.root().join("review.zip");
    zip(
        &archive,
        &[
            (
                "zipped-skill/SKILL.md",
                "---\nname: zipped-skill\ndescription: From a zip.\n---\nBody.\n",
                0o644,
                false,
            ),
            ("zipped-skill/scripts/run.sh", "#!/bin/sh\necho hi\n", 0o755, false),
            ("zipped-skill/scripts/link", "run.sh", 0o777, true),
        ],
    );
    home.ok(&["skill", "add", archive.to_str().unwrap()]);
    let store = in_store(&home, "zipped-skill");
    assert_eq!(mode(&store.join("scripts/run.sh")), 0o755);
    assert_eq!(fs_err::read_link(store.join("scripts/link")).unwrap(), Path::new("run.sh"));
    assert_eq!(fs_err::read_link(in_claude(&home, "zipped-skill")).unwrap(), store);

    let outside = home.root().join("evil.txt");
    for (label, entries) in [
        (
            "dot-dot",
            vec![
                ("evil/SKILL.md", "---\nname: evil\ndescription: x\n---\n", 0o644, false),
                ("evil/../../../evil.txt", "pwned", 0o644, false),
            ],
        ),
        (
            "absolute",
            vec![
                ("evil/SKILL.md", "---\nname: evil\ndescription: x\n---\n", 0o644, false),
                ("/tmp/evil.txt", "pwned", 0o644, false),
            ],
        ),
        (
            "symlink",
            vec![
                ("evil/SKILL.md", "---\nname: evil\ndescription: x\n---\n", 0o644, false),
                ("evil/escape", "../../../../evil.txt", 0o777, true),
            ],
        ),
    ] {
        let archive = home.root().join(format!("{label}.zip"));
        zip(&archive, &entries);
        let stderr = home.refused(&["skill", "add", archive.to_str().unwrap()]);
        assert!(stderr.contains("an entry would land outside the skill"), "{label}: {stderr}");
        assert!(!outside.exists(), "{label}");
        assert!(!in_store(&home, "evil").exists(), "{label}");
    }
    assert_eq!(everything(&home), vec!["zipped-skill", "zipped-skill"]);
}

/// Issue 13 item 5: a large zip shows progress on a terminal only. Piped (as here, with a
/// terminal type set), stderr holds the one summary line and nothing else.
#[test]
fn adding_a_large_zip_piped_prints_no_progress() {
    let home = new_home().with_env("TERM", "xterm-256color");
    let archive = home.root().join("large.zip");
    let blob: String = (0..4 * 1024 * 1024).map(|index| char::from(b'a' + (index % 26) as u8)).collect();
    zip(
        &archive,
        &[
            ("large/SKILL.md", "---\nname: large\ndescription: Large.\n---\n", 0o644, false),
            ("large/data/blob.txt", &blob, 0o644, false),
        ],
    );
    let (stdout, stderr) = home.ok(&["skill", "add", archive.to_str().unwrap()]);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "Added skill `large` to `~/.agents/skills/large` (2 files) and linked it for Claude Code at `~/.claude/skills/large` (undo with `aigate restore`)\n"
    );
    assert_eq!(fs_err::read_to_string(in_store(&home, "large/data/blob.txt")).unwrap(), blob);
    // A dry run's diff on stdout is unchanged too: no progress bytes before or inside it.
    let (stdout, stderr) = home.ok(&["skill", "add", archive.to_str().unwrap(), "--force", "--dry-run"]);
    assert!(stdout.starts_with("--- "), "{:?}", &stdout[..80.min(stdout.len())]);
    assert!(!stdout.contains(['\r', '\u{1b}']) && !stderr.contains(['\r', '\u{1b}']), "{stderr:?}");
    assert_eq!(stderr, "Would add skill `large` (2 files; dry run, nothing written)\n");
}

#[test]
fn list_json_shows_where_each_skill_lives_who_sees_it_and_its_problems() {
    let home = new_home();
    home.ok(&["skill", "add", &fixture("pdf-tools")]);
    home.ok(&["skill", "add", &fixture("review-helper")]);
    // A broken skill put there by hand is listed with its problem.
    let broken = home.home().join(".codex/skills/Bad_Name");
    fs_err::create_dir_all(&broken).unwrap();
    fs_err::copy(Path::new(SKILLS).join("Bad_Name/SKILL.md"), broken.join("SKILL.md")).unwrap();
    home.ok(&["skill", "disable", "review-helper"]);

    let list = home.json(&["skill", "list"]);
    assert_eq!(list["version"], 1);
    let skills = list["skills"].as_array().unwrap();
    let names: Vec<&str> = skills.iter().map(|skill| skill["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Bad_Name", "pdf-tools", "review-helper"]);
    let pdf = &skills[1];
    assert_eq!(pdf["enabled"], true);
    // Gemini CLI reads `~/.agents/skills` too.
    assert_eq!(pdf["clients"], serde_json::json!(["claude", "codex", "gemini", "opencode"]));
    assert_eq!(pdf["path"], "~/.agents/skills/pdf-tools");
    assert_eq!(pdf["locations"][1]["kind"], "link");
    assert_eq!(pdf["problems"], serde_json::json!([]));
    assert_eq!(skills[2]["enabled"], false);
    assert_eq!(skills[2]["clients"], serde_json::json!([]));
    assert_eq!(skills[0]["problems"][0]["code"], "bad-name");
    assert_eq!(skills[0]["clients"], serde_json::json!(["codex"]));
}

#[test]
fn gemini_reads_the_store_unless_its_home_moves_and_its_own_dir_is_listed() {
    let home = new_home();
    home.ok(&["skill", "add", &fixture("pdf-tools")]);
    let own = home.home().join(".gemini/skills/review-helper");
    fs_err::create_dir_all(&own).unwrap();
    fs_err::copy(Path::new(SKILLS).join("review-helper/SKILL.md"), own.join("SKILL.md")).unwrap();
    let list = home.json(&["skill", "list"]);
    assert_eq!(list["skills"][0]["clients"], serde_json::json!(["claude", "codex", "gemini", "opencode"]));
    assert_eq!(list["skills"][1]["clients"], serde_json::json!(["gemini"]));
    assert_eq!(list["skills"][1]["locations"][0]["root"], "gemini");
    let (text, _) = home.ok(&["skill", "list"]);
    assert!(text.contains("claude,codex,gemini,opencode"), "{text}");

    // With `GEMINI_CLI_HOME` elsewhere, Gemini CLI reads the `.agents/skills` there instead.
    let moved = home.path("gemini-home");
    let elsewhere = moved.join(".agents/skills/pdf-tools");
    fs_err::create_dir_all(&elsewhere).unwrap();
    fs_err::copy(Path::new(SKILLS).join("pdf-tools/SKILL.md"), elsewhere.join("SKILL.md")).unwrap();
    let home = home.with_env("GEMINI_CLI_HOME", &moved);
    let list = home.json(&["skill", "list"]);
    let pdf = &list["skills"][0];
    assert_eq!(pdf["clients"], serde_json::json!(["claude", "codex", "gemini", "opencode"]));
    let roots: Vec<&str> = pdf["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|location| location["root"].as_str().unwrap())
        .collect();
    assert_eq!(roots, vec!["store", "claude", "gemini"]);
    assert_eq!(list["skills"].as_array().unwrap().len(), 1, "the moved home has no `.gemini/skills`");
}

#[test]
fn disable_and_enable_rename_skill_md() {
    let home = new_home();
    home.ok(&["skill", "add", &fixture("pdf-tools")]);
    let store = in_store(&home, "pdf-tools");
    home.ok(&["skill", "disable", "pdf-tools"]);
    assert!(!store.join("SKILL.md").exists());
    assert!(store.join("SKILL.md.disabled").is_file());
    assert!(!in_claude(&home, "pdf-tools").join("SKILL.md").exists(), "Claude sees it through the link");
    let (_, stderr) = home.ok(&["skill", "disable", "pdf-tools"]);
    assert!(stderr.contains("already disabled"), "{stderr}");
    home.ok(&["skill", "enable", "pdf-tools", "--dry-run"]);
    assert!(!store.join("SKILL.md").exists(), "dry run writes nothing");
    home.ok(&["skill", "enable", "pdf-tools"]);
    assert!(store.join("SKILL.md").is_file());
    assert!(!store.join("SKILL.md.disabled").exists());
}

#[test]
fn remove_then_restore_brings_the_skill_and_its_link_back() {
    let home = new_home();
    home.ok(&["skill", "add", &fixture("pdf-tools")]);
    let store = in_store(&home, "pdf-tools");
    let skill_md = fs_err::read(store.join("SKILL.md")).unwrap();
    home.ok(&["skill", "remove", "pdf-tools"]);
    assert!(!store.exists());
    assert!(in_claude(&home, "pdf-tools").symlink_metadata().is_err());
    home.ok(&["restore"]);
    assert_eq!(fs_err::read(store.join("SKILL.md")).unwrap(), skill_md);
    assert_eq!(mode(&store.join("scripts/extract.sh")), 0o755);
    assert_eq!(fs_err::read_link(in_claude(&home, "pdf-tools")).unwrap(), store);
    let stderr = home.refused(&["skill", "remove", "nope"]);
    assert!(stderr.contains("No skill named `nope`"), "{stderr}");
}

#[test]
fn an_existing_skill_is_a_conflict_unless_forced_and_dry_run_writes_nothing() {
    let home = new_home();
    let (stdout, _) = home.ok(&["skill", "add", &fixture("pdf-tools"), "--dry-run"]);
    assert!(stdout.contains("+++ ~/.agents/skills/pdf-tools/SKILL.md"), "{stdout}");
    assert_eq!(everything(&home), Vec::<String>::new());
    home.ok(&["skill", "add", &fixture("pdf-tools")]);
    let stderr = home.refused(&["skill", "add", &fixture("pdf-tools")]);
    assert!(stderr.contains("A skill named `pdf-tools` already exists"), "{stderr}");
    fs_err::write(in_store(&home, "pdf-tools").join("extra.md"), "mine").unwrap();
    home.ok(&["skill", "add", &fixture("pdf-tools"), "--force"]);
    assert!(!in_store(&home, "pdf-tools").join("extra.md").exists(), "replaced");
    home.ok(&["restore"]);
    assert!(in_store(&home, "pdf-tools").join("extra.md").exists(), "restore undoes the replacement");
}
