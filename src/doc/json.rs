//! JSON and JSONC bodies: validation the CST does not do (duplicate keys, top-level
//! type, nesting depth, JSONC in a strict file) and edits through the jsonc-parser CST.
//!
//! Invariants:
//! - Only the edited property's text changes: a replaced value keeps its key, its
//!   comma and the comments around it; a new property is appended with the object's
//!   own indentation and trailing-comma style (the CST does both).
//! - Key order is never changed.
//! - Numbers keep their raw text in the CST, so big numbers survive untouched. When read
//!   through [`to_json`] an integer that fits i64/u64 and a finite float become JSON
//!   numbers; any other number (for example `12345678901234567890123` or `1e400`)
//!   becomes a JSON *string* holding its raw text, so nothing is silently rounded.
//! - Nothing here reads or writes files.

use jsonc_parser::ast;
use jsonc_parser::cst::{CstContainerNode, CstInputValue, CstNode, CstObject, CstRootNode};
use jsonc_parser::errors::ParseErrorKind;
use jsonc_parser::{CollectOptions, CommentCollectionStrategy, ParseOptions};
use serde_json::Value as JsonValue;

use super::toml::{EditConflict, SetOutcome};

/// How deep objects and arrays may nest before a file is refused (serde_json's limit).
pub(crate) const MAX_DEPTH: usize = 128;

