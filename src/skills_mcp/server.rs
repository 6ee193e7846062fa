//! The canonical MCP server every client's entry is mapped to and from.
//!
//! Invariants:
//! - A server is a name, a transport (`stdio {command, args, env, cwd}` or
//!   `http|sse {url, headers}`), `enabled`, and the keys of an existing client entry that
//!   have no canonical meaning (`extras`), which are carried back untouched when that same
//!   entry is rewritten.
//! - Environment references are canonically written `${VAR}` (Claude Code's syntax); each
//!   client module translates them to and from its own form.
//! - Commands are never rewritten (`npx` stays `npx`).
//! - Nothing here does I/O.

use serde::Serialize;
use serde_json::{Map, Value};

/// How a client reaches the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Stdio { command: String, args: Vec<String>, env: Vec<(String, String)>, cwd: Option<String> },
    Http { url: String, headers: Vec<(String, String)> },
    Sse { url: String, headers: Vec<(String, String)> },
}

impl Transport {
    /// `stdio`, `http` or `sse`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Stdio { .. } => "stdio",
            Transport::Http { .. } => "http",
            Transport::Sse { .. } => "sse",
        }
    }
}

/// One MCP server in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServer {
    pub name: String,
    pub transport: Transport,
    pub enabled: bool,
    /// Keys of a client entry with no canonical meaning (timeouts, tool lists, oauth...).
    pub extras: Map<String, Value>,
}

impl McpServer {
    pub fn new(name: impl Into<String>, transport: Transport) -> Self {
        Self { name: name.into(), transport, enabled: true, extras: Map::new() }
    }

    /// Whether two servers have the same definition: transport class (local or remote),
    /// command, args, cwd, url, and env and headers as sets. `enabled` and extras are
    /// state and client-specific details, not the definition.
    pub fn same_definition(&self, other: &McpServer) -> bool {
        match (&self.transport, &other.transport) {
            (
                Transport::Stdio { command, args, env, cwd },
                Transport::Stdio { command: command2, args: args2, env: env2, cwd: cwd2 },
            ) => command == command2 && args == args2 && cwd == cwd2 && sorted(env) == sorted(env2),
            (
                Transport::Http { url, headers } | Transport::Sse { url, headers },
                Transport::Http { url: url2, headers: headers2 }
                | Transport::Sse { url: url2, headers: headers2 },
            ) => url == url2 && sorted(headers) == sorted(headers2),
            (Transport::Stdio { .. }, Transport::Http { .. } | Transport::Sse { .. })
            | (Transport::Http { .. } | Transport::Sse { .. }, Transport::Stdio { .. }) => false,
        }
    }

    /// A display view with env and header values masked.
    pub fn view(&self) -> ServerView {
        let masked = |pairs: &[(String, String)]| -> Map<String, Value> {
            pairs
                .iter()
                .map(|(key, value)| (key.clone(), Value::String(crate::output::mask_secret(value))))
                .collect()
        };
        match &self.transport {
            Transport::Stdio { command, args, env, cwd } => ServerView {
                transport: "stdio",
                command: Some(command.clone()),
                args: args.clone(),
                cwd: cwd.clone(),
                url: None,
                env: masked(env),
                headers: Map::new(),
            },
            Transport::Http { url, headers } | Transport::Sse { url, headers } => ServerView {
                transport: self.transport.kind(),
                command: None,
                args: Vec::new(),
                cwd: None,
                url: Some(url.clone()),
                env: Map::new(),
                headers: masked(headers),
            },
        }
    }
}

/// What `mcp list` shows of a server: never a secret value.
#[derive(Debug, Clone, Serialize)]
pub struct ServerView {
    pub transport: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Variable names with masked values.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub env: Map<String, Value>,
    /// Header names with masked values.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub headers: Map<String, Value>,
}

/// `K=V` pairs from `--env`.
pub fn parse_env(items: &[String]) -> Result<Vec<(String, String)>, String> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
            _ => Err(format!("`--env {item}` is not `KEY=VALUE`")),
        })
        .collect()
}

/// `K: V` pairs from `--header`.
pub fn parse_headers(items: &[String]) -> Result<Vec<(String, String)>, String> {
    items
        .iter()
        .map(|item| match item.split_once(':') {
            Some((key, value)) if !key.trim().is_empty() && !key.trim().contains(' ') => {
                Ok((key.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(format!("`--header {item}` is not `Name: value`")),
        })
        .collect()
}

/// `VAR` when `value` is exactly `${VAR}`.
pub fn env_reference(value: &str) -> Option<&str> {
    let name = value.strip_prefix("${")?.strip_suffix('}')?;
    is_env_name(name).then_some(name)
}

/// A portable environment variable name.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|rest| rest.is_ascii_alphanumeric() || rest == '_')
}

/// Rewrite every `${VAR}` in `text` with `replace(VAR)`; other text is kept.
pub fn map_env_references(text: &str, replace: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_env_name(&after[..end]) => {
                out.push_str(&replace(&after[..end]));
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// String pairs of a JSON object (non-string values are skipped).
pub(crate) fn string_pairs(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_object)
        .map(|object| {
            object
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON object from string pairs.
pub(crate) fn object_of(pairs: &[(String, String)]) -> Value {
    Value::Object(pairs.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect())
}

/// Strings of a JSON array (non-strings skipped).
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|item| item.as_str().map(ToString::to_string)).collect())
        .unwrap_or_default()
}

/// Keys of `existing` that are not in `canonical`, to carry over onto a rewritten entry.
pub(crate) fn extras_of(existing: Option<&Value>, canonical: &[&str]) -> Map<String, Value> {
    existing
        .and_then(Value::as_object)
        .map(|object| {
            object
                .iter()
                .filter(|(key, _)| !canonical.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn sorted(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut pairs = pairs.to_vec();
    pairs.sort();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn env_references_are_recognised_and_mapped() {
        assert_eq!(env_reference("${GITHUB_PAT}"), Some("GITHUB_PAT"));
        assert_eq!(env_reference("${A:-b}"), None);
        assert_eq!(env_reference("Bearer ${X}"), None);
        assert_eq!(
            map_env_references("Bearer ${TOKEN} and ${A:-b} ${", |name| format!("{{env:{name}}}")),
            "Bearer {env:TOKEN} and ${A:-b} ${"
        );
    }

    #[test]
    fn flags_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_env(&["A=1=2".to_string()]).unwrap(), vec![("A".to_string(), "1=2".to_string())]);
        assert!(parse_env(&["A".to_string()]).is_err());
        assert_eq!(
            parse_headers(&["Authorization: Bearer x".to_string()]).unwrap(),
            vec![("Authorization".to_string(), "Bearer x".to_string())]
        );
        assert!(parse_headers(&["nocolon".to_string()]).is_err());
    }

    #[test]
    fn definitions_compare_env_as_a_set_and_ignore_enabled() {
        let one = McpServer::new(
            "a",
            Transport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into()],
                env: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
                cwd: None,
            },
        );
        let mut two = one.clone();
        two.enabled = false;
        if let Transport::Stdio { env, .. } = &mut two.transport {
            env.reverse();
        }
        assert!(one.same_definition(&two));
        let remote = McpServer::new("a", Transport::Http { url: "u".into(), headers: Vec::new() });
        assert!(!one.same_definition(&remote));
    }
}
