//! Gemini CLI: `mcpServers.NAME` in `~/.gemini/settings.json` (user scope) or
//! `<cwd>/.gemini/settings.json` (project scope) (client-formats.md 4.5), and the
//! `mcp.excluded` list that disables a server.
//!
//! Invariants:
//! - stdio entries are `{"command", "args": [...], "env": {...}, "cwd"}` (`args` always,
//!   `env` and `cwd` only when set); remote ones `{"url", "type": "http"|"sse",
//!   "headers"}` (headers only when set), as `gemini mcp add` writes them. Reading also
//!   takes the legacy `httpUrl` (streamable HTTP; it wins over `url` and `command`, as in
//!   the client) and a bare `url` without `type` (streamable HTTP: the client falls back
//!   to SSE by itself).
//! - Every other key of an entry (`timeout`, `trust`, `includeTools`, `oauth`, ...) is
//!   kept when the entry is rewritten.
//! - Values are written verbatim: a `$VAR` or `${VAR}` stays a reference in the file
//!   (Gemini CLI's own `mcp add` writes the expanded secret instead). `$VAR` reads as the
//!   canonical `${VAR}`, so the definition compares equal to the other clients' own.
//! - There is no `enabled` field (Gemini CLI warns about one): a server is disabled by its
//!   name in `mcp.excluded` of the file that defines it. Names are matched as the client
//!   matches them, lower-cased and trimmed. What else keeps a server off ([`Blocked`]:
//!   `mcp.allowed`, another file's `mcp.excluded`, `~/.gemini/mcp-server-enablement.json`,
//!   the client's own switch) is read for `mcp list`, never written.
//! - Edits are pure (bytes in, bytes out); nothing here does I/O except
//!   [`enablement_disabled`], which only reads.

use serde_json::{Map, Value};

use super::server::{self, McpServer, Transport};
use super::{McpFile, edit};
use crate::error::{Error, Result};

/// Keys with a canonical meaning; every other key of an entry is an extra.
const CANONICAL: &[&str] = &["command", "args", "env", "cwd", "url", "httpUrl", "type", "headers"];

/// Where the list of disabled servers is, in the same settings file.
pub const EXCLUDED: [&str; 2] = ["mcp", "excluded"];

/// Names Gemini CLI can tell apart and match in `mcp.excluded`: not empty, no control
/// characters, no leading or trailing whitespace (the client trims names when it
/// compares them). `gemini mcp add` itself takes any string.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.trim() != name || name.chars().any(char::is_control) {
        Err(format!(
            "Gemini CLI cannot take the server name `{name}` (empty, surrounding spaces or control characters)"
        ))
    } else {
        Ok(())
    }
}

pub fn to_entry(server: &McpServer, existing: Option<&Value>) -> Result<Value, String> {
    let mut entry = Map::new();
    match &server.transport {
        Transport::Stdio { command, args, env, cwd } => {
            entry.insert("command".into(), Value::String(command.clone()));
            entry.insert("args".into(), Value::from(args.clone()));
            if !env.is_empty() {
                entry.insert("env".into(), server::object_of(env));
            }
            if let Some(cwd) = cwd {
                entry.insert("cwd".into(), Value::String(cwd.clone()));
            }
        }
        Transport::Http { url, headers } | Transport::Sse { url, headers } => {
            entry.insert("url".into(), Value::String(url.clone()));
            entry.insert("type".into(), Value::String(server.transport.kind().into()));
            if !headers.is_empty() {
                entry.insert("headers".into(), server::object_of(headers));
            }
        }
    }
    entry.extend(server::extras_of(existing, CANONICAL));
    Ok(Value::Object(entry))
}

