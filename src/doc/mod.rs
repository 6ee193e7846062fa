//! The document layer: parse a client config file, apply pure edits, and serialise it
//! back keeping every byte aigate does not own.
//!
//! Invariants:
//! - Bytes in, bytes out: [`Document::to_bytes`] is byte-identical to the input when
//!   nothing was edited (BOM, CRLF/LF/mixed endings, comments, key order, quoting and a
//!   missing final newline included). After an edit only the changed lines differ;
//!   unchanged lines keep their own line ending, new lines take the file's dominant one.
//! - A file that cannot be edited safely is refused at parse time, never "repaired":
//!   non-UTF-8, a NUL byte, bad syntax, duplicate keys, a non-object top level, JSONC in a
//!   strict JSON file, nesting deeper than 128 levels. Every refusal carries a 1-based
//!   line and column.
//! - `set` followed by `remove` of the same key gives back the input byte for byte:
//!   parents `set` had to create are removed again once they are empty.
//! - A 0-byte or whitespace-only file is an empty document; once edited it is written
//!   as fresh, normally formatted content.
//! - No I/O: `path` is only used in messages.
//!
//! Key paths are lists of raw keys (`["mcp_servers", "my.server"]`); quoting is the
//! serialiser's business. Array elements are not addressable. A `.env` file
//! ([`Format::Dotenv`]) is one level of keys whose values are strings.

mod dotenv;
mod json;
mod json_change;
mod json_read;
mod json_scan;
mod text;
mod toml;
mod toml_splice;

use std::path::{Path, PathBuf};

use serde_json::Value as JsonValue;
use toml_edit::DocumentMut;

pub use text::{Eol, common_prefix, common_suffix};

/// A file's new bytes, given the bytes they were made from (the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewBytes {
    Whole(Vec<u8>),
    /// The input with `range` replaced by `with`.
    Spliced {
        range: std::ops::Range<usize>,
        with: Vec<u8>,
    },
}

impl NewBytes {
    /// The bytes, in up to three pieces (`input`: what they were made from; absent for
    /// a file that did not exist, which is never spliced).
    pub fn parts<'bytes>(&'bytes self, input: Option<&'bytes [u8]>) -> [&'bytes [u8]; 3] {
        match (self, input) {
            (NewBytes::Whole(bytes), _) => [bytes, &[], &[]],
            (NewBytes::Spliced { range, with }, Some(input)) => {
                [&input[..range.start], with, &input[range.end..]]
            }
            (NewBytes::Spliced { with, .. }, None) => [with, &[], &[]],
        }
    }

    /// Whether they are exactly `other`.
    pub fn is(&self, input: Option<&[u8]>, other: &[u8]) -> bool {
        let parts = self.parts(input);
        parts.iter().map(|part| part.len()).sum::<usize>() == other.len() && same_pieces(&parts, &[other])
    }

    /// The input itself (an empty splice at its start).
    pub fn unchanged() -> Self {
        NewBytes::Spliced { range: 0..0, with: Vec::new() }
    }

    /// Whether `self` and `other`, both made from `input`, are the same bytes. Two
    /// splices of a file are compared only over the span either of them replaced: the
    /// bytes before and after it are the input's in both. (A splice's range must lie in
    /// `input`, as for [`NewBytes::parts`].)
    pub fn same_as(&self, input: Option<&[u8]>, other: &NewBytes) -> bool {
        let total = |parts: &[&[u8]]| parts.iter().map(|part| part.len()).sum::<usize>();
        let (mine, theirs) = (self.parts(input), other.parts(input));
        if total(&mine) != total(&theirs) {
            return false;
        }
        if let (
            NewBytes::Spliced { range: a, with: with_a },
            NewBytes::Spliced { range: b, with: with_b },
            Some(input),
        ) = (self, other, input)
        {
            let (low, high) = (a.start.min(b.start), a.end.max(b.end));
            if a.start <= a.end && b.start <= b.end && high <= input.len() {
                // Equal totals make the two windows the same length.
                return same_pieces(
                    &[&input[low..a.start], with_a, &input[a.end..high]],
                    &[&input[low..b.start], with_b, &input[b.end..high]],
                );
            }
        }
        same_pieces(&mine, &theirs)
    }

    /// `Whole` bytes as the splice of `input` they are (what they share with `input` at
    /// either end left out of `with`); anything else as it is.
    #[must_use]
    pub fn into_splice(self, input: Option<&[u8]>) -> Self {
        match (self, input) {
            (NewBytes::Whole(bytes), Some(input)) => {
                let prefix = common_prefix(input, &bytes);
                let suffix = common_suffix(input, &bytes, input.len().min(bytes.len()) - prefix);
                NewBytes::Spliced {
                    range: prefix..input.len() - suffix,
                    with: bytes[prefix..bytes.len() - suffix].to_vec(),
                }
            }
            (new_bytes, _) => new_bytes,
        }
    }

    /// The bytes as one buffer.
    pub fn into_vec(self, input: Option<&[u8]>) -> Vec<u8> {
        match self {
            NewBytes::Whole(bytes) => bytes,
            spliced @ NewBytes::Spliced { .. } => spliced.parts(input).concat(),
        }
    }
}

