//! One fast pass over JSON/JSONC text: validate it completely and index the top-level
//! members, without building a tree. Later lookups walk the (already validated) text by
//! skipping values, and only the values asked for are turned into `serde_json` values.
//!
//! Invariants:
//! - [`validate`] accepts exactly what the clients accept: strict JSON (RFC 8259: no
//!   comments, no trailing commas, whitespace only space, tab, CR and LF, no raw control
//!   character in a string), JSONC (`//` and `/* */` comments and trailing commas too),
//!   or JSON with comments (comments, but no trailing commas and strict whitespace: what
//!   `JSON.parse` takes once comments are stripped). All refuse duplicate keys, nesting
//!   deeper than [`MAX_DEPTH`], lone surrogate escapes and a top level that is not one
//!   object. Every refusal has a byte offset.
//! - Reads over the text it accepted are in `json_read`.
//! - No recursion deeper than [`MAX_DEPTH`], no allocation per byte.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::ops::Range;

use super::json::{JsonDialect, JsonFailureKind};

/// How deep objects and arrays may nest before a file is refused (serde_json's limit).
pub(crate) const MAX_DEPTH: usize = 128;

/// A refusal at a byte offset of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanFailure {
    pub(crate) kind: JsonFailureKind,
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// One member of an object: where its key (a string, quotes included) and its value are
/// in the text. The key is decoded only when asked for, so indexing a large object
/// allocates nothing per member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) key_start: usize,
    pub(crate) key_end: usize,
    /// The key has a backslash escape (so its text is not its name).
    pub(crate) escaped: bool,
    pub(crate) value: Range<usize>,
}

impl Member {
    /// The decoded key, from the text the member was read from.
    pub(crate) fn key<'text>(&self, text: &'text str) -> Cow<'text, str> {
        let raw = text.get(self.key_start..self.key_end).unwrap_or_default();
        if self.escaped {
            Cow::Owned(serde_json::from_str::<String>(raw).unwrap_or_default())
        } else {
            Cow::Borrowed(raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default())
        }
    }

    /// Whether the key is `name`, without allocating for a key with no escape.
    pub(crate) fn key_is(&self, text: &str, name: &str) -> bool {
        if self.escaped {
            return self.key(text) == name;
        }
        text.as_bytes().get(self.key_start + 1..self.key_end.saturating_sub(1)) == Some(name.as_bytes())
    }
}

/// What [`validate`] found: the top-level object's range and members, and the members of
/// each object that is the value of a top-level member (by the object's range, in file
/// order), so lookups one level down do not skip through the whole file.
#[derive(Debug)]
pub(crate) struct Scanned {
    pub(crate) root: Range<usize>,
    pub(crate) top: Vec<Member>,
    pub(crate) nested: Vec<(Range<usize>, Vec<Member>)>,
}

/// Validate `text` and index its first two levels.
pub(crate) fn validate(text: &str, dialect: JsonDialect) -> Result<Scanned, ScanFailure> {
    validate_boxed(text, dialect).map_err(|failure| *failure)
}

/// Whether `text[range]` is exactly one value of `dialect`, as [`validate`] would accept
/// it nested `depth` levels deep in a file (`0`: the top-level object): syntax, duplicate
/// keys and nesting checked, nothing indexed.
pub(crate) fn validate_value(text: &str, range: Range<usize>, dialect: JsonDialect, depth: usize) -> bool {
    let Some(value) = text.as_bytes().get(range) else { return false };
    let mut validator = Validator::new(value, dialect, 0);
    validator.value(0, depth).is_ok_and(|end| end == value.len())
}

/// Strict JSON texts this large are validated by two threads (see [`validate_split`]).
const SPLIT_MIN: usize = 4 << 20;

fn validate_boxed(text: &str, dialect: JsonDialect) -> Result<Scanned, Failure> {
    if dialect == JsonDialect::STRICT && text.len() >= SPLIT_MIN {
        // A raw line feed is never inside a string in strict JSON (nor in a comment: it
        // has none), so a token starts after it.
        if let Some(newline) = memchr::memchr(b'\n', &text.as_bytes()[text.len() / 2..]) {
            return validate_split(text, text.len() / 2 + newline + 1);
        }
    }
    let mut validator = Validator::new(text.as_bytes(), dialect, 2);
    validate_from(&mut validator)
}

