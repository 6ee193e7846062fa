//! A JSON object's top level read key by key without parsing its values: each value is
//! passed over by its brackets and strings alone (pure). The usual body's few fields of
//! interest are found at a fraction of a full parse; whatever the walk cannot vouch for is
//! left to serde by its callers.
//!
//! Invariant: [`top_level`] gives `Some` only for bytes that are one object, whose every
//! top-level key has no escape, whose brackets pair and strings end, nesting no deeper
//! than [`SKIM_DEPTH`], and with nothing after the object but white space. Of such bytes,
//! a value of every key is the very slice serde would read for it when the document
//! parses; a document that does not parse but passes the walk is not told from one that
//! does (its literals and numbers are not checked).

/// Walk the top level of the object in `data`, handing `visit` each key (its bytes
/// between the quotes) and its value's raw bytes, in order; `None` when the walk cannot
/// vouch for the document ([module docs](self)) or `visit` gives `None`.
pub(super) fn top_level<'a>(
    data: &'a [u8],
    mut visit: impl FnMut(&'a [u8], &'a [u8]) -> Option<()>,
) -> Option<()> {
    let mut at = skip_space(data, 0);
    if data.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(data, at + 1);
    if data.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            if data.get(at) != Some(&b'"') {
                return None;
            }
            // A key with an escape is left to serde (found by the search for its end, not
            // by a second pass over it).
            let key_start = at + 1;
            let quote = key_start + memchr::memchr2(b'"', b'\\', &data[key_start..])?;
            if data[quote] != b'"' {
                return None;
            }
            let key = &data[key_start..quote];
            at = skip_space(data, quote + 1);
            if data.get(at) != Some(&b':') {
                return None;
            }
            let start = skip_space(data, at + 1);
            at = value_end(data, start)?;
            visit(key, &data[start..at])?;
            at = skip_space(data, at);
            match data.get(at) {
                Some(b',') => at = skip_space(data, at + 1),
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_space(data, at) == data.len()).then_some(())
}

/// Containers nested deeper than this (below the top level) are left to serde, whose
/// limit is 128 levels in all.
pub(super) const SKIM_DEPTH: u32 = 100;

/// The raw values of the top-level keys `names` (each `None` when absent), by
/// [`top_level`]; `None` also when one of them is there twice.
pub(super) fn values_of<'a, const N: usize>(
    data: &'a [u8],
    names: [&[u8]; N],
) -> Option<[Option<&'a [u8]>; N]> {
    let mut found = [None; N];
    top_level(data, |key, value| match names.iter().position(|name| *name == key) {
        Some(at) => found[at].replace(value).is_none().then_some(()),
        None => Some(()),
    })?;
    Some(found)
}

fn skip_space(data: &[u8], mut from: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = data.get(from) {
        from += 1;
    }
    from
}

/// Past the string that opens at `data[at]` (a quote): `None` when it does not end. (A
/// plain loop over the first bytes before `memchr2`, for the many short strings, cost
/// twice as much, tried twice: `bench/PROFILE.md`, twelfth and thirteenth passes.)
fn string_end(data: &[u8], at: usize) -> Option<usize> {
    let mut from = at + 1;
    loop {
        let found = from + memchr::memchr2(b'"', b'\\', data.get(from..)?)?;
        if data[found] == b'"' {
            return Some(found + 1);
        }
        from = found + 2;
    }
}

/// Past the value that starts at `data[at]`: a string, an object or array (its brackets
/// paired, its strings ended), or a literal or number (up to what may follow a value).
fn value_end(data: &[u8], at: usize) -> Option<usize> {
    match *data.get(at)? {
        b'"' => string_end(data, at),
        b'{' | b'[' => {
            // One bit per open level: set for an object.
            let mut objects: u128 = 0;
            let mut depth = 0u32;
            let mut from = at;
            loop {
                from += data
                    .get(from..)?
                    .iter()
                    .position(|byte| matches!(byte, b'"' | b'{' | b'}' | b'[' | b']'))?;
                match data[from] {
                    b'"' => {
                        from = string_end(data, from)?;
                        continue;
                    }
                    open @ (b'{' | b'[') => {
                        if depth == SKIM_DEPTH {
                            return None;
                        }
                        objects = objects << 1 | u128::from(open == b'{');
                        depth += 1;
                    }
                    close => {
                        if (close == b'}') != (objects & 1 == 1) {
                            return None;
                        }
                        objects >>= 1;
                        depth -= 1;
                        if depth == 0 {
                            return Some(from + 1);
                        }
                    }
                }
                from += 1;
            }
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let length = data[at..]
                .iter()
                .take_while(|byte| !matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            Some(at + length)
        }
        _ => None,
    }
}
