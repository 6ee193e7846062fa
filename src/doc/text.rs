//! The byte layer under every document: BOM, line endings, UTF-8, and rebuilding the
//! output from the original bytes.
//!
//! Invariants:
//! - The parsers only ever see LF-normalised text without a BOM ([`Decoded::text`]).
//! - [`rebuild`] returns the original bytes when the normalised text did not change, and
//!   otherwise reuses every unchanged original line verbatim (with its own line ending);
//!   a line edited in place keeps the ending of the line it replaces, and only lines
//!   that are new take the file's dominant ending.

use std::borrow::Cow;

use similar::{Algorithm, DiffTag, capture_diff_slices};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The line ending new lines get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eol {
    Lf,
    CrLf,
}

impl Eol {
    fn as_str(self) -> &'static str {
        match self {
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
        }
    }
}

/// A file's bytes split into what the parsers see and what must be put back.
#[derive(Debug, Clone)]
pub(crate) struct Decoded<'src> {
    /// Whether the file started with a UTF-8 BOM (stripped from `text`).
    pub(crate) bom: bool,
    /// The text after the BOM, exactly as in the file (line endings untouched): borrowed
    /// from the caller's bytes when it can be, so a large file is not copied.
    pub(crate) raw: Cow<'src, str>,
    /// `raw` with every CRLF turned into LF, the parsers' input; `None` when that is
    /// `raw` itself (no CRLF in the file), so a large file is held once.
    pub(crate) text: Option<String>,
    /// The ending most lines use: CRLF when more lines end in CRLF than in LF.
    pub(crate) eol: Eol,
}

impl Decoded<'_> {
    /// The LF-normalised text the parsers see.
    pub(crate) fn text(&self) -> &str {
        self.text.as_deref().unwrap_or(&self.raw)
    }
}

/// The length of the common prefix of `a` and `b`, compared a block at a time.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let length = a.len().min(b.len());
    let mut at = 0;
    while at + BLOCK <= length && a[at..at + BLOCK] == b[at..at + BLOCK] {
        at += BLOCK;
    }
    at + a[at..length].iter().zip(&b[at..length]).take_while(|(x, y)| x == y).count()
}

/// The length of the common suffix of `a` and `b`, at most `limit`.
pub fn common_suffix(a: &[u8], b: &[u8], limit: usize) -> usize {
    const BLOCK: usize = 256;
    let length = a.len().min(b.len()).min(limit);
    let (a_end, b_end) = (a.len(), b.len());
    let mut matched = 0;
    while matched + BLOCK <= length
        && a[a_end - matched - BLOCK..a_end - matched] == b[b_end - matched - BLOCK..b_end - matched]
    {
        matched += BLOCK;
    }
    matched
        + a[..a_end - matched]
            .iter()
            .rev()
            .zip(b[..b_end - matched].iter().rev())
            .take(length - matched)
            .take_while(|(x, y)| x == y)
            .count()
}

/// Where decoding failed: 1-based line and column, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeFailure {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
    pub(crate) kind: DecodeFailureKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeFailureKind {
    NotUtf8,
    Nul,
    /// A second BOM right after the first: refused as a syntax error.
    DoubleBom,
}

/// Strip the BOM, check UTF-8 and NUL (unless `nul` is false: for a parser that refuses
/// a NUL anywhere itself, see [`nul_failure`]), and normalise line endings, borrowing
/// `bytes`.
pub(crate) fn decode(bytes: &[u8], nul: bool) -> Result<Decoded<'_>, DecodeFailure> {
    let (bom, rest) = split_bom(bytes)?;
    let raw = match std::str::from_utf8(rest) {
        Ok(raw) => raw,
        Err(error) => return Err(not_utf8(rest, &error)),
    };
    finish(bom, Cow::Borrowed(raw), nul)
}

/// [`decode`], taking ownership of `bytes` (no copy, but for a BOM).
pub(crate) fn decode_owned(mut bytes: Vec<u8>, nul: bool) -> Result<Decoded<'static>, DecodeFailure> {
    let (bom, _) = split_bom(&bytes)?;
    if bom {
        bytes.drain(..UTF8_BOM.len());
    }
    let raw = match String::from_utf8(bytes) {
        Ok(raw) => raw,
        Err(error) => return Err(not_utf8(error.as_bytes(), &error.utf8_error())),
    };
    finish(bom, Cow::Owned(raw), nul)
}

fn split_bom(bytes: &[u8]) -> Result<(bool, &[u8]), DecodeFailure> {
    let (bom, rest) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    if rest.starts_with(UTF8_BOM) {
        // A second BOM is text (U+FEFF) no format allows there; dropping it would change
        // the file.
        return Err(DecodeFailure {
            line: 1,
            column: 1,
            message: "the file starts with two byte order marks (U+FEFF)".to_string(),
            kind: DecodeFailureKind::DoubleBom,
        });
    }
    Ok((bom, rest))
}

