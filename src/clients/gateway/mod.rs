//! Gateway mode: the keys `aigate use gateway` writes into each client's own config,
//! the record of what they held before, and how `use official` takes them out again.
//!
//! What aigate owns, per client (product.md §7, client-formats.md 1.5, 2.2, 3.3):
//! - Codex `config.toml`: top-level `model_provider = "aigate"`, the whole
//!   `[model_providers.aigate]` table, and `model` only with `--model`.
//! - Claude Code `settings.json`: `env.ANTHROPIC_BASE_URL`, `env.ANTHROPIC_AUTH_TOKEN`, and
//!   `env.ANTHROPIC_MODEL` only with `--model` (never `ANTHROPIC_API_KEY`).
//! - OpenCode config: the whole `provider.aigate` object, `model` only with `--model`, and
//!   `$schema` when the file lacks it (OpenCode otherwise rewrites the file itself).
//! - Gemini CLI, two files (client-formats.md 4.3): it takes its endpoint and key only from
//!   the environment or a `.env` file, and its login type only from settings. So
//!   `settings.json` gets `security.auth.selectedType = "gemini-api-key"` (and `model.name`
//!   only with `--model`), and `~/.gemini/.env` (0600: it holds the token)
//!   `GOOGLE_GEMINI_BASE_URL` and `GEMINI_API_KEY`.
//!
//! Invariants:
//! - Planning is pure: [`plan_gateway`], [`plan_official`] and [`drift`] take a parsed
//!   [`Document`] and records, never a path on disk. I/O lives in [`records`] and the CLI.
//! - A [`KeyEdit`] remembers the value before aigate's *first* write (`None`: absent); a
//!   second `use gateway` keeps it, so `use official` always goes back to the user's value.
//! - `use official` touches a key only when it still holds what aigate wrote (or with
//!   `--force`); a key changed by hand is a [`Conflict`]. Parents aigate created are
//!   removed again only when they are empty, so a round trip with no edits in between is
//!   byte-exact (the document layer keeps every other byte).
//! - Secrets (the gateway token) never leave this module unmasked in anything meant for
//!   display: use [`mask_value`].

pub mod health;
pub mod inspect;
pub mod records;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value as JsonValue, json};

use crate::backup::store::sha256_hex;
use crate::clients::{Client, Format};
use crate::doc::{DocError, Document};

pub use super::PROVIDER_ID;

/// Where the gateway listens when `aigate serve` is not running.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:8787";

/// OpenCode's schema URL; its presence stops OpenCode rewriting the file.
pub const OPENCODE_SCHEMA: &str = "https://opencode.ai/config.json";

/// The model entry OpenCode's `provider.aigate.models` gets when no `--model` is given.
pub const OPENCODE_DEFAULT_MODEL: &str = "default";

/// The Gemini CLI login type that reads `GEMINI_API_KEY` (and `GOOGLE_GEMINI_BASE_URL`).
pub const GEMINI_API_KEY_LOGIN: &str = "gemini-api-key";

/// Codex provider ids newer Codex refuses to let a user define.
pub const CODEX_RESERVED_IDS: [&str; 4] = ["openai", "ollama", "lmstudio", "amazon-bedrock"];

/// What `use gateway` points a client at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `HOST:PORT`.
    pub address: String,
    /// The gateway's long-lived token.
    pub token: String,
    /// `--model`, if given.
    pub model: Option<String>,
    /// Codex only: `$CODEX_HOME/auth.json` exists, so the provider keeps the login
    /// (`requires_openai_auth`) and aigate's token rides in `x-aigate-token`.
    pub codex_login: bool,
}

/// One key aigate wrote into a client file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyEdit {
    pub key_path: Vec<String>,
    /// The value before aigate's first write; `None` when the key was absent.
    pub before: Option<JsonValue>,
    pub written: JsonValue,
    /// Parent objects/tables that did not exist and were created for this key.
    pub created_parents: Vec<Vec<String>>,
}