/// Whether two sequences of pieces of the same total length hold the same bytes.
fn same_pieces(left: &[&[u8]], right: &[&[u8]]) -> bool {
    let (mut left, mut right) = (left.iter().copied(), right.iter().copied());
    let (mut a, mut b): (&[u8], &[u8]) = (&[], &[]);
    loop {
        while a.is_empty() {
            match left.next() {
                Some(piece) => a = piece,
                None => return right.all(<[u8]>::is_empty) && b.is_empty(),
            }
        }
        while b.is_empty() {
            match right.next() {
                Some(piece) => b = piece,
                None => return false,
            }
        }
        let length = a.len().min(b.len());
        if a[..length] != b[..length] {
            return false;
        }
        (a, b) = (&a[length..], &b[length..]);
    }
}

impl From<Vec<u8>> for NewBytes {
    fn from(bytes: Vec<u8>) -> Self {
        NewBytes::Whole(bytes)
    }
}

/// The syntax a file is written in. Defined here so the document layer depends on
/// nothing of aigate's domain (`crate::clients::Format` re-exports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Toml,
    /// Strict JSON: comments, trailing commas, raw control characters in strings and
    /// any whitespace beyond space, tab, CR and LF are refused (Claude Code, Codex auth).
    Json,
    /// JSON with comments and trailing commas (OpenCode parses every config this way).
    Jsonc,
    /// JSON with `//` and `/* */` comments but no trailing commas, whitespace and strings
    /// as strict JSON: what `JSON.parse` takes once the comments are stripped (Gemini CLI).
    /// Edits never add a trailing comma.
    #[serde(rename = "json-comments")]
    JsonComments,
    /// `KEY=value` lines as the `dotenv` package reads them (Gemini CLI's `.env`): one
    /// level of keys, string values.
    Dotenv,
}

impl Format {
    /// What a JSON format accepts beyond strict JSON (TOML: nothing, it is not JSON).
    fn json_dialect(self) -> json::JsonDialect {
        let (allow_comments, allow_trailing_commas) = match self {
            Format::Toml | Format::Json | Format::Dotenv => (false, false),
            Format::Jsonc => (true, true),
            Format::JsonComments => (true, false),
        };
        json::JsonDialect { allow_comments, allow_trailing_commas }
    }
}

/// A parsed client file that remembers its original bytes. It borrows them from the
/// caller when parsed with [`Document::parse`] (a large file is not copied), and owns
/// them when parsed with [`Document::parse_owned`].
#[derive(Debug)]
pub struct Document<'src> {
    path: PathBuf,
    format: Format,
    decoded: text::Decoded<'src>,
    /// The file was empty or whitespace only: an unedited document writes it back as is,
    /// an edited one is written fresh.
    blank: bool,
    body: Body,
    /// A TOML body as rendered before its first edit (`None` until then: reading never
    /// renders). toml_edit is faithful except for small things (it always ends the last
    /// key-value line with a newline), so "unchanged" means "renders as it did before the
    /// first edit", not "renders as the input". JSON bodies are text and need none.
    baseline: Option<String>,
    /// Parents that `set` created, so `remove` can take them away again once empty.
    created_parents: Vec<Vec<String>>,
    /// A TOML body's edited text, spliced into the original (see [`toml_splice`]).
    toml_text: TomlText,
}

