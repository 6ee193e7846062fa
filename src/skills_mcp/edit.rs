//! Pure edits of MCP entries in a client file's bytes, through the byte-preserving
//! document layer ([`crate::doc`]).
//!
//! Invariants:
//! - Only the server's entry is touched; every other byte is kept. That includes an
//!   OpenCode file without `$schema`: OpenCode itself adds it (and reformats the file,
//!   client-formats.md 3.2) whether or not aigate was there, and a `$schema` aigate added
//!   would outlive the servers it came with (add two, remove both: not byte-identical).
//! - A reverse patch is used only when the file it gives means exactly what the semantic
//!   edit gives ([`prefer_reverse`]).

use serde_json::Value;

use super::McpFile;
use super::patch::{self, Undo};
use crate::clients::Format;
use crate::doc::{Document, NewBytes};
use crate::error::{Error, Result};

/// Parse a client file (`None`: it does not exist, an empty document).
pub fn load<'src>(bytes: Option<&'src [u8]>, file: &McpFile) -> Result<Document<'src>> {
    match bytes {
        Some(bytes) => Ok(Document::parse(bytes, file.format, &file.path)?),
        None => Ok(Document::new_empty(file.format)),
    }
}

/// The servers in `file`, in file order, as raw client entries.
pub fn entries(document: &Document, file: &McpFile) -> Vec<(String, Value)> {
    let container: Vec<&str> = file.container.iter().map(String::as_str).collect();
    let Some(Value::Object(servers)) = document.get(&container) else { return Vec::new() };
    servers.into_iter().collect()
}

/// One server's raw entry.
pub fn entry(document: &Document, file: &McpFile, name: &str) -> Option<Value> {
    let path = file.entry_path(name);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    document.get(&path)
}

/// Set the entry of `name` to `value` (creating or replacing it). The new bytes are a
/// splice of `bytes` where the document layer can give one (nothing else is rendered).
/// (The commands parse once and edit with [`upsert_in`].)
#[cfg(test)]
pub fn upsert(bytes: Option<&[u8]>, file: &McpFile, name: &str, value: &Value) -> Result<NewBytes> {
    let mut document = load(bytes, file)?;
    upsert_in(&mut document, file, name, value)?;
    Ok(document.into_new_bytes())
}

/// Set the entry of `name` to `value` (creating or replacing it) in a document already
/// parsed (several servers, one parse).
pub fn upsert_in(document: &mut Document, file: &McpFile, name: &str, value: &Value) -> Result<()> {
    check_container(document, file)?;
    let path = file.entry_path(name);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    document.set(&path, value)?;
    Ok(())
}

/// Remove the entry of `name` (the bytes are unchanged when it is not there). (The
/// commands parse once and edit with [`remove_in`].)
#[cfg(test)]
pub fn remove(bytes: Option<&[u8]>, file: &McpFile, name: &str) -> Result<NewBytes> {
    remove_in(load(bytes, file)?, file, name, &[])
}

/// Remove the entry of `name` from the document parsed from the file's bytes (parsed
/// once for a lookup and the edit). `created`: the containers the server's `mcp add`
/// created ([`Undo::created_keys`]), taken out again when it leaves them empty.
pub fn remove_in(
    mut document: Document,
    file: &McpFile,
    name: &str,
    created: &[Vec<String>],
) -> Result<NewBytes> {
    for key_path in created {
        document.note_created(key_path);
    }
    let path = file.entry_path(name);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    if document.remove(&path)?.is_none() {
        return Ok(NewBytes::unchanged());
    }
    Ok(document.into_new_bytes())
}

/// Codex `enabled = false` / OpenCode `enabled: false`, and back (`enabled = true`), on
/// the document parsed from the file's bytes.
pub fn set_enabled_in(mut document: Document, file: &McpFile, name: &str, enabled: bool) -> Result<NewBytes> {
    let mut path = file.entry_path(name);
    path.push("enabled".to_string());
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    document.set(&path, &Value::Bool(enabled))?;
    Ok(document.into_new_bytes())
}

/// The reverse patch's result when it means what the semantic edit means, else the
/// semantic edit's (`Ok(None)`: remove the file). The two are compared ignoring what
/// aigate may add around an entry, and only where they differ
/// ([`crate::doc::json_skeletons`]): on a 20 MB `.claude.json` that is the few hundred
/// bytes of `mcpServers`, not two whole-file values.
pub fn prefer_reverse(
    undo: Option<&Undo>,
    current: Option<&[u8]>,
    file: &McpFile,
    name: &str,
    semantic: impl FnOnce() -> Result<NewBytes>,
) -> Result<Option<NewBytes>> {
    let Some(reversed) = undo.and_then(|undo| patch::reverse(undo, current)) else {
        return semantic().map(Some);
    };
    let edited = semantic()?;
    Ok(if same_meaning(current, &edited, reversed.as_ref(), file, name) { reversed } else { Some(edited) })
}

