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

/// What it takes to undo one edit of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undo {
    /// The edit created the file: undoing it removes the file if it is still exactly what
    /// was written (the single hunk's `new`).
    pub created_file: bool,
    pub hunks: Vec<Hunk>,
    /// Keys the edit created that the semantic undo removes again once they are empty
    /// (Gemini CLI's `mcp.excluded` and `mcp`), for when the hunks no longer apply.
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
/// removed). `None` when either side is not UTF-8 or nothing changed.
pub fn record(old: Option<&[u8]>, new: Option<&[u8]>) -> Option<Undo> {
    let new_text = std::str::from_utf8(new?).ok()?;
    let Some(old) = old else {
        return Some(Undo {
            created_file: true,
            hunks: vec![Hunk {
                before: Vec::new(),
                old: String::new(),
                new: new_text.to_string(),
                after: Vec::new(),
            }],
            created_keys: Vec::new(),
        });
    };
    let old_text = std::str::from_utf8(old).ok()?;
    if old_text == new_text {
        return None;
    }
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
    Some(Undo { created_file: false, hunks, created_keys: Vec::new() })
}

/// The undo record of inserting `new[inserted]` into `old` (nothing else changed),
/// computed around the insertion only, without diffing the whole file.
pub fn record_insert(old: &[u8], new: &[u8], inserted: std::ops::Range<usize>) -> Option<Undo> {
    let old_text = std::str::from_utf8(old).ok()?;
    let new_text = std::str::from_utf8(new).ok()?;
    let at = inserted.start;
    let line_start = old_text.get(..at)?.rfind('\n').map_or(0, |index| index + 1);
    let line_end = old_text.get(at..)?.find('\n').map_or(old_text.len(), |index| at + index + 1);
    let before_text = old_text.get(..line_start)?;
    let before: Vec<String> = before_text
        .split_inclusive('\n')
        .rev()
        .take(CONTEXT)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let after: Vec<String> =
        old_text.get(line_end..)?.split_inclusive('\n').take(CONTEXT).map(ToString::to_string).collect();
    Some(Undo {
        created_file: false,
        hunks: vec![Hunk {
            before,
            old: old_text.get(line_start..line_end)?.to_string(),
            new: new_text.get(line_start..line_end + inserted.len())?.to_string(),
            after,
        }],
        created_keys: Vec::new(),
    })
}

/// `current` with the recorded edit undone: `Some(None)` means "remove the file",
/// `None` means the record no longer applies.
///
/// Each hunk is tried with all its context first, then with less (an edit next to it may
/// have changed a context line); the caller checks the result means what it should.
pub fn reverse(undo: &Undo, current: Option<&[u8]>) -> Option<Option<Vec<u8>>> {
    let current = std::str::from_utf8(current?).ok()?;
    if undo.created_file {
        let created = undo.hunks.first()?;
        return (current == created.new).then_some(None);
    }
    let mut text = current.to_string();
    // Later hunks first, so a match is searched in text the earlier hunks have not moved.
    for hunk in undo.hunks.iter().rev() {
        let mut applied = false;
        let mut choices = context_choices(hunk.before.len(), hunk.after.len());
        if !hunk.new.is_empty() {
            choices.push((0, 0));
        }
        for (before, after) in choices {
            let prefix = hunk.before[hunk.before.len() - before..].concat();
            let suffix = hunk.after[..after].concat();
            let needle = format!("{prefix}{}{suffix}", hunk.new);
            if let Some(at) = unique_line_match(&text, &needle) {
                text.replace_range(at..at + needle.len(), &format!("{prefix}{}{suffix}", hunk.old));
                applied = true;
                break;
            }
        }
        if !applied {
            return None;
        }
    }
    Some(Some(text.into_bytes()))
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

/// The offset of the only occurrence of `needle` that starts and ends on line boundaries.
fn unique_line_match(haystack: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let mut found = None;
    for (offset, _) in haystack.match_indices(needle) {
        let starts_line = offset == 0 || haystack.as_bytes().get(offset - 1) == Some(&b'\n');
        let end = offset + needle.len();
        let ends_line = end == haystack.len() || needle.ends_with('\n');
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

    #[test]
    fn reverse_undoes_an_edit_even_after_unrelated_edits_elsewhere() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nb\nc\nd\nNEW\ne\nf\ng\nh\ni\nj\n";
        let undo = record(Some(old.as_bytes()), Some(new.as_bytes())).unwrap();
        let edited_elsewhere = new.replace("a\n", "A\n").replace("j\n", "J\n");
        let reversed = reverse(&undo, Some(edited_elsewhere.as_bytes())).unwrap().unwrap();
        assert_eq!(String::from_utf8(reversed).unwrap(), old.replace("a\n", "A\n").replace("j\n", "J\n"));
        // Edited inside the hunk: no longer applies.
        assert_eq!(reverse(&undo, Some(new.replace("NEW", "CHANGED").as_bytes())), None);
    }

    #[test]
    fn an_adjacent_edit_that_changed_the_context_still_lets_it_apply() {
        let old = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3\n}\n";
        let without_a = "{\n  \"b\": 2,\n  \"c\": 3\n}\n";
        let without_ab = "{\n  \"c\": 3\n}\n";
        let undo_a = record(Some(old.as_bytes()), Some(without_a.as_bytes())).unwrap();
        let reversed = reverse(&undo_a, Some(without_ab.as_bytes())).unwrap().unwrap();
        assert_eq!(String::from_utf8(reversed).unwrap(), "{\n  \"a\": 1,\n  \"c\": 3\n}\n");
    }

    #[test]
    fn an_insert_record_undoes_like_a_diff_record() {
        let old = "{\n  \"a\": {\n    \"x\": 1\n  }\n}\n";
        let insert = ",\n  \"b\": 2";
        let at = old.find("}\n}").unwrap() + 1;
        let new = format!("{}{insert}{}", &old[..at], &old[at..]);
        let undo = record_insert(old.as_bytes(), new.as_bytes(), at..at + insert.len()).unwrap();
        assert_eq!(reverse(&undo, Some(new.as_bytes())), Some(Some(old.as_bytes().to_vec())));
    }

    #[test]
    fn a_created_file_is_removed_only_while_unchanged() {
        let undo = record(None, Some(b"{}\n")).unwrap();
        assert_eq!(reverse(&undo, Some(b"{}\n")), Some(None));
        assert_eq!(reverse(&undo, Some(b"{ }\n")), None);
    }
}