/// Everything aigate wrote into one client file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRecord {
    pub client: Client,
    pub path: PathBuf,
    /// Whether the file existed before the first `use gateway`.
    pub file_existed: bool,
    /// Its permission bits then.
    pub file_mode: Option<u32>,
    /// The whole file before the first write, while no one else has edited it since
    /// (then `use official` can give back these exact bytes).
    #[serde(skip)]
    pub before_bytes: Option<Vec<u8>>,
    /// SHA-256 of the file as aigate last wrote it.
    pub written_sha256: Option<String>,
    /// In the order they were first written.
    pub edits: Vec<KeyEdit>,
}

/// An owned key changed by hand since aigate wrote it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub client: Client,
    pub path: PathBuf,
    /// The owned key, dotted for display (`env.ANTHROPIC_BASE_URL`).
    pub key: String,
    /// What aigate wrote (masked).
    pub written: JsonValue,
    /// For an owned table or object: the entries inside it that differ, dotted from the
    /// owned key (`wire_api`), with what aigate wrote and what is there (masked; `null`
    /// for absent).
    pub changed: Vec<ChangedEntry>,
    /// What is there now (masked); `null` when the key is gone.
    pub found: Option<JsonValue>,
    /// The key holds its value from before `use gateway` again (reverted by hand).
    pub reverted: bool,
}

/// One entry inside an owned object that differs from what aigate wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangedEntry {
    pub key: String,
    pub written: Option<JsonValue>,
    pub found: Option<JsonValue>,
}

/// What `use official` does to one file.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficialPlan {
    pub conflicts: Vec<Conflict>,
    /// The file did not exist before `use gateway` and nothing else was added: remove it.
    pub remove_file: bool,
}

/// The files of `client` that `use gateway` edits, in writing order: one per client, two
/// for Gemini CLI (its settings, then its `.env`).
pub fn gateway_files(client: Client, paths: &crate::paths::Paths) -> Vec<PathBuf> {
    match client {
        Client::Codex => vec![paths.codex_config()],
        Client::Claude => vec![paths.claude_settings()],
        Client::OpenCode => vec![paths.opencode_config()],
        Client::Gemini => vec![paths.gemini_settings(), paths.gemini_env()],
    }
}

/// The keys and values gateway mode wants in one of `client`'s files (which one, for
/// Gemini CLI, its document's format says), in writing order.
pub fn wanted(client: Client, document: &Document, target: &Target) -> Vec<(Vec<String>, JsonValue)> {
    let base_url = format!("http://{}", target.address);
    let mut keys: Vec<(Vec<String>, JsonValue)> = Vec::new();
    match client {
        Client::Codex => {
            let mut provider = json!({
                "name": "aigate",
                "base_url": format!("{base_url}/v1"),
                "wire_api": "responses",
            });
            if let Some(map) = provider.as_object_mut() {
                if target.codex_login {
                    map.insert("requires_openai_auth".into(), JsonValue::Bool(true));
                    map.insert("http_headers".into(), json!({ "x-aigate-token": target.token }));
                } else {
                    map.insert("experimental_bearer_token".into(), JsonValue::String(target.token.clone()));
                }
            }
            keys.push((key(&["model_provider"]), JsonValue::String(PROVIDER_ID.into())));
            keys.push((key(&["model_providers", PROVIDER_ID]), provider));
            if let Some(model) = &target.model {
                keys.push((key(&["model"]), JsonValue::String(model.clone())));
            }
        }
        Client::Claude => {
            keys.push((key(&["env", "ANTHROPIC_BASE_URL"]), JsonValue::String(base_url)));
            keys.push((key(&["env", "ANTHROPIC_AUTH_TOKEN"]), JsonValue::String(target.token.clone())));
            if let Some(model) = &target.model {
                keys.push((key(&["env", "ANTHROPIC_MODEL"]), JsonValue::String(model.clone())));
            }
        }
        Client::OpenCode => {
            if !document.contains(&["$schema"]) {
                keys.push((key(&["$schema"]), JsonValue::String(OPENCODE_SCHEMA.into())));
            }
            let model = target.model.clone().unwrap_or_else(|| OPENCODE_DEFAULT_MODEL.to_string());
            keys.push((
                key(&["provider", PROVIDER_ID]),
                json!({
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "aigate",
                    "options": { "baseURL": format!("{base_url}/v1"), "apiKey": target.token },
                    "models": { model: {} },
                }),
            ));
            if let Some(model) = &target.model {
                keys.push((key(&["model"]), JsonValue::String(format!("{PROVIDER_ID}/{model}"))));
            }
        }
        Client::Gemini if document.format() == Format::Dotenv => {
            // The Gemini API path (`/v1beta/models/...`) goes right after the base.
            keys.push((key(&[crate::env_vars::GOOGLE_GEMINI_BASE_URL]), JsonValue::String(base_url)));
            keys.push((key(&[crate::env_vars::GEMINI_API_KEY]), JsonValue::String(target.token.clone())));
        }
        Client::Gemini => {
            keys.push((
                key(&["security", "auth", "selectedType"]),
                JsonValue::String(GEMINI_API_KEY_LOGIN.into()),
            ));
            if let Some(model) = &target.model {
                keys.push((key(&["model", "name"]), JsonValue::String(model.clone())));
            }
        }
    }
    keys
}

