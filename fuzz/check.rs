//! The property the fuzz target checks, shared with `tests/doc_fuzz_smoke.rs` (which
//! runs it over the fixtures and deterministic mutations of them on every `cargo test`).

use std::path::Path;

use aigate::doc::{DocError, Document, Format};
use serde_json::{Value, json};

/// The fuzz entry point: the first byte picks the format, the rest is the file.
pub(crate) fn check_fuzz_input(data: &[u8]) {
    if let Some((selector, input)) = data.split_first() {
        check(input, format_from_selector(*selector));
    }
}

/// The format a selector byte picks: TOML, strict JSON, JSONC, JSON with comments, .env.
fn format_from_selector(selector: u8) -> Format {
    match selector % 5 {
        0 => Format::Toml,
        1 => Format::Json,
        2 => Format::Jsonc,
        3 => Format::JsonComments,
        _ => Format::Dotenv,
    }
}

/// Panics when the property does not hold for `input`; inputs that do not parse are
/// fine (refusing is allowed, panicking is not).
pub(crate) fn check(input: &[u8], format: Format) {
    let Ok(document) = Document::parse(input, format, Path::new("fuzz")) else {
        return;
    };
    assert_eq!(document.to_bytes(), input, "the unedited output differs from the input");
    let values = [json!("v"), json!({"command": "aigate", "args": ["a b", 1], "env": {"K.1": "v\n\"q\""}})];
    for key_path in probe_paths(&document) {
        let key_path: Vec<&str> = key_path.iter().map(String::as_str).collect();
        for value in &values {
            check_set_then_remove(input, format, &key_path, value);
        }
    }
}

fn check_set_then_remove(input: &[u8], format: Format, key_path: &[&str], value: &Value) {
    let mut document = match Document::parse(input, format, Path::new("fuzz")) {
        Ok(document) => document,
        Err(error) => panic!("parsed once, not twice: {error}"),
    };
    match document.set(key_path, value) {
        Ok(true) => {}
        // The shape forbids it (a parent that is not a table): nothing changed.
        Err(DocError::Conflict { .. }) => {
            assert_eq!(document.to_bytes(), input, "a refused set changed the document");
            return;
        }
        Ok(false) => panic!("setting a new key {key_path:?} reported no change"),
        Err(error) => panic!("set {key_path:?} failed: {error}"),
    }
    let edited = document.to_bytes();
    let again = match Document::parse(&edited, format, Path::new("fuzz-edited")) {
        Ok(again) => again,
        Err(error) => panic!(
            "the output of set {key_path:?} does not parse: {error}\n{}",
            String::from_utf8_lossy(&edited)
        ),
    };
    assert_eq!(again.get(key_path).as_ref(), Some(value), "the value is not where it was set");
    match document.remove(key_path) {
        Ok(removed) => assert_eq!(removed.as_ref(), Some(value), "remove returned something else"),
        Err(error) => panic!("remove {key_path:?} failed: {error}"),
    }
    let restored = document.to_bytes();
    assert!(
        restored == input,
        "set then remove of {key_path:?} changed the input:\n--- input\n{}\n--- output\n{}",
        String::from_utf8_lossy(input),
        String::from_utf8_lossy(&restored)
    );
}

/// New keys at the root, under a new table, and under the first table of each level
/// (up to three levels down), skipping any that already exist.
fn probe_paths(document: &Document) -> Vec<Vec<String>> {
    let mut paths = vec![vec!["zz_fuzz".to_string()], vec!["zz_fuzz_table".to_string(), "k.1".to_string()]];
    let mut parent: Vec<String> = Vec::new();
    for _ in 0..3 {
        let parent_refs: Vec<&str> = parent.iter().map(String::as_str).collect();
        let next = document.keys(&parent_refs).into_iter().find(|key| {
            let mut child = parent_refs.clone();
            child.push(key);
            document.get(&child).is_some_and(|value| value.is_object())
        });
        let Some(next) = next else {
            break;
        };
        parent.push(next);
        let mut probe = parent.clone();
        probe.push("zz_fuzz".to_string());
        paths.push(probe);
    }
    paths.retain(|path| {
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        !document.contains(&refs)
    });
    paths
}
