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

use std::borrow::Cow;
use std::cell::OnceCell;
use std::ops::Range;

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstContainerNode, CstInputValue, CstNode, CstObject, CstRootNode};
use serde_json::Value as JsonValue;

use super::toml::{EditConflict, SetOutcome};

use super::json_read;
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
    /// RFC 8259 JSON: neither comments nor trailing commas.
    pub(crate) const STRICT: Self = Self { allow_comments: false, allow_trailing_commas: false };

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

/// A validated JSON/JSONC text and an index of its top-level members and of the members
/// of each top-level object (`projects`, `mcpServers`). No tree is built: reads convert
/// only the value asked for, and an edit runs the CST over a skeleton of the text (see
/// [`Skeleton`]) and splices the result back.
#[derive(Debug)]
pub(crate) struct JsonBody {
    /// The LF-normalised text once edited, built when it is first read; until then the
    /// text is the caller's original (passed to every function) with `first` spliced in,
    /// so a large file is not held twice, nor copied for an edit nothing reads back.
    /// Later edits splice into it in place.
    edited: OnceCell<String>,
    /// The first edit, as the range of the original it replaced and its replacement.
    first: Option<(Range<usize>, String)>,
    /// How many splices the text has had (a whole new text counts as two).
    splices: usize,
    /// What the file's dialect accepts: also used to re-parse spliced text, so an edit
    /// never leaves a comment or trailing comma the dialect refuses.
    dialect: JsonDialect,
    /// The range of the top-level object in `text`.
    pub(crate) root: Range<usize>,
    /// The members of the top-level object, in file order.
    pub(crate) top: Vec<Member>,
    /// The members of objects that are values of top-level members, by the object's
    /// range, in file order. An object an edit changed in a way the index cannot follow
    /// is dropped from it and read from the text when needed.
    pub(crate) nested: Vec<(Range<usize>, Vec<Member>)>,
    /// The text inside each empty object (`{ }`, `{\n}`) that a property was added to,
    /// by key path, so it is written the same way once the object is empty again.
    empty_objects: Vec<(Vec<String>, String)>,
}

impl JsonBody {
    /// Validate `text` (LF-normalised) in `dialect`.
    pub(crate) fn parse(text: &str, dialect: JsonDialect) -> Result<Self, JsonFailure> {
        let json_scan::Scanned { root, top, nested } =
            json_scan::validate(text, dialect).map_err(|failure| {
                let (line, column) = super::text::line_column(text, failure.offset);
                JsonFailure { kind: failure.kind, line, column, message: failure.message }
            })?;
        Ok(Self {
            edited: OnceCell::new(),
            first: None,
            splices: 0,
            dialect,
            root,
            top,
            nested,
            empty_objects: Vec::new(),
        })
    }

    /// The only edit so far, when there was exactly one: the range of the original it
    /// replaced and its replacement.
    pub(crate) fn only_splice(&self) -> Option<(&Range<usize>, &str)> {
        match (&self.first, self.splices) {
            (Some((range, replacement)), 1) => Some((range, replacement)),
            _ => None,
        }
    }

    /// The current text, given the original.
    pub(crate) fn text<'text>(&'text self, original: &'text str) -> &'text str {
        if let Some(text) = self.edited.get() {
            return text;
        }
        match &self.first {
            Some((range, replacement)) => self.edited.get_or_init(|| {
                // Room for a few more edits without moving the whole text again.
                let mut text = String::with_capacity(original.len() + replacement.len() + 4096);
                text.push_str(&original[..range.start]);
                text.push_str(replacement);
                text.push_str(&original[range.end..]);
                text
            }),
            None => original,
        }
    }

    /// The edited text (`None`: not edited), built if no read built it yet.
    pub(crate) fn into_text(self, original: &str) -> Option<String> {
        if self.splices == 0 {
            return None;
        }
        self.text(original);
        self.edited.into_inner()
    }

