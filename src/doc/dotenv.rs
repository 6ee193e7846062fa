//! `.env` files as the `dotenv` package reads them (Gemini CLI loads `~/.gemini/.env` with
//! it): `KEY=value` lines, read and edited key by key.
//!
//! Invariants:
//! - Reading is dotenv 16's own: its `LINE` pattern (with JavaScript's `\s` and `.`) and
//!   its unquoting, checked against dotenv itself on random texts
//!   (`tests/fixtures/gemini/dotenv-cases.json`). Roughly: optional `export `, a key of
//!   letters, digits, `_`, `.` and `-`, then `=` (or `:` and a space); a value in `'`, `"`
//!   or `` ` `` quotes (which may span lines; `\n` and `\r` in double quotes are a newline
//!   and a carriage return), or unquoted up to a `#` or the end of the line, trimmed.
//!   Anything else is a line dotenv ignores (comments, blank lines, junk), kept as it is.
//!   The last assignment of a key wins, as in dotenv.
//! - Only the assignments of the keys set or removed change. Setting a key that is there
//!   replaces the value of its last assignment in place (its `export `, separator, spacing
//!   and trailing comment stay, and its quotes when the new value fits them); a new key is
//!   a new last line `KEY=value` (after the last line, whose missing final newline stays
//!   missing). Removing a key removes the lines of every assignment of it.
//! - `set` then `remove` of a new key gives back the text byte for byte. An edit that
//!   would change how any other key reads (an unclosed quote before it) is refused and
//!   changes nothing.
//! - A value is quoted only when dotenv would read it differently unquoted (`#`, quotes
//!   or spaces at either end, line breaks); one that no quoting carries is refused.
//! - Pure: LF-normalised text in, text out (the caller keeps CRLF and the BOM).

use std::ops::Range;

/// One assignment in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Assignment {
    key: String,
    /// The value's text as written (quotes included).
    value: Range<usize>,
    /// From the start of its first line to the start of the line after its last.
    lines: Range<usize>,
}

/// A `.env` file's text and its assignments.
#[derive(Debug, Clone)]
pub(crate) struct EnvBody {
    text: String,
    assignments: Vec<Assignment>,
}

/// Why an edit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvConflict(pub(crate) String);

impl EnvBody {
    /// Read `text` (LF-normalised). Never fails: dotenv ignores what it cannot read.
    pub(crate) fn parse(text: &str) -> Self {
        Self { text: text.to_string(), assignments: scan(text) }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Every key with the value dotenv gives it, in the order of first appearance.
    pub(crate) fn entries(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for assignment in &self.assignments {
            let value = decode(&self.text[assignment.value.clone()]);
            match out.iter_mut().find(|(key, _)| *key == assignment.key) {
                Some(entry) => entry.1 = value,
                None => out.push((assignment.key.clone(), value)),
            }
        }
        out
    }

    /// The value dotenv gives `key`.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        let assignment = self.assignments.iter().rev().find(|assignment| assignment.key == key)?;
        Some(decode(&self.text[assignment.value.clone()]))
    }

