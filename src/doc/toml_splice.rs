//! TOML edits as splices into the original text. The edit itself is decided on the
//! parsed document ([`super::toml`]); this module finds, with toml_edit's spans, the
//! bytes the edited key owns and inserts, replaces or deletes only those, so every
//! other byte (dotted keys as written, `""` keys, multi-line inline tables, comments,
//! CRLF) stays exactly as it was. toml_edit re-renders such lines when it prints a
//! whole document.
//!
//! Invariants:
//! - A splice touches only: the value of a replaced key; the line(s) of an inserted or
//!   removed `key = value`; the block (one blank line, header, body) of an inserted or
//!   removed `[table]`; the entry of an inserted or removed inline-table member.
//! - Removing what [`set`] inserted gives back the text before the insertion.
//! - Every function returns `None` for a shape it does not handle (a span it cannot
//!   find, a header-less table that would need one); the caller then renders the whole
//!   document instead. The caller also checks that the spliced text parses to the same
//!   document as the edit, so a splice can be wrong only by falling back.
//! - Pure: text in, text out.

use std::ops::Range;

use serde_json::Value as JsonValue;
use toml_edit::{InlineTable, Item, Table, Value};

use super::text::Eol;

/// What a splice remembers between edits: the text of each empty inline table a member
/// was added to (`{}` or `{ }`), so removing that member writes it back.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpliceMemory {
    empty_inline: Vec<(Vec<String>, String)>,
    /// Headers written for a table that had none (its values were new), removed again
    /// with its last value.
    created_headers: Vec<Vec<String>>,
}

/// One line-level entry of the file: a `[header]`/`[[header]]` line or a `key = value`.
#[derive(Debug)]
struct Entry {
    path: Vec<String>,
    header: bool,
    /// From the start of the first line to just after the last line's newline (or EOF).
    lines: Range<usize>,
}

/// `text` with `key_path` set to `value`.
pub(crate) fn set(
    text: &str,
    key_path: &[&str],
    value: &JsonValue,
    eol: Eol,
    memory: &mut SpliceMemory,
) -> Option<String> {
    let document = toml_edit::Document::parse(text).ok()?;
    let (leaf, parents) = key_path.split_last()?;
    let mut table = document.as_table();
    // Components of the path consumed by tables with a header (or the root): the
    // dotted part of a key is written relative to the last of them.
    let mut section_depth = 0;
    for (depth, key) in parents.iter().enumerate() {
        match table.get(key) {
            Some(Item::Table(child)) => {
                if !child.is_dotted() {
                    section_depth = depth + 1;
                }
                table = child;
            }
            Some(Item::Value(Value::InlineTable(inline))) => {
                let inline_path = &key_path[..=depth];
                return set_in_inline(text, inline, inline_path, &key_path[depth + 1..], value, memory);
            }
            Some(_) => return None,
            None => {
                return set_new(text, &document, table, key_path, depth, section_depth, value, eol, memory);
            }
        }
    }
    match table.get(leaf) {
        Some(Item::Value(old)) => {
            let span = old.span()?;
            let mut out = text.to_string();
            out.replace_range(span, &super::toml::json_to_value(value).ok()?.to_string());
            Some(out)
        }
        Some(Item::Table(_) | Item::ArrayOfTables(_)) => None,
        Some(Item::None) | None => {
            set_new(text, &document, table, key_path, parents.len(), section_depth, value, eol, memory)
        }
    }
}