/// How an edited TOML file's bytes are produced.
#[derive(Debug, Clone)]
enum TomlText {
    /// Not edited (or not TOML).
    Untouched,
    /// Every edit so far was spliced into the original text: this is the file.
    Spliced { text: String, memory: toml_splice::SpliceMemory },
    /// An edit the splicer does not handle (or a blank file): render the document and
    /// keep the unchanged lines of the original ([`text::rebuild`]).
    Rendered,
}

#[derive(Debug)]
enum Body {
    Toml(DocumentMut),
    Json(json::JsonBody),
    /// A JSON document with no text yet ([`Document::new_empty`]); becomes `Json` on the
    /// first `set`.
    EmptyJson,
    Dotenv(dotenv::EnvBody),
}

/// Why a file was refused or an edit could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    #[error("{}:{line}:{column}: {message}", path.display())]
    NotUtf8 { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{}:{line}:{column}: {message}", path.display())]
    NulByte { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{}:{line}:{column}: {message}", path.display())]
    DuplicateKey { path: PathBuf, line: usize, column: usize, message: String },
    /// The top-level JSON value is not an object.
    #[error("{}:{line}:{column}: {message}", path.display())]
    WrongTopLevel { path: PathBuf, line: usize, column: usize, message: String },
    /// Comments or trailing commas in a file whose client reads strict JSON, or trailing
    /// commas in JSON with comments.
    #[error("{}:{line}:{column}: {message}", path.display())]
    JsoncInStrictJson { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{}:{line}:{column}: {message}", path.display())]
    TooDeep { path: PathBuf, line: usize, column: usize, message: String },
    /// An edit the document's shape does not allow (a parent that is not a table, a null
    /// in TOML). Nothing was changed.
    #[error("{}: {message}", path.display())]
    Conflict { path: PathBuf, message: String },
}

impl DocError {
    pub fn path(&self) -> &Path {
        match self {
            DocError::NotUtf8 { path, .. }
            | DocError::NulByte { path, .. }
            | DocError::Syntax { path, .. }
            | DocError::DuplicateKey { path, .. }
            | DocError::WrongTopLevel { path, .. }
            | DocError::JsoncInStrictJson { path, .. }
            | DocError::TooDeep { path, .. }
            | DocError::Conflict { path, .. } => path,
        }
    }

    /// 1-based line and column of a parse refusal; `None` for an edit conflict.
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            DocError::NotUtf8 { line, column, .. }
            | DocError::NulByte { line, column, .. }
            | DocError::Syntax { line, column, .. }
            | DocError::DuplicateKey { line, column, .. }
            | DocError::WrongTopLevel { line, column, .. }
            | DocError::JsoncInStrictJson { line, column, .. }
            | DocError::TooDeep { line, column, .. } => Some((*line, *column)),
            DocError::Conflict { .. } => None,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            DocError::NotUtf8 { message, .. }
            | DocError::NulByte { message, .. }
            | DocError::Syntax { message, .. }
            | DocError::DuplicateKey { message, .. }
            | DocError::WrongTopLevel { message, .. }
            | DocError::JsoncInStrictJson { message, .. }
            | DocError::TooDeep { message, .. }
            | DocError::Conflict { message, .. } => message,
        }
    }
}

impl From<DocError> for crate::error::Error {
    fn from(error: DocError) -> Self {
        let display_path = crate::output::display_path(error.path());
        let hint = match &error {
            // The client itself refuses the file too: say what to delete.
            DocError::JsoncInStrictJson { .. } => {
                "the client that reads this file refuses it too: delete that comma or comment by hand (nothing was written to any client), or put back an earlier version with `aigate restore`"
            }
            _ => {
                "fix the file by hand (nothing was written to any client), or put back an earlier version with `aigate restore`"
            }
        };
        match error.location() {
            Some((line, column)) => {
                crate::error::Error::refused(format!("Failed to parse `{display_path}:{line}:{column}`"))
                    .cause(format!("line {line}, column {column}: {}", error.message()))
                    .hint(hint)
            }
            None => crate::error::Error::refused(format!("Cannot edit `{display_path}`"))
                .cause(error.message())
                .hint(hint),
        }
    }
}

