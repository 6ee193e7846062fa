//! Two versions of a JSON text that differ in a few bytes, reduced to what comparing
//! their meaning needs, however large the texts are.
//!
//! Invariants:
//! - Each skeleton is its text's value (as serde_json reads it) with every subtree that is the same in both texts
//!   (the same bytes, read the same way) replaced by `null`. On the way from the top to
//!   the deepest object holding every changed byte, every level keeps all its keys, so
//!   two skeletons are equal exactly when the two values are, and an edit that looks at
//!   keys or at whether an object is empty sees what it would see in the whole value.
//! - `before` is text the document layer accepted or wrote; `after` is checked: the
//!   object around the change is validated as [`super::json_scan::validate`] would
//!   (dialect, duplicate keys, depth). Anything that cannot be told this way gives `None`
//!   (the caller compares the whole values).

use std::ops::Range;

use serde_json::{Map, Value as JsonValue};

use super::json::JsonDialect;
use super::json_read::{members, skip_value, skip_whitespace};
use super::json_scan::{Member, validate_value};
use super::text::{common_prefix, common_suffix};

/// The skeletons of `before` and `after` (see the module's invariants), `None` when the
/// change reaches the top-level braces or `after` does not hold one valid object there.
pub(crate) fn skeletons(before: &str, after: &str, dialect: JsonDialect) -> Option<(JsonValue, JsonValue)> {
    let (a, b) = (before.as_bytes(), after.as_bytes());
    let prefix = common_prefix(a, b);
    let suffix = common_suffix(a, b, a.len().min(b.len()) - prefix);
    // The changed bytes: `a[prefix..a_end]` became `b[prefix..b_end]`.
    let (a_end, b_end) = (a.len() - suffix, b.len() - suffix);
    // A NUL is refused before validation (a comment could hold one).
    if memchr::memchr(0, &b[prefix..b_end]).is_some() {
        return None;
    }
    let root = skip_whitespace(a, before.strip_prefix('\u{feff}').map_or(0, |_| 3));
    let mut object = root..skip_value(a, root);
    if a.get(root) != Some(&b'{') || !encloses(&object, prefix, a_end) {
        return None;
    }
    // Down to the deepest object whose braces the change leaves alone: each level's
    // members, and which of them leads on.
    let mut levels: Vec<(Vec<Member>, usize)> = Vec::new();
    let inner = loop {
        let level = members(before, object.start);
        let next = level.iter().position(|member| {
            a.get(member.value.start) == Some(&b'{') && encloses(&member.value, prefix, a_end)
        });
        match next {
            Some(index) => {
                object = level[index].value.clone();
                levels.push((level, index));
            }
            None => break level,
        }
    };
    // The same object in `after`: it starts where it did, and ends as far from the
    // change's end as it did.
    let after_object = object.start..b_end + (object.end - a_end);
    if !validate_value(after, after_object.clone(), dialect, levels.len()) {
        return None;
    }
    let after_inner = members(after, after_object.start);
    let (before_changed, after_changed) =
        split_members(before, &inner, after, &after_inner, prefix, (a_end, b_end))?;
    let mut skeleton_before = JsonValue::Object(before_changed);
    let mut skeleton_after = JsonValue::Object(after_changed);
    for (level, index) in levels.iter().rev() {
        skeleton_before = JsonValue::Object(placeholders(before, level, *index, skeleton_before));
        skeleton_after = JsonValue::Object(placeholders(before, level, *index, skeleton_after));
    }
    Some((skeleton_before, skeleton_after))
}

/// Whether the value at `range` keeps its first and last byte out of the change
/// `prefix..end` (so the change is inside it).
fn encloses(range: &Range<usize>, prefix: usize, end: usize) -> bool {
    range.start < prefix && end < range.end
}

/// The members of the changed object in both texts: those wholly before or wholly after
/// the change are the same in both (checked: the same keys at the same places) and become
/// `null`; the others are read. `None` when the unchanged members do not line up.
fn split_members(
    before: &str,
    before_members: &[Member],
    after: &str,
    after_members: &[Member],
    prefix: usize,
    (before_end, after_end): (usize, usize),
) -> Option<(Map<String, JsonValue>, Map<String, JsonValue>)> {
    // Before the change: ends at least one byte before it (a number's end is read off the
    // byte after it). After the change: starts at least one byte after it.
    let ahead = |member: &Member| member.value.end < prefix;
    let behind = |member: &Member, end: usize| member.key_start > end;
    let leading = |list: &[Member]| list.iter().take_while(|member| ahead(member)).count();
    let trailing =
        |list: &[Member], end: usize| list.iter().rev().take_while(|member| behind(member, end)).count();
    let (before_ahead, after_ahead) = (leading(before_members), leading(after_members));
    let (before_behind, after_behind) =
        (trailing(before_members, before_end), trailing(after_members, after_end));
    if before_ahead != after_ahead
        || before_behind != after_behind
        || before_members[..before_ahead] != after_members[..after_ahead]
    {
        return None;
    }
    let moved = |member: &Member| {
        let shift = |offset: usize| offset - before_end + after_end;
        Member {
            key_start: shift(member.key_start),
            key_end: shift(member.key_end),
            escaped: member.escaped,
            value: shift(member.value.start)..shift(member.value.end),
        }
    };
    let before_tail = &before_members[before_members.len() - before_behind..];
    let after_tail = &after_members[after_members.len() - after_behind..];
    if !before_tail.iter().map(moved).eq(after_tail.iter().cloned()) {
        return None;
    }
    // The members the change reached are read as serde_json reads them (as the clients'
    // `JSON.parse` does: a number too large for an integer is a float, never a string);
    // one that only a JSONC reading takes (a comment inside) gives `None`.
    let read = |text: &str, list: &[Member], changed: Range<usize>| {
        let mut map = Map::new();
        for (index, member) in list.iter().enumerate() {
            let value = if changed.contains(&index) {
                serde_json::from_str(text.get(member.value.clone())?).ok()?
            } else {
                JsonValue::Null
            };
            map.insert(member.key(text).into_owned(), value);
        }
        Some(map)
    };
    Some((
        read(before, before_members, before_ahead..before_members.len() - before_behind)?,
        read(after, after_members, after_ahead..after_members.len() - after_behind)?,
    ))
}

/// One level above the change: every key, each value `null` but the one at `index`,
/// which is `inner`.
fn placeholders(text: &str, level: &[Member], index: usize, inner: JsonValue) -> Map<String, JsonValue> {
    let mut inner = Some(inner);
    level
        .iter()
        .enumerate()
        .map(|(at, member)| {
            let value = if at == index { inner.take().unwrap_or_default() } else { JsonValue::Null };
            (member.key(text).into_owned(), value)
        })
        .collect()
}
