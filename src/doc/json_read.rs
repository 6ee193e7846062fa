//! Reads over JSON/JSONC text that [`super::json_scan::validate`] accepted: walk it by
//! skipping values, list an object's members, follow an index through an edit, and turn
//! only the value asked for into a `serde_json` value.
//!
//! Invariant: every function here assumes validated text (it never refuses, and on text
//! it was not meant for returns something harmless, never panics).

use std::borrow::Cow;
use std::ops::Range;

use serde_json::Value as JsonValue;

use super::json_scan::Member;

/// Bring the `members` of the object at `object` (a range of the text before the edit)
/// in line with an edit that replaced `changed` (a range of the text before) by
/// `inserted` bytes; `text` is the text after. Returns the object's range after the
/// edit, or `None` when the edit reached its braces (then it must be read again).
/// `text` gives a range of the text after the edit (only the few bytes around the
/// change are asked for).
///
/// Members wholly before the change keep their offsets, members wholly after it move;
/// a change strictly inside one member's value only moves that value's end, and any
/// other change (members added, removed, a key replaced) has just the members it
/// touched read again from `text`.
pub(crate) fn reindex<'text>(
    members: &mut Vec<Member>,
    object: &Range<usize>,
    text: &dyn Fn(Range<usize>) -> Cow<'text, str>,
    changed: &Range<usize>,
    inserted: usize,
) -> Option<Range<usize>> {
    let delta = inserted as isize - changed.len() as isize;
    let shift = |offset: usize| offset.saturating_add_signed(delta);
    let shift_member = |member: &mut Member| {
        member.key_start = shift(member.key_start);
        member.key_end = shift(member.key_end);
        member.value = shift(member.value.start)..shift(member.value.end);
    };
    if object.end <= changed.start {
        return Some(object.clone());
    }
    if object.start >= changed.end {
        members.iter_mut().for_each(shift_member);
        return Some(shift(object.start)..shift(object.end));
    }
    if !(object.start < changed.start && changed.end < object.end) {
        return None;
    }
    let moved = object.start..shift(object.end);
    if let Some(index) =
        members.iter().position(|member| member.value.start < changed.start && changed.end < member.value.end)
    {
        members[index].value.end = shift(members[index].value.end);
        members[index + 1..].iter_mut().for_each(shift_member);
        return Some(moved);
    }
    let first = members.iter().position(|member| member.value.end > changed.start).unwrap_or(members.len());
    let after = members.iter().position(|member| member.key_start >= changed.end).unwrap_or(members.len());
    let after = after.max(first);
    let from = if first == 0 { object.start + 1 } else { members[first - 1].value.end };
    let until = match members.get(after) {
        Some(member) => shift(member.key_start),
        None => moved.end - 1,
    };
    let window = text(from..until);
    let mut read = members_between(&window, 0, window.len());
    for member in &mut read {
        member.key_start += from;
        member.key_end += from;
        member.value = member.value.start + from..member.value.end + from;
    }
    let mut tail = members.split_off(after);
    tail.iter_mut().for_each(shift_member);
    members.truncate(first);
    members.extend(read);
    members.extend(tail);
    Some(moved)
}

/// The members of the object that starts at `open` (a `{`) in validated text.
pub(crate) fn members(text: &str, open: usize) -> Vec<Member> {
    members_between(text, open + 1, text.len())
}

/// The members of an object in validated text from `from` (just after `{`, or just after
/// a member's value) up to `until` (a member's key, or the closing brace).
fn members_between(text: &str, from: usize, until: usize) -> Vec<Member> {
    let bytes = text.as_bytes();
    let mut members = Vec::new();
    let mut at = skip_whitespace(bytes, from);
    if bytes.get(at) == Some(&b',') {
        at = skip_whitespace(bytes, at + 1);
    }
    while at < until && bytes.get(at) == Some(&b'"') {
        let key_end = skip_string(bytes, at);
        let escaped = memchr::memchr(b'\\', &bytes[at..key_end]).is_some();
        let value_start = skip_whitespace(bytes, skip_whitespace(bytes, key_end) + 1);
        let value_end = skip_value(bytes, value_start);
        members.push(Member { key_start: at, key_end, escaped, value: value_start..value_end });
        at = skip_whitespace(bytes, value_end);
        if bytes.get(at) == Some(&b',') {
            at = skip_whitespace(bytes, at + 1);
        }
    }
    members
}

