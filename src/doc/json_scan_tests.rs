//! Tests of the validator and its index (`json_scan`).

use super::*;

fn validate_alone(text: &str) -> Result<Scanned, ScanFailure> {
    super::validate_alone(text, JsonDialect::STRICT)
}

fn same(first: &Result<Scanned, ScanFailure>, second: &Result<Scanned, ScanFailure>) -> bool {
    match (first, second) {
        (Ok(first), Ok(second)) => {
            first.root == second.root && first.top == second.top && first.nested == second.nested
        }
        (Err(first), Err(second)) => first == second,
        (Ok(_), Err(_)) | (Err(_), Ok(_)) => false,
    }
}

/// A strict JSON text over the split size: projects with histories, servers, and a
/// big array at the end.
fn large(projects: usize) -> String {
    let mut text = String::from("{\n  \"numStartups\": 1,\n  \"projects\": {\n");
    for index in 0..projects {
        let history: Vec<String> = (0..40)
            .map(|entry| {
                format!("        {{\"display\": \"/clear {entry} \\u00e9\", \"n\": [1, 2.5e3, true, null]}}")
            })
            .collect();
        text.push_str(&format!(
            "    \"/p/{index}\": {{\n      \"history\": [\n{}\n      ],\n      \"mcpServers\": {{}}\n    }}{}\n",
            history.join(",\n"),
            if index + 1 == projects { "" } else { "," }
        ));
    }
    text.push_str("  },\n  \"mcpServers\": {\n    \"x\": {\"command\": \"c\"}\n  },\n  \"tail\": [[{\"deep\": [[[]]]}]]\n}\n");
    text
}

#[test]
fn two_threads_find_what_one_finds_on_valid_and_broken_large_files() {
    let text = large(2200);
    assert!(text.len() >= SPLIT_MIN, "{}", text.len());
    let skipped = || SKIPPED.with(std::cell::Cell::get);
    let before = skipped();
    let split = validate(&text, JsonDialect::STRICT);
    assert!(split.is_ok());
    assert!(skipped() - before > 1000, "the second half was skipped: {}", skipped() - before);
    assert!(same(&split, &validate_alone(&text)));
    let at = |needle: &str, from: usize| from + text[from..].find(needle).unwrap();
    let middle = text.len() / 2;
    let late = |needle: &str, with: &str| {
        let mut copy = text.clone();
        let found = at(needle, middle + 100_000);
        copy.replace_range(found..found + needle.len(), with);
        copy
    };
    let broken: Vec<String> = vec![
        // Inside a value in the second half, and between values (a missing comma).
        late("/clear 3 ", "/clear 3\u{1} "),
        {
            let mut copy = text.clone();
            let comma = at("},\n    \"/p/", middle) + 1;
            copy.replace_range(comma..=comma, " ");
            copy
        },
        // A key of `projects` in the second half that is also in the first.
        {
            let mut copy = text.clone();
            let key = at("\"/p/", middle);
            let end = key + copy[key + 1..].find('"').unwrap() + 2;
            copy.replace_range(key..end, "\"/p/3\"");
            copy
        },
        late("1, 2.5e3", "1 2.5e3"),
        late("\"n\": [", "\"n\" ["),
        // Too deep in the second half, counting the levels above it.
        late("\"mcpServers\": {}", &format!("\"mcpServers\": {}{}", "[".repeat(126), "]".repeat(126))),
        text.replacen("[[[]]]", &format!("{}{}", "[".repeat(125), "]".repeat(125)), 1),
        // In the first half, and at the very end.
        text.replacen("/clear 1 ", "/clear 1\t", 1),
        format!("{text}x"),
    ];
    for (index, broken) in broken.iter().enumerate() {
        let one = validate_alone(broken);
        assert!(one.is_err(), "case {index} is broken");
        assert!(same(&validate(broken, JsonDialect::STRICT), &one), "case {index}: {:?}", one.err());
    }
    // The deep tail just fits.
    let fits = text.replacen("[[[]]]", &format!("{}{}", "[".repeat(124), "]".repeat(124)), 1);
    assert!(validate(&fits, JsonDialect::STRICT).is_ok());
    assert!(same(&validate(&fits, JsonDialect::STRICT), &validate_alone(&fits)));
}

#[test]
fn the_word_test_finds_every_stop_byte_at_every_position_and_nothing_else() {
    for byte in 0..=255_u8 {
        for position in 0..8 {
            let mut word = [b'a'; 8];
            word[position] = byte;
            let found = may_stop(u64::from_le_bytes(word));
            assert_eq!(found, STRING_STOP[usize::from(byte)], "byte {byte:#04x} at {position}");
        }
    }
}