    /// Set `key` to `value`; whether anything changed.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<bool, EnvConflict> {
        if !is_key(key) {
            return Err(EnvConflict(format!(
                "`{key}` is not a .env key (letters, digits, `_`, `.` and `-` only)"
            )));
        }
        if self.get(key).as_deref() == Some(value) {
            return Ok(false);
        }
        let before = self.text.clone();
        if let Some(assignment) = self.assignments.iter().rev().find(|assignment| assignment.key == key) {
            let old = &self.text[assignment.value.clone()];
            let keep = old.chars().next().filter(|first| matches!(first, '\'' | '"' | '`'));
            let encoded = keep
                .and_then(|quote| quoted(value, quote))
                .or_else(|| encode(value))
                .ok_or_else(|| unquotable(key))?;
            self.text.replace_range(assignment.value.clone(), &encoded);
        } else {
            let encoded = encode(value).ok_or_else(|| unquotable(key))?;
            if self.text.is_empty() || self.text.ends_with(['\n', '\r']) {
                self.text.push_str(&format!("{key}={encoded}\n"));
            } else {
                // No final newline: the new line goes after one, and has none either.
                self.text.push('\n');
                self.text.push_str(&format!("{key}={encoded}"));
            }
        }
        self.settle(before, key, Some(value))?;
        Ok(true)
    }

    /// Re-read the edited text; put `before` back and refuse when the edit changed how
    /// dotenv reads any other key (an unclosed quote before it, say) or `key` does not
    /// read as `wanted`.
    fn settle(&mut self, before: String, key: &str, wanted: Option<&str>) -> Result<(), EnvConflict> {
        let others = |entries: Vec<(String, String)>| -> Vec<(String, String)> {
            entries.into_iter().filter(|(name, _)| name != key).collect()
        };
        let expected = others(EnvBody::parse(&before).entries());
        self.assignments = scan(&self.text);
        if others(self.entries()) == expected && self.get(key).as_deref() == wanted {
            return Ok(());
        }
        self.text = before;
        self.assignments = scan(&self.text);
        Err(EnvConflict(format!(
            "`{key}` cannot be edited in this .env file without changing how the rest of it reads (an unclosed quote?)"
        )))
    }

    /// Remove every assignment of `key`; the value dotenv gave it.
    pub(crate) fn remove(&mut self, key: &str) -> Result<Option<String>, EnvConflict> {
        let Some(removed) = self.get(key) else { return Ok(None) };
        let before = self.text.clone();
        let mut ranges: Vec<Range<usize>> = self
            .assignments
            .iter()
            .filter(|assignment| assignment.key == key)
            .map(|assignment| assignment.lines.clone())
            .collect();
        ranges.reverse();
        for mut range in ranges {
            // The last line without a final newline: its newline before goes with it, so
            // the line before keeps having none.
            if range.end == self.text.len() && !self.text[range.clone()].ends_with('\n') && range.start > 0 {
                range.start -= 1;
            }
            self.text.replace_range(range, "");
        }
        self.settle(before, key, None)?;
        Ok(Some(removed))
    }
}

fn unquotable(key: &str) -> EnvConflict {
    EnvConflict(format!(
        "the value for `{key}` cannot be written in a .env file (it needs every kind of quote)"
    ))
}

/// A key dotenv reads: `[A-Za-z0-9_.-]+`.
fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
}

/// `value` as it is written after `=`: bare when dotenv reads it back as it is, else in
/// the first quotes that carry it.
fn encode(value: &str) -> Option<String> {
    let bare =
        !value.contains(['#', '\n', '\r']) && value.trim() == value && !value.starts_with(['\'', '"', '`']);
    if bare {
        return Some(value.to_string());
    }
    ['\'', '"', '`'].into_iter().find_map(|quote| quoted(value, quote))
}

/// `value` in `quote`s, when dotenv reads exactly `value` back from that.
fn quoted(value: &str, quote: char) -> Option<String> {
    if value.contains(quote) {
        return None;
    }
    if quote == '"' {
        // `\n` and `\r` are a newline and a carriage return inside double quotes.
        if value.contains("\\n") || value.contains("\\r") {
            return None;
        }
        return Some(format!("\"{}\"", value.replace('\n', "\\n").replace('\r', "\\r")));
    }
    if value.contains(['\n', '\r']) {
        return None;
    }
    Some(format!("{quote}{value}{quote}"))
}

/// JavaScript's `\s`, spelled out (Rust's differs at U+0085 and U+FEFF).
const JS_SPACE: &str =
    r"[\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]";