pub fn from_entry(name: &str, entry: &Value) -> Result<McpServer, String> {
    let object = entry.as_object().ok_or("not an object")?;
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(ToString::to_string);
    let pairs = |key: &str| -> Vec<(String, String)> {
        server::string_pairs(object.get(key))
            .into_iter()
            .map(|(key, value)| (key, dollar_to_canonical(&value)))
            .collect()
    };
    let transport = if let Some(url) = text("httpUrl") {
        Transport::Http { url, headers: pairs("headers") }
    } else if let Some(url) = text("url") {
        match object.get("type").and_then(Value::as_str) {
            Some("sse") => Transport::Sse { url, headers: pairs("headers") },
            Some("http") | None => Transport::Http { url, headers: pairs("headers") },
            Some(other) => return Err(format!("unknown type `{other}`")),
        }
    } else if let Some(command) = text("command") {
        Transport::Stdio {
            command,
            args: server::strings(object.get("args")),
            env: pairs("env"),
            cwd: text("cwd"),
        }
    } else if object.contains_key("tcp") {
        return Err("a `tcp` server (aigate maps only stdio, http and sse)".to_string());
    } else {
        return Err("no `command`, `url` or `httpUrl`".to_string());
    };
    Ok(McpServer {
        name: name.to_string(),
        transport,
        enabled: true,
        extras: server::extras_of(Some(entry), CANONICAL),
    })
}