/// Why a JSON text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonFailureKind {
    Syntax,
    JsoncInStrict,
    DuplicateKey,
    WrongTopLevel,
    TooDeep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonFailure {
    pub(crate) kind: JsonFailureKind,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

/// A parsed JSON/JSONC document and what edits need to remember about it.
#[derive(Debug)]
pub(crate) struct JsonBody {
    pub(crate) root: CstRootNode,
    /// Strict JSON (no comments or trailing commas): also used to re-parse spliced text.
    strict: bool,
    /// The text inside each empty object (`{ }`, `{\n}`) that a property was added to,
    /// by key path, so it is written the same way once the object is empty again.
    empty_objects: Vec<(Vec<String>, String)>,
}

impl JsonBody {
    pub(crate) fn new(root: CstRootNode, strict: bool) -> Self {
        Self { root, strict, empty_objects: Vec::new() }
    }
}

/// Parse `text` (LF-normalised). `strict` refuses comments and trailing commas.
pub(crate) fn parse(text: &str, strict: bool) -> Result<CstRootNode, JsonFailure> {
    let at = |kind, offset: usize, message: String| {
        let (line, column) = super::text::line_column(text, offset);
        JsonFailure { kind, line, column, message }
    };
    if let Some(offset) = first_offset_too_deep(text) {
        return Err(at(
            JsonFailureKind::TooDeep,
            offset,
            format!("objects and arrays nest deeper than {MAX_DEPTH} levels"),
        ));
    }
    let options = parse_options(strict);
    let syntax_error = |error: jsonc_parser::errors::ParseError| {
        let kind = match error.kind() {
            ParseErrorKind::CommentsNotAllowed | ParseErrorKind::TrailingCommasNotAllowed => {
                JsonFailureKind::JsoncInStrict
            }
            ParseErrorKind::NestingDepthExceeded => JsonFailureKind::TooDeep,
            _ => JsonFailureKind::Syntax,
        };
        let message = match kind {
            JsonFailureKind::JsoncInStrict => format!("{} (JSONC in a strict JSON file)", error.kind()),
            JsonFailureKind::Syntax
            | JsonFailureKind::DuplicateKey
            | JsonFailureKind::WrongTopLevel
            | JsonFailureKind::TooDeep => error.kind().to_string(),
        };
        JsonFailure { kind, line: error.line_display(), column: error.column_display(), message }
    };
    let collect = CollectOptions { comments: CommentCollectionStrategy::Off, tokens: false };
    let parsed = jsonc_parser::parse_to_ast(text, &collect, &options).map_err(syntax_error)?;
    match &parsed.value {
        None | Some(ast::Value::Object(_)) => {}
        Some(
            other @ (ast::Value::Array(_)
            | ast::Value::StringLit(_)
            | ast::Value::NumberLit(_)
            | ast::Value::BooleanLit(_)
            | ast::Value::NullKeyword(_)),
        ) => {
            return Err(at(
                JsonFailureKind::WrongTopLevel,
                ast_start(other),
                "the top-level value must be an object".to_string(),
            ));
        }
    }
    if let Some(value) = &parsed.value {
        if let Some((offset, name)) = first_duplicate_key(value) {
            return Err(at(JsonFailureKind::DuplicateKey, offset, format!("duplicate key `{name}`")));
        }
    }
    CstRootNode::parse(text, &options).map_err(syntax_error)
}

/// The value at `key_path` (the whole document for an empty path).
pub(crate) fn get(root: &CstRootNode, key_path: &[&str]) -> Option<JsonValue> {
    let Some((last, parents)) = key_path.split_last() else {
        return Some(root.value().map_or_else(|| JsonValue::Object(serde_json::Map::new()), |v| to_json(&v)));
    };
    let object = walk(root, parents)?;
    Some(to_json(&object.get(last)?.value()?))
}

pub(crate) fn keys(root: &CstRootNode, key_path: &[&str]) -> Vec<String> {
    walk(root, key_path)
        .map(|object| {
            object.properties().iter().filter_map(jsonc_parser::cst::CstObjectProp::decoded_name).collect()
        })
        .unwrap_or_default()
}

pub(crate) fn set(
    body: &mut JsonBody,
    key_path: &[&str],
    value: &JsonValue,
) -> Result<SetOutcome, EditConflict> {
    let JsonBody { root, strict, empty_objects } = body;
    let strict = *strict;
    let Some((last, parents)) = key_path.split_last() else {
        return Err(EditConflict("the document itself cannot be replaced".to_string()));
    };
    let mut outcome = SetOutcome::default();
    // Walk from the root each time: appending to a one-line object re-parses the text.
    for (depth, key) in parents.iter().enumerate() {
        let parent = existing_object(root, &key_path[..depth])?;
        match parent.get(key).map(|property| property.value()) {
            Some(Some(CstNode::Container(CstContainerNode::Object(_)))) => {}
            Some(_) => {
                return Err(EditConflict(format!(
                    "`{}` exists and is not an object",
                    key_path[..=depth].join(".")
                )));
            }
            None => {
                // Create the missing parents and the value in one append, so a one-line
                // parent stays on one line and a multi-line one gets it nicely nested.
                let mut nested = value.clone();
                for inner in key_path[depth + 1..].iter().rev() {
                    nested = JsonValue::Object(std::iter::once(((*inner).to_string(), nested)).collect());
                }
                for created in depth..parents.len() {
                    outcome
                        .created_parents
                        .push(key_path[..=created].iter().map(ToString::to_string).collect());
                }
                append_property(root, empty_objects, &key_path[..depth], &parent, key, &nested, strict);
                outcome.changed = true;
                return Ok(outcome);
            }
        }
    }
    let object = existing_object(root, parents)?;
    match object.get(last) {
        Some(property) => {
            let old_value = property.value();
            if old_value.as_ref().map(to_json).as_ref() == Some(value) {
                return Ok(outcome);
            }
            let one_line_parent = !object.children().iter().any(CstNode::is_newline);
            let spliced = match old_value {
                Some(old_value) if one_line_parent => {
                    replace_node_text(root, &old_value, &compact(value), strict)
                }
                Some(_) | None => None,
            };
            match spliced {
                Some(spliced) => *root = spliced,
                None => property.set_value(to_input(value)),
            }
        }
        None => append_property(root, empty_objects, parents, &object, last, value, strict),
    }
    outcome.changed = true;
    Ok(outcome)
}

pub(crate) fn remove(body: &mut JsonBody, key_path: &[&str]) -> Result<Option<JsonValue>, EditConflict> {
    let JsonBody { root, strict, empty_objects } = body;
    let strict = *strict;
    let Some((last, parents)) = key_path.split_last() else {
        return Err(EditConflict("the document itself cannot be removed".to_string()));
    };
    let Some(object) = walk(root, parents) else {
        return Ok(None);
    };
    let Some(property) = object.get(last) else {
        return Ok(None);
    };
    let edges = inner_edges(&object);
    let removed = property.value().map(|value| to_json(&value));
    property.remove();
    keep_inner_blank_lines(root, parents, edges, strict);
    restore_empty_object(root, empty_objects, parents, strict);
    Ok(removed)
}

/// A CST value as JSON (see the module doc for numbers).
pub(crate) fn to_json(node: &CstNode) -> JsonValue {
    if let Some(object) = node.as_object() {
        return JsonValue::Object(
            object
                .properties()
                .iter()
                .filter_map(|property| Some((property.decoded_name()?, to_json(&property.value()?))))
                .collect(),
        );
    }
    if let Some(array) = node.as_array() {
        return JsonValue::Array(array.elements().iter().map(to_json).collect());
    }
    if let Some(number) = node.as_number_lit() {
        return number_to_json(&number.to_string());
    }
    if let Some(string) = node.as_string_lit() {
        return JsonValue::String(string.decoded_value().unwrap_or_else(|_| string.raw_value()));
    }
    if let Some(boolean) = node.as_boolean_lit() {
        return JsonValue::Bool(boolean.value());
    }
    JsonValue::Null
}

fn number_to_json(raw: &str) -> JsonValue {
    let is_integer = !raw.contains(['.', 'e', 'E']);
    if is_integer {
        if let Ok(integer) = raw.parse::<i64>() {
            return JsonValue::from(integer);
        }
        if let Ok(integer) = raw.parse::<u64>() {
            return JsonValue::from(integer);
        }
        return JsonValue::String(raw.to_string());
    }
    match raw.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(number) if number.as_f64().is_some_and(f64::is_finite) => JsonValue::Number(number),
        Some(_) | None => JsonValue::String(raw.to_string()),
    }
}