/// Whether `reversed` (`None`: no file) means what `edited` (made from `current`) means,
/// ignoring what aigate may add around an entry (a `$schema`, `enabled: true`,
/// containers left empty).
fn same_meaning(
    current: Option<&[u8]>,
    edited: &NewBytes,
    reversed: Option<&NewBytes>,
    file: &McpFile,
    name: &str,
) -> bool {
    if reversed.is_some_and(|reversed| edited.same_as(current, reversed)) {
        return true;
    }
    let edited = edited.parts(current).concat();
    let reversed = reversed.map(|reversed| reversed.parts(current).concat());
    let values = reversed
        .as_deref()
        .and_then(|reversed| crate::doc::json_skeletons(file.format, &edited, reversed))
        .or_else(|| Some((value_of(Some(&edited), file)?, value_of(reversed.as_deref(), file)?)));
    let Some((mut wanted, mut got)) = values else { return false };
    normalise(&mut wanted, file, name);
    normalise(&mut got, file, name);
    wanted == got
}

/// The meaning of a version of the file (`None` bytes: no file, `{}`; `None`: a file the
/// document layer refuses, duplicate keys included). Strict JSON is read as serde_json
/// reads it, as [`crate::doc::json_skeletons`] reads what changed.
fn value_of(bytes: Option<&[u8]>, file: &McpFile) -> Option<Value> {
    let Some(bytes) = bytes else { return Some(Value::Object(serde_json::Map::new())) };
    let document = load(Some(bytes), file).ok()?;
    if file.format == Format::Json {
        if let Ok(value) =
            serde_json::from_slice::<Value>(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        {
            return Some(value);
        }
    }
    Some(document.to_value())
}

fn normalise(value: &mut Value, file: &McpFile, name: &str) {
    if let Some(root) = value.as_object_mut() {
        root.remove("$schema");
    }
    if let Some(Value::Object(entry)) = pointer_mut(value, &file.entry_path(name)) {
        if entry.get("enabled") == Some(&Value::Bool(true)) {
            entry.remove("enabled");
        }
    }
    // Drop the container and then its parents while they are empty objects.
    for depth in (1..=file.container.len()).rev() {
        let (parent, key) = (&file.container[..depth - 1], &file.container[depth - 1]);
        let Some(Value::Object(parent_object)) = pointer_mut(value, parent) else { break };
        let empty = parent_object.get(key).and_then(Value::as_object).is_some_and(serde_json::Map::is_empty);
        if !empty {
            break;
        }
        parent_object.remove(key);
    }
}

fn pointer_mut<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut current = value;
    for key in path {
        current = current.as_object_mut()?.get_mut(key)?;
    }
    Some(current)
}

