//! The checks behind `aigate doctor`: everything that commonly breaks, each finding with
//! a hint.
//!
//! Checks: every client file parses in its client's own dialect (with file:line:column);
//! drift in aigate-owned keys; Codex reserved provider ids, `wire_api = "chat"` and
//! `ollama-chat`; Claude Code with both `ANTHROPIC_API_KEY` and `ANTHROPIC_AUTH_TOKEN`
//! (environment or settings `env`); Gemini CLI in gateway mode with `GEMINI_API_KEY` or
//! `GOOGLE_GEMINI_BASE_URL` in the environment (they beat its `.env`), a closer `.env`
//! that shadows `~/.gemini/.env`, or a system or project settings file selecting another
//! login;
//! `HTTP(S)_PROXY` without loopback in `NO_PROXY`; the gateway answering `/health` while a
//! client is in gateway mode; each provider's key variable; modes of files holding
//! secrets (token-holding client files, the db, `serve.token`: 0600; `AIGATE_HOME`: 0700);
//! the db's `PRAGMA integrity_check`; skills with invalid frontmatter (the validator of
//! `skills_mcp::skills`).
//!
//! Invariants: read-only (creates nothing, not even the db); never prints a secret; exit 1
//! when any finding is an `error` or a `warning`, 0 otherwise.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value as JsonValue;

use crate::clients::Client;
use crate::clients::gateway::inspect::{self, Inspection, Mode};
use crate::clients::gateway::{self, CODEX_RESERVED_IDS};
use crate::env_vars::{self, var};
use crate::error::Result;
use crate::output::display_path;
use crate::paths::Paths;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable id (`parse`, `drift`, `codex-reserved-id`, ...).
    pub check: &'static str,
    pub what: String,
    /// `path:line:column` or a path, when there is one.
    pub location: Option<String>,
    pub hint: String,
}

/// Every check's findings.
#[derive(Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<&'static str>,
    pub findings: Vec<Finding>,
}

const CHECKS: [&str; 17] = [
    "parse",
    "codex-profile",
    "drift",
    "codex-reserved-id",
    "codex-wire-api",
    "claude-two-credentials",
    "gemini-environment",
    "gemini-env-file",
    "gemini-login",
    "http-proxy",
    "gateway",
    "provider-key",
    "provider-chain",
    "file-mode",
    "db-integrity",
    "skill-frontmatter",
    "unrecorded-gateway",
];

/// Run every check (read-only).
pub fn diagnose(paths: &Paths) -> Result<Report> {
    let inspection = inspect::inspect(paths, &[])?;
    let mut findings = Vec::new();
    client_files(&inspection, &mut findings);
    codex(&inspection, &mut findings);
    claude(&inspection, &mut findings);
    gemini(paths, &inspection, &mut findings);
    http_proxy(&mut findings);
    gateway_reachable(&inspection, &mut findings);
    provider_keys(paths, &mut findings)?;
    gateway_chains(paths, &inspection, &mut findings)?;
    file_modes(paths, &inspection, &mut findings);
    db_integrity(paths, &mut findings);
    skills(paths, &mut findings);
    Ok(Report { ok: findings.is_empty(), checks: CHECKS.to_vec(), findings })
}