fn to_input(value: &JsonValue) -> CstInputValue {
    match value {
        JsonValue::Null => CstInputValue::Null,
        JsonValue::Bool(boolean) => CstInputValue::Bool(*boolean),
        JsonValue::Number(number) => CstInputValue::Number(number.to_string()),
        JsonValue::String(string) => CstInputValue::String(string.clone()),
        JsonValue::Array(elements) => CstInputValue::Array(elements.iter().map(to_input).collect()),
        JsonValue::Object(entries) => {
            CstInputValue::Object(entries.iter().map(|(key, entry)| (key.clone(), to_input(entry))).collect())
        }
    }
}

/// Append a property. The CST spreads an object over several lines before it appends,
/// with the file's own indentation; that is right for multi-line objects and for `{}`.
/// An object written on one line (`{ "a": 1 }`) instead gets the property spliced into
/// its text on the same line, written compactly, so the edit stays one line and removing
/// the property again gives back the original text.
fn append_property(
    root: &mut CstRootNode,
    empty_objects: &mut Vec<(Vec<String>, String)>,
    object_path: &[&str],
    object: &CstObject,
    name: &str,
    value: &JsonValue,
    strict: bool,
) {
    if let Some(inner) = empty_inner_text(object) {
        let path: Vec<String> = object_path.iter().map(ToString::to_string).collect();
        if !empty_objects.iter().any(|(known, _)| *known == path) {
            empty_objects.push((path, inner.clone()));
        }
        // `{ }` on one line: the property goes on that line, `{ "name": value }`.
        if !inner.is_empty() && !inner.contains('\n') {
            let property = format!("{}: {}", JsonValue::String(name.to_string()), compact(value));
            let object_node: CstNode = object.clone().into();
            if let Some(spliced) =
                replace_node_text(root, &object_node, &format!("{{{inner}{property}{inner}}}"), strict)
            {
                *root = spliced;
                return;
            }
        }
    }
    if let Some(spliced) = splice_into_one_line_object(root, object, name, value, strict) {
        *root = spliced;
        return;
    }
    let edges = inner_edges(object);
    object.append(name, to_input(value));
    keep_inner_blank_lines(root, object_path, edges, strict);
}

/// The whitespace just inside a non-empty object's braces: after `{` and before `}`.
fn inner_edges(object: &CstObject) -> Option<(String, String)> {
    let children = object.children();
    let is_blank = |child: &CstNode| child.is_whitespace() || child.is_newline();
    let close = children.len().checked_sub(1)?;
    let first = 1 + children.get(1..close)?.iter().position(|child| !is_blank(child))?;
    let last = children.get(..close)?.iter().rposition(|child| !is_blank(child))?;
    let text = |range: std::ops::Range<usize>| {
        children.get(range).unwrap_or_default().iter().map(ToString::to_string).collect::<String>()
    };
    Some((text(1..first), text(last + 1..close)))
}