impl Document<'static> {
    /// [`Document::parse`], taking ownership of `bytes` instead of borrowing them.
    pub fn parse_owned(bytes: Vec<u8>, format: Format, path: &Path) -> Result<Self, DocError> {
        let decoded = text::decode_owned(bytes, format != Format::Json)
            .map_err(|failure| decode_error(failure, path))?;
        Self::from_decoded(decoded, format, path.to_path_buf())
    }

    /// An empty document, as if parsed from a 0-byte file.
    pub fn new_empty(format: Format) -> Self {
        let decoded =
            text::Decoded { bom: false, raw: std::borrow::Cow::Borrowed(""), text: None, eol: Eol::Lf };
        let body = match format {
            Format::Toml => Body::Toml(DocumentMut::new()),
            Format::Json | Format::Jsonc | Format::JsonComments => Body::EmptyJson,
            Format::Dotenv => Body::Dotenv(dotenv::EnvBody::parse("")),
        };
        Self {
            path: PathBuf::new(),
            format,
            decoded,
            blank: format != Format::Dotenv,
            body,
            baseline: None,
            created_parents: Vec::new(),
            toml_text: TomlText::Untouched,
        }
    }
}

impl<'src> Document<'src> {
    /// Whether this document was parsed from exactly `bytes` (so an edit of it is an
    /// edit of them: its splices apply to them). A parse that borrows those very bytes is
    /// known without comparing them.
    pub fn is_parse_of(&self, bytes: &[u8]) -> bool {
        let body = if self.decoded.bom { bytes.strip_prefix(b"\xEF\xBB\xBF") } else { Some(bytes) };
        let raw = self.decoded.raw.as_bytes();
        body.is_some_and(|body| std::ptr::eq(body, raw) || body == raw)
    }

    /// Parse `bytes` as `format`, borrowing them. `path` is only used in error messages.
    pub fn parse(bytes: &'src [u8], format: Format, path: &Path) -> Result<Self, DocError> {
        // Strict JSON refuses a NUL anywhere, so it is looked for only when the file is
        // refused (it is the refusal then, as for the other formats).
        let decoded =
            text::decode(bytes, format != Format::Json).map_err(|failure| decode_error(failure, path))?;
        Self::from_decoded(decoded, format, path.to_path_buf())
    }