/// `text` with `key_path` removed (and everything under it).
pub(crate) fn remove(text: &str, key_path: &[&str], memory: &mut SpliceMemory) -> Option<String> {
    let document = toml_edit::Document::parse(text).ok()?;
    let mut table = document.as_table();
    for (depth, key) in key_path[..key_path.len().saturating_sub(1)].iter().enumerate() {
        match table.get(key) {
            Some(Item::Table(child)) => table = child,
            Some(Item::Value(Value::InlineTable(inline))) => {
                return remove_in_inline(text, inline, &key_path[..=depth], &key_path[depth + 1..], memory);
            }
            Some(_) | None => return Some(text.to_string()),
        }
    }
    let entries = entries(text, &document)?;
    let owned: Vec<String> = key_path.iter().map(ToString::to_string).collect();
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if !entry.path.starts_with(&owned) {
            continue;
        }
        if entry.header && memory.created_headers.contains(&entry.path) {
            ranges.push(entry.lines.start..section_end(&entries, index));
        } else if entry.header {
            let end = entries[index + 1..]
                .iter()
                .take_while(|next| !next.header)
                .last()
                .map_or(entry.lines.end, |last| last.lines.end);
            ranges.push(block_start(text, entry.lines.start)..end);
        } else {
            ranges.push(entry.lines.clone());
        }
    }
    // A header aigate wrote for a table that had none goes with its last value.
    let mut forget = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if !(entry.header && memory.created_headers.contains(&entry.path)) {
            continue;
        }
        let section = entries[index + 1..].iter().take_while(|next| !next.header);
        if section.clone().all(|next| next.path.starts_with(&owned)) {
            // Written with no blank line before it (see `set_new`).
            ranges.push(entry.lines.start..section_end(&entries, index));
            forget.push(entry.path.clone());
        }
    }
    memory.created_headers.retain(|path| !forget.contains(path));
    ranges.sort_by_key(|range| range.start);
    let mut out = text.to_string();
    let mut merged: Vec<Range<usize>> = Vec::new();
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            Some(_) | None => merged.push(range),
        }
    }
    let unterminated = !text.is_empty() && !text.ends_with('\n');
    for range in merged.iter().rev() {
        let mut range = range.clone();
        // The file's last line had no newline: the line before the deleted one loses its
        // newline instead, so the file still ends without one.
        if unterminated && range.end == text.len() && range.start > 0 {
            range.start -= if text[..range.start].ends_with("\r\n") { 2 } else { 1 };
        }
        out.replace_range(range, "");
    }
    Some(out)
}

/// Insert a key that is missing from `table` (reached through `key_path[..depth]`): as
/// dotted lines under a dotted table, as a line in a table's own section, or as a new
/// `[table]` block.
#[expect(clippy::too_many_arguments, reason = "the walk's state, passed once")]
fn set_new(
    text: &str,
    document: &toml_edit::Document<&str>,
    table: &Table,
    key_path: &[&str],
    depth: usize,
    section_depth: usize,
    value: &JsonValue,
    eol: Eol,
    memory: &mut SpliceMemory,
) -> Option<String> {
    let entries = entries(text, document)?;
    let existing: Vec<String> = key_path[..depth].iter().map(ToString::to_string).collect();
    let is_table = matches!(value, JsonValue::Object(_));
    if table.is_dotted() && depth > 0 {
        // `parent.key = value` lines after the parent's last line.
        let prefix = &key_path[section_depth..];
        let lines = dotted_lines(prefix, value)?;
        // Its lines all sit in the section of the table the dotted key starts from.
        let section: Vec<String> = key_path[..section_depth].iter().map(ToString::to_string).collect();
        let mut current: Option<&[String]> = None;
        let mut at = None;
        for entry in &entries {
            if entry.header {
                current = Some(&entry.path);
            } else if current.unwrap_or_default() == section.as_slice()
                && (current.is_some() || section.is_empty())
                && entry.path.starts_with(&existing)
            {
                at = Some(entry.lines.end);
            }
        }
        return Some(insert_lines(text, at?, &lines, false, eol));
    }
    let missing_parents = depth + 1 < key_path.len();
    if !is_table && !missing_parents {
        // `key = value` at the end of the table's own section.
        let at = if depth == 0 {
            let first_header = entries.iter().position(|entry| entry.header).unwrap_or(entries.len());
            entries[..first_header].last().map_or(0, |last| last.lines.end)
        } else if let Some(header) = entries.iter().position(|entry| entry.header && entry.path == existing) {
            section_end(&entries, header)
        } else {
            // A table with no header of its own (only its sub-tables have one) gets one,
            // just before the block of its first sub-table.
            let first = entries.iter().find(|entry| entry.header && entry.path.starts_with(&existing))?;
            let at = block_start(text, first.lines.start);
            let block = format!(
                "[{}]\n{} = {}\n",
                existing.iter().map(|key| key_text(key)).collect::<Vec<_>>().join("."),
                key_text(key_path.last()?),
                super::toml::json_to_value(value).ok()?
            );
            memory.created_headers.push(existing);
            return Some(insert_lines(text, at, &block, false, eol));
        };
        let line = format!("{} = {}\n", key_text(key_path.last()?), super::toml::json_to_value(value).ok()?);
        return Some(insert_lines(text, at, &line, false, eol));
    }
    // A new `[header]` block: the value's own table, or the leaf's parent when the
    // value is a scalar under parents that do not exist yet.
    let (header_path, body): (&[&str], Vec<(&str, &JsonValue)>) = match value {
        JsonValue::Object(entries) => {
            (key_path, entries.iter().map(|(key, entry)| (key.as_str(), entry)).collect())
        }
        JsonValue::Null
        | JsonValue::Bool(_)
        | JsonValue::Number(_)
        | JsonValue::String(_)
        | JsonValue::Array(_) => {
            let (leaf, parents) = key_path.split_last()?;
            (parents, vec![(*leaf, value)])
        }
    };
    let mut block =
        format!("[{}]\n", header_path.iter().map(|key| key_text(key)).collect::<Vec<_>>().join("."));
    for (key, entry) in body {
        block.push_str(&format!("{} = {}\n", key_text(key), super::toml::json_to_value(entry).ok()?));
    }
    let siblings: Vec<String> =
        header_path[..header_path.len().saturating_sub(1)].iter().map(ToString::to_string).collect();
    let at = match entries.iter().rposition(|entry| entry.header && entry.path.starts_with(&siblings)) {
        Some(header) => section_end(&entries, header),
        None => entries.last().map_or(text.len(), |last| last.lines.end),
    };
    Some(insert_lines(text, at, &block, at > 0, eol))
}