/// Validate `text` on two threads: this one reads it from the start as [`validate`]
/// always does, while another validates every complete value it finds from `split` on
/// (a value whose container it cannot know yet), so that this one, once there, skips
/// those it accepted instead of reading them again. What this thread reads is exactly
/// what a validation on one thread reads, less those values: the same refusals, at the
/// same offsets (after a refusal the other thread stops, and this one reads the rest).
fn validate_split(text: &str, split: usize) -> Result<Scanned, Failure> {
    std::thread::scope(|scope| {
        let other =
            std::thread::Builder::new().spawn_scoped(scope, || complete_values(text.as_bytes(), split)).ok();
        let mut validator = Validator::new(text.as_bytes(), JsonDialect::STRICT, 2);
        if other.is_some() {
            validator.split = split;
            validator.pending = other;
        }
        validate_from(&mut validator)
    })
}

fn validate_from(validator: &mut Validator<'_, '_>) -> Result<Scanned, Failure> {
    let start = validator.whitespace(0)?;
    match validator.bytes.get(start) {
        Some(b'{') => {}
        Some(_) => {
            validator.value(start, 0)?;
            return Err(failure(
                JsonFailureKind::WrongTopLevel,
                start,
                "the top-level value must be an object",
            ));
        }
        None => return Err(failure(JsonFailureKind::Syntax, start, "the file holds no JSON value")),
    }
    let end = validator.value(start, 0)?;
    let after = validator.whitespace(end)?;
    if after < validator.bytes.len() {
        return Err(failure(JsonFailureKind::Syntax, after, "unexpected text after the top-level object"));
    }
    let (top, nested) = (std::mem::take(&mut validator.top), std::mem::take(&mut validator.nested));
    Ok(Scanned { root: start..end, top, nested })
}

