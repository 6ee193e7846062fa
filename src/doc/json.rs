//! JSON and JSONC bodies: validation the CST does not do (duplicate keys, top-level
//! type, nesting depth, comments or trailing commas the file's dialect refuses) and edits
//! through the jsonc-parser CST.
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

use std::ops::Range;

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstContainerNode, CstInputValue, CstNode, CstObject, CstRootNode};
use serde_json::Value as JsonValue;

use super::toml::{EditConflict, SetOutcome};

use super::json_scan::{self, Member};

/// Why a JSON text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonFailureKind {
    Syntax,
    JsoncInStrict,
    DuplicateKey,
    WrongTopLevel,
    TooDeep,
}

/// What a JSON dialect accepts beyond RFC 8259: strict JSON takes neither, JSONC both, and
/// JSON with comments (`JSON.parse` after comments are stripped) only comments. Only full
/// JSONC also takes a vertical tab, form feed or no-break space as whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonDialect {
    pub(crate) allow_comments: bool,
    pub(crate) allow_trailing_commas: bool,
}

impl JsonDialect {
    /// Full JSONC: comments and trailing commas (and lenient whitespace).
    pub(crate) fn is_jsonc(self) -> bool {
        self.allow_comments && self.allow_trailing_commas
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonFailure {
    pub(crate) kind: JsonFailureKind,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

/// A validated JSON/JSONC text and an index of its top-level members. No tree is built:
/// reads convert only the value asked for, and an edit runs the CST over a skeleton of
/// the text (see [`Skeleton`]) and splices the result back.
#[derive(Debug)]
pub(crate) struct JsonBody {
    /// The LF-normalised text once edited; until then the text is the caller's original
    /// (passed to every function), so a large file is not held twice.
    pub(crate) edited: Option<String>,
    /// What the file's dialect accepts: also used to re-parse spliced text, so an edit
    /// never leaves a comment or trailing comma the dialect refuses.
    dialect: JsonDialect,
    /// The range of the top-level object in `text`.
    root: Range<usize>,
    /// The members of the top-level object, in file order.
    top: Vec<Member>,
    /// The text inside each empty object (`{ }`, `{\n}`) that a property was added to,
    /// by key path, so it is written the same way once the object is empty again.
    empty_objects: Vec<(Vec<String>, String)>,
}

impl JsonBody {
    /// Validate `text` (LF-normalised) in `dialect`.
    pub(crate) fn parse(text: &str, dialect: JsonDialect) -> Result<Self, JsonFailure> {
        let (root, top) = json_scan::validate(text, dialect).map_err(|failure| {
            let (line, column) = super::text::line_column(text, failure.offset);
            JsonFailure { kind: failure.kind, line, column, message: failure.message }
        })?;
        Ok(Self { edited: None, dialect, root, top, empty_objects: Vec::new() })
    }

    /// The current text, given the original.
    pub(crate) fn text<'text>(&'text self, original: &'text str) -> &'text str {
        self.edited.as_deref().unwrap_or(original)
    }

    /// The range of the value at `key_path` (the root object for an empty path).
    fn locate(&self, text: &str, key_path: &[&str]) -> Option<Range<usize>> {
        let Some((first, rest)) = key_path.split_first() else {
            return Some(self.root.clone());
        };
        let mut range = self.top.iter().find(|member| member.key == *first)?.value.clone();
        for key in rest {
            if text.as_bytes().get(range.start) != Some(&b'{') {
                return None;
            }
            range =
                json_scan::members(text, range.start).into_iter().find(|member| member.key == *key)?.value;
        }
        Some(range)
    }
}

/// The value at `key_path` (the whole document for an empty path).
pub(crate) fn get(body: &JsonBody, original: &str, key_path: &[&str]) -> Option<JsonValue> {
    let text = body.text(original);
    body.locate(text, key_path).map(|range| json_scan::to_json(text, range))
}

pub(crate) fn keys(body: &JsonBody, original: &str, key_path: &[&str]) -> Vec<String> {
    let text = body.text(original);
    match body.locate(text, key_path) {
        Some(range) if key_path.is_empty() => {
            let _ = range;
            body.top.iter().map(|member| member.key.clone()).collect()
        }
        Some(range) if text.as_bytes().get(range.start) == Some(&b'{') => {
            json_scan::members(text, range.start).into_iter().map(|member| member.key).collect()
        }
        Some(_) | None => Vec::new(),
    }
}

pub(crate) fn set(
    body: &mut JsonBody,
    original: &str,
    key_path: &[&str],
    value: &JsonValue,
) -> Result<SetOutcome, EditConflict> {
    if key_path.is_empty() {
        return Err(EditConflict("the document itself cannot be replaced".to_string()));
    }
    if get(body, original, key_path).as_ref() == Some(value) {
        return Ok(SetOutcome::default());
    }
    let dialect = body.dialect;
    edit(body, original, key_path, |root, empty_objects| {
        cst_set(root, empty_objects, key_path, value, dialect)
    })
}

pub(crate) fn remove(
    body: &mut JsonBody,
    original: &str,
    key_path: &[&str],
) -> Result<Option<JsonValue>, EditConflict> {
    if key_path.is_empty() {
        return Err(EditConflict("the document itself cannot be removed".to_string()));
    }
    let Some(removed) = get(body, original, key_path) else {
        return Ok(None);
    };
    let dialect = body.dialect;
    edit(body, original, key_path, |root, empty_objects| {
        cst_remove(root, empty_objects, key_path, dialect);
        Ok(())
    })?;
    Ok(Some(removed))
}

/// A copy of the text in which every value off `key_path` (and the value at its end) is
/// replaced by a one-character placeholder, so a CST of it stays small whatever the
/// file's size. The CST edits it as it would edit the whole text (it only looks at the
/// objects on the path), and [`Skeleton::splice_back`] puts the change into the text.
struct Skeleton {
    text: String,
    /// Each placeholder: its offset in `text` and the range it stands for in the source.
    holes: Vec<(usize, Range<usize>)>,
}

const PLACEHOLDER: &str = "0";

impl Skeleton {
    fn new(source: &str, root: &Range<usize>, top: &[Member], key_path: &[&str]) -> Self {
        let mut skeleton = Skeleton { text: String::with_capacity(4096), holes: Vec::new() };
        skeleton.text.push_str(&source[..root.start]);
        skeleton.object(source, root, top, key_path);
        skeleton.text.push_str(&source[root.end..]);
        skeleton
    }

    fn object(&mut self, source: &str, range: &Range<usize>, members: &[Member], key_path: &[&str]) {
        let mut cursor = range.start;
        for member in members {
            self.text.push_str(&source[cursor..member.value.start]);
            let on_path = key_path.len() > 1
                && member.key == key_path[0]
                && source.as_bytes().get(member.value.start) == Some(&b'{');
            if on_path {
                let inner = json_scan::members(source, member.value.start);
                self.object(source, &member.value, &inner, &key_path[1..]);
            } else {
                self.holes.push((self.text.len(), member.value.clone()));
                self.text.push_str(PLACEHOLDER);
            }
            cursor = member.value.end;
        }
        self.text.push_str(&source[cursor..range.end]);
    }

    /// `source` with the change from this skeleton to `edited` applied, and the changed
    /// range of `source` with the length of its replacement; `None` when the change
    /// touches a placeholder (then the edit must run on the whole text).
    fn splice_back(&self, source: &str, edited: &str) -> Option<(String, Range<usize>, usize)> {
        let (old, new) = (self.text.as_bytes(), edited.as_bytes());
        let mut prefix = super::text::common_prefix(old, new);
        while !(self.text.is_char_boundary(prefix) && edited.is_char_boundary(prefix)) {
            prefix -= 1;
        }
        let limit = old.len().min(new.len()) - prefix;
        let mut suffix =
            old.iter().rev().zip(new.iter().rev()).take(limit).take_while(|(a, b)| a == b).count();
        while !(self.text.is_char_boundary(old.len() - suffix) && edited.is_char_boundary(new.len() - suffix))
        {
            suffix -= 1;
        }
        let (old_end, new_end) = (old.len() - suffix, new.len() - suffix);
        if self.holes.iter().any(|(at, _)| *at < old_end && at + PLACEHOLDER.len() > prefix) {
            return None;
        }
        let to_source = |offset: usize| {
            let mut shifted = offset;
            for (at, range) in &self.holes {
                if *at < offset {
                    shifted = shifted + range.len() - PLACEHOLDER.len();
                }
            }
            shifted
        };
        let (start, end) = (to_source(prefix), to_source(old_end));
        let replacement = edited.get(prefix..new_end)?;
        let mut text = String::with_capacity(source.len() + replacement.len());
        text.push_str(source.get(..start)?);
        text.push_str(replacement);
        text.push_str(source.get(end..)?);
        Some((text, start..end, replacement.len()))
    }
}

/// Run `apply` on a CST of the skeleton for `key_path`, splice the result into the text
/// and update the index; run it on a CST of the whole text when the splice cannot be
/// mapped back.
fn edit<T>(
    body: &mut JsonBody,
    original: &str,
    key_path: &[&str],
    apply: impl Fn(&mut CstRootNode, &mut Vec<(Vec<String>, String)>) -> Result<T, EditConflict>,
) -> Result<T, EditConflict> {
    let options = parse_options(body.dialect);
    let source = body.text(original);
    let skeleton = Skeleton::new(source, &body.root, &body.top, key_path);
    let mut root = CstRootNode::parse(&skeleton.text, &options)
        .map_err(|error| EditConflict(format!("internal: the skeleton does not parse: {}", error.kind())))?;
    let mut empty_objects = body.empty_objects.clone();
    let outcome = apply(&mut root, &mut empty_objects)?;
    if let Some((text, changed, inserted)) = skeleton.splice_back(source, &root.to_string()) {
        body.edited = Some(text);
        body.empty_objects = empty_objects;
        let delta = inserted as isize - changed.len() as isize;
        let shift = |offset: usize| offset.saturating_add_signed(delta);
        body.root.end = shift(body.root.end);
        // A change strictly inside one member's value only moves what follows; anything
        // else (a member added or removed) re-reads the top level.
        match body
            .top
            .iter()
            .position(|member| member.value.start < changed.start && changed.end < member.value.end)
        {
            Some(index) => {
                body.top[index].value.end = shift(body.top[index].value.end);
                for member in &mut body.top[index + 1..] {
                    member.key_start = shift(member.key_start);
                    member.value = shift(member.value.start)..shift(member.value.end);
                }
            }
            None => {
                body.top = json_scan::members(body.edited.as_deref().unwrap_or_default(), body.root.start);
            }
        }
        return Ok(outcome);
    }
    let mut root = CstRootNode::parse(body.text(original), &options)
        .map_err(|error| EditConflict(format!("internal: the text does not parse: {}", error.kind())))?;
    let outcome = apply(&mut root, &mut body.empty_objects)?;
    let text = root.to_string();
    let start = json_scan::skip_whitespace(text.as_bytes(), 0);
    body.root = start..json_scan::skip_value(text.as_bytes(), start);
    body.top = json_scan::members(&text, start);
    body.edited = Some(text);
    Ok(outcome)
}

fn cst_set(
    root: &mut CstRootNode,
    empty_objects: &mut Vec<(Vec<String>, String)>,
    key_path: &[&str],
    value: &JsonValue,
    dialect: JsonDialect,
) -> Result<SetOutcome, EditConflict> {
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
                append_property(root, empty_objects, &key_path[..depth], &parent, key, &nested, dialect);
                outcome.changed = true;
                return Ok(outcome);
            }
        }
    }
    let object = existing_object(root, parents)?;
    match object.get(last) {
        Some(property) => {
            // The old value may be a skeleton placeholder: the caller compared values.
            let old_value = property.value();
            let one_line_parent = !object.children().iter().any(CstNode::is_newline);
            let spliced = match old_value {
                Some(old_value) if one_line_parent => {
                    replace_node_text(root, &old_value, &compact(value), dialect)
                }
                Some(_) | None => None,
            };
            match spliced {
                Some(spliced) => *root = spliced,
                None => property.set_value(to_input(value)),
            }
        }
        None => append_property(root, empty_objects, parents, &object, last, value, dialect),
    }
    outcome.changed = true;
    Ok(outcome)
}

