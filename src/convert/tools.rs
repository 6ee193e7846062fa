//! Tool names and call ids on the wire.
//!
//! Invariants:
//! - Every upstream tool name is `[A-Za-z0-9_-]{1,64}`: a Responses `namespace` child is
//!   flattened to `ns__child` (no doubled `__`), other characters become `_`, and a name longer
//!   than 64 characters is cut and given a hash suffix. The function is pure, so a call in the
//!   history maps the same way as the tool it names.
//! - The way back is a map built from the request ([`ToolMap`]), never a split on `__`
//!   (`mcp__srv__x` would split wrongly).
//! - Call ids are sanitized the same way on the request and the response path, so no reverse
//!   map is needed for them.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::ir::ToolKind;

/// The longest tool name or call id every API accepts.
pub(crate) const NAME_LIMIT: usize = 64;

/// What an upstream tool name stands for on the client side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientTool {
    pub name: String,
    pub namespace: Option<String>,
    pub kind: ToolKind,
}

/// Upstream name → client tool, built from the request's tools and its history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ToolMap {
    by_wire: HashMap<String, ClientTool>,
}

impl ToolMap {
    /// Register a client tool; returns its wire name.
    pub(crate) fn add(&mut self, name: &str, namespace: Option<&str>, kind: ToolKind) -> String {
        let wire = wire_name(name, namespace);
        self.by_wire.entry(wire.clone()).or_insert_with(|| ClientTool {
            name: name.to_string(),
            namespace: namespace.map(str::to_string),
            kind,
        });
        wire
    }

    /// The client tool behind an upstream name (unknown names come back as plain functions).
    pub(crate) fn client(&self, wire: &str) -> ClientTool {
        self.by_wire.get(wire).cloned().unwrap_or_else(|| ClientTool {
            name: wire.to_string(),
            namespace: None,
            kind: match wire {
                "local_shell" => ToolKind::LocalShell,
                "tool_search" => ToolKind::ToolSearch,
                _ => ToolKind::Function,
            },
        })
    }
}

/// The upstream name for a client tool.
pub(crate) fn wire_name(name: &str, namespace: Option<&str>) -> String {
    let full = match namespace {
        Some(ns) if !ns.is_empty() && !name.starts_with(ns) => {
            if ns.ends_with("__") || name.starts_with("__") {
                format!("{ns}{name}")
            } else {
                format!("{ns}__{name}")
            }
        }
        _ => name.to_string(),
    };
    let sanitized = sanitize(&full);
    shorten(&sanitized, &full)
}

/// Call ids: `[A-Za-z0-9_-]{1,64}`; an empty id stays empty (the caller mints one).
pub(crate) fn sanitize_id(id: &str) -> String {
    if id.is_empty() {
        return String::new();
    }
    let sanitized = sanitize(id);
    shorten(&sanitized, id)
}

fn sanitize(text: &str) -> String {
    if text.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-') {
        return text.to_string();
    }
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

fn shorten(sanitized: &str, original: &str) -> String {
    if sanitized.len() <= NAME_LIMIT {
        return sanitized.to_string();
    }
    let digest = Sha256::digest(original.as_bytes());
    let suffix = hex::encode(&digest[..4]);
    // ASCII only after sanitizing, so byte slicing is safe.
    format!("{}_{suffix}", &sanitized[..NAME_LIMIT - 1 - suffix.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattening_and_shortening() {
        assert_eq!(wire_name("read_file", Some("mcp__fs__")), "mcp__fs__read_file");
        assert_eq!(wire_name("close_agent", Some("multi_agent_v1")), "multi_agent_v1__close_agent");
        assert_eq!(wire_name("a.b c", None), "a_b_c");
        let long = "x".repeat(90);
        let wire = wire_name(&long, Some("mcp__server__"));
        assert_eq!(wire.len(), 64);
        assert_eq!(wire, wire_name(&long, Some("mcp__server__")));
        let mut map = ToolMap::default();
        let added = map.add(&long, Some("mcp__server__"), ToolKind::Function);
        assert_eq!(added, wire);
        assert_eq!(
            map.client(&wire),
            ClientTool { name: long, namespace: Some("mcp__server__".into()), kind: ToolKind::Function }
        );
        assert_eq!(sanitize_id("functions.Name:0"), "functions_Name_0");
        assert_eq!(sanitize_id(""), "");
    }
}