fn not_utf8(rest: &[u8], error: &std::str::Utf8Error) -> DecodeFailure {
    let valid = &rest[..error.valid_up_to()];
    // The valid prefix is UTF-8 by construction.
    let prefix = String::from_utf8_lossy(valid);
    let (line, column) = line_column(&prefix, prefix.len());
    let bad_byte = rest.get(error.valid_up_to()).copied().unwrap_or_default();
    DecodeFailure {
        line,
        column,
        message: format!("the file is not valid UTF-8 (byte 0x{bad_byte:02x})"),
        kind: DecodeFailureKind::NotUtf8,
    }
}

/// The refusal of the first NUL byte of `text`, if it has one.
pub(crate) fn nul_failure(text: &str) -> Option<DecodeFailure> {
    let offset = memchr::memchr(0, text.as_bytes())?;
    let (line, column) = line_column(text, offset);
    Some(DecodeFailure {
        line,
        column,
        message: "the file contains a NUL byte".to_string(),
        kind: DecodeFailureKind::Nul,
    })
}

fn finish(bom: bool, raw: Cow<'_, str>, nul: bool) -> Result<Decoded<'_>, DecodeFailure> {
    if let Some(failure) = nul.then(|| nul_failure(&raw)).flatten() {
        return Err(failure);
    }
    // Most files have no CR at all: one fast search instead of counting every line.
    let (eol, text) = if memchr::memchr(b'\r', raw.as_bytes()).is_none() {
        (Eol::Lf, None)
    } else {
        let crlf_lines = memchr::memmem::find_iter(raw.as_bytes(), b"\r\n").count();
        let lf_lines = memchr::memchr_iter(b'\n', raw.as_bytes()).count() - crlf_lines;
        let eol = if crlf_lines > lf_lines { Eol::CrLf } else { Eol::Lf };
        (eol, (crlf_lines > 0).then(|| raw.replace("\r\n", "\n")))
    };
    Ok(Decoded { bom, raw, text, eol })
}

/// 1-based line and column (in characters) of a byte offset into `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before.get(line_start..).map_or(0, |rest| rest.chars().count()) + 1;
    (line, column)
}

/// The bytes to write for `new_text` (LF-normalised), given what was read.
///
/// Unchanged text gives back the original bytes. Otherwise the normalised old and new
/// texts are diffed line by line; equal runs copy the original lines (each with its own
/// ending), inserted and replaced lines use the dominant ending. The BOM is re-added if
/// the file had one.
pub(crate) fn rebuild(decoded: &Decoded<'_>, new_text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(new_text.len() + 8);
    if decoded.bom {
        out.extend_from_slice(UTF8_BOM);
    }
    // Without a CRLF the original lines are the normalised ones, and every line the diff
    // below would write ends in LF as in `new_text`: the result is `new_text` itself.
    if decoded.text.is_none() || new_text == decoded.text() {
        out.extend_from_slice(if decoded.text.is_none() { new_text } else { &decoded.raw }.as_bytes());
        return out;
    }
    // Lines the old and new texts share at both ends are copied as they are without
    // diffing them (an edit of a 20 MB file touches a few lines).
    let (old_text, new_text_middle) = (decoded.text().as_bytes(), new_text.as_bytes());
    let mut prefix = common_prefix(old_text, new_text_middle);
    prefix = memchr::memrchr(b'\n', &old_text[..prefix]).map_or(0, |index| index + 1);
    let limit = old_text.len().min(new_text_middle.len()) - prefix;
    let mut suffix = common_suffix(old_text, new_text_middle, limit);
    // Keep whole lines: the suffix starts right after a newline (or is empty).
    while suffix > 0 && suffix < old_text.len() && old_text[old_text.len() - suffix - 1] != b'\n' {
        suffix -= 1;
    }
    let prefix_lines = memchr::memchr_iter(b'\n', &old_text[..prefix]).count();
    let suffix_newlines = memchr::memchr_iter(b'\n', &old_text[old_text.len() - suffix..]).count();
    // The raw text has the same newlines (a CRLF is one), so count them off both ends.
    let raw = decoded.raw.as_bytes();
    let raw_prefix = match prefix_lines {
        0 => 0,
        lines => memchr::memchr_iter(b'\n', raw).nth(lines - 1).map_or(raw.len(), |index| index + 1),
    };
    let raw_suffix_start = if suffix == 0 {
        raw.len()
    } else {
        memchr::memrchr_iter(b'\n', raw).nth(suffix_newlines).map_or(0, |index| index + 1)
    };
    out.extend_from_slice(&raw[..raw_prefix]);
    let decoded_middle = Decoded {
        bom: false,
        raw: Cow::Borrowed(decoded.raw.get(raw_prefix..raw_suffix_start).unwrap_or_default()),
        text: Some(decoded.text().get(prefix..decoded.text().len() - suffix).unwrap_or_default().to_string()),
        eol: decoded.eol,
    };
    let new_middle = new_text.get(prefix..new_text.len() - suffix).unwrap_or_default();
    diff_lines(&decoded_middle, new_middle, &mut out);
    out.extend_from_slice(&raw[raw_suffix_start..]);
    out
}