/// Write gateway mode into `document` and return the record of every owned key.
///
/// `previous` is what an earlier `use gateway` recorded for this file: its `before`
/// values and created parents are kept, and keys it owns that this run does not write
/// (a `--model` from last time) stay owned.
pub fn plan_gateway(
    client: Client,
    document: &mut Document,
    target: &Target,
    previous: &[KeyEdit],
) -> Result<Vec<KeyEdit>, DocError> {
    let mut edits: Vec<KeyEdit> = previous.to_vec();
    for (key_path, value) in wanted(client, document, target) {
        let path: Vec<&str> = key_path.iter().map(String::as_str).collect();
        let mut created_parents = Vec::new();
        for depth in 1..path.len() {
            if !document.contains(&path[..depth]) {
                created_parents.push(key(&path[..depth]));
            }
        }
        let before = document.get(&path);
        document.set(&path, &value)?;
        match edits.iter_mut().find(|edit| edit.key_path == key_path) {
            Some(edit) => {
                edit.written = value;
                for parent in created_parents {
                    if !edit.created_parents.contains(&parent) {
                        edit.created_parents.push(parent);
                    }
                }
            }
            None => edits.push(KeyEdit { key_path, before, written: value, created_parents }),
        }
    }
    Ok(edits)
}

/// `use gateway` on one file's bytes (`None`: missing): the new bytes and the record.
/// `previous` is what an earlier `use gateway` recorded for this file.
pub fn gateway_bytes(
    client: Client,
    path: &Path,
    current: Option<&[u8]>,
    file_mode: Option<u32>,
    target: &Target,
    previous: Option<&FileRecord>,
) -> Result<(Vec<u8>, FileRecord), DocError> {
    let format = gateway_format(client, path);
    let mut document = match current {
        Some(bytes) => Document::parse(bytes, format, path)?,
        None => Document::new_empty(format),
    };
    let earlier = previous.map_or(&[][..], |record| record.edits.as_slice());
    let edits = plan_gateway(client, &mut document, target, earlier)?;
    let new_bytes = document.to_bytes();
    let current_sha = current.map(sha256_hex);
    let record = match previous {
        Some(previous) => FileRecord {
            client,
            path: path.to_path_buf(),
            file_existed: previous.file_existed,
            file_mode: previous.file_mode,
            // Someone edited the file since aigate wrote it: the old bytes would lose that.
            before_bytes: if previous.written_sha256 == current_sha {
                previous.before_bytes.clone()
            } else {
                None
            },
            written_sha256: Some(sha256_hex(&new_bytes)),
            edits,
        },
        None => FileRecord {
            client,
            path: path.to_path_buf(),
            file_existed: current.is_some(),
            file_mode,
            before_bytes: current.map(<[u8]>::to_vec),
            written_sha256: Some(sha256_hex(&new_bytes)),
            edits,
        },
    };
    Ok((new_bytes, record))
}