/// dotenv 16's `LINE` pattern (`lib/main.js`), with `\w`, `\s` and `.` as JavaScript reads
/// them (every `S` below is JavaScript's `\s`).
fn line_pattern() -> &'static regex::Regex {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| {
        let pattern = r#"(?m)^S*(?:exportS+)?([0-9A-Za-z_.-]+)(S*=S*?|:S+?)(S*'(?:\\'|[^'])*'|S*"(?:\\"|[^"])*"|S*`(?:\\`|[^`])*`|[^#\r\n]+)?S*(?:#[^\n\r\x{2028}\x{2029}]*)?$"#
            .replace('S', JS_SPACE);
        regex::Regex::new(&pattern).unwrap_or_else(|error| unreachable!("the dotenv pattern: {error}"))
    })
}

/// Every assignment of `text`, in order, found as dotenv finds them (on the text with
/// every CR made a LF, as dotenv does first; offsets stay the same).
fn scan(text: &str) -> Vec<Assignment> {
    let normalised = text.replace('\r', "\n");
    let bytes = normalised.as_bytes();
    let mut out = Vec::new();
    for captures in line_pattern().captures_iter(&normalised) {
        let (Some(key), Some(separator)) = (captures.get(1), captures.get(2)) else { continue };
        // The value as dotenv trims it (JavaScript's `trim()`); right after the separator
        // when there is none.
        let value = captures.get(3).map_or(separator.end()..separator.end(), |value| {
            let raw = value.as_str();
            let after_leading = raw.trim_start_matches(is_js_space);
            let start = value.start() + (raw.len() - after_leading.len());
            start..start + after_leading.trim_end_matches(is_js_space).len()
        });
        let line_start = memchr::memrchr(b'\n', &bytes[..key.start()]).map_or(0, |at| at + 1);
        // To the end of the value's last line (the match itself may run on over blank and
        // comment lines after it).
        let last = value.end.max(separator.end());
        let line_end = memchr::memchr(b'\n', &bytes[last..]).map_or(bytes.len(), |at| last + at + 1);
        out.push(Assignment { key: key.as_str().to_string(), value, lines: line_start..line_end });
    }
    out
}