fn client_files(inspection: &Inspection, findings: &mut Vec<Finding>) {
    for client in &inspection.clients {
        for file in &client.files {
            if let (Some(false), Some(error)) = (file.parses, &file.error) {
                let location = match (error.line, error.column) {
                    (Some(line), Some(column)) => format!("{}:{line}:{column}", file.path),
                    _ => file.path.clone(),
                };
                findings.push(Finding {
                    severity: Severity::Error,
                    check: "parse",
                    what: format!("{} {} does not parse: {}", client.client, file.role, error.message),
                    location: Some(location),
                    hint: "fix the file by hand at that position, or put back a snapshot with `aigate restore --client "
                        .to_string()
                        + client.client.name()
                        + "`",
                });
            }
        }
        for drift in &client.drift {
            findings.push(Finding {
                severity: Severity::Warning,
                check: "drift",
                what: format!("{}: changed by hand since `aigate use gateway`: {}", client.client, gateway::describe(drift)),
                location: Some(display_path(&drift.path)),
                hint: "`aigate use gateway` writes it again; `aigate use official --force` puts the value from before back"
                    .into(),
            });
        }
        if client.mode == Mode::Gateway && client.drift.is_empty() {
            if let Some(note) = &client.note {
                findings.push(Finding {
                    severity: Severity::Warning,
                    check: "unrecorded-gateway",
                    what: format!("{}: {note}", client.client),
                    location: client.files.first().map(|file| file.path.clone()),
                    hint: "run `aigate use gateway` once so aigate records its keys, then `aigate use official` works"
                        .into(),
                });
            }
        }
    }
}

fn main_document(
    inspection: &Inspection,
    client: Client,
) -> Option<(String, std::rc::Rc<crate::doc::Document<'static>>)> {
    let status = inspection.clients.iter().find(|status| status.client == client)?;
    let file = status.files.first()?;
    file.document.clone().map(|document| (file.path.clone(), document))
}

fn codex(inspection: &Inspection, findings: &mut Vec<Finding>) {
    let Some((path, document)) = main_document(inspection, Client::Codex) else {
        return;
    };
    for id in document.keys(&["model_providers"]) {
        if CODEX_RESERVED_IDS.contains(&id.as_str()) {
            findings.push(Finding {
                severity: Severity::Error,
                check: "codex-reserved-id",
                what: format!("Codex config defines `[model_providers.{id}]`, a reserved built-in id newer Codex refuses"),
                location: Some(path.clone()),
                hint: format!("rename it (for example `{id}-custom`) and update `model_provider`"),
            });
        }
        if id == "ollama-chat" {
            findings.push(ollama_chat(&path));
        }
        let wire = document.get(&["model_providers", &id, "wire_api"]);
        if wire == Some(JsonValue::String("chat".into())) {
            findings.push(Finding {
                severity: Severity::Error,
                check: "codex-wire-api",
                what: format!("Codex provider `{id}` uses `wire_api = \"chat\"`, which newer Codex no longer supports"),
                location: Some(path.clone()),
                hint: "use `wire_api = \"responses\"` (aigate's gateway speaks Responses for any provider: `aigate use gateway`)".into(),
            });
        }
    }
    // A profile that sets its own `model_provider` wins over the top-level one `use gateway` wrote.
    let in_gateway = inspection
        .clients
        .iter()
        .any(|status| status.client == Client::Codex && status.mode == Mode::Gateway);
    if let Some(JsonValue::String(profile)) = document.get(&["profile"]) {
        let shadowed = document.get(&["profiles", &profile, "model_provider"]);
        if in_gateway
            && shadowed.is_some()
            && shadowed != Some(JsonValue::String(gateway::PROVIDER_ID.into()))
        {
            findings.push(Finding {
                severity: Severity::Warning,
                check: "codex-profile",
                what: format!("Codex profile `{profile}` sets its own `model_provider`, so Codex does not use the gateway"),
                location: Some(path.clone()),
                hint: format!("remove `model_provider` from `[profiles.{profile}]`, or run Codex with another profile"),
            });
        }
    }
    for key in [&["model_provider"][..], &["oss_provider"][..]] {
        if document.get(key) == Some(JsonValue::String("ollama-chat".into())) {
            findings.push(ollama_chat(&path));
        }
    }
}

fn ollama_chat(path: &str) -> Finding {
    Finding {
        severity: Severity::Error,
        check: "codex-wire-api",
        what: "Codex config uses the legacy `ollama-chat` provider id, which newer Codex rejects".into(),
        location: Some(path.to_string()),
        hint: "use `ollama` (Responses API) or a custom provider id".into(),
    }
}