/// `use official` on one file's bytes: what to write (`None`: remove, or leave absent)
/// and the conflicts. A file still exactly as aigate wrote it gets its old bytes back;
/// otherwise the owned keys are undone one by one ([`plan_official`]).
pub fn official_bytes(
    current: Option<&[u8]>,
    record: &FileRecord,
    force: bool,
) -> Result<(Option<Vec<u8>>, Vec<Conflict>), DocError> {
    let Some(current) = current else {
        return Ok((None, Vec::new()));
    };
    if record.written_sha256.as_deref() == Some(sha256_hex(current).as_str()) {
        match (&record.before_bytes, record.file_existed) {
            (_, false) => return Ok((None, Vec::new())),
            (Some(before), true) => return Ok((Some(before.clone()), Vec::new())),
            (None, true) => {}
        }
    }
    let mut document = Document::parse(current, gateway_format(record.client, &record.path), &record.path)?;
    let plan = plan_official(&mut document, record, force)?;
    let bytes = if plan.remove_file { None } else { Some(document.to_bytes()) };
    Ok((bytes, plan.conflicts))
}

/// The format of `path`, one of the files `use gateway` edits for `client`.
pub fn gateway_format(client: Client, path: &Path) -> Format {
    match client {
        Client::Codex => Format::Toml,
        Client::Claude => Format::Json,
        Client::OpenCode => Format::Jsonc,
        Client::Gemini if path.file_name().is_some_and(|name| name == ".env") => Format::Dotenv,
        Client::Gemini => Format::JsonComments,
    }
}

/// How `use gateway` writes `path`: 0600 when the file gets the token (all but Gemini
/// CLI's settings, whose mode is left alone).
pub fn gateway_mode(client: Client, path: &Path) -> crate::write::ModePolicy {
    match (client, gateway_format(client, path)) {
        (Client::Gemini, Format::JsonComments) => crate::write::ModePolicy::Keep,
        _ => crate::write::ModePolicy::Private,
    }
}

/// Take aigate's keys out of `document` again. Keys changed by hand are reported as
/// conflicts and left alone, unless `force`, which puts the old values back anyway.
pub fn plan_official(
    document: &mut Document,
    record: &FileRecord,
    force: bool,
) -> Result<OfficialPlan, DocError> {
    let mut conflicts = Vec::new();
    for edit in record.edits.iter().rev() {
        let path: Vec<&str> = edit.key_path.iter().map(String::as_str).collect();
        let current = document.get(&path);
        let holds_ours = current.as_ref() == Some(&edit.written);
        let holds_before = current == edit.before;
        if holds_before {
            continue;
        }
        if !holds_ours {
            conflicts.push(conflict(record, edit, current));
            if !force {
                continue;
            }
        }
        match &edit.before {
            Some(value) => {
                document.set(&path, value)?;
            }
            None => {
                document.remove(&path)?;
            }
        }
    }
    // Parents aigate created go again once nothing is left in them (deepest first).
    let mut parents: Vec<&Vec<String>> = record.edits.iter().flat_map(|edit| &edit.created_parents).collect();
    parents.sort_by_key(|parent| std::cmp::Reverse(parent.len()));
    parents.dedup();
    for parent in parents {
        let path: Vec<&str> = parent.iter().map(String::as_str).collect();
        let empty = document
            .get(&path)
            .as_ref()
            .and_then(JsonValue::as_object)
            .is_some_and(serde_json::Map::is_empty);
        if empty {
            document.remove(&path)?;
        }
    }
    let remove_file = !record.file_existed && is_blank(document);
    Ok(OfficialPlan { conflicts, remove_file })
}

