//! OpenCode: `mcp.NAME` in `opencode.json(c)` (client-formats.md 3.4).
//!
//! Invariants:
//! - local: `{"type":"local","command":[program, ...args],"environment":{...},"enabled"}`
//!   (`command` is one array; there is no `args` key); remote:
//!   `{"type":"remote","url","headers","enabled"}`. OpenCode's schemas are strict, so no
//!   other key is ever added; keys already on an entry (`timeout`, `oauth`) are kept.
//! - `${VAR}` in env and header values becomes OpenCode's `{env:VAR}` and back.
//! - A toggle-only entry (`{"enabled": false}`) has no transport: it is read as such,
//!   never rewritten into a full entry.
//! - OpenCode has no `cwd` for local servers: such a server is refused.

use serde_json::{Map, Value};

use super::server::{self, McpServer, Transport};

const CANONICAL: &[&str] = &["type", "command", "environment", "url", "headers", "enabled"];

pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        Err(format!("OpenCode cannot take the server name `{name}`"))
    } else {
        Ok(())
    }
}

pub fn to_entry(server: &McpServer, existing: Option<&Value>) -> Result<Value, String> {
    let to_opencode = |pairs: &[(String, String)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| {
                (key.clone(), server::map_env_references(value, |name| format!("{{env:{name}}}")))
            })
            .collect()
    };
    let mut entry = Map::new();
    match &server.transport {
        Transport::Stdio { command, args, env, cwd } => {
            if cwd.is_some() {
                return Err(
                    "OpenCode has no working-directory setting for local MCP servers (`cwd`)".to_string()
                );
            }
            entry.insert("type".into(), Value::String("local".into()));
            let mut argv = vec![command.clone()];
            argv.extend(args.iter().cloned());
            entry.insert("command".into(), Value::from(argv));
            if !env.is_empty() {
                entry.insert("environment".into(), server::object_of(&to_opencode(env)));
            }
        }
        Transport::Http { url, headers } | Transport::Sse { url, headers } => {
            entry.insert("type".into(), Value::String("remote".into()));
            entry.insert("url".into(), Value::String(url.clone()));
            if !headers.is_empty() {
                entry.insert("headers".into(), server::object_of(&to_opencode(headers)));
            }
        }
    }
    entry.extend(server::extras_of(existing, CANONICAL));
    entry.insert("enabled".into(), Value::Bool(server.enabled));
    Ok(Value::Object(entry))
}

pub fn from_entry(name: &str, entry: &Value) -> Result<McpServer, String> {
    let object = entry.as_object().ok_or("not an object")?;
    let from_opencode = |pairs: Vec<(String, String)>| -> Vec<(String, String)> {
        pairs.into_iter().map(|(key, value)| (key, env_to_canonical(&value))).collect()
    };
    let transport = match object.get("type").and_then(Value::as_str) {
        Some("local") => {
            let mut argv = server::strings(object.get("command")).into_iter();
            let command = argv.next().ok_or("local entry without a `command` array")?;
            Transport::Stdio {
                command,
                args: argv.collect(),
                env: from_opencode(server::string_pairs(object.get("environment"))),
                cwd: None,
            }
        }
        Some("remote") => Transport::Http {
            url: object.get("url").and_then(Value::as_str).ok_or("remote entry without `url`")?.to_string(),
            headers: from_opencode(server::string_pairs(object.get("headers"))),
        },
        Some(other) => return Err(format!("unknown type `{other}`")),
        None => return Err("toggle-only entry (no type)".to_string()),
    };
    Ok(McpServer {
        name: name.to_string(),
        transport,
        enabled: object.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        extras: server::extras_of(Some(entry), CANONICAL),
    })
}

/// `{env:VAR}` to `${VAR}`.
fn env_to_canonical(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("{env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 5..];
        match after.find('}') {
            Some(end) if server::is_env_name(&after[..end]) => {
                out.push_str(&format!("${{{}}}", &after[..end]));
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("{env:");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn command_becomes_one_array_and_env_references_translate() {
        let server = McpServer::new(
            "ctx",
            Transport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "@upstash/context7-mcp".into()],
                env: vec![("TOKEN".into(), "${CTX_TOKEN}".into())],
                cwd: None,
            },
        );
        let entry = to_entry(&server, None).unwrap();
        assert_eq!(
            entry,
            json!({"type": "local", "command": ["npx", "-y", "@upstash/context7-mcp"],
                   "environment": {"TOKEN": "{env:CTX_TOKEN}"}, "enabled": true})
        );
        assert_eq!(from_entry("ctx", &entry).unwrap(), server);
        assert!(from_entry("x", &json!({"enabled": false})).is_err());
    }
}