#[cfg(test)]
thread_local! {
    /// How many values validators on this thread skipped (validated by another).
    static SKIPPED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// [`validate`] on this thread alone (to time it against the split).
#[cfg(test)]
pub(crate) fn validate_alone(text: &str, dialect: JsonDialect) -> Result<Scanned, ScanFailure> {
    validate_from(&mut Validator::new(text.as_bytes(), dialect, 2)).map_err(|failure| *failure)
}

/// A value of strict JSON text validated on its own (see [`validate_split`]).
struct Validated {
    start: usize,
    end: usize,
    /// How deep it nests (1 for `{}`, 0 for a scalar).
    depth: usize,
    /// An object's members.
    members: Vec<Member>,
}

/// Every complete value at the outermost level of strict JSON text from `from` (which is
/// between tokens), validated on its own, in order; up to the first that is refused, or a
/// byte no value starts with. Strings that are keys are among them (harmless: a key is
/// never looked up as a value).
fn complete_values(bytes: &[u8], from: usize) -> Vec<Validated> {
    let mut validator = Validator::new(bytes, JsonDialect::STRICT, 1);
    let mut values = Vec::new();
    let mut at = from;
    loop {
        let Ok(start) = validator.whitespace(at) else { return values };
        match bytes.get(start) {
            Some(b',' | b':' | b'}' | b']') => at = start + 1,
            Some(_) => {
                validator.max_depth = 0;
                let Ok(end) = validator.value(start, 0) else { return values };
                let members = std::mem::take(&mut validator.top);
                values.push(Validated { start, end, depth: validator.max_depth, members });
                at = end;
            }
            None => return values,
        }
    }
}

/// A refusal, boxed: the validator's functions return `Result<usize, Failure>`, which
/// then fits in two registers (it is returned millions of times on a large file).
type Failure = Box<ScanFailure>;

#[expect(clippy::unnecessary_box_returns, reason = "a boxed error keeps every Result in registers")]
fn failure(kind: JsonFailureKind, offset: usize, message: impl Into<String>) -> Failure {
    Box::new(ScanFailure { kind, offset, message: message.into() })
}

/// The bytes that end a run of plain characters in a string.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Whether any of the eight bytes in `word` may end a run of plain string characters
/// (`"`, `\`, or below 0x20); never false when one does.
#[inline]
fn may_stop(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte is zero (or below n, for n <= 0x80) where the subtraction borrows into a high
    // bit the byte did not have.
    let zero = |value: u64| value.wrapping_sub(ONES) & !value & HIGH;
    let quote = zero(word ^ (ONES * u64::from(b'"')));
    let backslash = zero(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    (quote | backslash | control) != 0
}

/// The hash of the duplicate-key check: FxHash's mix, much cheaper than SipHash on short
/// keys. (A file's keys are its owner's own: there is no one to pick colliding keys.)
#[derive(Default)]
struct KeyHasher(u64);

impl KeyHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut word = [0; 8];
        word[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.add(u64::from_le_bytes(word));
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Above this many keys an object's duplicate check uses a hash set.
const LINEAR_KEYS: usize = 16;

struct Validator<'text, 'scope> {
    bytes: &'text [u8],
    dialect: JsonDialect,
    /// The levels whose members are indexed: 2 (the top level and the one below), or 1.
    index_depth: usize,
    top: Vec<Member>,
    /// The index of the objects one level down (see [`Scanned`]).
    nested: Vec<(Range<usize>, Vec<Member>)>,
    /// The members of the object one level down being read.
    second: Vec<Member>,
    /// The deepest nesting reached since it was last reset.
    max_depth: usize,
    /// From this offset on, values another thread validated are skipped
    /// ([`validate_split`]); `usize::MAX` when none.
    split: usize,
    /// That thread, until its values are needed.
    pending: Option<std::thread::ScopedJoinHandle<'scope, Vec<Validated>>>,
    /// Its values, and the first one not passed yet.
    validated: Vec<Validated>,
    next_validated: usize,
    /// The keys (string range, has escapes) of every object being read, innermost last:
    /// one buffer for the whole file instead of one allocation per object.
    keys: Vec<(usize, usize, bool)>,
}

impl<'text> Validator<'text, '_> {
    fn new(bytes: &'text [u8], dialect: JsonDialect, index_depth: usize) -> Self {
        Validator {
            bytes,
            dialect,
            index_depth,
            top: Vec::new(),
            nested: Vec::new(),
            second: Vec::new(),
            max_depth: 0,
            split: usize::MAX,
            pending: None,
            validated: Vec::new(),
            next_validated: 0,
            keys: Vec::new(),
        }
    }

    /// The end of the value at `at`, when the other thread validated it and it fits at
    /// `depth` (its index taken over as if this thread had read it).
    fn validated_elsewhere(&mut self, at: usize, depth: usize) -> Option<usize> {
        if let Some(pending) = self.pending.take() {
            self.validated = pending.join().unwrap_or_default();
        }
        // Values are reached in file order.
        while self.validated.get(self.next_validated).is_some_and(|value| value.start < at) {
            self.next_validated += 1;
        }
        let value = self.validated.get_mut(self.next_validated).filter(|value| value.start == at)?;
        if depth + value.depth > MAX_DEPTH {
            return None;
        }
        self.next_validated += 1;
        #[cfg(test)]
        SKIPPED.with(|count| count.set(count.get() + 1));
        let end = value.end;
        if depth + 1 == 2 && self.index_depth >= 2 && self.bytes.get(at) == Some(&b'{') {
            self.nested.push((at..end, std::mem::take(&mut value.members)));
        }
        self.max_depth = self.max_depth.max(depth + value.depth);
        Some(end)
    }

    #[inline]
    fn whitespace(&self, at: usize) -> Result<usize, Failure> {
        // Between tokens there is mostly nothing, or one space.
        match self.bytes.get(at) {
            Some(b' ' | b'\t' | b'\n' | b'\r' | b'/' | 0x0b | 0x0c | 0xc2) => self.whitespace_run(at),
            Some(_) | None => Ok(at),
        }
    }

    fn whitespace_run(&self, mut at: usize) -> Result<usize, Failure> {
        let bytes = self.bytes;
        loop {
            match bytes.get(at) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => {
                    at += 1;
                    // Indentation, eight spaces at a time.
                    while bytes.get(at..at + 8) == Some(&b"        "[..]) {
                        at += 8;
                    }
                }
                Some(b'/') if matches!(bytes.get(at + 1), Some(b'/' | b'*')) => {
                    if !self.dialect.allow_comments {
                        return Err(failure(
                            JsonFailureKind::JsoncInStrict,
                            at,
                            "comments are not allowed (JSONC in a strict JSON file)",
                        ));
                    }
                    if bytes.get(at + 1) == Some(&b'*')
                        && memchr::memmem::find(&bytes[at + 2..], b"*/").is_none()
                    {
                        return Err(failure(JsonFailureKind::Syntax, at, "unterminated comment"));
                    }
                    at = super::json_read::skip_whitespace(bytes, at);
                }
                Some(0x0b | 0x0c) if self.dialect.is_jsonc() => at += 1,
                Some(0xc2) if self.dialect.is_jsonc() && bytes.get(at + 1) == Some(&0xa0) => at += 2,
                Some(byte @ (0x0b | 0x0c)) => {
                    let name = if *byte == 0x0c { "a form feed (U+000C)" } else { "a vertical tab (U+000B)" };
                    return Err(failure(
                        JsonFailureKind::Syntax,
                        at,
                        format!("{name} is not whitespace in strict JSON"),
                    ));
                }
                _ => return Ok(at),
            }
        }
    }

    /// Validate the value at `at` (nested `depth` levels deep); return its end.
    fn value(&mut self, at: usize, depth: usize) -> Result<usize, Failure> {
        if at >= self.split {
            if let Some(end) = self.validated_elsewhere(at, depth) {
                return Ok(end);
            }
        }
        match self.bytes.get(at) {
            Some(b'{') => self.object(at, depth + 1),
            Some(b'[') => self.array(at, depth + 1),
            Some(b'"') => self.string(at).map(|(end, _)| end),
            Some(b'-' | b'0'..=b'9') => self.number(at),
            Some(b't') => self.literal(at, b"true"),
            Some(b'f') => self.literal(at, b"false"),
            Some(b'n') => self.literal(at, b"null"),
            Some(_) => Err(failure(JsonFailureKind::Syntax, at, "expected a value")),
            None => Err(failure(JsonFailureKind::Syntax, at, "unexpected end of file, expected a value")),
        }
    }

    fn too_deep(at: usize, depth: usize) -> Result<(), Failure> {
        if depth > MAX_DEPTH {
            return Err(failure(
                JsonFailureKind::TooDeep,
                at,
                format!("objects and arrays nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn trailing_comma(&self, comma: usize) -> Result<(), Failure> {
        if !self.dialect.allow_trailing_commas {
            let message = if self.dialect.allow_comments {
                "trailing commas are not allowed (JSON with comments, but no trailing commas): remove this comma"
            } else {
                "trailing commas are not allowed (JSONC in a strict JSON file)"
            };
            return Err(failure(JsonFailureKind::JsoncInStrict, comma, message));
        }
        Ok(())
    }

    fn object(&mut self, open: usize, depth: usize) -> Result<usize, Failure> {
        Self::too_deep(open, depth)?;
        self.max_depth = self.max_depth.max(depth);
        let base = self.keys.len();
        let result = self.members(open, depth, base);
        self.keys.truncate(base);
        if let (2, Ok(end)) = (depth, &result) {
            if self.index_depth >= 2 {
                self.nested.push((open..*end, std::mem::take(&mut self.second)));
            }
        }
        result
    }

    fn members(&mut self, open: usize, depth: usize, base: usize) -> Result<usize, Failure> {
        let mut key_set: Option<HashSet<Cow<'text, str>, BuildHasherDefault<KeyHasher>>> = None;
        let mut at = self.whitespace(open + 1)?;
        if self.bytes.get(at) == Some(&b'}') {
            return Ok(at + 1);
        }
        loop {
            if self.bytes.get(at) != Some(&b'"') {
                return Err(failure(
                    JsonFailureKind::Syntax,
                    at,
                    "expected a property name in double quotes",
                ));
            }
            let key_start = at;
            let (key_end, escaped) = self.string(at)?;
            let duplicate = if let Some(set) = &mut key_set {
                !set.insert(self.key_text(key_start..key_end, escaped))
            } else {
                let duplicate = self.keys[base..].iter().any(|&(start, end, other_escaped)| {
                    self.same_key((start, end, other_escaped), (key_start, key_end, escaped))
                });
                self.keys.push((key_start, key_end, escaped));
                if self.keys.len() - base > LINEAR_KEYS {
                    key_set = Some(
                        self.keys[base..]
                            .iter()
                            .map(|&(start, end, escaped)| self.key_text(start..end, escaped))
                            .collect(),
                    );
                }
                duplicate
            };
            if duplicate {
                let key = self.key_text(key_start..key_end, escaped);
                return Err(failure(
                    JsonFailureKind::DuplicateKey,
                    key_start,
                    format!("duplicate key `{key}`"),
                ));
            }
            at = self.whitespace(key_end)?;
            if self.bytes.get(at) != Some(&b':') {
                return Err(failure(JsonFailureKind::Syntax, at, "expected `:` after the property name"));
            }
            let value_start = self.whitespace(at + 1)?;
            let value_end = self.value(value_start, depth)?;
            if depth <= self.index_depth {
                let member = Member { key_start, key_end, escaped, value: value_start..value_end };
                if depth == 1 { self.top.push(member) } else { self.second.push(member) }
            }
            at = self.whitespace(value_end)?;
            match self.bytes.get(at) {
                Some(b',') => {
                    let comma = at;
                    at = self.whitespace(at + 1)?;
                    if self.bytes.get(at) == Some(&b'}') {
                        self.trailing_comma(comma)?;
                        return Ok(at + 1);
                    }
                }
                Some(b'}') => return Ok(at + 1),
                Some(_) => return Err(failure(JsonFailureKind::Syntax, at, "expected `,` or `}`")),
                None => {
                    return Err(failure(JsonFailureKind::Syntax, at, "unexpected end of file, expected `}`"));
                }
            }
        }
    }

    /// Whether two keys (string range, has escapes) are the same name.
    fn same_key(&self, first: (usize, usize, bool), second: (usize, usize, bool)) -> bool {
        if !first.2 && !second.2 {
            return self.bytes[first.0..first.1] == self.bytes[second.0..second.1];
        }
        self.key_text(first.0..first.1, first.2) == self.key_text(second.0..second.1, second.2)
    }

    fn array(&mut self, open: usize, depth: usize) -> Result<usize, Failure> {
        Self::too_deep(open, depth)?;
        self.max_depth = self.max_depth.max(depth);
        let mut at = self.whitespace(open + 1)?;
        if self.bytes.get(at) == Some(&b']') {
            return Ok(at + 1);
        }
        loop {
            let end = self.value(at, depth)?;
            at = self.whitespace(end)?;
            match self.bytes.get(at) {
                Some(b',') => {
                    let comma = at;
                    at = self.whitespace(at + 1)?;
                    if self.bytes.get(at) == Some(&b']') {
                        self.trailing_comma(comma)?;
                        return Ok(at + 1);
                    }
                }
                Some(b']') => return Ok(at + 1),
                Some(_) => return Err(failure(JsonFailureKind::Syntax, at, "expected `,` or `]`")),
                None => {
                    return Err(failure(JsonFailureKind::Syntax, at, "unexpected end of file, expected `]`"));
                }
            }
        }
    }

    fn key_text(&self, range: Range<usize>, escaped: bool) -> Cow<'text, str> {
        let bytes: &'text [u8] = self.bytes;
        let raw = std::str::from_utf8(&bytes[range]).unwrap_or_default();
        if escaped {
            Cow::Owned(serde_json::from_str::<String>(raw).unwrap_or_default())
        } else {
            Cow::Borrowed(raw.get(1..raw.len() - 1).unwrap_or_default())
        }
    }

    /// Validate the string at `at` (a `"`); return its end and whether it has escapes.
    fn string(&self, at: usize) -> Result<(usize, bool), Failure> {
        let bytes = self.bytes;
        let mut index = at + 1;
        let mut escaped = false;
        loop {
            // Plain characters in bulk, eight at a time: only `"`, `\` and control
            // characters stop.
            while let Some(chunk) = bytes.get(index..index + 8) {
                let word = u64::from_le_bytes([
                    chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
                ]);
                if may_stop(word) {
                    break;
                }
                index += 8;
            }
            while bytes.get(index).is_some_and(|byte| !STRING_STOP[usize::from(*byte)]) {
                index += 1;
            }
            match bytes.get(index) {
                Some(b'"') => return Ok((index + 1, escaped)),
                Some(b'\\') => {
                    escaped = true;
                    index = self.escape(index)?;
                }
                Some(byte) if *byte < 0x20 => {
                    let (shown, escape) = match byte {
                        b'\t' => ("tab", "`\\t`"),
                        b'\n' => ("line break", "`\\n`"),
                        b'\r' => ("carriage return", "`\\r`"),
                        _ => ("control character", "a `\\u` escape"),
                    };
                    return Err(failure(
                        JsonFailureKind::Syntax,
                        index,
                        format!("a raw {shown} (U+{byte:04X}) inside a string; JSON needs {escape}"),
                    ));
                }
                Some(_) => index += 1,
                None => return Err(failure(JsonFailureKind::Syntax, at, "unterminated string")),
            }
        }
    }

    /// Validate the escape at `at` (a `\`); return the offset after it.
    fn escape(&self, at: usize) -> Result<usize, Failure> {
        let bytes = self.bytes;
        match bytes.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(at + 2),
            Some(b'u') => {
                let unit = self.hex4(at)?;
                match unit {
                    0xd800..=0xdbff => {
                        if bytes.get(at + 6) == Some(&b'\\') && bytes.get(at + 7) == Some(&b'u') {
                            if let Ok(0xdc00..=0xdfff) = self.hex4(at + 6) {
                                return Ok(at + 12);
                            }
                        }
                        Err(failure(JsonFailureKind::Syntax, at, "a lone surrogate in a `\\u` escape"))
                    }
                    0xdc00..=0xdfff => {
                        Err(failure(JsonFailureKind::Syntax, at, "a lone surrogate in a `\\u` escape"))
                    }
                    _ => Ok(at + 6),
                }
            }
            Some(_) | None => Err(failure(JsonFailureKind::Syntax, at, "invalid escape in a string")),
        }
    }

    fn hex4(&self, at: usize) -> Result<u32, Failure> {
        let mut unit = 0;
        for offset in 2..6 {
            let digit = match self.bytes.get(at + offset) {
                Some(byte @ b'0'..=b'9') => byte - b'0',
                Some(byte @ b'a'..=b'f') => byte - b'a' + 10,
                Some(byte @ b'A'..=b'F') => byte - b'A' + 10,
                Some(_) | None => {
                    return Err(failure(JsonFailureKind::Syntax, at, "invalid `\\u` escape in a string"));
                }
            };
            unit = unit << 4 | u32::from(digit);
        }
        Ok(unit)
    }

    fn number(&self, at: usize) -> Result<usize, Failure> {
        let bytes = self.bytes;
        let digits = |mut index: usize| {
            let start = index;
            while bytes.get(index).is_some_and(u8::is_ascii_digit) {
                index += 1;
            }
            (index > start).then_some(index)
        };
        let bad = |index: usize| failure(JsonFailureKind::Syntax, index, "invalid number");
        let mut index = if bytes.get(at) == Some(&b'-') { at + 1 } else { at };
        if bytes.get(index) == Some(&b'0') {
            index += 1;
        } else {
            index = digits(index).ok_or_else(|| bad(index))?;
        }
        if bytes.get(index) == Some(&b'.') {
            index = digits(index + 1).ok_or_else(|| bad(index + 1))?;
        }
        if matches!(bytes.get(index), Some(b'e' | b'E')) {
            index += 1;
            if matches!(bytes.get(index), Some(b'+' | b'-')) {
                index += 1;
            }
            index = digits(index).ok_or_else(|| bad(index))?;
        }
        if bytes.get(index).is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'.') {
            return Err(bad(at));
        }
        Ok(index)
    }

    fn literal(&self, at: usize, word: &[u8]) -> Result<usize, Failure> {
        let end = at + word.len();
        if self.bytes.get(at..end) == Some(word)
            && !self.bytes.get(end).is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
        {
            Ok(end)
        } else {
            Err(failure(JsonFailureKind::Syntax, at, "expected a value"))
        }
    }
}

#[cfg(test)]
#[path = "json_scan_tests.rs"]
mod tests;