/// The line diff of `decoded` (a run of whole lines) against `new_text`, into `out`.
fn diff_lines(decoded: &Decoded<'_>, new_text: &str, out: &mut Vec<u8>) {
    // Split on LF only (similar's own line splitter also breaks at a lone CR, which would
    // misalign the normalised lines with the original ones).
    let original_lines: Vec<&str> = decoded.raw.split_inclusive('\n').collect();
    let old_lines: Vec<&str> = decoded.text().split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new_text.split_inclusive('\n').collect();
    for operation in capture_diff_slices(Algorithm::Myers, &old_lines, &new_lines) {
        let (tag, old_range, new_range) = operation.as_tag_tuple();
        match tag {
            DiffTag::Equal => {
                for line in original_lines.get(old_range).unwrap_or_default() {
                    out.extend_from_slice(line.as_bytes());
                }
            }
            DiffTag::Delete => {}
            DiffTag::Insert | DiffTag::Replace => {
                // A line edited in place (the n-th of a replaced run) keeps the ending of
                // the n-th line it replaces; extra lines take the dominant ending.
                let replaced = original_lines.get(old_range).unwrap_or_default();
                for (index, line) in new_lines.get(new_range).unwrap_or_default().iter().enumerate() {
                    match line.strip_suffix('\n') {
                        Some(content) => {
                            let ending = match replaced.get(index) {
                                Some(old) if old.ends_with("\r\n") => Eol::CrLf,
                                Some(old) if old.ends_with('\n') => Eol::Lf,
                                Some(_) | None => decoded.eol,
                            };
                            out.extend_from_slice(content.as_bytes());
                            out.extend_from_slice(ending.as_str().as_bytes());
                        }
                        None => out.extend_from_slice(line.as_bytes()),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn rebuilt(input: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
        let decoded = decode(input, true).unwrap();
        let new_text = edit(decoded.text());
        rebuild(&decoded, &new_text)
    }

    #[test]
    fn unchanged_text_gives_back_the_original_bytes() {
        let input = b"\xEF\xBB\xBFa = 1\r\nb = 2\nc = 3";
        assert_eq!(rebuilt(input, str::to_string), input.to_vec());
    }

    #[test]
    fn mixed_endings_survive_an_insert_and_new_lines_take_the_dominant_one() {
        let input = b"a\r\nb\nc\r\nd\r\n";
        let output = rebuilt(input, |text| text.replace("b\n", "b\nnew\n"));
        assert_eq!(String::from_utf8(output).unwrap(), "a\r\nb\nnew\r\nc\r\nd\r\n");
    }

    #[test]
    fn a_line_edited_in_place_keeps_its_own_ending() {
        let input = b"a\r\nb\nc\r\nd\r\n";
        let output = rebuilt(input, |text| text.replace("b\n", "B\nnew\n"));
        assert_eq!(String::from_utf8(output).unwrap(), "a\r\nB\nnew\r\nc\r\nd\r\n");
    }

    #[test]
    fn missing_final_newline_is_kept_when_the_last_line_is_untouched() {
        let input = b"a\nb";
        let output = rebuilt(input, |text| text.replace("a\n", "a\nx\n"));
        assert_eq!(String::from_utf8(output).unwrap(), "a\nx\nb");
    }

    #[test]
    fn bom_is_readded_after_an_edit() {
        let input = b"\xEF\xBB\xBFa\r\n";
        let output = rebuilt(input, |text| format!("{text}b\n"));
        assert_eq!(output, b"\xEF\xBB\xBFa\r\nb\r\n".to_vec());
    }

    #[test]
    fn not_utf8_reports_the_line_and_column_of_the_bad_byte() {
        let failure = decode(b"a = 1\nmodel = \"caf\xe9\"\n", true).unwrap_err();
        assert_eq!((failure.line, failure.column, failure.kind), (2, 13, DecodeFailureKind::NotUtf8));
    }

    #[test]
    fn nul_byte_is_refused_with_its_position() {
        let failure = decode(b"{\"m\":\"so\0n\"}", true).unwrap_err();
        assert_eq!((failure.line, failure.column, failure.kind), (1, 9, DecodeFailureKind::Nul));
    }
}