fn is_js_space(character: char) -> bool {
    matches!(
        character,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

/// What dotenv makes of a value as written (already trimmed): the first and last quote
/// taken off each run that starts a line with a quote and ends one with the same quote
/// (its `/^(['"`])([\s\S]*)\1$/mg`), then `\n` and `\r` in a double-quoted value.
fn decode(raw: &str) -> String {
    // dotenv reads the text with every CR a LF (a CRLF is one LF already here).
    let normalised;
    let raw = if raw.contains('\r') {
        normalised = raw.replace('\r', "\n");
        normalised.as_str()
    } else {
        raw
    };
    let double = raw.starts_with('"');
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut at = 0;
    let mut copied = 0;
    while at < bytes.len() {
        let line_start = at == 0 || bytes[at - 1] == b'\n';
        if let (true, Some(&quote)) =
            (line_start, bytes.get(at).filter(|byte| matches!(byte, b'\'' | b'"' | b'`')))
        {
            // The greedy `[\s\S]*`: the last quote that ends a line.
            let close = (at + 1..bytes.len()).rev().find(|&index| {
                bytes[index] == quote && (index + 1 == bytes.len() || bytes[index + 1] == b'\n')
            });
            if let Some(close) = close {
                out.push_str(&raw[copied..at]);
                out.push_str(&raw[at + 1..close]);
                at = close + 1;
                copied = at;
                continue;
            }
        }
        at += 1;
    }
    out.push_str(&raw[copied..]);
    if double { out.replace("\\n", "\n").replace("\\r", "\r") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn reads_what_dotenv_reads() {
        let text = "# comment\nexport A=1\nB = two words # note\nC='x # y'\nD=\"l1\\nl2\"\nE=\nF: colon\nG=`tick`\n  H=\"multi\nline\"\nnot a line\n#I=commented\nA=last\n";
        let body = EnvBody::parse(text);
        assert_eq!(
            body.entries(),
            vec![
                ("A".into(), "last".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x # y".into()),
                ("D".into(), "l1\nl2".into()),
                ("E".into(), String::new()),
                ("F".into(), "colon".into()),
                ("G".into(), "tick".into()),
                ("H".into(), "multi\nline".into()),
            ]
        );
        assert_eq!(body.get("I"), None);
    }

    #[test]
    fn set_then_remove_of_a_new_key_gives_back_the_text() {
        for text in ["", "A=1\n", "A=1", "# only a comment", "A=1\n\n", "export A=\"q\"\n# tail"] {
            let mut body = EnvBody::parse(text);
            assert!(body.set("GEMINI_API_KEY", "tok-123").unwrap());
            assert_eq!(body.get("GEMINI_API_KEY").as_deref(), Some("tok-123"), "{text:?}");
            assert_eq!(body.get("A").as_deref(), EnvBody::parse(text).get("A").as_deref());
            assert_eq!(body.remove("GEMINI_API_KEY").unwrap().as_deref(), Some("tok-123"));
            assert_eq!(body.text(), text);
        }
        let mut body = EnvBody::parse("A=1");
        body.set("B", "2").unwrap();
        assert_eq!(body.text(), "A=1\nB=2");
        let mut body = EnvBody::parse("A=1\n");
        body.set("B", "2").unwrap();
        assert_eq!(body.text(), "A=1\nB=2\n");
    }

    #[test]
    fn an_existing_key_changes_in_place_keeping_export_spacing_comment_and_quotes() {
        let mut body = EnvBody::parse("export KEY = \"old\" # mine\nOTHER=x\nKEY=shadowed-first\n");
        // The last assignment is the one that counts: it changes.
        body.set("KEY", "new").unwrap();
        assert_eq!(body.text(), "export KEY = \"old\" # mine\nOTHER=x\nKEY=new\n");
        let mut body = EnvBody::parse("export KEY = \"old\" # mine\nOTHER=x\n");
        body.set("KEY", "http://127.0.0.1:8787").unwrap();
        assert_eq!(body.text(), "export KEY = \"http://127.0.0.1:8787\" # mine\nOTHER=x\n");
        body.set("KEY", "old").unwrap();
        assert_eq!(body.text(), "export KEY = \"old\" # mine\nOTHER=x\n");
        // Removing takes every assignment.
        let mut body = EnvBody::parse("K=1\nA=a\nK=2\n");
        assert_eq!(body.remove("K").unwrap().as_deref(), Some("2"));
        assert_eq!(body.text(), "A=a\n");
        assert_eq!(body.remove("K"), Ok(None));
    }

    #[test]
    fn values_are_quoted_only_when_needed_and_read_back_as_set() {
        for (value, written) in [
            ("plain-token_1.2/3", "plain-token_1.2/3"),
            ("", ""),
            ("has # hash", "'has # hash'"),
            (" padded", "' padded'"),
            ("it's", "it's"),
            ("'start", "\"'start\""),
            ("two\nlines", "\"two\\nlines\""),
            ("'\"", "`'\"`"),
        ] {
            let mut body = EnvBody::parse("");
            body.set("K", value).unwrap();
            assert_eq!(body.text(), format!("K={written}\n"), "{value:?}");
            assert_eq!(EnvBody::parse(body.text()).get("K").as_deref(), Some(value), "{value:?}");
        }
        let mut body = EnvBody::parse("");
        assert!(body.set("K", "'\"`").is_err());
        assert!(body.set("BAD KEY", "v").is_err());
    }

    /// Through [`super::super::Document`]: BOM, CRLF and a missing final newline kept.
    #[test]
    fn documents_keep_crlf_comments_and_every_other_byte() {
        use super::super::{Document, Format};
        use serde_json::json;
        let path = std::path::Path::new(".env");
        let input = "\u{feff}# my keys\r\nexport GEMINI_API_KEY=\"mine\" # personal\r\nOTHER=1";
        let mut document = Document::parse(input.as_bytes(), Format::Dotenv, path).unwrap();
        assert_eq!(document.to_bytes(), input.as_bytes());
        assert_eq!(document.get(&["GEMINI_API_KEY"]), Some(json!("mine")));
        assert_eq!(document.keys(&[]), vec!["GEMINI_API_KEY", "OTHER"]);
        document.set(&["GEMINI_API_KEY"], &json!("tok")).unwrap();
        document.set(&["GOOGLE_GEMINI_BASE_URL"], &json!("http://127.0.0.1:8787")).unwrap();
        let edited = String::from_utf8(document.to_bytes()).unwrap();
        assert_eq!(
            edited,
            "\u{feff}# my keys\r\nexport GEMINI_API_KEY=\"tok\" # personal\r\nOTHER=1\r\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8787"
        );
        let mut again = Document::parse(edited.as_bytes(), Format::Dotenv, path).unwrap();
        again.set(&["GEMINI_API_KEY"], &json!("mine")).unwrap();
        assert_eq!(again.remove(&["GOOGLE_GEMINI_BASE_URL"]).unwrap(), Some(json!("http://127.0.0.1:8787")));
        assert_eq!(String::from_utf8(again.to_bytes()).unwrap(), input);
        assert!(again.set(&["A", "B"], &json!("x")).is_err());
        assert!(again.set(&["A"], &json!(1)).is_err());
        assert_eq!(again.to_bytes(), input.as_bytes(), "a refused set changes nothing");

        let mut fresh = Document::new_empty(Format::Dotenv);
        fresh.set(&["GEMINI_API_KEY"], &json!("tok")).unwrap();
        assert_eq!(fresh.to_bytes(), b"GEMINI_API_KEY=tok\n");
        fresh.remove(&["GEMINI_API_KEY"]).unwrap();
        assert_eq!(fresh.to_bytes(), b"");
        let blank = Document::parse(b"\n\n", Format::Dotenv, path).unwrap();
        assert_eq!(blank.to_value(), json!({}));
    }

    /// 300 random texts with what dotenv itself read from them
    /// (`tests/fixtures/gemini/dotenv-cases.gen.js` made them): the same entries, and on
    /// each a set of realistic values that reads back, and set then remove of a new key
    /// that gives back the text.
    #[test]
    fn reads_as_dotenv_does_and_edits_keep_every_other_key() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/dotenv-cases.json");
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(&fs_err::read_to_string(path).unwrap()).unwrap();
        for case in &cases {
            // A CRLF is one LF already when the document layer hands the text over.
            let input = case["text"].as_str().unwrap().replace("\r\n", "\n");
            let want: Vec<(String, String)> = case["parsed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| (pair[0].as_str().unwrap().to_string(), pair[1].as_str().unwrap().to_string()))
                .collect();
            assert_eq!(EnvBody::parse(&input).entries(), want, "{input:?}");
            for (key, value) in [("A", "tok-1"), ("K.e-y", "http://127.0.0.1:8787"), ("GEMINI_API_KEY", "t")]
            {
                let mut body = EnvBody::parse(&input);
                let had = body.get(key);
                body.set(key, value).unwrap_or_else(|error| panic!("{key} in {input:?}: {error:?}"));
                assert_eq!(body.get(key).as_deref(), Some(value), "{input:?}");
                if had.is_none() {
                    body.remove(key).unwrap();
                    assert_eq!(body.text(), input, "set then remove {key} in {input:?}");
                }
            }
        }
    }

    #[test]
    fn an_edit_that_would_change_another_key_is_refused_and_changes_nothing() {
        // `x`'s unclosed quote would close inside a value that needs a `"`.
        let mut body = EnvBody::parse("x: \"\n");
        assert!(body.set("NEW", "v a'l\"").is_err());
        assert_eq!(body.text(), "x: \"\n");
        // An empty value with a line after it gets its value in place.
        let mut body = EnvBody::parse("GEMINI_API_KEY=\n\n# keys\nB=1\n");
        body.set("GEMINI_API_KEY", "tok").unwrap();
        assert_eq!(body.text(), "GEMINI_API_KEY=tok\n\n# keys\nB=1\n");
        body.remove("GEMINI_API_KEY").unwrap();
        assert_eq!(body.text(), "\n# keys\nB=1\n", "only its own line goes");
    }
}
