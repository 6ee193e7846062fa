//! Reverse patches: how aigate undoes its own MCP edits byte for byte.
//!
//! When `mcp add` or `mcp disable` changes a file, the line hunks of that change are
//! recorded. `mcp remove` / `mcp enable` first try to apply them in reverse: each hunk's
//! new text must occur exactly once (on line boundaries) in the current file, and is put
//! back to its old text. If any hunk does not match (the user edited that spot), the
//! caller falls back to an ordinary semantic edit. The caller also checks that the
//! reversed file means what the semantic edit means, so a stale record can never do harm.
//!
//! Invariants: pure functions of their inputs; no I/O.

use serde::{Deserialize, Serialize};
use similar::TextDiff;

use crate::doc::NewBytes;

/// What it takes to undo one edit of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undo {
    /// The edit created the file: undoing it removes the file if it is still exactly what
    /// was written (the single hunk's `new`).
    pub created_file: bool,
    pub hunks: Vec<Hunk>,
    /// Keys the edit created that the semantic undo removes again once they are empty
    /// (for a disable, Gemini CLI's `mcp.excluded` and `mcp`; for an add, the containers
    /// it made for the server, such as a top-level `mcpServers`). The hunks undo them
    /// too; this is for when they no longer apply, and lets the semantic undo mean, byte
    /// for byte, what the hunks give.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_keys: Vec<Vec<String>>,
}

/// One changed region with up to [`CONTEXT`] lines of context on each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hunk {
    pub before: Vec<String>,
    pub old: String,
    pub new: String,
    pub after: Vec<String>,
}

/// Lines of context recorded around each change.
pub const CONTEXT: usize = 3;

/// The undo record of an edit from `old` to `new` (`None`: the file did not exist / is
/// removed). `None` when nothing changed or the changed lines are not UTF-8.
pub fn record(old: Option<&[u8]>, new: Option<&[u8]>) -> Option<Undo> {
    let new_bytes = new?;
    let Some(old_bytes) = old else {
        return Some(Undo {
            created_file: true,
            hunks: vec![Hunk {
                before: Vec::new(),
                old: String::new(),
                new: std::str::from_utf8(new_bytes).ok()?.to_string(),
                after: Vec::new(),
            }],
            created_keys: Vec::new(),
        });
    };
    if old_bytes == new_bytes {
        return None;
    }
    // Only the lines around the change are read and diffed: the common start and end of
    // a large file are skipped at memcmp speed.
    let prefix = crate::doc::common_prefix(old_bytes, new_bytes);
    let suffix =
        crate::doc::common_suffix(old_bytes, new_bytes, old_bytes.len().min(new_bytes.len()) - prefix);
    record_between(old_bytes, new_bytes, prefix, suffix)
}

/// [`record`] of an edit given as [`NewBytes`]: a splice of `old` is recorded from the
/// splice alone, without putting the new file together or comparing the two.
pub fn record_new(old: Option<&[u8]>, new: &NewBytes) -> Option<Undo> {
    match (old, new) {
        (Some(old), NewBytes::Spliced { range, with })
            if range.start <= range.end && range.end <= old.len() =>
        {
            if old[range.clone()] == with[..] {
                return None;
            }
            let start = lines_back(old, range.start, CONTEXT + 1);
            let end = lines_forward(old, range.end, CONTEXT + 1);
            let old_text = std::str::from_utf8(&old[start..end]).ok()?;
            let new_text = [&old[start..range.start], with, &old[range.end..end]].concat();
            let hunks = hunks(old_text, std::str::from_utf8(&new_text).ok()?);
            Some(Undo { created_file: false, hunks, created_keys: Vec::new() })
        }
        (_, NewBytes::Whole(bytes)) => record(old, Some(bytes)),
        (_, spliced) => record(old, Some(&spliced.parts(old).concat())),
    }
}

/// The record of an edit whose first `prefix` and last `suffix` bytes are the same in
/// `old` and `new`. The window keeps more than CONTEXT equal lines on each side of the
/// change, so the hunks are the ones a diff of the whole texts gives.
fn record_between(old_bytes: &[u8], new_bytes: &[u8], prefix: usize, suffix: usize) -> Option<Undo> {
    let start = lines_back(old_bytes, prefix, CONTEXT + 1);
    let old_end = lines_forward(old_bytes, old_bytes.len() - suffix, CONTEXT + 1);
    let new_end = new_bytes.len() - (old_bytes.len() - old_end);
    let old_text = std::str::from_utf8(old_bytes.get(start..old_end)?).ok()?;
    let new_text = std::str::from_utf8(new_bytes.get(start..new_end)?).ok()?;
    let hunks = hunks(old_text, new_text);
    Some(Undo { created_file: false, hunks, created_keys: Vec::new() })
}