    fn from_decoded(decoded: text::Decoded<'src>, format: Format, path: PathBuf) -> Result<Self, DocError> {
        // Only the whitespace every format allows makes a file blank: TOML forbids a
        // form feed or vertical tab anywhere, strict JSON a form feed.
        // A `.env` file is text to the end: a blank one is edited like any other.
        let blank = format != Format::Dotenv
            && decoded.text().bytes().all(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
        let body = match format {
            Format::Toml => {
                let source = if blank { "" } else { decoded.text() };
                Body::Toml(toml::parse(source).map_err(|failure| {
                    let (line, column) = text::line_column(source, failure.offset);
                    let (message, path) = (failure.message, path.clone());
                    match failure.kind {
                        toml::TomlFailureKind::Syntax => DocError::Syntax { path, line, column, message },
                        toml::TomlFailureKind::DuplicateKey => {
                            DocError::DuplicateKey { path, line, column, message }
                        }
                        toml::TomlFailureKind::TooDeep => DocError::TooDeep { path, line, column, message },
                    }
                })?)
            }
            Format::Json | Format::Jsonc | Format::JsonComments => {
                let source = if blank { BLANK_JSON } else { decoded.text() };
                let body = json::JsonBody::parse(source, format.json_dialect()).map_err(|failure| {
                    if let Some(nul) = text::nul_failure(decoded.text()) {
                        return decode_error(nul, &path);
                    }
                    let json::JsonFailure { kind, line, column, message } = failure;
                    let path = path.clone();
                    match kind {
                        json::JsonFailureKind::Syntax => DocError::Syntax { path, line, column, message },
                        json::JsonFailureKind::JsoncInStrict => {
                            DocError::JsoncInStrictJson { path, line, column, message }
                        }
                        json::JsonFailureKind::DuplicateKey => {
                            DocError::DuplicateKey { path, line, column, message }
                        }
                        json::JsonFailureKind::WrongTopLevel => {
                            DocError::WrongTopLevel { path, line, column, message }
                        }
                        json::JsonFailureKind::TooDeep => DocError::TooDeep { path, line, column, message },
                    }
                })?;
                Body::Json(body)
            }
            Format::Dotenv => Body::Dotenv(dotenv::EnvBody::parse(decoded.text())),
        };
        Ok(Self {
            path,
            format,
            decoded,
            blank,
            body,
            baseline: None,
            created_parents: Vec::new(),
            toml_text: TomlText::Untouched,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the file started with a UTF-8 BOM (it is written back if so).
    pub fn has_bom(&self) -> bool {
        self.decoded.bom
    }

    /// The line ending new lines get: CRLF when most of the file's lines end in CRLF.
    pub fn eol(&self) -> Eol {
        self.decoded.eol
    }

    /// The bytes to write: the input itself when nothing changed, otherwise the input
    /// with only the edited lines replaced (BOM and line endings kept).
    pub fn to_bytes(&self) -> Vec<u8> {
        if let TomlText::Spliced { text, .. } = &self.toml_text {
            let mut out = Vec::with_capacity(text.len() + 3);
            if self.decoded.bom {
                out.extend_from_slice(b"\xEF\xBB\xBF");
            }
            out.extend_from_slice(text.as_bytes());
            return out;
        }
        let unchanged = match (&self.body, &self.baseline) {
            // Never edited: nothing to render.
            (Body::Toml(_), None) | (Body::EmptyJson, _) => true,
            (Body::Toml(_) | Body::Json(_), _) => {
                self.blank && self.to_value().as_object().is_some_and(serde_json::Map::is_empty)
            }
            (Body::Dotenv(_), _) => false,
        };
        if unchanged {
            let mut original = Vec::with_capacity(self.decoded.raw.len() + 3);
            if self.decoded.bom {
                original.extend_from_slice(b"\xEF\xBB\xBF");
            }
            original.extend_from_slice(self.decoded.raw.as_bytes());
            return original;
        }
        let rendered = render(&self.body, &self.decoded, self.blank);
        if self.blank {
            // Whitespace-only input: nothing worth keeping, write fresh content.
            let fresh = text::Decoded {
                text: None,
                raw: std::borrow::Cow::Borrowed(""),
                bom: self.decoded.bom,
                eol: self.decoded.eol,
            };
            return text::rebuild(&fresh, &rendered);
        }
        if let (Body::Toml(_), Some(baseline)) = (&self.body, &self.baseline) {
            if rendered == baseline.as_str() {
                return text::rebuild(&self.decoded, self.decoded.text());
            }
            // A file without a final newline keeps that style when the renderer adds one.
            if !self.decoded.text().ends_with('\n') && baseline.ends_with('\n') && rendered.ends_with('\n') {
                return text::rebuild(&self.decoded, &rendered[..rendered.len() - 1]);
            }
        }
        text::rebuild(&self.decoded, &rendered)
    }

    /// [`Document::to_bytes`], consuming the document: an edited JSON file's text is
    /// handed over as it is, without copying it (it can be 20 MB).
    pub fn into_bytes(self) -> Vec<u8> {
        if let (Body::Json(_), false, false, None) =
            (&self.body, self.blank, self.decoded.bom, &self.decoded.text)
        {
            let Document { decoded, body, .. } = self;
            let Body::Json(body) = body else { return Vec::new() };
            return match body.into_text(&decoded.raw) {
                Some(edited) => edited.into_bytes(),
                None => decoded.raw.into_owned().into_bytes(),
            };
        }
        self.to_bytes()
    }

    /// The bytes to write as [`NewBytes`]: an edit that replaced one range of the input's
    /// bytes is handed over as that range and its replacement, so a large file is not
    /// copied for it (the write path writes the pieces).
    pub fn into_new_bytes(self) -> NewBytes {
        match self.changed_span() {
            Some((range, _)) => {
                let Body::Json(body) = &self.body else { return NewBytes::Whole(self.into_bytes()) };
                let with = body.only_splice().map(|(_, with)| with.as_bytes().to_vec()).unwrap_or_default();
                NewBytes::Spliced { range, with }
            }
            None => NewBytes::Whole(self.into_bytes()),
        }
    }

    /// When the edits so far made the file's bytes by replacing one range of the input's
    /// bytes, that range and the length of its replacement: the bytes before and after it
    /// are the input's own. (`None` when unknown: several edits, TOML, CRLF, a blank file.)
    /// An undo record can be made from it without comparing the whole files.
    pub fn changed_span(&self) -> Option<(std::ops::Range<usize>, usize)> {
        let Body::Json(body) = &self.body else { return None };
        let (range, replacement) = body.only_splice()?;
        if self.blank || self.decoded.text.is_some() {
            return None;
        }
        let bom = if self.decoded.bom { 3 } else { 0 };
        Some((range.start + bom..range.end + bom, replacement.len()))
    }

    /// The value at `key_path` as JSON (TOML datetimes as strings); the whole document
    /// for an empty path. JSON numbers that fit neither i64/u64 nor a finite f64 are
    /// returned as strings holding their raw text.
    pub fn get(&self, key_path: &[&str]) -> Option<JsonValue> {
        match &self.body {
            Body::Toml(document) => toml::get(document, key_path),
            Body::Json(body) => json::get(body, json_original(&self.decoded, self.blank), key_path),
            Body::EmptyJson => key_path.is_empty().then(|| JsonValue::Object(serde_json::Map::new())),
            Body::Dotenv(body) => match key_path {
                [] => Some(JsonValue::Object(
                    body.entries().into_iter().map(|(key, value)| (key, JsonValue::String(value))).collect(),
                )),
                [key] => body.get(key).map(JsonValue::String),
                _ => None,
            },
        }
    }

    pub fn contains(&self, key_path: &[&str]) -> bool {
        self.get(key_path).is_some()
    }

    /// Child keys of the table or object at `key_path`, in file order (empty when it is
    /// missing or not a table).
    pub fn keys(&self, key_path: &[&str]) -> Vec<String> {
        match &self.body {
            Body::Toml(document) => toml::keys(document, key_path),
            Body::Json(body) => json::keys(body, json_original(&self.decoded, self.blank), key_path),
            Body::Dotenv(body) if key_path.is_empty() => {
                body.entries().into_iter().map(|(key, _)| key).collect()
            }
            Body::EmptyJson | Body::Dotenv(_) => Vec::new(),
        }
    }

    /// Set `key_path` to `value`, creating missing parents. Returns whether anything
    /// changed. Setting an object onto an existing table or object edits it key by key
    /// (keys missing from `value` are removed), so the formatting of what stays is kept.
    pub fn set(&mut self, key_path: &[&str], value: &JsonValue) -> Result<bool, DocError> {
        self.remember_baseline();
        if let (Some(JsonValue::Object(existing)), JsonValue::Object(wanted)) = (self.get(key_path), value) {
            let mut changed = false;
            for key in existing.keys().filter(|key| !wanted.contains_key(*key)) {
                let child_path = child(key_path, key);
                changed |= self.remove(&child_path)?.is_some();
            }
            for (key, entry) in wanted {
                let child_path = child(key_path, key);
                changed |= self.set(&child_path, entry)?;
            }
            return Ok(changed);
        }
        if matches!(self.body, Body::EmptyJson) {
            let body = json::JsonBody::parse(BLANK_JSON, self.format.json_dialect()).map_err(|failure| {
                DocError::Conflict { path: self.path.clone(), message: failure.message }
            })?;
            self.body = Body::Json(body);
        }
        let outcome = match &mut self.body {
            Body::Toml(document) => toml::set(document, key_path, value),
            Body::Json(body) => json::set(body, json_original(&self.decoded, self.blank), key_path, value),
            Body::EmptyJson => Ok(toml::SetOutcome::default()),
            Body::Dotenv(body) => dotenv_set(body, key_path, value),
        }
        .map_err(|conflict| DocError::Conflict { path: self.path.clone(), message: conflict.0 })?;
        self.created_parents.extend(outcome.created_parents);
        if outcome.changed {
            let eol = self.decoded.eol;
            self.splice_toml(|text, memory| toml_splice::set(text, key_path, value, eol, memory));
        }
        Ok(outcome.changed)
    }

    /// Keys [`Document::set`] created in this document, outermost first.
    pub fn created_parents(&self) -> &[Vec<String>] {
        &self.created_parents
    }

    /// Count `key_path` as created by an edit (an earlier one, of the file these bytes
    /// came from): [`Document::remove`] then takes it away once it is left empty.
    pub fn note_created(&mut self, key_path: &[String]) {
        if !self.created_parents.iter().any(|created| created == key_path) {
            self.created_parents.push(key_path.to_vec());
        }
    }

    /// Remove `key_path`, returning what was there. Parents created by [`Document::set`]
    /// (or noted by [`Document::note_created`]) that are left empty are removed too, in
    /// the same edit: the outermost of them goes with all it holds (one splice of a large
    /// file, not one per level).
    pub fn remove(&mut self, key_path: &[&str]) -> Result<Option<JsonValue>, DocError> {
        // The parents left empty: from the innermost up, each created and holding only
        // the way down.
        let depth = (1..key_path.len())
            .find(|&depth| {
                (depth..key_path.len()).all(|level| {
                    self.created_parents.iter().any(|created| *created == owned(&key_path[..level]))
                        && self.keys(&key_path[..level]) == [key_path[level].to_string()]
                })
            })
            .unwrap_or(key_path.len());
        // What `key_path` held, when a parent goes with it.
        let value = if depth < key_path.len() {
            let Some(value) = self.get(key_path) else { return Ok(None) };
            Some(value)
        } else {
            None
        };
        let target = &key_path[..depth];
        self.remember_baseline();
        let removed = match &mut self.body {
            Body::Toml(document) => toml::remove(document, target),
            Body::Json(body) => json::remove(body, json_original(&self.decoded, self.blank), target),
            Body::EmptyJson => Ok(None),
            Body::Dotenv(body) => match target {
                [key] => body
                    .remove(key)
                    .map(|removed| removed.map(JsonValue::String))
                    .map_err(|conflict| toml::EditConflict(conflict.0)),
                _ => Ok(None),
            },
        }
        .map_err(|conflict| DocError::Conflict { path: self.path.clone(), message: conflict.0 })?;
        if removed.is_none() {
            return Ok(None);
        }
        self.splice_toml(|text, memory| toml_splice::remove(text, target, memory));
        self.created_parents.retain(|created| !created.starts_with(&owned(target)));
        Ok(value.or(removed))
    }

    /// Apply the edit just made to a TOML body to its spliced text as well, keeping the
    /// splice only if it reads back as exactly the edited document.
    fn splice_toml(&mut self, splice: impl FnOnce(&str, &mut toml_splice::SpliceMemory) -> Option<String>) {
        let Body::Toml(document) = &self.body else {
            return;
        };
        let (current, mut memory) = match &self.toml_text {
            TomlText::Rendered => return,
            TomlText::Untouched if self.blank => {
                self.toml_text = TomlText::Rendered;
                return;
            }
            TomlText::Untouched => (&*self.decoded.raw, toml_splice::SpliceMemory::default()),
            TomlText::Spliced { text, memory } => (text.as_str(), memory.clone()),
        };
        let spliced = splice(current, &mut memory).filter(|spliced| {
            toml::parse(&spliced.replace("\r\n", "\n")).is_ok_and(|again| {
                toml::table_to_json(again.as_table()) == toml::table_to_json(document.as_table())
            })
        });
        self.toml_text = match spliced {
            Some(text) => TomlText::Spliced { text, memory },
            None => TomlText::Rendered,
        };
    }

    /// Render the baseline of a TOML body before its first edit (see `baseline`).
    fn remember_baseline(&mut self) {
        if let (Body::Toml(document), None) = (&self.body, &self.baseline) {
            self.baseline = Some(document.to_string());
        }
    }

    /// Panics unless a JSON body's index matches its text (see `JsonBody::assert_index`).
    #[cfg(test)]
    fn assert_json_index(&self) {
        if let Body::Json(body) = &self.body {
            body.assert_index(json_original(&self.decoded, self.blank));
        }
    }

    /// The whole document as JSON.
    pub fn to_value(&self) -> JsonValue {
        self.get(&[]).unwrap_or_else(|| JsonValue::Object(serde_json::Map::new()))
    }
}

/// Two versions of a JSON-family file reduced for comparing what they mean: each one's
/// value with what is the same in both (same bytes, read the same way) as `null`, every
/// key kept on the way down to the change, so the two are equal exactly when the whole
/// values are. `None` for TOML and `.env`, text that is not UTF-8, or a change this cannot
/// place (then compare the whole values). `before` must be text this layer accepted or
/// wrote; `after` is checked where it differs.
pub fn json_skeletons(format: Format, before: &[u8], after: &[u8]) -> Option<(JsonValue, JsonValue)> {
    if !matches!(format, Format::Json | Format::Jsonc | Format::JsonComments) {
        return None;
    }
    let (before, after) = (std::str::from_utf8(before).ok()?, std::str::from_utf8(after).ok()?);
    json_change::skeletons(before, after, format.json_dialect())
}

fn decode_error(failure: text::DecodeFailure, path: &Path) -> DocError {
    let text::DecodeFailure { line, column, message, kind } = failure;
    let path = path.to_path_buf();
    match kind {
        text::DecodeFailureKind::Nul => DocError::NulByte { path, line, column, message },
        text::DecodeFailureKind::NotUtf8 => DocError::NotUtf8 { path, line, column, message },
        text::DecodeFailureKind::DoubleBom => DocError::Syntax { path, line, column, message },
    }
}

/// What a blank JSON file reads as.
const BLANK_JSON: &str = "{}\n";

/// The text a JSON body was parsed from.
fn json_original<'text>(decoded: &'text text::Decoded<'_>, blank: bool) -> &'text str {
    if blank { BLANK_JSON } else { decoded.text() }
}

/// The body as LF text (JSON bodies are kept as text, so nothing is rendered for them).
fn render<'body>(
    body: &'body Body,
    decoded: &'body text::Decoded<'_>,
    blank: bool,
) -> std::borrow::Cow<'body, str> {
    match body {
        Body::Toml(document) => std::borrow::Cow::Owned(document.to_string()),
        Body::Json(body) => std::borrow::Cow::Borrowed(body.text(json_original(decoded, blank))),
        Body::EmptyJson => std::borrow::Cow::Borrowed(BLANK_JSON),
        Body::Dotenv(body) => std::borrow::Cow::Borrowed(body.text()),
    }
}

/// A `.env` set: one key, a string value.
fn dotenv_set(
    body: &mut dotenv::EnvBody,
    key_path: &[&str],
    value: &JsonValue,
) -> Result<toml::SetOutcome, toml::EditConflict> {
    let ([key], JsonValue::String(value)) = (key_path, value) else {
        return Err(toml::EditConflict(format!(
            "`{}`: a .env file holds one level of keys with string values",
            key_path.join(".")
        )));
    };
    let changed = body.set(key, value).map_err(|conflict| toml::EditConflict(conflict.0))?;
    Ok(toml::SetOutcome { changed, created_parents: Vec::new() })
}

fn child<'path>(key_path: &[&'path str], key: &'path str) -> Vec<&'path str> {
    let mut path = key_path.to_vec();
    path.push(key);
    path
}

fn owned(key_path: &[&str]) -> Vec<String> {
    key_path.iter().map(ToString::to_string).collect()
}

#[cfg(test)]
#[path = "toml_tests.rs"]
mod toml_tests;

#[cfg(test)]
#[path = "json_tests.rs"]
mod json_tests;