/// Set `rest` inside the inline table at `inline_path`.
fn set_in_inline(
    text: &str,
    inline: &InlineTable,
    inline_path: &[&str],
    rest: &[&str],
    value: &JsonValue,
    memory: &mut SpliceMemory,
) -> Option<String> {
    let (first, deeper) = rest.split_first()?;
    match inline.get(first) {
        Some(Value::InlineTable(child)) if !deeper.is_empty() => {
            let mut child_path = inline_path.to_vec();
            child_path.push(first);
            set_in_inline(text, child, &child_path, deeper, value, memory)
        }
        Some(old) if deeper.is_empty() => {
            let span = old.span()?;
            let mut out = text.to_string();
            out.replace_range(span, &super::toml::json_to_value(value).ok()?.to_string());
            Some(out)
        }
        Some(_) => None,
        None => {
            let mut nested = value.clone();
            for key in deeper.iter().rev() {
                nested = JsonValue::Object(std::iter::once(((*key).to_string(), nested)).collect());
            }
            let entry = format!("{} = {}", key_text(first), super::toml::json_to_value(&nested).ok()?);
            let span = inline.span()?;
            let mut out = text.to_string();
            if let Some((_, last)) = inline.iter().last() {
                out.insert_str(last.span()?.end, &format!(", {entry}"));
            } else {
                let path: Vec<String> = inline_path.iter().map(ToString::to_string).collect();
                memory.empty_inline.retain(|(known, _)| *known != path);
                memory.empty_inline.push((path, text.get(span.clone())?.to_string()));
                out.replace_range(span, &format!("{{ {entry} }}"));
            }
            Some(out)
        }
    }
}

/// Remove `rest` from inside the inline table at `inline_path`.
fn remove_in_inline(
    text: &str,
    inline: &InlineTable,
    inline_path: &[&str],
    rest: &[&str],
    memory: &mut SpliceMemory,
) -> Option<String> {
    let (first, deeper) = rest.split_first()?;
    if !deeper.is_empty() {
        return match inline.get(first) {
            Some(Value::InlineTable(child)) => {
                let mut child_path = inline_path.to_vec();
                child_path.push(first);
                remove_in_inline(text, child, &child_path, deeper, memory)
            }
            Some(_) | None => Some(text.to_string()),
        };
    }
    let keys: Vec<&str> = inline.iter().map(|(key, _)| key).collect();
    let Some(index) = keys.iter().position(|key| key == first) else {
        return Some(text.to_string());
    };
    let mut out = text.to_string();
    if keys.len() == 1 {
        let path: Vec<String> = inline_path.iter().map(ToString::to_string).collect();
        let original = memory
            .empty_inline
            .iter()
            .position(|(known, _)| *known == path)
            .map_or_else(|| "{}".to_string(), |found| memory.empty_inline.remove(found).1);
        out.replace_range(inline.span()?, &original);
        return Some(out);
    }
    let this_value = inline.get(first)?.span()?;
    if index > 0 {
        let previous_end = inline.get(keys[index - 1])?.span()?.end;
        out.replace_range(previous_end..this_value.end, "");
    } else {
        let this_key = inline.key(first)?.span()?;
        let next_key = inline.key(keys[1])?.span()?;
        out.replace_range(this_key.start..next_key.start, "");
    }
    Some(out)
}