/// The CST trims blank lines just inside an object's braces whenever it inserts into or
/// removes from it, and puts `}` on its own line; put back the whitespace the object had
/// just inside its braces before the edit (`edges_before`).
fn keep_inner_blank_lines(
    root: &mut CstRootNode,
    object_path: &[&str],
    edges_before: Option<(String, String)>,
    strict: bool,
) {
    let Some((lead_before, tail_before)) = edges_before else {
        return;
    };
    let Some(object) = walk(root, object_path) else {
        return;
    };
    let Some((lead_now, tail_now)) = inner_edges(&object) else {
        return;
    };
    let (lead, tail) = (lead_before, tail_before);
    if lead == lead_now && tail == tail_now {
        return;
    }
    let object_text = object.to_string();
    let Some(middle) = object_text.get(1 + lead_now.len()..object_text.len() - 1 - tail_now.len()) else {
        return;
    };
    let start = node_offset(&object.into());
    let mut text = root.to_string();
    if text.get(start..start + object_text.len()) != Some(object_text.as_str()) {
        return;
    }
    text.replace_range(start..start + object_text.len(), &format!("{{{lead}{middle}{tail}}}"));
    if let Ok(reparsed) = CstRootNode::parse(&text, &parse_options(strict)) {
        *root = reparsed;
    }
}

/// The document re-parsed with `"name": value` added at the end of a one-line object;
/// `None` when the object is empty or spans lines (or holds a comment).
fn splice_into_one_line_object(
    root: &CstRootNode,
    object: &CstObject,
    name: &str,
    value: &JsonValue,
    strict: bool,
) -> Option<CstRootNode> {
    let children = object.children();
    if children.iter().any(|child| child.is_newline() || child.is_comment()) {
        return None;
    }
    let last_property = children.iter().rposition(|child| child.as_object_prop().is_some())?;
    let separator = children
        .iter()
        .position(CstNode::is_comma)
        .and_then(|comma| children.get(comma + 1))
        .and_then(CstNode::as_whitespace)
        .map_or_else(|| " ".to_string(), |whitespace| whitespace.value());
    let after_last = &children[last_property + 1..];
    let trailing_comma = after_last.iter().position(CstNode::is_comma);
    let kept = last_property + 1 + trailing_comma.map_or(0, |comma| comma + 1);
    let object_node: CstNode = object.clone().into();
    let insert_at = node_offset(&object_node)
        + children[..kept].iter().map(|child| child.to_string().len()).sum::<usize>();
    let property = format!("{}: {}", JsonValue::String(name.to_string()), compact(value));
    let insertion = match trailing_comma {
        Some(_) => format!("{separator}{property},"),
        None => format!(",{separator}{property}"),
    };
    let mut text = root.to_string();
    if !text.is_char_boundary(insert_at) {
        return None;
    }
    text.insert_str(insert_at, &insertion);
    CstRootNode::parse(&text, &parse_options(strict)).ok()
}

/// The document re-parsed with `node`'s text replaced by `replacement`.
fn replace_node_text(
    root: &CstRootNode,
    node: &CstNode,
    replacement: &str,
    strict: bool,
) -> Option<CstRootNode> {
    let start = node_offset(node);
    let end = start + node.to_string().len();
    let mut text = root.to_string();
    if !(text.is_char_boundary(start) && text.is_char_boundary(end)) {
        return None;
    }
    text.replace_range(start..end, replacement);
    CstRootNode::parse(&text, &parse_options(strict)).ok()
}

/// The whitespace inside an object with no properties (`" "` for `{ }`); `None` when it
/// has properties or a comment.
fn empty_inner_text(object: &CstObject) -> Option<String> {
    let children = object.children();
    let inner = children.get(1..children.len().checked_sub(1)?)?;
    inner
        .iter()
        .all(|child| child.is_whitespace() || child.is_newline())
        .then(|| inner.iter().map(ToString::to_string).collect())
}