fn claude(inspection: &Inspection, findings: &mut Vec<Finding>) {
    let settings = main_document(inspection, Client::Claude);
    let set_in_settings = |name: &str| {
        settings.as_ref().is_some_and(|(_, document)| {
            document
                .get(&["env", name])
                .as_ref()
                .and_then(JsonValue::as_str)
                .is_some_and(|value| !value.is_empty())
        })
    };
    let api_key = var(env_vars::ANTHROPIC_API_KEY).is_some() || set_in_settings(env_vars::ANTHROPIC_API_KEY);
    let auth_token =
        var(env_vars::ANTHROPIC_AUTH_TOKEN).is_some() || set_in_settings(env_vars::ANTHROPIC_AUTH_TOKEN);
    if api_key && auth_token {
        findings.push(Finding {
            severity: Severity::Error,
            check: "claude-two-credentials",
            what: "Claude Code has both `ANTHROPIC_API_KEY` and `ANTHROPIC_AUTH_TOKEN` set (environment or settings.json `env`)".into(),
            location: settings.map(|(path, _)| path),
            hint: "unset `ANTHROPIC_API_KEY`: it overrides the login and asks for approval; the gateway needs only `ANTHROPIC_AUTH_TOKEN`".into(),
        });
    }
}

/// Gemini CLI in gateway mode: what would keep it from the gateway when started from the
/// current directory (see [`inspect::gemini_shadows`]).
fn gemini(paths: &Paths, inspection: &Inspection, findings: &mut Vec<Finding>) {
    let Some(status) = inspection.clients.iter().find(|status| status.client == Client::Gemini) else {
        return;
    };
    if status.mode != Mode::Gateway || status.files.iter().any(|file| file.parses == Some(false)) {
        return;
    }
    let env = status
        .files
        .iter()
        .find(|file| file.full_path == paths.gemini_env())
        .and_then(|file| file.document.clone());
    let written = |name: &str| {
        env.as_ref()
            .and_then(|document| document.get(&[name]))
            .and_then(|value| value.as_str().map(str::to_string))
    };
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    for shadow in inspect::gemini_shadows(paths, &cwd, &|name| var(name), &written) {
        findings.push(Finding {
            severity: Severity::Warning,
            check: shadow.check,
            what: format!("gemini: {}", shadow.what),
            location: shadow.location,
            hint: shadow.hint,
        });
    }
}

fn http_proxy(findings: &mut Vec<Finding>) {
    let proxy = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]
        .into_iter()
        .find(|name| var(name).is_some());
    let Some(proxy) = proxy else {
        return;
    };
    let no_proxy = [env_vars::NO_PROXY, env_vars::NO_PROXY_LOWER]
        .into_iter()
        .filter_map(var)
        .collect::<Vec<_>>()
        .join(",");
    let covers_loopback = no_proxy
        .split(',')
        .map(str::trim)
        .any(|entry| matches!(entry, "127.0.0.1" | "localhost" | "::1" | "*" | "127.0.0.0/8" | "[::1]"));
    if !covers_loopback {
        findings.push(Finding {
            severity: Severity::Warning,
            check: "http-proxy",
            what: format!("`{proxy}` is set but `NO_PROXY` does not exempt loopback: clients may send gateway traffic to the proxy"),
            location: None,
            hint: "add `export NO_PROXY=127.0.0.1,localhost,::1` (and `no_proxy`) to your shell profile".into(),
        });
    }
}

fn gateway_reachable(inspection: &Inspection, findings: &mut Vec<Finding>) {
    let in_gateway: Vec<&str> = inspection
        .clients
        .iter()
        .filter(|client| client.mode == Mode::Gateway)
        .map(|client| client.client.name())
        .collect();
    if in_gateway.is_empty() || inspection.gateway.health.is_ok() {
        return;
    }
    findings.push(Finding {
        severity: Severity::Error,
        check: "gateway",
        what: format!(
            "{} {} in gateway mode, but nothing answers on http://{}/health",
            in_gateway.join(", "),
            if in_gateway.len() == 1 { "is" } else { "are" },
            inspection.gateway.address
        ),
        location: None,
        hint: "start it with `aigate serve` (or go back with `aigate use official`)".into(),
    });
}