/// `$VAR` to `${VAR}` (Gemini CLI expands both; the canonical form is `${VAR}`). `${...}`,
/// `$1` and a lone `$` stay as they are.
fn dollar_to_canonical(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let word = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        if server::is_env_name(&after[..word]) {
            out.push_str(&format!("${{{}}}", &after[..word]));
            rest = &after[word..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A name as Gemini CLI compares server names (`normalizeServerId`).
fn normalised(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Whether `list` (the strings of an `mcp.excluded` value) names `name`.
pub fn lists(list: Option<&Value>, name: &str) -> bool {
    let wanted = normalised(name);
    server::strings(list).iter().any(|listed| normalised(listed) == wanted)
}

/// What `mcp disable` makes of a file's value: `name` appended to `mcp.excluded`
/// (created with its parent when missing); what [`exclude`] does to the bytes.
#[cfg(test)]
fn exclude_value(value: &mut Value, name: &str) {
    let Some(root) = value.as_object_mut() else { return };
    let mcp = root.entry("mcp").or_insert_with(|| Value::Object(Map::new()));
    let Some(mcp) = mcp.as_object_mut() else { return };
    let excluded = mcp.entry("excluded").or_insert_with(|| Value::Array(Vec::new()));
    if let Some(items) = excluded.as_array_mut() {
        items.push(Value::String(name.to_string()));
    }
}

/// What `mcp enable` makes of a file's value: every entry of `mcp.excluded` that names
/// `name` goes; then `mcp.excluded` and `mcp`, if `mcp disable` created them (`created`)
/// and they are empty now.
pub fn include_value(value: &mut Value, name: &str, created: &[Vec<String>]) {
    let Some(mcp) = value.get_mut("mcp").and_then(Value::as_object_mut) else { return };
    let wanted = normalised(name);
    let Some(items) = mcp.get_mut("excluded").and_then(Value::as_array_mut) else { return };
    items.retain(|item| item.as_str().is_none_or(|listed| normalised(listed) != wanted));
    let was_created =
        |path: &[&str]| created.iter().any(|key| key.iter().map(String::as_str).eq(path.iter().copied()));
    if items.is_empty() && was_created(&EXCLUDED) {
        mcp.remove("excluded");
    }
    if mcp.is_empty() && was_created(&EXCLUDED[..1]) {
        if let Some(root) = value.as_object_mut() {
            root.remove("mcp");
        }
    }
}

/// The keys `mcp disable` would create in a file holding `value`: `mcp.excluded`, and
/// `mcp` too when it is missing.
pub fn missing_for_exclude(value: &Value) -> Vec<Vec<String>> {
    let key = |parts: &[&str]| parts.iter().map(ToString::to_string).collect::<Vec<String>>();
    match value.get("mcp") {
        None => vec![key(&EXCLUDED[..1]), key(&EXCLUDED)],
        Some(mcp) if mcp.get("excluded").is_none() => vec![key(&EXCLUDED)],
        Some(_) => Vec::new(),
    }
}

/// `mcp disable` on a Gemini CLI file's bytes: `name` appended to `mcp.excluded`. An
/// existing list is rewritten on one line (`mcp enable` gives its own bytes back through
/// the reverse patch); a list that is not an array is refused.
pub fn exclude(bytes: Option<&[u8]>, file: &McpFile, name: &str) -> Result<Vec<u8>> {
    let mut document = edit::load(bytes, file)?;
    let mut items = match document.get(&EXCLUDED) {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(not_a_list(file)),
    };
    items.push(Value::String(name.to_string()));
    document.set(&EXCLUDED, &Value::Array(items))?;
    Ok(document.to_bytes())
}

/// `mcp enable` on a Gemini CLI file's bytes: what [`include_value`] does to its value.
pub fn include(bytes: Option<&[u8]>, file: &McpFile, name: &str, created: &[Vec<String>]) -> Result<Vec<u8>> {
    let mut document = edit::load(bytes, file)?;
    let items = match document.get(&EXCLUDED) {
        None => return Ok(bytes.map(<[u8]>::to_vec).unwrap_or_default()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(not_a_list(file)),
    };
    let mut wanted = document.to_value();
    include_value(&mut wanted, name, created);
    match wanted.pointer("/mcp/excluded") {
        Some(kept) if kept.as_array().map(Vec::len) != Some(items.len()) => {
            document.set(&EXCLUDED, kept)?;
        }
        Some(_) => {}
        None => {
            document.remove(&EXCLUDED)?;
            if wanted.get("mcp").is_none() {
                document.remove(&EXCLUDED[..1])?;
            }
        }
    }
    Ok(document.to_bytes())
}

fn not_a_list(file: &McpFile) -> Error {
    Error::refused(format!(
        "`mcp.excluded` in `{}` is not a list of server names",
        crate::output::display_path(&file.path)
    ))
    .hint("fix the file by hand, or put back an earlier version with `aigate restore`")
}

/// The lower-cased names `~/.gemini/mcp-server-enablement.json` switches off
/// (`{"<name>": {"enabled": false}}`, written by Gemini CLI's own `mcp disable`). A
/// missing or unreadable file switches nothing off.
pub fn enablement_disabled(path: &std::path::Path) -> Vec<String> {
    let Ok(bytes) = fs_err::read(path) else { return Vec::new() };
    let Ok(Value::Object(entries)) = serde_json::from_slice::<Value>(&bytes) else { return Vec::new() };
    entries
        .into_iter()
        .filter(|(_, state)| state.get("enabled") == Some(&Value::Bool(false)))
        .map(|(name, _)| normalised(&name))
        .collect()
}

/// What keeps Gemini CLI from loading a server by its name: `mcp.excluded` of any
/// settings file (they all apply to every server), its own switch file, and `mcp.allowed`
/// (when any file has one, only the names in every such list load).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocked {
    /// Lower-cased names that are off.
    off: Vec<String>,
    /// The lower-cased names every `mcp.allowed` holds, when there is one.
    allowed: Option<Vec<String>>,
}

impl Blocked {
    /// From the values of the settings files and the names the switch file turns off.
    pub fn new(settings: &[Value], switched_off: Vec<String>) -> Self {
        let mut blocked = Self { off: switched_off, allowed: None };
        for value in settings {
            let listed = |key: &str| -> Vec<String> {
                server::strings(value.get("mcp").and_then(|mcp| mcp.get(key)))
                    .iter()
                    .map(|name| normalised(name))
                    .collect()
            };
            blocked.off.extend(listed("excluded"));
            if value.get("mcp").and_then(|mcp| mcp.get("allowed")).is_some_and(Value::is_array) {
                let allowed = listed("allowed");
                blocked.allowed = Some(match blocked.allowed.take() {
                    None => allowed,
                    Some(before) => before.into_iter().filter(|name| allowed.contains(name)).collect(),
                });
            }
        }
        blocked
    }

    /// Whether Gemini CLI will not load `name`.
    pub fn blocks(&self, name: &str) -> bool {
        let name = normalised(name);
        self.off.contains(&name) || self.allowed.as_ref().is_some_and(|allowed| !allowed.contains(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn stdio(env: &[(&str, &str)], cwd: Option<&str>) -> McpServer {
        McpServer::new(
            "fs",
            Transport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "@mcp/fs".into()],
                env: env.iter().map(|(key, value)| ((*key).to_string(), (*value).to_string())).collect(),
                cwd: cwd.map(ToString::to_string),
            },
        )
    }

    #[test]
    fn stdio_entries_take_cwd_and_keep_references_verbatim() {
        let server = stdio(&[("TOKEN", "${GITHUB_PAT}"), ("PLAIN", "x")], Some("/srv"));
        let entry = to_entry(&server, None).unwrap();
        assert_eq!(
            entry,
            json!({"command": "npx", "args": ["-y", "@mcp/fs"],
                   "env": {"TOKEN": "${GITHUB_PAT}", "PLAIN": "x"}, "cwd": "/srv"})
        );
        assert_eq!(from_entry("fs", &entry).unwrap(), server);
        assert_eq!(
            to_entry(&stdio(&[], None), None).unwrap(),
            json!({"command": "npx", "args": ["-y", "@mcp/fs"]})
        );
    }

    #[test]
    fn dollar_references_read_as_the_canonical_form() {
        let entry = json!({"command": "uvx", "env": {"A": "$USER", "B": "pre-$HOME/x", "C": "${X:-d}", "D": "$1 $ $"}});
        let server = from_entry("git", &entry).unwrap();
        let Transport::Stdio { env, args, cwd, .. } = &server.transport else { panic!("{server:?}") };
        assert_eq!(
            env,
            &vec![
                ("A".to_string(), "${USER}".to_string()),
                ("B".to_string(), "pre-${HOME}/x".to_string()),
                ("C".to_string(), "${X:-d}".to_string()),
                ("D".to_string(), "$1 $ $".to_string()),
            ]
        );
        assert_eq!((args.len(), cwd), (0, &None));
    }

    #[test]
    fn remote_entries_read_http_url_bare_url_and_sse_and_keep_extras() {
        let legacy =
            json!({"httpUrl": "https://a/mcp", "headers": {"Authorization": "Bearer $PAT"}, "timeout": 5000});
        let server = from_entry("gh", &legacy).unwrap();
        assert_eq!(
            server.transport,
            Transport::Http {
                url: "https://a/mcp".into(),
                headers: vec![("Authorization".into(), "Bearer ${PAT}".into())]
            }
        );
        // Rewritten: `url` + `type`, the extras kept, `httpUrl` gone.
        assert_eq!(
            to_entry(&server, Some(&legacy)).unwrap(),
            json!({"url": "https://a/mcp", "type": "http", "headers": {"Authorization": "Bearer ${PAT}"}, "timeout": 5000})
        );
        let bare = from_entry("docs", &json!({"url": "https://d/mcp", "trust": true})).unwrap();
        assert_eq!(bare.transport, Transport::Http { url: "https://d/mcp".into(), headers: vec![] });
        assert_eq!(bare.extras, json!({"trust": true}).as_object().unwrap().clone());
        let sse = from_entry("s", &json!({"url": "https://s/sse", "type": "sse"})).unwrap();
        assert_eq!(sse.transport.kind(), "sse");
        assert_eq!(to_entry(&sse, None).unwrap(), json!({"url": "https://s/sse", "type": "sse"}));
        assert!(from_entry("t", &json!({"tcp": "localhost:1"})).unwrap_err().contains("tcp"));
        assert!(from_entry("t", &json!({"url": "u", "type": "ws"})).is_err());
    }

    #[test]
    fn names_are_checked_and_matched_as_the_client_does() {
        assert!(check_name("my-server").is_ok());
        assert!(check_name("my_server.v2:x").is_ok());
        assert!(check_name(" x").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a\tb").is_err());
        assert!(lists(Some(&json!(["Other", " FS "])), "fs"));
        assert!(!lists(Some(&json!(["fs2"])), "fs"));
        assert!(!lists(None, "fs"));
    }

    fn settings_file() -> McpFile {
        McpFile {
            client: crate::clients::Client::Gemini,
            scope: super::super::Scope::User,
            path: std::path::PathBuf::from("settings.json"),
            format: crate::clients::Format::JsonComments,
            container: vec!["mcpServers".to_string()],
        }
    }

    #[test]
    fn exclude_and_include_edit_only_the_list_and_keep_every_comment() {
        let file = settings_file();
        let input = "{\n  // mine\n  \"mcpServers\": { \"fs\": { \"command\": \"npx\" } } /* servers */\n}";
        let created = missing_for_exclude(&edit::load(Some(input.as_bytes()), &file).unwrap().to_value());
        let excluded = exclude(Some(input.as_bytes()), &file, "fs").unwrap();
        assert_eq!(
            String::from_utf8(excluded.clone()).unwrap(),
            "{\n  // mine\n  \"mcpServers\": { \"fs\": { \"command\": \"npx\" } }, /* servers */\n  \"mcp\": {\n    \"excluded\": [\"fs\"]\n  }\n}"
        );
        let twice = exclude(Some(&excluded), &file, "web").unwrap();
        assert!(String::from_utf8_lossy(&twice).contains("\"excluded\": [\"fs\", \"web\"]"));
        assert_eq!(
            String::from_utf8(include(Some(&excluded), &file, "FS", &created).unwrap()).unwrap(),
            input
        );
        // Without the record of what it created, the empty list stays.
        assert!(
            String::from_utf8_lossy(&include(Some(&excluded), &file, "fs", &[]).unwrap())
                .contains("\"excluded\": []")
        );
        let wrong = "{\"mcp\": {\"excluded\": \"fs\"}}";
        assert!(exclude(Some(wrong.as_bytes()), &file, "fs").is_err());
    }

    #[test]
    fn blocked_takes_every_excluded_list_the_switch_file_and_the_allowed_intersection() {
        let user = json!({"mcp": {"excluded": ["A"], "allowed": ["a", "b", "c"]}});
        let project = json!({"mcp": {"allowed": ["B", "c"]}});
        let blocked = Blocked::new(&[user, project], vec!["c".to_string()]);
        assert_eq!(["a", "b", "c", "d"].map(|name| blocked.blocks(name)), [true, false, true, true]);
        assert!(!Blocked::new(&[json!({"ui": {}})], Vec::new()).blocks("x"));
    }

    #[test]
    fn exclude_then_include_removes_only_what_exclude_created() {
        for original in
            [json!({"ui": {}}), json!({"mcp": {"allowed": ["a"]}}), json!({"mcp": {"excluded": ["b"]}})]
        {
            let created = missing_for_exclude(&original);
            let mut value = original.clone();
            exclude_value(&mut value, "fs");
            assert!(lists(value.pointer("/mcp/excluded"), "fs"), "{value}");
            include_value(&mut value, "fs", &created);
            assert_eq!(value, original);
        }
        // An empty list the user had stays.
        let mut value = json!({"mcp": {"excluded": ["FS"]}});
        include_value(&mut value, "fs", &[]);
        assert_eq!(value, json!({"mcp": {"excluded": []}}));
    }
}