/// The hunks of a line diff from `old_text` to `new_text`.
fn hunks(old_text: &str, new_text: &str) -> Vec<Hunk> {
    let diff = TextDiff::configure().algorithm(similar::Algorithm::Myers).diff_lines(old_text, new_text);
    let old_lines = diff.old_slices();
    let new_lines = diff.new_slices();
    let lines = |slice: &[&str], range: std::ops::Range<usize>| -> Vec<String> {
        slice.get(range).unwrap_or_default().iter().map(ToString::to_string).collect()
    };
    let mut hunks = Vec::new();
    for group in diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
        let leading = if first.tag() == similar::DiffTag::Equal { first.old_range().len() } else { 0 };
        let trailing =
            if last.tag() == similar::DiffTag::Equal && group.len() > 1 { last.old_range().len() } else { 0 };
        let old_start = first.old_range().start;
        let old_end = last.old_range().end;
        let new_start = first.new_range().start;
        let new_end = last.new_range().end;
        hunks.push(Hunk {
            before: lines(old_lines, old_start..old_start + leading),
            old: lines(old_lines, old_start + leading..old_end - trailing).concat(),
            new: lines(new_lines, new_start + leading..new_end - trailing).concat(),
            after: lines(old_lines, old_end - trailing..old_end),
        });
    }
    hunks
}

/// `current` with the recorded edit undone: `Some(None)` means "remove the file",
/// `None` means the record no longer applies.
///
/// Each hunk is tried with all its context first, then with less (an edit next to it may
/// have changed a context line); the caller checks the result means what it should. One
/// hunk (one server added or disabled) gives a splice of `current`, so a large file is
/// neither copied nor rebuilt for it. The hunks are matched as bytes: a file that is not
/// UTF-8 is the semantic edit's to refuse.
pub fn reverse(undo: &Undo, current: Option<&[u8]>) -> Option<Option<NewBytes>> {
    let current = current?;
    if undo.created_file {
        let created = undo.hunks.first()?;
        return (current == created.new.as_bytes()).then_some(None);
    }
    // Later hunks first, so a match is searched in text the earlier hunks have not moved.
    let mut hunks = undo.hunks.iter().rev();
    let Some(last) = hunks.next() else { return Some(Some(NewBytes::unchanged())) };
    let (range, with) = undo_hunk(current, last)?;
    let mut reversed = NewBytes::Spliced { range, with };
    for hunk in hunks {
        let mut text = reversed.into_vec(Some(current));
        let (range, with) = undo_hunk(&text, hunk)?;
        text.splice(range, with);
        reversed = NewBytes::Whole(text);
    }
    Some(Some(reversed))
}

/// Where `hunk`'s new text (with as much of its context as still matches) is in `text`,
/// and what goes back there.
fn undo_hunk(text: &[u8], hunk: &Hunk) -> Option<(std::ops::Range<usize>, Vec<u8>)> {
    let mut choices = context_choices(hunk.before.len(), hunk.after.len());
    if !hunk.new.is_empty() {
        choices.push((0, 0));
    }
    choices.into_iter().find_map(|(before, after)| {
        let prefix = hunk.before[hunk.before.len() - before..].concat();
        let suffix = hunk.after[..after].concat();
        let needle = format!("{prefix}{}{suffix}", hunk.new);
        let at = unique_line_match(text, needle.as_bytes())?;
        Some((at..at + needle.len(), format!("{prefix}{}{suffix}", hunk.old).into_bytes()))
    })
}

/// The start of the line `count` lines before the one `at` is on (or 0).
fn lines_back(bytes: &[u8], at: usize, count: usize) -> usize {
    let mut start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |index| index + 1);
    for _ in 0..count {
        if start == 0 {
            break;
        }
        start = memchr::memrchr(b'\n', &bytes[..start - 1]).map_or(0, |index| index + 1);
    }
    start
}

/// Just past the `count`-th line end from `at` (or the end).
fn lines_forward(bytes: &[u8], at: usize, count: usize) -> usize {
    let mut end = at;
    for _ in 0..count {
        match memchr::memchr(b'\n', &bytes[end..]) {
            Some(index) => end += index + 1,
            None => return bytes.len(),
        }
    }
    end
}

/// (lines before, lines after) to try, most context first; never both zero. At equal
/// totals the context after the change is preferred: when a neighbour that was removed
/// next to it has come back, the following lines still pin the original position.
fn context_choices(before: usize, after: usize) -> Vec<(usize, usize)> {
    let mut choices = Vec::new();
    for total in (1..=before + after).rev() {
        for take_before in 0..=before.min(total) {
            let take_after = total - take_before;
            if take_after <= after {
                choices.push((take_before, take_after));
            }
        }
    }
    choices
}