/// Owned keys that no longer hold what aigate wrote.
pub fn drift(document: &Document, record: &FileRecord) -> Vec<Conflict> {
    record
        .edits
        .iter()
        .filter_map(|edit| {
            let path: Vec<&str> = edit.key_path.iter().map(String::as_str).collect();
            let current = document.get(&path);
            (current.as_ref() != Some(&edit.written)).then(|| conflict(record, edit, current))
        })
        .collect()
}

/// Whether the file is back where it was before aigate's first write (every owned key
/// holds its value from before, or is absent again; `None`: the file is gone and did not
/// exist before): a `restore` took it back, so the record no longer describes it.
pub fn back_to_before(document: Option<&Document>, record: &FileRecord) -> bool {
    let Some(document) = document else {
        return !record.file_existed;
    };
    record.edits.iter().all(|edit| {
        let path: Vec<&str> = edit.key_path.iter().map(String::as_str).collect();
        document.get(&path) == edit.before
    })
}

/// Whether `document` (one of the client's gateway files) carries aigate's keys even
/// without a record: Codex selects or defines provider `aigate`, OpenCode defines
/// `provider.aigate`, Claude Code's `env.ANTHROPIC_BASE_URL` or Gemini CLI's `.env`
/// `GOOGLE_GEMINI_BASE_URL` points at `gateway_base_url` (Gemini CLI's settings say nothing:
/// the API-key login is also the user's own).
pub fn looks_like_gateway(client: Client, document: &Document, gateway_base_url: &str) -> bool {
    match client {
        Client::Codex => {
            document.get(&["model_provider"]) == Some(JsonValue::String(PROVIDER_ID.into()))
                || document.contains(&["model_providers", PROVIDER_ID])
        }
        Client::Claude => document
            .get(&["env", "ANTHROPIC_BASE_URL"])
            .as_ref()
            .and_then(JsonValue::as_str)
            .is_some_and(|url| url.trim_end_matches('/') == gateway_base_url),
        Client::OpenCode => document.contains(&["provider", PROVIDER_ID]),
        Client::Gemini => document
            .get(&[crate::env_vars::GOOGLE_GEMINI_BASE_URL])
            .filter(|_| document.format() == Format::Dotenv)
            .as_ref()
            .and_then(JsonValue::as_str)
            .is_some_and(|url| url.trim_end_matches('/') == gateway_base_url),
    }
}

/// `value` with every secret-looking string masked: strings under a key whose name
/// mentions a token, key, secret or authorization, and any string equal to `token`.
pub fn mask_value(value: &JsonValue, key_name: &str, token: Option<&str>) -> JsonValue {
    let secret_key = {
        let lower = key_name.to_ascii_lowercase();
        ["token", "key", "secret", "authorization", "password"].iter().any(|word| lower.contains(word))
    };
    match value {
        JsonValue::String(text) if secret_key || token.is_some_and(|token| token == text) => {
            JsonValue::String(crate::output::mask_secret(text))
        }
        JsonValue::Object(map) => JsonValue::Object(
            map.iter().map(|(name, entry)| (name.clone(), mask_value(entry, name, token))).collect(),
        ),
        JsonValue::Array(items) => {
            JsonValue::Array(items.iter().map(|item| mask_value(item, key_name, token)).collect())
        }
        JsonValue::Null | JsonValue::Bool(_) | JsonValue::Number(_) | JsonValue::String(_) => value.clone(),
    }
}

