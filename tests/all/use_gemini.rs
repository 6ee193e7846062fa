//! `aigate use gateway|official --client gemini` as a user runs them, in a throw-away home:
//! Gemini CLI's two files (`settings.json` with comments, `.env` with CRLF and keys of the
//! user's own) byte for byte, files aigate created removed again, drift, a trailing comma
//! refused, and the warnings about what would shadow its `.env`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::TestContext;
use crate::use_cli::{ok, replace_in, states_of, text};
use pretty_assertions::assert_eq;

/// Gemini CLI's two gateway files: `settings.json` and `.env`.
fn gemini_files(home: &TestContext) -> Vec<(PathBuf, Option<Vec<u8>>, Option<u32>)> {
    let dir = home.home().join(".gemini");
    states_of([dir.join("settings.json"), dir.join(".env")])
}

/// The commented settings and the CRLF `.env` with a key of the user's own, mode 0644.
fn seed_gemini(home: &TestContext) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gemini");
    let dir = home.home().join(".gemini");
    fs_err::create_dir_all(&dir).unwrap();
    for (from, to) in [("settings.commented.json", "settings.json"), ("env.crlf", ".env")] {
        fs_err::copy(fixtures.join(from), dir.join(to)).unwrap();
        fs_err::set_permissions(dir.join(to), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

fn gemini_status(home: &TestContext) -> serde_json::Value {
    let output = home.run(&["status", "--json", "--client", "gemini"]);
    ok(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["clients"][0].clone()
}

#[test]
fn gemini_round_trip_is_byte_exact_for_settings_and_env() {
    let home = TestContext::new();
    seed_gemini(&home);
    let before = gemini_files(&home);
    let output = home.run(&["use", "gateway", "--client", "gemini", "--model", "mock-model"]);
    ok(&output);
    let token = fs_err::read_to_string(home.token_file()).unwrap().trim().to_string();
    assert!(!text(&output.stdout).contains(&token) && !text(&output.stderr).contains(&token));
    let after = gemini_files(&home);
    let settings = text(after[0].1.as_ref().unwrap());
    assert!(
        settings.contains("\"selectedType\": \"gemini-api-key\"")
            && settings.contains("\"name\": \"mock-model\"")
    );
    assert!(!settings.contains(&token), "the token goes to .env only");
    assert_eq!(after[0].2, Some(0o644), "settings.json keeps its mode");
    let env = text(after[1].1.as_ref().unwrap());
    assert!(env.contains(&format!("GEMINI_API_KEY=\"{token}\"\r\n")), "{env}");
    assert!(env.ends_with("DEBUG=false\r\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8787"), "{env}");
    assert_eq!(after[1].2, Some(0o600), ".env holds the token");

    let status = gemini_status(&home);
    assert_eq!(status["mode"], "gateway");
    let roles: Vec<(&str, &str)> = status["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| (file["role"].as_str().unwrap(), file["format"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, vec![("settings", "json-comments"), ("env", "dotenv")]);
    assert_eq!(status["files"][1]["holds_gateway_token"], true);
    let (human, _) = home.ok(&["status", "--client", "gemini"]);
    assert!(
        human.contains("gemini    gateway") && human.contains("~/.gemini/.env (dotenv, 0600)"),
        "{human}"
    );

    // A second `use gateway` changes nothing.
    let again = home.run(&["use", "gateway", "--client", "gemini", "--model", "mock-model"]);
    ok(&again);
    assert!(text(&again.stderr).contains("nothing changed"), "{}", text(&again.stderr));
    ok(&home.run(&["use", "official"]));
    assert_eq!(gemini_files(&home), before);
    assert_eq!(gemini_status(&home)["mode"], "official");
}

#[test]
fn gemini_files_use_gateway_created_are_removed_again_and_edits_elsewhere_survive() {
    let home = TestContext::new();
    ok(&home.run(&["use", "gateway", "--client", "gemini"]));
    let created = gemini_files(&home);
    assert_eq!(created[1].2, Some(0o600));
    assert!(!text(created[0].1.as_ref().unwrap()).contains("model"), "no `model.name` without --model");
    ok(&home.run(&["use", "official", "--client", "gemini"]));
    assert!(
        gemini_files(&home).iter().all(|(_, bytes, _)| bytes.is_none()),
        "both files aigate created are gone"
    );

    // Edits elsewhere in both files, while in gateway mode, stay.
    seed_gemini(&home);
    ok(&home.run(&["use", "gateway", "--client", "gemini"]));
    let dir = home.home().join(".gemini");
    replace_in(&dir.join(".env"), "DEBUG=false", "DEBUG=true");
    replace_in(&dir.join("settings.json"), "\"vimMode\": false", "\"vimMode\": true");
    ok(&home.run(&["use", "official", "--client", "gemini"]));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gemini");
    assert_eq!(
        fs_err::read_to_string(dir.join(".env")).unwrap(),
        fs_err::read_to_string(fixtures.join("env.crlf")).unwrap().replace("DEBUG=false", "DEBUG=true")
    );
    assert_eq!(
        fs_err::read_to_string(dir.join("settings.json")).unwrap(),
        fs_err::read_to_string(fixtures.join("settings.commented.json"))
            .unwrap()
            .replace("\"vimMode\": false", "\"vimMode\": true")
    );
}

#[test]
fn gemini_drift_in_env_is_a_conflict_unless_forced() {
    let home = TestContext::new();
    seed_gemini(&home);
    let before = gemini_files(&home);
    ok(&home.run(&["use", "gateway", "--client", "gemini"]));
    let env = home.home().join(".gemini/.env");
    replace_in(
        &env,
        "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8787",
        "GOOGLE_GEMINI_BASE_URL=http://10.0.0.1:9",
    );
    let status = gemini_status(&home);
    assert_eq!(status["drift"][0]["key"], "GOOGLE_GEMINI_BASE_URL", "{status}");
    let edited = gemini_files(&home);
    let stderr = home.refused(&["use", "official"]);
    assert!(stderr.contains("GOOGLE_GEMINI_BASE_URL") && stderr.contains("--force"), "{stderr}");
    assert_eq!(gemini_files(&home), edited, "nothing was written");
    ok(&home.run(&["use", "official", "--force"]));
    assert_eq!(gemini_files(&home), before);
}

#[test]
fn gemini_trailing_comma_settings_refuse_use_gateway_and_nothing_is_written() {
    let home = TestContext::new();
    let dir = home.home().join(".gemini");
    fs_err::create_dir_all(&dir).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gemini");
    fs_err::copy(fixtures.join("settings.trailing-comma.json"), dir.join("settings.json")).unwrap();
    let before = gemini_files(&home);
    let stderr = home.refused(&["use", "gateway", "--client", "gemini"]);
    assert!(stderr.contains("settings.json:5:60"), "{stderr}");
    assert_eq!(gemini_files(&home), before, "neither file is written");
}

#[test]
fn gemini_use_gateway_warns_about_what_would_shadow_its_env_file() {
    let home = TestContext::new().with_cwd("project");
    fs_err::write(home.cwd().join(".env"), "OTHER=1\n").unwrap();
    let output = home
        .command()
        .args(["use", "gateway", "--client", "gemini"])
        .env("GEMINI_API_KEY", "AIza-mine")
        .output()
        .unwrap();
    ok(&output);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("`GEMINI_API_KEY` is set in this environment"), "{stderr}");
    assert!(stderr.contains("project/.env"), "{stderr}");
    assert!(stderr.contains("only the first `.env`"), "{stderr}");
    assert!(!stderr.contains("AIza-mine"));
}