    /// The members of the object starting at `open` in `text` (the current text): from
    /// the index when it has them, else read from the text.
    fn members_at<'body>(&'body self, text: &str, open: usize) -> Cow<'body, [Member]> {
        if open == self.root.start {
            return Cow::Borrowed(&self.top);
        }
        match self.nested.binary_search_by_key(&open, |(range, _)| range.start) {
            Ok(index) => Cow::Borrowed(&self.nested[index].1),
            Err(_) => Cow::Owned(json_read::members(text, open)),
        }
    }

    /// The range of the value at `key_path` (the root object for an empty path).
    fn locate(&self, text: &str, key_path: &[&str]) -> Option<Range<usize>> {
        let mut range = self.root.clone();
        for key in key_path {
            if text.as_bytes().get(range.start) != Some(&b'{') {
                return None;
            }
            range = self
                .members_at(text, range.start)
                .iter()
                .find(|member| member.key_is(text, key))?
                .value
                .clone();
        }
        Some(range)
    }

    /// Replace `changed` (a range of the current text) by `replacement`, and bring the
    /// index in line with it. The first edit is only noted (see `edited`).
    fn splice(&mut self, original: &str, changed: Range<usize>, replacement: &str) {
        self.splices += 1;
        if self.splices == 1 {
            self.first = Some((changed.clone(), replacement.to_string()));
        } else {
            self.text(original);
            if let Some(text) = self.edited.get_mut() {
                text.replace_range(changed.clone(), replacement);
            }
        }
        let inserted = replacement.len();
        let (edited, first) = (&self.edited, self.first.as_ref());
        let read = |range: Range<usize>| current_text(edited, first, original, range);
        if let Some(root) = json_read::reindex(&mut self.top, &self.root, &read, &changed, inserted) {
            self.root = root;
        } else {
            // The change reached the root's braces: read the top level again.
            let text = self.text(original);
            let start = json_read::skip_whitespace(text.as_bytes(), 0);
            let root = start..json_read::skip_value(text.as_bytes(), start);
            let top = json_read::members(text, start);
            (self.root, self.top) = (root, top);
            self.nested.clear();
            return;
        }
        self.nested.retain_mut(|(range, members)| {
            match json_read::reindex(members, range, &read, &changed, inserted) {
                Some(moved) => {
                    *range = moved;
                    true
                }
                None => false,
            }
        });
    }

    /// Panics unless the index says what a fresh read of the current text says.
    #[cfg(test)]
    pub(crate) fn assert_index(&self, original: &str) {
        let text = self.text(original);
        let start = json_read::skip_whitespace(text.as_bytes(), 0);
        assert_eq!(self.root, start..json_read::skip_value(text.as_bytes(), start), "root");
        assert_eq!(self.top, json_read::members(text, start), "top level");
        for (range, members) in &self.nested {
            assert_eq!(text.as_bytes()[range.start], b'{');
            assert_eq!(json_read::skip_value(text.as_bytes(), range.start), range.end);
            assert!(self.top.iter().any(|member| member.value == *range), "{range:?} is a top-level value");
            assert_eq!(*members, json_read::members(text, range.start), "members of {range:?}");
        }
    }

    /// The whole text was replaced (an edit the skeleton could not take): index it again.
    fn replace_all(&mut self, text: String) {
        self.splices += 2;
        let start = json_read::skip_whitespace(text.as_bytes(), 0);
        self.root = start..json_read::skip_value(text.as_bytes(), start);
        self.top = json_read::members(&text, start);
        self.nested.clear();
        self.edited = OnceCell::from(text);
    }
}

/// `range` of the current text, without building it when only `first` changed the
/// original (the range is then put together from the pieces around the splice).
fn current_text<'text>(
    edited: &'text OnceCell<String>,
    first: Option<&'text (Range<usize>, String)>,
    original: &'text str,
    range: Range<usize>,
) -> Cow<'text, str> {
    if let Some(text) = edited.get() {
        return Cow::Borrowed(&text[range]);
    }
    let Some((changed, replacement)) = first else { return Cow::Borrowed(&original[range]) };
    let (start, middle_end) = (changed.start, changed.start + replacement.len());
    // Offsets of the current text past the replacement are the original's, moved.
    let after = |offset: usize| offset - middle_end + changed.end;
    if range.end <= start {
        return Cow::Borrowed(&original[range]);
    }
    if range.start >= middle_end {
        return Cow::Borrowed(&original[after(range.start)..after(range.end)]);
    }
    let mut text = String::new();
    if range.start < start {
        text.push_str(&original[range.start..start]);
    }
    text.push_str(&replacement[range.start.max(start) - start..range.end.min(middle_end) - start]);
    if range.end > middle_end {
        text.push_str(&original[changed.end..after(range.end)]);
    }
    Cow::Owned(text)
}