/// Once an object that was empty before a property was added to it is empty again,
/// write its inside as it was (`{ }`, `{\n}`), whatever the CST left.
fn restore_empty_object(
    root: &mut CstRootNode,
    empty_objects: &mut Vec<(Vec<String>, String)>,
    object_path: &[&str],
    strict: bool,
) {
    let path: Vec<String> = object_path.iter().map(ToString::to_string).collect();
    let Some(index) = empty_objects.iter().position(|(known, _)| *known == path) else {
        return;
    };
    let Some(object) = walk(root, object_path) else {
        return;
    };
    if empty_inner_text(&object).is_none() {
        return;
    }
    let (_, inner) = empty_objects.remove(index);
    let object_node: CstNode = object.into();
    if let Some(restored) = replace_node_text(root, &object_node, &format!("{{{inner}}}"), strict) {
        *root = restored;
    }
}

/// Byte offset of `node` in the rendered document.
fn node_offset(node: &CstNode) -> usize {
    let mut offset = 0;
    let mut current = node.clone();
    loop {
        offset += current.previous_siblings().map(|sibling| sibling.to_string().len()).sum::<usize>();
        match current.parent() {
            Some(parent) => current = parent.into(),
            None => return offset,
        }
    }
}

/// One-line JSON in the style people write by hand: `{ "a": [1, 2], "b": {} }`.
fn compact(value: &JsonValue) -> String {
    match value {
        JsonValue::Object(entries) if entries.is_empty() => "{}".to_string(),
        JsonValue::Object(entries) => {
            let inner: Vec<String> = entries
                .iter()
                .map(|(key, entry)| format!("{}: {}", JsonValue::String(key.clone()), compact(entry)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        JsonValue::Array(elements) => {
            format!("[{}]", elements.iter().map(compact).collect::<Vec<_>>().join(", "))
        }
        JsonValue::Null | JsonValue::Bool(_) | JsonValue::Number(_) | JsonValue::String(_) => {
            value.to_string()
        }
    }
}

/// The object at `key_path`, which must exist.
fn existing_object(root: &CstRootNode, key_path: &[&str]) -> Result<CstObject, EditConflict> {
    walk(root, key_path).ok_or_else(|| EditConflict(format!("`{}` is not an object", key_path.join("."))))
}

fn walk(root: &CstRootNode, key_path: &[&str]) -> Option<CstObject> {
    let mut object = root.object_value()?;
    for key in key_path {
        object = object.object_value(key)?;
    }
    Some(object)
}

fn parse_options(strict: bool) -> ParseOptions {
    ParseOptions {
        allow_comments: !strict,
        allow_trailing_commas: !strict,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

fn ast_start(value: &ast::Value<'_>) -> usize {
    use jsonc_parser::common::Ranged;
    value.start()
}

/// Offset of the first `{`/`[` that opens level `MAX_DEPTH + 1`, skipping strings and
/// comments. Runs before any parser so hostile nesting cannot exhaust the stack.
fn first_offset_too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0_usize;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' {
                    index += if bytes[index] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(index + 1) == Some(&b'/') => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index += 2;
                while index < bytes.len() && !(bytes[index] == b'*' && bytes.get(index + 1) == Some(&b'/')) {
                    index += 1;
                }
                index += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(index);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        index += 1;
    }
    None
}

/// Offset of the name of the first property that repeats an earlier name in the same
/// object, searching depth first in file order.
fn first_duplicate_key(value: &ast::Value<'_>) -> Option<(usize, String)> {
    match value {
        ast::Value::Object(object) => {
            let mut seen = std::collections::HashSet::new();
            for property in &object.properties {
                let name = property.name.clone().into_string();
                if !seen.insert(name.clone()) {
                    let start = match &property.name {
                        ast::ObjectPropName::String(string) => string.range.start,
                        ast::ObjectPropName::Word(word) => word.range.start,
                    };
                    return Some((start, name));
                }
                if let Some(found) = first_duplicate_key(&property.value) {
                    return Some(found);
                }
            }
            None
        }
        ast::Value::Array(array) => array.elements.iter().find_map(first_duplicate_key),
        ast::Value::StringLit(_)
        | ast::Value::NumberLit(_)
        | ast::Value::BooleanLit(_)
        | ast::Value::NullKeyword(_) => None,
    }
}