/// The value in `range` of validated text as JSON. Numbers that fit neither i64/u64 nor
/// a finite f64 become strings holding their raw text.
pub(crate) fn to_json(text: &str, range: Range<usize>) -> JsonValue {
    let bytes = text.as_bytes();
    let start = range.start;
    match bytes.get(start) {
        Some(b'{') => JsonValue::Object(
            members(text, start)
                .into_iter()
                .map(|member| (member.key(text).into_owned(), to_json(text, member.value)))
                .collect(),
        ),
        Some(b'[') => {
            let mut elements = Vec::new();
            let mut at = skip_whitespace(bytes, start + 1);
            while !matches!(bytes.get(at), Some(b']') | None) {
                let end = skip_value(bytes, at);
                elements.push(to_json(text, at..end));
                at = skip_whitespace(bytes, end);
                if bytes.get(at) == Some(&b',') {
                    at = skip_whitespace(bytes, at + 1);
                }
            }
            JsonValue::Array(elements)
        }
        Some(b'"') => JsonValue::String(decode_string(text, range)),
        Some(b't') => JsonValue::Bool(true),
        Some(b'f') => JsonValue::Bool(false),
        Some(b'n') | None => JsonValue::Null,
        Some(_) => number_to_json(text.get(range).unwrap_or_default()),
    }
}

/// A number's raw text as JSON (see [`to_json`]).
pub(crate) fn number_to_json(raw: &str) -> JsonValue {
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

/// Skip whitespace and comments in validated text.
pub(crate) fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    loop {
        match bytes.get(at) {
            Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) => at += 1,
            Some(0xc2) if bytes.get(at + 1) == Some(&0xa0) => at += 2,
            Some(b'/') if bytes.get(at + 1) == Some(&b'/') => {
                at = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |offset| at + offset);
            }
            Some(b'/') if bytes.get(at + 1) == Some(&b'*') => {
                at = memchr::memmem::find(&bytes[at + 2..], b"*/")
                    .map_or(bytes.len(), |offset| at + 2 + offset + 2);
            }
            _ => return at,
        }
    }
}

/// The offset just past the value starting at `at` in validated text.
pub(crate) fn skip_value(bytes: &[u8], at: usize) -> usize {
    match bytes.get(at) {
        Some(b'"') => skip_string(bytes, at),
        Some(b'{' | b'[') => {
            let mut depth = 0_usize;
            let mut index = at;
            while let Some(byte) = bytes.get(index) {
                match byte {
                    b'"' => {
                        index = skip_string(bytes, index);
                        continue;
                    }
                    b'/' if matches!(bytes.get(index + 1), Some(b'/' | b'*')) => {
                        index = skip_whitespace(bytes, index);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return index + 1;
                        }
                    }
                    _ => {}
                }
                index += 1;
            }
            bytes.len()
        }
        Some(_) => {
            let mut index = at;
            while bytes.get(index).is_some_and(|byte| byte.is_ascii_alphanumeric() || b"+-.".contains(byte)) {
                index += 1;
            }
            index
        }
        None => at,
    }
}

/// The offset just past the string starting at `at` (a `"`) in validated text.
pub(crate) fn skip_string(bytes: &[u8], at: usize) -> usize {
    let mut index = at + 1;
    while let Some(byte) = bytes.get(index) {
        match byte {
            b'"' => return index + 1,
            b'\\' => index += 2,
            _ => index += 1,
        }
    }
    bytes.len()
}

/// The decoded text of the string in `range` (quotes included) of validated text.
pub(crate) fn decode_string(text: &str, range: Range<usize>) -> String {
    let raw = text.get(range).unwrap_or_default();
    if raw.contains('\\') {
        serde_json::from_str::<String>(raw).unwrap_or_default()
    } else {
        raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default().to_string()
    }
}
