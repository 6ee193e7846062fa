//! A fast path for the one edit that must be quick on a huge strict-JSON file: adding a
//! new server to an existing, non-empty server object in `.claude.json` (often many MB,
//! rewritten by Claude Code all the time).
//!
//! It splices the new member's text into the original bytes and produces exactly what the
//! document layer ([`crate::doc`]) would (same indentation, inline arrays of scalars,
//! comma after the previous member); a unit test checks that on every shape it accepts.
//! Anything unusual (a BOM, CRLF, tabs, an empty or single-line object, duplicate keys on
//! the way, invalid JSON) returns [`FastAdd::Unsupported`] and the caller takes the
//! document layer's path, which also produces the proper error for a bad file.
//!
//! Invariants: pure; bytes outside the inserted text are the input's bytes.

use serde_json::Value;

/// What the fast path could do.
#[derive(Debug, PartialEq, Eq)]
pub enum FastAdd {
    /// The new file bytes, and where the inserted text is in them.
    Added(Vec<u8>, std::ops::Range<usize>),
    /// A server of that name is already there.
    Exists,
    /// Use the document layer.
    Unsupported,
}

struct Member {
    key_start: usize,
    key_end: usize,
    value_start: usize,
    value_end: usize,
}

/// Add `"name": value` at the end of the object at `container` (a path of keys from the
/// root object).
pub fn try_add(bytes: &[u8], container: &[String], name: &str, value: &Value) -> FastAdd {
    add(bytes, container, name, value).unwrap_or(FastAdd::Unsupported)
}

fn add(bytes: &[u8], container: &[String], name: &str, value: &Value) -> Option<FastAdd> {
    if bytes.starts_with(b"\xEF\xBB\xBF") || bytes.contains(&b'\r') || bytes.contains(&b'\t') {
        return None;
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).ok()?;
    let mut object = skip_ws(bytes, 0);
    if bytes.get(object) != Some(&b'{') {
        return None;
    }
    for key in container {
        let (members, _) = members(bytes, object)?;
        let member = unique(bytes, &members, key).ok()??;
        object = member.value_start;
        if bytes.get(object) != Some(&b'{') {
            return None;
        }
    }
    let (members, close) = members(bytes, object)?;
    if unique(bytes, &members, name).ok()?.is_some() {
        return Some(FastAdd::Exists);
    }
    let last = members.last()?;
    let indent = line_indent(bytes, last.key_start)?;
    let container_indent = line_indent_of_line(bytes, object);
    if indent <= container_indent || !bytes[last.value_end..close].contains(&b'\n') {
        return None;
    }
    let unit = indent - container_indent;
    let mut insert = format!(",\n{}{}: ", " ".repeat(indent), serde_json::to_string(name).ok()?);
    render(value, indent, unit, &mut insert);
    let mut out = Vec::with_capacity(bytes.len() + insert.len());
    out.extend_from_slice(&bytes[..last.value_end]);
    out.extend_from_slice(insert.as_bytes());
    out.extend_from_slice(&bytes[last.value_end..]);
    Some(FastAdd::Added(out, last.value_end..last.value_end + insert.len()))
}

/// A key that is there twice (the document layer refuses the file).
struct Duplicate;

/// The member named `key`, if any.
fn unique<'m>(bytes: &[u8], members: &'m [Member], key: &str) -> Result<Option<&'m Member>, Duplicate> {
    let mut found = None;
    for member in members {
        if key_is(&bytes[member.key_start..member.key_end], key).ok_or(Duplicate)? {
            if found.is_some() {
                return Err(Duplicate);
            }
            found = Some(member);
        }
    }
    Ok(found)
}

fn key_is(raw: &[u8], key: &str) -> Option<bool> {
    if raw.contains(&b'\\') {
        Some(serde_json::from_slice::<String>(raw).ok()? == key)
    } else {
        Some(raw.get(1..raw.len() - 1)? == key.as_bytes())
    }
}

/// Members of the object starting at `open`, and the offset of its closing brace.
fn members(bytes: &[u8], open: usize) -> Option<(Vec<Member>, usize)> {
    let mut members = Vec::new();
    let mut at = skip_ws(bytes, open + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some((members, at));
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(bytes, at)?;
        let colon = skip_ws(bytes, key_end);
        if bytes.get(colon) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(bytes, colon + 1);
        let value_end = skip_value(bytes, value_start)?;
        members.push(Member { key_start: at, key_end, value_start, value_end });
        at = skip_ws(bytes, value_end);
        match bytes.get(at) {
            Some(b',') => at = skip_ws(bytes, at + 1),
            Some(b'}') => return Some((members, at)),
            _ => return None,
        }
    }
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\n' | b'\t' | b'\r')) {
        at += 1;
    }
    at
}

/// The offset just after the string starting at `at` (a `"`).
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    let mut index = at + 1;
    loop {
        match bytes.get(index)? {
            b'"' => return Some(index + 1),
            b'\\' => index += 2,
            _ => index += 1,
        }
    }
}

fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut index = at;
            loop {
                match bytes.get(index)? {
                    b'"' => {
                        index = skip_string(bytes, index)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(index + 1);
                        }
                    }
                    _ => {}
                }
                index += 1;
            }
        }
        _ => {
            let mut index = at;
            while !matches!(bytes.get(index), None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r'))
            {
                index += 1;
            }
            Some(index)
        }
    }
}

/// The indentation of the line `at` is on, if only spaces precede `at` on it.
fn line_indent(bytes: &[u8], at: usize) -> Option<usize> {
    let start = bytes[..at].iter().rposition(|byte| *byte == b'\n').map_or(0, |index| index + 1);
    bytes[start..at].iter().all(|byte| *byte == b' ').then_some(at - start)
}

/// The number of leading spaces of the line `at` is on.
fn line_indent_of_line(bytes: &[u8], at: usize) -> usize {
    let start = bytes[..at].iter().rposition(|byte| *byte == b'\n').map_or(0, |index| index + 1);
    bytes[start..].iter().take_while(|byte| **byte == b' ').count()
}

/// Render like the document layer: objects one member a line, arrays of scalars inline.
fn render(value: &Value, indent: usize, unit: usize, out: &mut String) {
    match value {
        Value::Object(object) if object.is_empty() => out.push_str("{}"),
        Value::Object(object) => {
            out.push_str("{\n");
            for (index, (key, child)) in object.iter().enumerate() {
                out.push_str(&" ".repeat(indent + unit));
                out.push_str(&serde_json::to_string(key).unwrap_or_default());
                out.push_str(": ");
                render(child, indent + unit, unit, out);
                out.push_str(if index + 1 == object.len() { "\n" } else { ",\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
        Value::Array(items) if items.iter().all(|item| !item.is_object() && !item.is_array()) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(&serde_json::to_string(item).unwrap_or_default());
            }
            out.push(']');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                out.push_str(&" ".repeat(indent + unit));
                render(item, indent + unit, unit, out);
                out.push_str(if index + 1 == items.len() { "\n" } else { ",\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            out.push_str(&serde_json::to_string(value).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::Format;
    use crate::doc::Document;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn slow(text: &str, path: &[&str], value: &Value) -> String {
        let mut document = Document::parse(text.as_bytes(), Format::Json, std::path::Path::new("x")).unwrap();
        document.set(path, value).unwrap();
        String::from_utf8(document.to_bytes()).unwrap()
    }

    #[test]
    fn fast_path_writes_exactly_what_the_document_layer_writes() {
        let entry = json!({"type": "stdio", "command": "npx", "args": ["-y", "@mcp/fs"],
                           "env": {"A": "1", "B": "é \"q\""}, "headers": {}, "list": []});
        let inputs = [
            "{\n  \"a\": 1,\n  \"mcpServers\": {\n    \"x\": {\n      \"type\": \"http\"\n    }\n  },\n  \"z\": [1, 2]\n}\n",
            "{\n    \"mcpServers\": {\n        \"x\": {}\n    }\n}",
            "{\n  \"projects\": {\n    \"/p\": {\n      \"mcpServers\": {\n        \"x\": { \"command\": \"a\" }\n      }\n    }\n  }\n}\n",
        ];
        for input in inputs {
            let container: Vec<String> = if input.contains("projects") {
                vec!["projects".into(), "/p".into(), "mcpServers".into()]
            } else {
                vec!["mcpServers".into()]
            };
            let mut path: Vec<&str> = container.iter().map(String::as_str).collect();
            path.push("new");
            let FastAdd::Added(fast, _) = try_add(input.as_bytes(), &container, "new", &entry) else {
                panic!("fast path declined {input}");
            };
            assert_eq!(String::from_utf8(fast).unwrap(), slow(input, &path, &entry));
        }
    }

    #[test]
    fn unusual_shapes_are_left_to_the_document_layer() {
        let container = vec!["mcpServers".to_string()];
        let value = json!({"command": "x"});
        assert_eq!(try_add(b"{\"mcpServers\": {}}", &container, "n", &value), FastAdd::Unsupported);
        assert_eq!(try_add(b"{\"mcpServers\": {\"a\": 1}}", &container, "n", &value), FastAdd::Unsupported);
        assert_eq!(
            try_add(b"{\r\n  \"mcpServers\": {\r\n    \"a\": 1\r\n  }\r\n}", &container, "n", &value),
            FastAdd::Unsupported
        );
        assert_eq!(
            try_add(b"{\n  \"mcpServers\": {\n    \"a\": 1,\n  }\n}", &container, "n", &value),
            FastAdd::Unsupported
        );
        assert_eq!(
            try_add(b"{\n  \"mcpServers\": {\n    \"n\": 1\n  }\n}", &container, "n", &value),
            FastAdd::Exists
        );
        let duplicated =
            b"{\n  \"mcpServers\": {\n    \"a\": 1\n  },\n  \"mcpServers\": {\n    \"b\": 1\n  }\n}";
        assert_eq!(try_add(duplicated, &container, "n", &value), FastAdd::Unsupported);
    }
}