/// Each client in gateway mode against the chain the gateway uses (the one `use gateway`
/// recorded, else every provider): one that nothing in the chain can serve fails every
/// request.
fn gateway_chains(paths: &Paths, inspection: &Inspection, findings: &mut Vec<Finding>) -> Result<()> {
    let in_gateway: Vec<crate::clients::Client> = inspection
        .clients
        .iter()
        .filter(|client| client.mode == Mode::Gateway)
        .map(|client| client.client)
        .collect();
    if in_gateway.is_empty() {
        return Ok(());
    }
    let names = crate::clients::gateway::records::recorded_chain(&paths.aigate_home)?;
    let Ok(chain) =
        crate::providers::resolve_chain(&paths.aigate_home, crate::providers::ChainFor::ANY, &names)
    else {
        findings.push(Finding {
            severity: Severity::Error,
            check: "provider-chain",
            what: format!(
                "the gateway's chain ({}) names a provider that is not registered",
                names.join(", ")
            ),
            location: None,
            hint: "run `aigate use gateway --provider NAME` again with registered providers".into(),
        });
        return Ok(());
    };
    for client in in_gateway {
        if let Err(error) =
            crate::providers::check_chain(&chain, client.title(), client.api(), client.has_official_login())
        {
            findings.push(Finding {
                severity: Severity::Error,
                check: "provider-chain",
                what: error.message.clone(),
                location: None,
                hint: "set the missing key variables, or record another chain with `aigate use gateway --provider NAME`"
                    .into(),
            });
        }
    }
    Ok(())
}

fn provider_keys(paths: &Paths, findings: &mut Vec<Finding>) -> Result<()> {
    for provider in crate::providers::load_providers(&paths.aigate_home)? {
        for key in &provider.keys {
            match key {
                crate::providers::KeySource::Env(name) => {
                    if var(name).is_none() {
                        findings.push(Finding {
                            severity: Severity::Error,
                            check: "provider-key",
                            what: format!(
                                "provider `{}` reads its key from `${name}`, which is not set",
                                provider.name
                            ),
                            location: None,
                            hint: format!(
                                "export {name}=... in the shell that runs `aigate serve` or `aigate run`"
                            ),
                        });
                    }
                }
                crate::providers::KeySource::Stored(_) => {}
            }
        }
    }
    Ok(())
}

fn file_modes(paths: &Paths, inspection: &Inspection, findings: &mut Vec<Finding>) {
    let mut private: Vec<PathBuf> = Vec::new();
    for client in &inspection.clients {
        for file in &client.files {
            if file.holds_gateway_token && file.mode_bits.is_some_and(|bits| bits & 0o077 != 0) {
                private.push(file.full_path.clone());
            }
        }
    }
    let logins = [paths.codex_auth(), paths.claude_dir.join(".credentials.json")];
    for path in [paths.db_file(), paths.serve_token()].into_iter().chain(logins) {
        if mode_of(&path).is_some_and(|bits| bits & 0o077 != 0) {
            private.push(path);
        }
    }
    for path in private {
        findings.push(Finding {
            severity: Severity::Warning,
            check: "file-mode",
            what: format!(
                "`{}` holds a secret but is readable by others (mode {:04o})",
                display_path(&path),
                mode_of(&path).unwrap_or_default()
            ),
            location: Some(display_path(&path)),
            hint: format!("chmod 600 '{}'", path.display()),
        });
    }
    if let Some(bits) = mode_of(&paths.aigate_home) {
        if bits & 0o077 != 0 {
            findings.push(Finding {
                severity: Severity::Warning,
                check: "file-mode",
                what: format!("`{}` is open to others (mode {bits:04o})", display_path(&paths.aigate_home)),
                location: Some(display_path(&paths.aigate_home)),
                hint: format!("chmod 700 '{}'", paths.aigate_home.display()),
            });
        }
    }
}