/// The value at `key_path` (the whole document for an empty path).
pub(crate) fn get(body: &JsonBody, original: &str, key_path: &[&str]) -> Option<JsonValue> {
    let text = body.text(original);
    body.locate(text, key_path).map(|range| json_read::to_json(text, range))
}

pub(crate) fn keys(body: &JsonBody, original: &str, key_path: &[&str]) -> Vec<String> {
    let text = body.text(original);
    match body.locate(text, key_path) {
        Some(range) if text.as_bytes().get(range.start) == Some(&b'{') => {
            body.members_at(text, range.start).iter().map(|member| member.key(text).into_owned()).collect()
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
/// replaced by a short placeholder, so a CST of it stays small whatever the file's size.
/// The CST edits it as it would edit the whole text (it only looks at the objects on the
/// path), and [`Skeleton::splice_back`] puts the change into the text: a placeholder the
/// edit replaced goes with it, one it kept (an object written out again) is put back as
/// the text it stands for.
struct Skeleton {
    text: String,
    /// Each placeholder: its offset in `text` and the range it stands for in the source.
    holes: Vec<(usize, Range<usize>)>,
}

/// Placeholders are `"\u0000aigate:N"` (N: the hole's index): valid JSON that is never a
/// file's own text next to it (checked: [`Skeleton::splice_back`] gives up if it is).
const PLACEHOLDER_PREFIX: &str = "\"\\u0000aigate:";

impl Skeleton {
    fn new(source: &str, body: &JsonBody, key_path: &[&str]) -> Self {
        let mut skeleton = Skeleton { text: String::with_capacity(4096), holes: Vec::new() };
        skeleton.text.push_str(&source[..body.root.start]);
        skeleton.object(source, body, &body.root, &body.top, key_path);
        skeleton.text.push_str(&source[body.root.end..]);
        skeleton
    }

    fn object(
        &mut self,
        source: &str,
        body: &JsonBody,
        range: &Range<usize>,
        members: &[Member],
        key_path: &[&str],
    ) {
        let mut cursor = range.start;
        for member in members {
            self.text.push_str(&source[cursor..member.value.start]);
            let on_path = key_path.len() > 1
                && member.key_is(source, key_path[0])
                && source.as_bytes().get(member.value.start) == Some(&b'{');
            if on_path {
                let inner = body.members_at(source, member.value.start);
                self.object(source, body, &member.value, &inner, &key_path[1..]);
            } else {
                self.holes.push((self.text.len(), member.value.clone()));
                self.text.push_str(&placeholder(self.holes.len() - 1));
            }
            cursor = member.value.end;
        }
        self.text.push_str(&source[cursor..range.end]);
    }

    /// The change from this skeleton to `edited`, as the range of `source` it replaces and
    /// its replacement; `None` when it cannot be mapped back (then the edit must run on
    /// the whole text).
    fn splice_back(&self, source: &str, edited: &str) -> Option<(Range<usize>, String)> {
        // Each placeholder must be the only text of its kind, in both texts.
        let count = |text: &str| memchr::memmem::find_iter(text.as_bytes(), PLACEHOLDER_PREFIX).count();
        if count(&self.text) != self.holes.len() || count(edited) > self.holes.len() {
            return None;
        }
        let (old, new) = (self.text.as_bytes(), edited.as_bytes());
        let mut start = super::text::common_prefix(old, new);
        let limit = old.len().min(new.len()) - start;
        let suffix = super::text::common_suffix(old, new, limit);
        let (mut old_end, mut new_end) = (old.len() - suffix, new.len() - suffix);
        // Widen the change to whole placeholders: the bytes it takes in are common to
        // both sides.
        for (at, _) in &self.holes {
            let end = at + self.placeholder_len(*at);
            if *at < start && start < end {
                start = *at;
            }
            if *at < old_end && old_end < end {
                new_end += end - old_end;
                old_end = end;
            }
        }
        if !(self.text.is_char_boundary(start)
            && edited.is_char_boundary(start)
            && self.text.is_char_boundary(old_end)
            && edited.is_char_boundary(new_end))
        {
            return None;
        }
        let to_source = |offset: usize| {
            let mut shifted = offset;
            for (at, range) in &self.holes {
                if *at < offset {
                    shifted = shifted + range.len() - self.placeholder_len(*at);
                }
            }
            shifted
        };
        let changed = to_source(start)..to_source(old_end);
        if !(source.is_char_boundary(changed.start) && source.is_char_boundary(changed.end)) {
            return None;
        }
        // Put back what the placeholders the edit kept stand for.
        let mut replacement = edited.get(start..new_end)?;
        let mut expanded = String::new();
        while let Some(found) = memchr::memmem::find(replacement.as_bytes(), PLACEHOLDER_PREFIX.as_bytes()) {
            let rest = &replacement[found + PLACEHOLDER_PREFIX.len()..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (_, range) = self.holes.get(rest[..digits].parse::<usize>().ok()?)?;
            expanded.push_str(&replacement[..found]);
            expanded.push_str(source.get(range.clone())?);
            // The digits and the closing quote.
            replacement = rest.get(digits + 1..)?;
        }
        expanded.push_str(replacement);
        Some((changed, expanded))
    }

    fn placeholder_len(&self, at: usize) -> usize {
        let rest = &self.text.as_bytes()[at + PLACEHOLDER_PREFIX.len()..];
        PLACEHOLDER_PREFIX.len() + rest.iter().take_while(|byte| byte.is_ascii_digit()).count() + 1
    }
}

fn placeholder(index: usize) -> String {
    format!("{PLACEHOLDER_PREFIX}{index}\"")
}

#[cfg(test)]
thread_local! {
    /// How many edits on this thread fell back to a CST of the whole text.
    pub(crate) static WHOLE_TEXT_EDITS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
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
    let skeleton = Skeleton::new(body.text(original), body, key_path);
    let mut root = CstRootNode::parse(&skeleton.text, &options)
        .map_err(|error| EditConflict(format!("internal: the skeleton does not parse: {}", error.kind())))?;
    let mut empty_objects = body.empty_objects.clone();
    let outcome = apply(&mut root, &mut empty_objects)?;
    if let Some((changed, replacement)) = skeleton.splice_back(body.text(original), &root.to_string()) {
        body.empty_objects = empty_objects;
        body.splice(original, changed, &replacement);
        return Ok(outcome);
    }
    #[cfg(test)]
    WHOLE_TEXT_EDITS.with(|count| count.set(count.get() + 1));
    let mut root = CstRootNode::parse(body.text(original), &options)
        .map_err(|error| EditConflict(format!("internal: the text does not parse: {}", error.kind())))?;
    let outcome = apply(&mut root, &mut body.empty_objects)?;
    body.replace_all(root.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_placeholder_inside_the_changed_text_is_put_back_as_what_it_stands_for() {
        let source = "{\n  \"a\": [1, 2],\n  \"b\": {\"deep\": true}\n}\n";
        let body = JsonBody::parse(source, JsonDialect::STRICT).unwrap();
        let skeleton = Skeleton::new(source, &body, &["a"]);
        let (a, b) = (placeholder(0), placeholder(1));
        assert_eq!(skeleton.text, format!("{{\n  \"a\": {a},\n  \"b\": {b}\n}}\n"));
        // An edit that writes the object again around a kept placeholder.
        let edited = format!("{{\n  \"a\": 3,\n    \"b\": {b},\n  \"c\": 4\n}}\n");
        let (changed, replacement) = skeleton.splice_back(source, &edited).unwrap();
        let mut text = source.to_string();
        text.replace_range(changed, &replacement);
        assert_eq!(text, "{\n  \"a\": 3,\n    \"b\": {\"deep\": true},\n  \"c\": 4\n}\n");
        // A replaced placeholder that shares its first byte with the new value: the change
        // takes the whole placeholder, so the whole value it stands for is replaced.
        let edited = skeleton.text.replace(&a, "\"x\"");
        let (changed, replacement) = skeleton.splice_back(source, &edited).unwrap();
        assert_eq!((changed, replacement.as_str()), (9..15, "\"x\""));
        // The file's own text looking like a placeholder: no splice.
        let tricky = "{\"\\u0000aigate:0\": 1, \"b\": {}}";
        let body = JsonBody::parse(tricky, JsonDialect::STRICT).unwrap();
        let skeleton = Skeleton::new(tricky, &body, &["b", "x"]);
        assert_eq!(skeleton.splice_back(tricky, &skeleton.text.replace(": 1", ": 2")), None);
    }
}
