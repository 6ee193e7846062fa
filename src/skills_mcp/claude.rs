//! Claude Code: `mcpServers.NAME` in `.claude.json` (user and local scope) or `.mcp.json`
//! (project scope) (client-formats.md 2.3).
//!
//! Invariants:
//! - stdio entries are written the way `claude mcp add` writes them:
//!   `{"type":"stdio","command","args":[],"env":{}}`; remote ones
//!   `{"type":"http"|"sse","url","headers"}` (headers only when there are some).
//! - Claude Code has no per-server `enabled` key and no `cwd`: disabling parks the entry
//!   in aigate's records, and a server with a `cwd` is refused.

use serde_json::{Map, Value};

use super::server::{self, McpServer, Transport};

const CANONICAL: &[&str] = &["type", "command", "args", "env", "url", "headers"];

/// Names `claude mcp add` accepts: letters, digits, `-` and `_`.
pub fn check_name(name: &str) -> Result<(), String> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(())
    } else {
        Err(format!("Claude Code accepts only letters, digits, `-` and `_` in server names, not `{name}`"))
    }
}

pub fn to_entry(server: &McpServer, existing: Option<&Value>) -> Result<Value, String> {
    let mut entry = Map::new();
    match &server.transport {
        Transport::Stdio { command, args, env, cwd } => {
            if cwd.is_some() {
                return Err(
                    "Claude Code has no working-directory setting for MCP servers (`cwd`)".to_string()
                );
            }
            entry.insert("type".into(), Value::String("stdio".into()));
            entry.insert("command".into(), Value::String(command.clone()));
            entry.insert("args".into(), Value::from(args.clone()));
            entry.insert("env".into(), server::object_of(env));
        }
        Transport::Http { url, headers } | Transport::Sse { url, headers } => {
            entry.insert("type".into(), Value::String(server.transport.kind().into()));
            entry.insert("url".into(), Value::String(url.clone()));
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
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("stdio");
    let transport = match kind {
        "stdio" => Transport::Stdio {
            command: object
                .get("command")
                .and_then(Value::as_str)
                .ok_or("stdio entry without `command`")?
                .to_string(),
            args: server::strings(object.get("args")),
            env: server::string_pairs(object.get("env")),
            cwd: None,
        },
        "http" | "sse" => {
            let url =
                object.get("url").and_then(Value::as_str).ok_or("remote entry without `url`")?.to_string();
            let headers = server::string_pairs(object.get("headers"));
            if kind == "http" { Transport::Http { url, headers } } else { Transport::Sse { url, headers } }
        }
        other => return Err(format!("unknown type `{other}`")),
    };
    Ok(McpServer {
        name: name.to_string(),
        transport,
        enabled: true,
        extras: server::extras_of(Some(entry), CANONICAL),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn stdio_and_remote_round_trip() {
        let stdio = McpServer::new(
            "fs",
            Transport::Stdio { command: "npx".into(), args: vec!["-y".into()], env: vec![], cwd: None },
        );
        let entry = to_entry(&stdio, None).unwrap();
        assert_eq!(entry, json!({"type": "stdio", "command": "npx", "args": ["-y"], "env": {}}));
        assert_eq!(from_entry("fs", &entry).unwrap(), stdio);
        let no_type = json!({"command": "npx"});
        assert!(from_entry("fs", &no_type).unwrap().same_definition(&McpServer::new(
            "fs",
            Transport::Stdio { command: "npx".into(), args: vec![], env: vec![], cwd: None }
        )));
        let existing = json!({"type": "http", "url": "u", "oauth": {"clientId": "x"}});
        let remote = McpServer::new("r", Transport::Sse { url: "v".into(), headers: vec![] });
        assert_eq!(
            to_entry(&remote, Some(&existing)).unwrap(),
            json!({"type": "sse", "url": "v", "oauth": {"clientId": "x"}})
        );
    }
}