fn mode_of(path: &Path) -> Option<u32> {
    fs_err::metadata(path).ok().map(|metadata| metadata.permissions().mode() & 0o7777)
}

fn db_integrity(paths: &Paths, findings: &mut Vec<Finding>) {
    let path = paths.db_file();
    let connection = match crate::db::open_existing(&paths.aigate_home) {
        Ok(Some(connection)) => connection,
        Ok(None) => return,
        Err(error) => return findings.push(db_finding(&path, &error.to_string())),
    };
    match connection.query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0)) {
        Ok(answer) if answer == "ok" => {}
        Ok(answer) => return findings.push(db_finding(&path, &answer)),
        Err(error) => return findings.push(db_finding(&path, &error.to_string())),
    }
    // Large snapshots are files beside the db (`backup::store`).
    match crate::backup::store::missing_blob_files(&connection) {
        Ok(missing) => findings.extend(missing.iter().map(|blob| Finding {
            severity: Severity::Error,
            check: "db-integrity",
            what: "a snapshot's bytes are missing: the snapshots that use them cannot be restored".into(),
            location: Some(display_path(blob)),
            hint:
                "`aigate backup list` shows the snapshots; take a new one with `aigate backup create`".into(),
        })),
        Err(error) => findings.push(db_finding(&path, &error.message)),
    }
}

fn db_finding(path: &Path, detail: &str) -> Finding {
    Finding {
        severity: Severity::Error,
        check: "db-integrity",
        what: format!("the aigate database fails its integrity check: {detail}"),
        location: Some(display_path(path)),
        hint:
            "move it aside (client files are not affected) and run aigate again; snapshots in it may be lost"
                .into(),
    }
}

fn skills(paths: &Paths, findings: &mut Vec<Finding>) {
    for root in [paths.agents_skills(), paths.claude_skills()] {
        let Ok(entries) = fs_err::read_dir(&root) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> =
            entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
        dirs.sort();
        for dir in dirs {
            let name = dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            let file = dir.join("SKILL.md");
            if name.starts_with('.') || !file.is_file() {
                continue;
            }
            let check = crate::skills_mcp::skills::check_skill_dir(&dir);
            let text = check.text.as_deref().unwrap_or_default();
            for problem in check.problems {
                let line = problem_line(text, problem.code);
                findings.push(Finding {
                    severity: Severity::Warning,
                    check: "skill-frontmatter",
                    what: format!("skill `{name}`: {}", problem.message),
                    location: Some(format!("{}:{line}:1", display_path(&file))),
                    hint: "fix the frontmatter: `name` lowercase letters, digits and hyphens (at most 64) equal to the directory name, and a one-line `description` of 1 to 1024 characters".into(),
                });
            }
        }
    }
}

/// The line a skill problem points at: the `name:` or `description:` line when there is
/// one, else the top of the file.
fn problem_line(text: &str, code: &str) -> usize {
    let key = match code {
        "bad-name" | "name-mismatch" => "name:",
        "empty-description" | "multiline-description" | "description-too-long" => "description:",
        _ => return 1,
    };
    text.lines().position(|line| line.starts_with(key)).map_or(1, |index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::problem_line;

    #[test]
    fn skill_problems_point_at_their_line() {
        let text = "---\nname: Bad_Name\ndescription: d\n---\n";
        assert_eq!(problem_line(text, "bad-name"), 2);
        assert_eq!(problem_line(text, "description-too-long"), 3);
        assert_eq!(problem_line(text, "no-frontmatter"), 1);
    }
}