/// The offset of the only occurrence of `needle` that starts and ends on line boundaries
/// (occurrences counted without overlap, left to right).
fn unique_line_match(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let mut found = None;
    for offset in memchr::memmem::find_iter(haystack, needle) {
        let starts_line = offset == 0 || haystack.get(offset - 1) == Some(&b'\n');
        let end = offset + needle.len();
        let ends_line = end == haystack.len() || needle.ends_with(b"\n");
        if starts_line && ends_line {
            if found.is_some() {
                return None;
            }
            found = Some(offset);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// [`reverse`] as whole bytes.
    #[expect(clippy::option_option, reason = "as `reverse`: does not apply / no file / these bytes")]
    fn undone(undo: &Undo, current: &[u8]) -> Option<Option<Vec<u8>>> {
        reverse(undo, Some(current)).map(|reversed| reversed.map(|new| new.into_vec(Some(current))))
    }

    #[test]
    fn reverse_undoes_an_edit_even_after_unrelated_edits_elsewhere() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nb\nc\nd\nNEW\ne\nf\ng\nh\ni\nj\n";
        let undo = record(Some(old.as_bytes()), Some(new.as_bytes())).unwrap();
        let edited_elsewhere = new.replace("a\n", "A\n").replace("j\n", "J\n");
        let reversed = undone(&undo, edited_elsewhere.as_bytes()).unwrap().unwrap();
        assert_eq!(String::from_utf8(reversed).unwrap(), old.replace("a\n", "A\n").replace("j\n", "J\n"));
        // Edited inside the hunk: no longer applies.
        assert_eq!(undone(&undo, new.replace("NEW", "CHANGED").as_bytes()), None);
    }

    #[test]
    fn an_adjacent_edit_that_changed_the_context_still_lets_it_apply() {
        let old = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3\n}\n";
        let without_a = "{\n  \"b\": 2,\n  \"c\": 3\n}\n";
        let without_ab = "{\n  \"c\": 3\n}\n";
        let undo_a = record(Some(old.as_bytes()), Some(without_a.as_bytes())).unwrap();
        let reversed = undone(&undo_a, without_ab.as_bytes()).unwrap().unwrap();
        assert_eq!(String::from_utf8(reversed).unwrap(), "{\n  \"a\": 1,\n  \"c\": 3\n}\n");
    }

    #[test]
    fn a_record_of_a_large_file_has_the_hunks_a_whole_diff_gives() {
        let lines: Vec<String> = (0..5000).map(|index| format!("line {}\n", index % 7)).collect();
        let old = lines.concat();
        let mut edited = lines;
        edited.insert(2500, "new a\n".to_string());
        edited[2503] = "changed\n".to_string();
        edited.insert(4998, "line 1\n".to_string());
        let new = edited.concat();
        let undo = record(Some(old.as_bytes()), Some(new.as_bytes())).unwrap();
        assert_eq!(undo.hunks, hunks(&old, &new));
        assert_eq!(undo.hunks.len(), 2);
        // Given as a splice (here: wider than the change), the same record. (Lines are
        // 7 bytes: from line 2000 to the last 3 bytes.)
        let range = 2000 * 7..old.len() - 3;
        let with = new.as_bytes()[range.start..new.len() - 3].to_vec();
        let spliced = NewBytes::Spliced { range, with };
        assert!(spliced.is(Some(old.as_bytes()), new.as_bytes()));
        assert_eq!(record_new(Some(old.as_bytes()), &spliced), Some(undo.clone()));
        assert_eq!(undone(&undo, new.as_bytes()), Some(Some(old.as_bytes().to_vec())));
        // A change on the first and last lines.
        let new = format!("first\n{}last", &old[..old.len() - 1]);
        let undo = record(Some(old.as_bytes()), Some(new.as_bytes())).unwrap();
        assert_eq!(undo.hunks, hunks(&old, &new));
        assert_eq!(undone(&undo, new.as_bytes()), Some(Some(old.as_bytes().to_vec())));
    }

    #[test]
    fn a_created_file_is_removed_only_while_unchanged() {
        let undo = record(None, Some(b"{}\n")).unwrap();
        assert_eq!(undone(&undo, b"{}\n"), Some(None));
        assert_eq!(undone(&undo, b"{ }\n"), None);
    }

    #[test]
    fn one_hunk_is_undone_as_a_splice_of_the_file() {
        let old = "{\n  \"a\": 1,\n  \"b\": 2\n}\n";
        let new = "{\n  \"a\": 1,\n  \"web\": 3,\n  \"b\": 2\n}\n";
        let undo = record(Some(old.as_bytes()), Some(new.as_bytes())).unwrap();
        let Some(Some(NewBytes::Spliced { range, with })) = reverse(&undo, Some(new.as_bytes())) else {
            panic!("not a splice")
        };
        let mut undone = new.as_bytes().to_vec();
        undone.splice(range, with);
        assert_eq!(String::from_utf8(undone).unwrap(), old);
    }

    #[test]
    fn a_hunk_found_twice_on_line_boundaries_does_not_apply() {
        let old = "x\ny\n";
        let new = "x\nz\ny\n";
        let undo = record(Some(old.as_bytes()), Some(new.as_bytes())).unwrap();
        // The hunk's text (with all of its context) now occurs twice: no longer known where.
        let twice = format!("{new}{new}");
        assert_eq!(undone(&undo, twice.as_bytes()), None);
        // Occurrences are counted left to right without overlap, as `str::match_indices`
        // counted them before: "a\na\n" counts once in "a\na\na\n" (the match at 2
        // overlaps the one at 0). Whatever is taken, the caller checks what it means.
        assert_eq!(unique_line_match(b"a\na\na\n", b"a\na\n"), Some(0));
        assert_eq!(unique_line_match(b"ba\na\n", b"a\n"), Some(3));
    }
}