/// What changed, for humans: `` `key`: aigate wrote X, now Y `` (per entry inside an
/// owned object). Values are masked.
pub fn describe(conflict: &Conflict) -> String {
    let show = |value: Option<&JsonValue>| value.map_or_else(|| "absent".to_string(), ToString::to_string);
    if conflict.changed.is_empty() {
        return format!(
            "`{}`: aigate wrote {}, now {}",
            conflict.key,
            conflict.written,
            show(conflict.found.as_ref())
        );
    }
    conflict
        .changed
        .iter()
        .map(|entry| match &entry.written {
            Some(written) => {
                format!(
                    "`{}.{}`: aigate wrote {written}, now {}",
                    conflict.key,
                    entry.key,
                    show(entry.found.as_ref())
                )
            }
            None => {
                format!("`{}.{}`: added by hand: {}", conflict.key, entry.key, show(entry.found.as_ref()))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A key path for display: `env.ANTHROPIC_BASE_URL`, `model_providers.aigate`.
pub fn display_key(key_path: &[String]) -> String {
    key_path.join(".")
}

fn conflict(record: &FileRecord, edit: &KeyEdit, current: Option<JsonValue>) -> Conflict {
    let name = edit.key_path.last().map_or("", String::as_str);
    let token = secret_in(&edit.written);
    let mut changed = Vec::new();
    if let (JsonValue::Object(_), Some(JsonValue::Object(_))) = (&edit.written, &current) {
        changed_entries("", Some(&edit.written), current.as_ref(), token.as_deref(), &mut changed);
    }
    Conflict {
        client: record.client,
        path: record.path.clone(),
        key: display_key(&edit.key_path),
        written: mask_value(&edit.written, name, token.as_deref()),
        changed,
        reverted: current == edit.before,
        found: current.map(|value| mask_value(&value, name, token.as_deref())),
    }
}

/// The leaves that differ between two objects, dotted from `prefix`.
fn changed_entries(
    prefix: &str,
    written: Option<&JsonValue>,
    found: Option<&JsonValue>,
    token: Option<&str>,
    out: &mut Vec<ChangedEntry>,
) {
    if let (Some(JsonValue::Object(ours)), Some(JsonValue::Object(theirs))) = (written, found) {
        let mut keys: Vec<&String> = ours.keys().collect();
        keys.extend(theirs.keys().filter(|key| !ours.contains_key(*key)));
        for key in keys {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            changed_entries(&path, ours.get(key), theirs.get(key), token, out);
        }
        return;
    }
    if written != found {
        let name = prefix.rsplit('.').next().unwrap_or(prefix);
        out.push(ChangedEntry {
            key: prefix.to_string(),
            written: written.map(|value| mask_value(value, name, token)),
            found: found.map(|value| mask_value(value, name, token)),
        });
    }
}

/// The gateway token inside a written value, so it is masked wherever it appears.
fn secret_in(value: &JsonValue) -> Option<String> {
    match value {
        JsonValue::Object(map) => map.iter().find_map(|(name, entry)| {
            let lower = name.to_ascii_lowercase();
            match entry {
                JsonValue::String(text) if lower.contains("token") || lower.contains("key") => {
                    Some(text.clone())
                }
                JsonValue::Object(_) => secret_in(entry),
                JsonValue::Null
                | JsonValue::Bool(_)
                | JsonValue::Number(_)
                | JsonValue::String(_)
                | JsonValue::Array(_) => None,
            }
        }),
        JsonValue::Null
        | JsonValue::Bool(_)
        | JsonValue::Number(_)
        | JsonValue::String(_)
        | JsonValue::Array(_) => None,
    }
}

/// No key left and nothing but whitespace and braces in the text (a comment the user
/// added keeps the file).
fn is_blank(document: &Document) -> bool {
    let empty = document.to_value().as_object().is_some_and(serde_json::Map::is_empty);
    let bytes = document.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    empty
        && text
            .trim_start_matches('\u{feff}')
            .chars()
            .all(|character| character.is_whitespace() || character == '{' || character == '}')
}

fn key(parts: &[&str]) -> Vec<String> {
    parts.iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn masking_hides_tokens_by_key_name_and_by_value() {
        let token = "0123456789abcdef0123456789abcdef";
        let value = json!({
            "name": "aigate",
            "experimental_bearer_token": token,
            "http_headers": { "x-aigate-token": token },
            "options": { "apiKey": "short" },
            "note": token,
        });
        let masked = mask_value(&value, "aigate", Some(token));
        assert!(!masked.to_string().contains(token), "{masked}");
        assert_eq!(masked["name"], "aigate");
        assert_eq!(masked["options"]["apiKey"], "****");
        assert_eq!(
            mask_value(&json!("http://127.0.0.1:8787"), "ANTHROPIC_BASE_URL", None),
            json!("http://127.0.0.1:8787")
        );
    }

    #[test]
    fn gateway_never_uses_a_reserved_codex_id() {
        let document = Document::new_empty(Format::Toml);
        let target =
            Target { address: DEFAULT_ADDRESS.into(), token: "t".into(), model: None, codex_login: false };
        for (key, _) in wanted(Client::Codex, &document, &target) {
            assert!(!key.iter().any(|part| CODEX_RESERVED_IDS.contains(&part.as_str())), "{key:?}");
        }
        assert!(!CODEX_RESERVED_IDS.contains(&PROVIDER_ID));
    }

    #[test]
    fn gemini_settings_get_the_login_and_model_and_its_env_the_endpoint_and_token() {
        let target = Target {
            address: DEFAULT_ADDRESS.into(),
            token: "tok".into(),
            model: Some("m".into()),
            codex_login: false,
        };
        let settings = std::path::Path::new("/h/.gemini/settings.json");
        let env = std::path::Path::new("/h/.gemini/.env");
        assert_eq!(gateway_format(Client::Gemini, settings), Format::JsonComments);
        assert_eq!(gateway_format(Client::Gemini, env), Format::Dotenv);
        assert_eq!(gateway_mode(Client::Gemini, settings), crate::write::ModePolicy::Keep);
        assert_eq!(gateway_mode(Client::Gemini, env), crate::write::ModePolicy::Private);
        let shown = |format: Format| -> Vec<(String, JsonValue)> {
            wanted(Client::Gemini, &Document::new_empty(format), &target)
                .into_iter()
                .map(|(key, value)| (display_key(&key), value))
                .collect()
        };
        assert_eq!(
            shown(Format::JsonComments),
            vec![
                ("security.auth.selectedType".to_string(), json!("gemini-api-key")),
                ("model.name".to_string(), json!("m")),
            ]
        );
        assert_eq!(
            shown(Format::Dotenv),
            vec![
                ("GOOGLE_GEMINI_BASE_URL".to_string(), json!("http://127.0.0.1:8787")),
                ("GEMINI_API_KEY".to_string(), json!("tok")),
            ]
        );
        // The API-key login in settings alone is the user's own too: not a sign of aigate.
        let mut own = Document::new_empty(Format::JsonComments);
        own.set(&["security", "auth", "selectedType"], &json!("gemini-api-key")).unwrap();
        assert!(!looks_like_gateway(Client::Gemini, &own, "http://127.0.0.1:8787"));
        let mut ours = Document::new_empty(Format::Dotenv);
        ours.set(&["GOOGLE_GEMINI_BASE_URL"], &json!("http://127.0.0.1:8787/")).unwrap();
        assert!(looks_like_gateway(Client::Gemini, &ours, "http://127.0.0.1:8787"));
    }

    #[test]
    fn claude_never_gets_an_api_key() {
        let document = Document::new_empty(Format::Json);
        let target = Target {
            address: DEFAULT_ADDRESS.into(),
            token: "t".into(),
            model: Some("m".into()),
            codex_login: false,
        };
        let keys: Vec<String> = wanted(Client::Claude, &document, &target)
            .into_iter()
            .map(|(key, _)| display_key(&key))
            .collect();
        assert_eq!(keys, ["env.ANTHROPIC_BASE_URL", "env.ANTHROPIC_AUTH_TOKEN", "env.ANTHROPIC_MODEL"]);
    }
}
