//! Codex CLI: `[mcp_servers.NAME]` in `config.toml` (client-formats.md 1.6).
//!
//! Invariants:
//! - The transport is decided by `command` (stdio) or `url` (streamable HTTP); Codex has
//!   no SSE transport, so an SSE server is refused.
//! - Keys Codex rejects are never written: no `http_headers`/`bearer_token_env_var`/
//!   `env_http_headers` on a stdio server, never an inline `bearer_token`.
//!   `Authorization: Bearer ${VAR}` becomes `bearer_token_env_var = "VAR"`, any other
//!   header whose value is exactly `${VAR}` goes to `env_http_headers`, literal values to
//!   `http_headers`; a header that mixes text and a variable cannot be expressed and is
//!   refused.
//! - `enabled` is written only as `enabled = false` (true is Codex's default).

use serde_json::{Map, Value};

use super::server::{self, McpServer, Transport};

/// Keys with a canonical meaning; every other key of an entry is an extra.
const CANONICAL: &[&str] = &[
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "http_headers",
    "bearer_token_env_var",
    "env_http_headers",
    "enabled",
];
/// Extras that only a stdio (or only a remote) server may carry.
const STDIO_ONLY: &[&str] = &["env_vars"];
const REMOTE_ONLY: &[&str] = &["oauth_resource", "scopes", "bearer_token"];

/// Names `codex mcp add` accepts: ASCII letters, digits, `-` and `_`.
pub fn check_name(name: &str) -> Result<(), String> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(())
    } else {
        Err(format!("Codex accepts only letters, digits, `-` and `_` in server names, not `{name}`"))
    }
}

/// The `[mcp_servers.NAME]` table for `server`, keeping the extras of `existing`.
pub fn to_entry(server: &McpServer, existing: Option<&Value>) -> Result<Value, String> {
    let mut entry = Map::new();
    let mut extras = server::extras_of(existing, CANONICAL);
    match &server.transport {
        Transport::Stdio { command, args, env, cwd } => {
            entry.insert("command".into(), Value::String(command.clone()));
            if !args.is_empty() {
                entry.insert("args".into(), Value::from(args.clone()));
            }
            if !env.is_empty() {
                entry.insert("env".into(), server::object_of(env));
            }
            if let Some(cwd) = cwd {
                entry.insert("cwd".into(), Value::String(cwd.clone()));
            }
            extras.retain(|key, _| !REMOTE_ONLY.contains(&key.as_str()));
        }
        Transport::Http { url, headers } => {
            entry.insert("url".into(), Value::String(url.clone()));
            let mut literal = Vec::new();
            let mut from_env = Vec::new();
            let mut bearer: Option<String> = None;
            for (key, value) in headers {
                let bearer_var = value.strip_prefix("Bearer ").and_then(server::env_reference);
                if key.eq_ignore_ascii_case("authorization") && bearer_var.is_some() && bearer.is_none() {
                    bearer = bearer_var.map(ToString::to_string);
                } else if let Some(var) = server::env_reference(value) {
                    from_env.push((key.clone(), var.to_string()));
                } else if value.contains("${") {
                    return Err(format!(
                        "Codex cannot put an environment variable inside header `{key}`; use `{key}: ${{VAR}}` or `Authorization: Bearer ${{VAR}}`"
                    ));
                } else {
                    literal.push((key.clone(), value.clone()));
                }
            }
            if let Some(var) = bearer {
                entry.insert("bearer_token_env_var".into(), Value::String(var));
            }
            if !literal.is_empty() {
                entry.insert("http_headers".into(), server::object_of(&literal));
            }
            if !from_env.is_empty() {
                entry.insert("env_http_headers".into(), server::object_of(&from_env));
            }
            extras.retain(|key, _| !STDIO_ONLY.contains(&key.as_str()));
        }
        Transport::Sse { .. } => {
            return Err("Codex supports stdio and streamable HTTP servers, not SSE".to_string());
        }
    }
    // An inline token is always rejected by Codex: never carry one over.
    extras.remove("bearer_token");
    entry.extend(extras);
    if !server.enabled {
        entry.insert("enabled".into(), Value::Bool(false));
    }
    Ok(Value::Object(entry))
}

/// The canonical server of a `[mcp_servers.NAME]` table.
pub fn from_entry(name: &str, entry: &Value) -> Result<McpServer, String> {
    let object = entry.as_object().ok_or("not a table")?;
    let transport = if let Some(command) = object.get("command").and_then(Value::as_str) {
        Transport::Stdio {
            command: command.to_string(),
            args: server::strings(object.get("args")),
            env: server::string_pairs(object.get("env")),
            cwd: object.get("cwd").and_then(Value::as_str).map(ToString::to_string),
        }
    } else if let Some(url) = object.get("url").and_then(Value::as_str) {
        let mut headers = Vec::new();
        if let Some(var) = object.get("bearer_token_env_var").and_then(Value::as_str) {
            headers.push(("Authorization".to_string(), format!("Bearer ${{{var}}}")));
        }
        headers.extend(server::string_pairs(object.get("http_headers")));
        for (key, var) in server::string_pairs(object.get("env_http_headers")) {
            headers.push((key, format!("${{{var}}}")));
        }
        Transport::Http { url: url.to_string(), headers }
    } else {
        return Err("invalid transport: neither `command` nor `url`".to_string());
    };
    Ok(McpServer {
        name: name.to_string(),
        transport,
        enabled: object.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        extras: server::extras_of(Some(entry), CANONICAL),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn bearer_and_env_headers_map_to_codex_keys_and_back() {
        let server = McpServer::new(
            "docs",
            Transport::Http {
                url: "https://x/mcp".into(),
                headers: vec![
                    ("Authorization".into(), "Bearer ${DOCS_TOKEN}".into()),
                    ("X-Team".into(), "${TEAM}".into()),
                    ("X-Mode".into(), "ro".into()),
                ],
            },
        );
        let entry = to_entry(&server, None).unwrap();
        assert_eq!(
            entry,
            json!({"url": "https://x/mcp", "bearer_token_env_var": "DOCS_TOKEN",
                   "http_headers": {"X-Mode": "ro"}, "env_http_headers": {"X-Team": "TEAM"}})
        );
        assert!(from_entry("docs", &entry).unwrap().same_definition(&server));
    }

    #[test]
    fn rejected_keys_are_never_written() {
        let sse = McpServer::new("s", Transport::Sse { url: "u".into(), headers: Vec::new() });
        assert!(to_entry(&sse, None).unwrap_err().contains("not SSE"));
        let mixed = McpServer::new(
            "m",
            Transport::Http { url: "u".into(), headers: vec![("X".into(), "a ${B}".into())] },
        );
        assert!(to_entry(&mixed, None).is_err());
        // A stdio rewrite of a remote entry drops its remote-only keys and inline tokens.
        let existing =
            json!({"url": "u", "bearer_token": "x", "oauth_resource": "r", "startup_timeout_sec": 5});
        let stdio = McpServer::new(
            "m",
            Transport::Stdio { command: "npx".into(), args: vec![], env: vec![], cwd: None },
        );
        assert_eq!(
            to_entry(&stdio, Some(&existing)).unwrap(),
            json!({"command": "npx", "startup_timeout_sec": 5})
        );
    }

    #[test]
    fn names_codex_cannot_take_are_refused() {
        assert!(check_name("my-server_2").is_ok());
        assert!(check_name("my.server").is_err());
    }
}