/// Refuse a container of the wrong type instead of coercing it.
fn check_container(document: &Document, file: &McpFile) -> Result<()> {
    let container: Vec<&str> = file.container.iter().map(String::as_str).collect();
    for depth in 1..=container.len() {
        match document.get(&container[..depth]) {
            None | Some(Value::Object(_)) => {}
            Some(other) => {
                let kind = match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    Value::Null => "null",
                    Value::Object(_) => "an object",
                };
                return Err(Error::refused(format!(
                    "`{}` in `{}` is {kind}, not a table of servers",
                    container[..depth].join("."),
                    crate::output::display_path(&file.path)
                ))
                .hint("fix the file by hand, or put back an earlier version with `aigate restore`"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn claude_json() -> McpFile {
        McpFile {
            client: crate::clients::Client::Claude,
            scope: super::super::Scope::User,
            path: std::path::PathBuf::from(".claude.json"),
            format: Format::Json,
            container: vec!["mcpServers".to_string()],
        }
    }

    /// A `.claude.json` with `fs`, and the same once `web` was added by [`upsert`], with
    /// the undo record of that add.
    fn added() -> (String, Vec<u8>, Undo) {
        let history: Vec<String> = (0..200).map(|n| format!("    {{\"display\": \"/clear {n}\"}}")).collect();
        let before = format!(
            "{{\n  \"history\": [\n{}\n  ],\n  \"mcpServers\": {{\n    \"fs\": {{\"command\": \"npx\"}}\n  }},\n  \"tail\": 1\n}}\n",
            history.join(",\n")
        );
        let file = claude_json();
        let after = upsert(Some(before.as_bytes()), &file, "web", &json!({"type": "http", "url": "u"}))
            .unwrap()
            .into_vec(Some(before.as_bytes()));
        let undo = patch::record(Some(before.as_bytes()), Some(&after)).unwrap();
        (before, after, undo)
    }

    #[test]
    fn the_reverse_patch_is_taken_when_it_means_what_the_edit_means() {
        let (before, after, undo) = added();
        let file = claude_json();
        let semantic = || remove(Some(&after), &file, "web");
        let chosen = prefer_reverse(Some(&undo), Some(&after), &file, "web", semantic).unwrap();
        assert_eq!(String::from_utf8(chosen.unwrap().into_vec(Some(&after))).unwrap(), before);
        // A user edit elsewhere since (the tail) is kept: the patch still applies there.
        let edited = String::from_utf8(after.clone()).unwrap().replace("\"tail\": 1", "\"tail\": 2");
        let semantic = || remove(Some(edited.as_bytes()), &file, "web");
        let chosen = prefer_reverse(Some(&undo), Some(edited.as_bytes()), &file, "web", semantic).unwrap();
        let chosen = chosen.unwrap().into_vec(Some(edited.as_bytes()));
        assert_eq!(String::from_utf8(chosen).unwrap(), before.replace("\"tail\": 1", "\"tail\": 2"));
    }

    #[test]
    fn a_reverse_patch_that_means_something_else_gives_way_to_the_edit() {
        let (_, after, mut undo) = added();
        let file = claude_json();
        // The undo would put back `fs` with another command (its one hunk holds the `fs`
        // line, which the add gave a comma): not what removing `web` means.
        for hunk in &mut undo.hunks {
            hunk.old = hunk.old.replace("npx", "rm");
        }
        let edited = String::from_utf8(after).unwrap();
        let semantic = || remove(Some(edited.as_bytes()), &file, "web");
        let current = Some(edited.as_bytes());
        let reversed = patch::reverse(&undo, current).unwrap().unwrap().into_vec(current);
        assert_ne!(reversed, semantic().unwrap().into_vec(current), "the patch applies but differs");
        let chosen = prefer_reverse(Some(&undo), current, &file, "web", semantic).unwrap();
        assert_eq!(
            chosen.unwrap().into_vec(current),
            remove(current, &file, "web").unwrap().into_vec(current)
        );
    }

    #[test]
    fn a_semantic_remove_takes_out_the_container_the_add_created() {
        let file = claude_json();
        let before = "{\n  \"numStartups\": 3,\n  \"tail\": 1\n}\n";
        let mut document = load(Some(before.as_bytes()), &file).unwrap();
        upsert_in(&mut document, &file, "web", &json!({"type": "http", "url": "u"})).unwrap();
        let created = document.created_parents().to_vec();
        assert_eq!(created, [vec!["mcpServers".to_string()]]);
        let after = document.into_new_bytes().into_vec(Some(before.as_bytes()));
        // The user edits the entry, so no reverse patch applies: the semantic remove
        // alone gives the file back as it was before the add.
        let edited = String::from_utf8(after).unwrap().replace("\"url\": \"u\"", "\"url\": \"v\"");
        let removed = remove_in(load(Some(edited.as_bytes()), &file).unwrap(), &file, "web", &created)
            .unwrap()
            .into_vec(Some(edited.as_bytes()));
        assert_eq!(String::from_utf8(removed).unwrap(), before);
        // In one splice, as a large file needs.
        let spliced =
            remove_in(load(Some(edited.as_bytes()), &file).unwrap(), &file, "web", &created).unwrap();
        assert!(matches!(spliced, NewBytes::Spliced { .. }), "{spliced:?}");
        // Without the record, an empty `mcpServers` stays (it may have been the user's).
        let kept = remove(Some(edited.as_bytes()), &file, "web").unwrap().into_vec(Some(edited.as_bytes()));
        assert_eq!(
            String::from_utf8(kept).unwrap(),
            "{\n  \"numStartups\": 3,\n  \"tail\": 1,\n  \"mcpServers\": {}\n}\n"
        );
        // A container that holds another server is kept.
        let two = edited.replace("\"web\": {", "\"fs\": {\"command\": \"npx\"},\n    \"web\": {");
        let removed = remove_in(load(Some(two.as_bytes()), &file).unwrap(), &file, "web", &created)
            .unwrap()
            .into_vec(Some(two.as_bytes()));
        assert!(String::from_utf8(removed).unwrap().contains("\"mcpServers\": {\n    \"fs\""));
    }
}