/// Every header and key-value line of the document, in file order.
fn entries(text: &str, document: &toml_edit::Document<&str>) -> Option<Vec<Entry>> {
    let mut entries = Vec::new();
    collect(text, document.as_table(), &mut Vec::new(), &mut entries)?;
    entries.sort_by_key(|entry| entry.lines.start);
    Some(entries)
}

fn collect(text: &str, table: &Table, path: &mut Vec<String>, entries: &mut Vec<Entry>) -> Option<()> {
    if !path.is_empty() && !table.is_implicit() && !table.is_dotted() {
        let span = table.span()?;
        entries.push(Entry {
            path: path.clone(),
            header: true,
            lines: line_start(text, span.start)..line_end(text, span.end),
        });
    }
    collect_items(text, table, path, entries)
}

fn collect_items(text: &str, table: &Table, path: &mut Vec<String>, entries: &mut Vec<Entry>) -> Option<()> {
    for (key, item) in table {
        path.push(key.to_string());
        match item {
            Item::Value(value) => {
                let key_span = table.key(key)?.span()?;
                let value_span = value.span()?;
                entries.push(Entry {
                    path: path.clone(),
                    header: false,
                    lines: line_start(text, key_span.start)..line_end(text, value_span.end),
                });
            }
            Item::Table(child) => collect(text, child, path, entries)?,
            Item::ArrayOfTables(array) => {
                for element in array {
                    let span = element.span()?;
                    entries.push(Entry {
                        path: path.clone(),
                        header: true,
                        lines: line_start(text, span.start)..line_end(text, span.end),
                    });
                    collect_items(text, element, path, entries)?;
                }
            }
            Item::None => {}
        }
        path.pop();
    }
    Some(())
}

/// Where the section of the header at `entries[header]` ends: after its last line.
fn section_end(entries: &[Entry], header: usize) -> usize {
    entries[header + 1..]
        .iter()
        .take_while(|entry| !entry.header)
        .last()
        .map_or(entries[header].lines.end, |last| last.lines.end)
}

/// The start of the block a header line at `line` opens: one blank line right above it
/// belongs to it (the one [`set`] writes before a new table). Comments above stay: they
/// may be about anything.
fn block_start(text: &str, line: usize) -> usize {
    if line == 0 {
        return 0;
    }
    let previous = line_start(text, line - 1);
    if text[previous..line].trim().is_empty() { previous } else { line }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |index| index + 1)
}

fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |index| at + index + 1)
}

/// Insert `lines` (each ending in `\n`) at the line start `at`, after a blank line when
/// `blank_before`, with the file's line ending. At the end of a file whose last line has
/// no newline, the newline goes before the insertion instead, so the file still ends
/// without one.
fn insert_lines(text: &str, at: usize, lines: &str, blank_before: bool, eol: Eol) -> String {
    let newline = match eol {
        Eol::Lf => "\n",
        Eol::CrLf => "\r\n",
    };
    let mut insertion = String::new();
    let unterminated_end = at == text.len() && !text.is_empty() && !text.ends_with('\n');
    if unterminated_end {
        insertion.push_str(newline);
    }
    if blank_before {
        insertion.push_str(newline);
    }
    let body = if unterminated_end { lines.strip_suffix('\n').unwrap_or(lines) } else { lines };
    insertion.push_str(&body.replace('\n', newline));
    let mut out = String::with_capacity(text.len() + insertion.len());
    out.push_str(&text[..at]);
    out.push_str(&insertion);
    out.push_str(&text[at..]);
    out
}

/// `prefix.key = value` lines for a new key under a dotted table: a non-empty object is
/// one line per member, nested objects inline.
fn dotted_lines(prefix: &[&str], value: &JsonValue) -> Option<String> {
    let dotted = prefix.iter().map(|key| key_text(key)).collect::<Vec<_>>().join(".");
    match value {
        JsonValue::Object(members) if !members.is_empty() => {
            let mut lines = String::new();
            for (key, member) in members {
                lines.push_str(&format!(
                    "{dotted}.{} = {}\n",
                    key_text(key),
                    super::toml::json_to_value(member).ok()?
                ));
            }
            Some(lines)
        }
        JsonValue::Object(_)
        | JsonValue::Null
        | JsonValue::Bool(_)
        | JsonValue::Number(_)
        | JsonValue::String(_)
        | JsonValue::Array(_) => Some(format!("{dotted} = {}\n", super::toml::json_to_value(value).ok()?)),
    }
}

/// A key as TOML writes it: bare when it can be, quoted otherwise.
fn key_text(key: &str) -> String {
    toml_edit::Key::new(key).to_string()
}