fn cst_remove(
    root: &mut CstRootNode,
    empty_objects: &mut Vec<(Vec<String>, String)>,
    key_path: &[&str],
    dialect: JsonDialect,
) {
    let Some((last, parents)) = key_path.split_last() else {
        return;
    };
    let Some(object) = walk(root, parents) else {
        return;
    };
    let Some(property) = object.get(last) else {
        return;
    };
    let edges = inner_edges(&object);
    property.remove();
    keep_inner_blank_lines(root, parents, edges, dialect);
    restore_empty_object(root, empty_objects, parents, dialect);
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
    dialect: JsonDialect,
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
                replace_node_text(root, &object_node, &format!("{{{inner}{property}{inner}}}"), dialect)
            {
                *root = spliced;
                return;
            }
        }
    }
    if let Some(spliced) = splice_into_one_line_object(root, object, name, value, dialect) {
        *root = spliced;
        return;
    }
    let edges = inner_edges(object);
    object.append(name, to_input(value));
    keep_inner_blank_lines(root, object_path, edges, dialect);
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
    dialect: JsonDialect,
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
    if let Ok(reparsed) = CstRootNode::parse(&text, &parse_options(dialect)) {
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
    dialect: JsonDialect,
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
    CstRootNode::parse(&text, &parse_options(dialect)).ok()
}

/// The document re-parsed with `node`'s text replaced by `replacement`.
fn replace_node_text(
    root: &CstRootNode,
    node: &CstNode,
    replacement: &str,
    dialect: JsonDialect,
) -> Option<CstRootNode> {
    let start = node_offset(node);
    let end = start + node.to_string().len();
    let mut text = root.to_string();
    if !(text.is_char_boundary(start) && text.is_char_boundary(end)) {
        return None;
    }
    text.replace_range(start..end, replacement);
    CstRootNode::parse(&text, &parse_options(dialect)).ok()
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
    dialect: JsonDialect,
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
    if let Some(restored) = replace_node_text(root, &object_node, &format!("{{{inner}}}"), dialect) {
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

fn parse_options(dialect: JsonDialect) -> ParseOptions {
    ParseOptions {
        allow_comments: dialect.allow_comments,
        allow_trailing_commas: dialect.allow_trailing_commas,
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
