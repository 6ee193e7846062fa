//! Unit tests for JSON and JSONC edits: each seeds a raw file, edits it, and compares
//! the whole output text.

use super::*;
use pretty_assertions::assert_eq;
use serde_json::json;

fn parse(input: &str, format: Format) -> Document<'_> {
    Document::parse(input.as_bytes(), format, Path::new("settings.json")).unwrap()
}

fn output(document: &Document) -> String {
    String::from_utf8(document.to_bytes()).unwrap()
}

/// Set, check the whole output (and that it parses), remove, check the input is back.
#[track_caller]
fn assert_set_then_remove(input: &str, format: Format, key_path: &[&str], value: JsonValue, expected: &str) {
    let mut document = parse(input, format);
    assert!(document.set(key_path, &value).unwrap(), "set reported no change");
    assert_eq!(output(&document), expected);
    Document::parse(expected.as_bytes(), format, Path::new("again.json")).unwrap();
    if format == Format::Json {
        serde_json::from_str::<JsonValue>(expected.trim_start_matches('\u{feff}')).unwrap();
    }
    assert_eq!(document.get(key_path), Some(value.clone()));
    assert_eq!(document.remove(key_path).unwrap(), Some(value));
    assert_eq!(output(&document), input, "set then remove must give back the input");
}

#[track_caller]
fn refused(input: &[u8], format: Format) -> DocError {
    match Document::parse(input, format, Path::new("bad.json")) {
        Ok(_) => panic!("{:?} should be refused", String::from_utf8_lossy(input)),
        Err(error) => error,
    }
}

#[test]
fn new_property_at_root_is_appended_with_the_file_indent() {
    assert_set_then_remove(
        "{\n    \"model\": \"sonnet\"\n}\n",
        Format::Json,
        &["env"],
        json!({"ANTHROPIC_BASE_URL": "http://127.0.0.1:1"}),
        "{\n    \"model\": \"sonnet\",\n    \"env\": {\n        \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:1\"\n    }\n}\n",
    );
}

#[test]
fn new_nested_property_creates_missing_parents() {
    assert_set_then_remove(
        "{\n  \"model\": \"sonnet\"\n}\n",
        Format::Json,
        &["projects", "/home/a b/src", "mcpServers", "x"],
        json!({"command": "npx"}),
        "{\n  \"model\": \"sonnet\",\n  \"projects\": {\n    \"/home/a b/src\": {\n      \"mcpServers\": {\n        \"x\": {\n          \"command\": \"npx\"\n        }\n      }\n    }\n  }\n}\n",
    );
}

#[test]
fn replacing_a_value_keeps_the_comments_around_it() {
    let mut document = parse(
        "{\n  // the model\n  \"model\": \"a\", // trailing\n  \"x\": [1, 2], /* block */\n}\n",
        Format::Jsonc,
    );
    assert!(document.set(&["model"], &json!("b")).unwrap());
    assert!(document.set(&["x"], &json!([3])).unwrap());
    assert_eq!(
        output(&document),
        "{\n  // the model\n  \"model\": \"b\", // trailing\n  \"x\": [3], /* block */\n}\n"
    );
}

#[test]
fn jsonc_trailing_commas_are_kept_on_new_properties() {
    assert_set_then_remove(
        "// c\n{\n  \"mcp\": {\n    \"a\": { \"enabled\": true },\n  },\n}\n",
        Format::Jsonc,
        &["mcp", "aigate"],
        json!({"type": "local"}),
        "// c\n{\n  \"mcp\": {\n    \"a\": { \"enabled\": true },\n    \"aigate\": {\n      \"type\": \"local\",\n    },\n  },\n}\n",
    );
}

#[test]
fn property_names_with_slashes_dots_and_spaces_are_plain_keys() {
    assert_set_then_remove(
        "{\n  \"models\": {\n    \"qwen/qwen3:free\": {}\n  }\n}",
        Format::Json,
        &["models", "a.b c/d"],
        json!(1),
        "{\n  \"models\": {\n    \"qwen/qwen3:free\": {},\n    \"a.b c/d\": 1\n  }\n}",
    );
}

#[test]
fn crlf_and_bom_are_kept() {
    assert_set_then_remove(
        "\u{feff}{\r\n  \"env\": {\r\n    \"A\": \"1\"\r\n  },\r\n  \"model\": \"sonnet\"\r\n}\r\n",
        Format::Json,
        &["env", "B"],
        json!("2"),
        "\u{feff}{\r\n  \"env\": {\r\n    \"A\": \"1\",\r\n    \"B\": \"2\"\r\n  },\r\n  \"model\": \"sonnet\"\r\n}\r\n",
    );
}

#[test]
fn tabs_are_kept_as_the_indent() {
    assert_set_then_remove(
        "{\n\t\"a\": 1\n}\n",
        Format::Json,
        &["b"],
        json!(true),
        "{\n\t\"a\": 1,\n\t\"b\": true\n}\n",
    );
}

#[test]
fn empty_and_whitespace_only_files_become_fresh_two_space_json() {
    for input in ["", "  \n\t\n"] {
        assert_set_then_remove(
            input,
            Format::Json,
            &["env", "A"],
            json!("1"),
            "{\n  \"env\": {\n    \"A\": \"1\"\n  }\n}\n",
        );
    }
    let mut document = Document::new_empty(Format::Jsonc);
    assert_eq!(document.to_bytes(), b"".to_vec());
    document.set(&["a"], &json!(1)).unwrap();
    assert_eq!(output(&document), "{\n  \"a\": 1\n}\n");
}

#[test]
fn key_order_is_kept_when_setting_an_object_onto_an_object() {
    let mut document = parse("{\n  \"env\": {\n    \"B\": \"2\", \n    \"A\": \"1\"\n  }\n}\n", Format::Json);
    assert!(document.set(&["env"], &json!({"A": "1", "B": "3"})).unwrap());
    assert_eq!(output(&document), "{\n  \"env\": {\n    \"B\": \"3\", \n    \"A\": \"1\"\n  }\n}\n");
    assert_eq!(document.keys(&["env"]), vec!["B", "A"]);
}

#[test]
fn big_numbers_survive_untouched_and_read_as_strings() {
    let input = "{\"numStartups\": 12345678901234567890123, \"lastCost\": 1e400, \"ok\": 0.1}\n";
    let mut document = parse(input, Format::Json);
    assert_eq!(document.get(&["numStartups"]), Some(json!("12345678901234567890123")));
    assert_eq!(document.get(&["lastCost"]), Some(json!("1e400")));
    assert_eq!(document.get(&["ok"]), Some(json!(0.1)));
    document.set(&["ok"], &json!(2)).unwrap();
    assert_eq!(
        output(&document),
        "{\"numStartups\": 12345678901234567890123, \"lastCost\": 1e400, \"ok\": 2}\n"
    );
}

#[test]
fn edits_through_a_non_object_are_refused() {
    let mut document = parse("{\"mcpServers\": [1]}", Format::Json);
    let error = document.set(&["mcpServers", "x"], &json!(1)).unwrap_err();
    assert!(matches!(error, DocError::Conflict { .. }), "{error:?}");
}

#[test]
fn hostile_inputs_are_refused_with_kind_and_location() {
    type Case = (&'static [u8], Format, &'static str, (usize, usize));
    let cases: Vec<Case> = vec![
        (b"{\n  // c\n  \"a\": 1\n}", Format::Json, "JsoncInStrictJson", (2, 3)),
        (b"{\n  \"a\": 1,\n}", Format::Json, "JsoncInStrictJson", (2, 9)),
        (b"{\n  \"a\": 1,\n  \"a\": 2\n}", Format::Jsonc, "DuplicateKey", (3, 3)),
        (b"[]", Format::Json, "WrongTopLevel", (1, 1)),
        (b"\n null", Format::Json, "WrongTopLevel", (2, 2)),
        (b"{\"a\": \"\\ud800\"}", Format::Json, "Syntax", (1, 8)),
        (b"{\"a\": ", Format::Jsonc, "Syntax", (1, 7)),
        (b"{\"a\":\"so\0n\"}", Format::Json, "NulByte", (1, 9)),
        (b"{\"a\":\"\xff\"}", Format::Json, "NotUtf8", (1, 7)),
    ];
    for (input, format, kind, location) in cases {
        let error = refused(input, format);
        assert!(format!("{error:?}").starts_with(kind), "{kind}: {error:?}");
        assert_eq!(error.location(), Some(location), "{error:?}");
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    let error = refused(deep.as_bytes(), Format::Json);
    assert!(matches!(error, DocError::TooDeep { line: 1, column: 641, .. }), "{error:?}");
    let fine = format!("{}1{}", "{\"a\":".repeat(json_scan::MAX_DEPTH), "}".repeat(json_scan::MAX_DEPTH));
    parse(&fine, Format::Json);
}

#[test]
fn a_one_line_object_stays_on_one_line() {
    assert_set_then_remove(
        "{\n  \"statusLine\": { \"type\": \"command\", \"padding\": 0 },\n  \"x\": {\"a\": 1}\n}\n",
        Format::Json,
        &["statusLine", "extra"],
        json!({"b": [1, {"c": true}], "d": {}}),
        "{\n  \"statusLine\": { \"type\": \"command\", \"padding\": 0, \"extra\": { \"b\": [1, { \"c\": true }], \"d\": {} } },\n  \"x\": {\"a\": 1}\n}\n",
    );
    assert_set_then_remove(
        "{\n  \"x\": {\"a\": 1}\n}\n",
        Format::Json,
        &["x", "b"],
        json!("2"),
        "{\n  \"x\": {\"a\": 1, \"b\": \"2\"}\n}\n",
    );
    assert_set_then_remove(
        "{ \"x\": { \"a\": 1, }, }\n",
        Format::Jsonc,
        &["x", "b"],
        json!(2),
        "{ \"x\": { \"a\": 1, \"b\": 2, }, }\n",
    );
}

#[test]
fn missing_parents_in_a_one_line_object_are_created_on_that_line() {
    assert_set_then_remove(
        "{\"a\": 1}",
        Format::Json,
        &["x", "y"],
        json!(true),
        "{\"a\": 1, \"x\": { \"y\": true }}",
    );
}
#[test]
fn blank_lines_just_inside_the_braces_survive_an_append() {
    assert_set_then_remove(
        "{\n\n  \"a\": 1,\n  \"b\": 2\n\n}\n",
        Format::Json,
        &["zz"],
        json!("v"),
        "{\n\n  \"a\": 1,\n  \"b\": 2,\n  \"zz\": \"v\"\n\n}\n",
    );
}

#[test]
fn a_value_replaced_in_a_one_line_object_is_written_on_that_line() {
    let mut document = parse("{\"a\": {\"x\": 1, \"y\": 2}}\n", Format::Json);
    assert!(document.set(&["a", "x"], &json!({"b": [1, {"c": null}]})).unwrap());
    assert_eq!(output(&document), "{\"a\": {\"x\": { \"b\": [1, { \"c\": null }] }, \"y\": 2}}\n");
    assert!(document.set(&["a", "y"], &json!("s")).unwrap());
    assert_eq!(output(&document), "{\"a\": {\"x\": { \"b\": [1, { \"c\": null }] }, \"y\": \"s\"}}\n");
}

#[test]
fn empty_objects_get_their_inside_back_once_empty_again() {
    assert_set_then_remove("{ }   ", Format::Json, &["a"], json!(1), "{ \"a\": 1 }   ");
    assert_set_then_remove("{\n}\n", Format::Json, &["a"], json!(1), "{\n  \"a\": 1\n}\n");
    assert_set_then_remove(
        "{\n  \"env\": {\n\n  }\n}\n",
        Format::Json,
        &["env", "A"],
        json!("1"),
        "{\n  \"env\": {\n    \"A\": \"1\"\n  }\n}\n",
    );
}

#[test]
fn strict_json_refuses_raw_control_characters_in_strings_and_a_form_feed_as_whitespace() {
    type Case = (&'static [u8], (usize, usize));
    let cases: Vec<Case> = vec![
        (b"{\n  \"env\": {\"A\": \"a\tb\"}\n}\n", (2, 18)),
        (b"{\n  \"a\": \"line\nbreak\"\n}\n", (2, 13)),
        (b"{\"a\":\x0c1}", (1, 6)),
        (b"\x0c{}", (1, 1)),
        (b"\x0c", (1, 1)),
    ];
    for (input, location) in cases {
        let error = refused(input, Format::Json);
        assert!(matches!(error, DocError::Syntax { .. }), "{input:?}: {error:?}");
        assert_eq!(error.location(), Some(location), "{input:?}: {error:?}");
        let rendered = crate::error::Error::from(error).render();
        let headline = format!("error: Failed to parse `bad.json:{}:{}`\n", location.0, location.1);
        assert!(rendered.starts_with(&headline), "{rendered}");
    }
    // The raw characters are refused in JSONC strings too (OpenCode's parser does); a
    // form feed between tokens is whitespace there.
    assert!(matches!(refused(b"{\"a\": \"a\tb\"}", Format::Jsonc), DocError::Syntax { .. }));
    assert_eq!(parse("{\"a\":\u{c}1}", Format::Jsonc).get(&["a"]), Some(json!(1)));
    // Escaped, they are fine.
    assert_eq!(parse("{\"a\": \"a\\tb\\n\"}", Format::Json).get(&["a"]), Some(json!("a\tb\n")));
}

#[test]
fn an_edit_of_one_member_of_a_large_file_keeps_every_other_byte() {
    let mut input = String::from("{\n  \"projects\": {\n");
    for index in 0..2000 {
        input.push_str(&format!(
            "    \"/p/{index}\": {{ \"history\": [{{ \"display\": \"x // not a comment {{\" }}], \"mcpServers\": {{}} }},\n"
        ));
    }
    input.push_str("    \"/last\": {}\n  },\n  \"mcpServers\": {}\n}\n");
    assert_set_then_remove(
        &input,
        Format::Json,
        &["mcpServers", "new"],
        json!({"command": "npx", "args": ["-y"]}),
        &input.replace(
            "  \"mcpServers\": {}\n}\n",
            "  \"mcpServers\": {\n    \"new\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\"]\n    }\n  }\n}\n",
        ),
    );
    assert_set_then_remove(
        &input,
        Format::Json,
        &["projects", "/p/7", "mcpServers", "x"],
        json!(1),
        &input.replace("\"/p/7\": { \"history\": [{ \"display\": \"x // not a comment {\" }], \"mcpServers\": {} }", "\"/p/7\": { \"history\": [{ \"display\": \"x // not a comment {\" }], \"mcpServers\": {\n        \"x\": 1\n      } }"),
    );
}

#[test]
fn the_index_follows_every_kind_of_edit_and_placeholders_kept_by_an_edit_are_put_back() {
    let input = "{\n  \"a\": 1,\n  \"projects\": {\n    \"/p\": { \"x\": [1, {\"y\": 2}], \"mcpServers\": {} },\n    \"/q\": {\n\n      \"mcpServers\": { \"s\": { \"command\": \"c\" } }\n\n    }\n  },\n  \"mcpServers\": {\n    \"one\": { \"command\": \"x\" },\n    \"two\": [1, 2]\n  },\n  \"z\": {}\n}\n";
    let edits: Vec<(Vec<&str>, Option<JsonValue>)> = vec![
        (vec!["mcpServers", "three"], Some(json!({"command": "npx", "args": ["-y"]}))),
        (vec!["mcpServers", "one"], Some(json!({"command": "y", "env": {}}))),
        (vec!["mcpServers", "two"], None),
        (vec!["mcpServers", "one", "command"], Some(json!("z"))),
        (vec!["projects", "/p", "mcpServers", "n"], Some(json!({"url": "u"}))),
        (vec!["projects", "/q", "mcpServers", "s"], None),
        (vec!["projects", "/r", "mcpServers", "m"], Some(json!(1))),
        (vec!["projects", "/p"], None),
        (vec!["a"], Some(json!({"b": [1]}))),
        (vec!["a"], None),
        (vec!["z", "k"], Some(json!(true))),
        (vec!["new", "deep", "key"], Some(json!("v"))),
        (vec!["mcpServers"], None),
        (vec!["projects", "/q"], Some(json!(null))),
    ];
    let mut document = parse(input, Format::Json);
    let mut expected = serde_json::from_str::<JsonValue>(input).unwrap();
    let whole_text_edits = json::WHOLE_TEXT_EDITS.with(std::cell::Cell::get);
    for (key_path, value) in &edits {
        let path: Vec<String> = key_path.iter().map(ToString::to_string).collect();
        if let Some(value) = value {
            document.set(key_path, value).unwrap();
            let (last, parents) = path.split_last().unwrap();
            let mut object = &mut expected;
            for key in parents {
                object = object.as_object_mut().unwrap().entry(key.clone()).or_insert_with(|| json!({}));
            }
            object.as_object_mut().unwrap().insert(last.clone(), value.clone());
        } else {
            document.remove(key_path).unwrap();
            let (last, parents) = path.split_last().unwrap();
            let mut object = &mut expected;
            for key in parents {
                object = object.get_mut(key).unwrap();
            }
            object.as_object_mut().unwrap().remove(last);
        }
        document.assert_json_index();
        let written = output(&document);
        assert_eq!(serde_json::from_str::<JsonValue>(&written).unwrap(), expected, "after {key_path:?}");
        assert_eq!(document.to_value(), expected, "read back after {key_path:?}");
    }
    assert_eq!(json::WHOLE_TEXT_EDITS.with(std::cell::Cell::get), whole_text_edits, "every edit was spliced");
    // Each as the first edit of a document: its index follows while the text is not
    // built yet, and its new bytes, given as a splice when it was one, are the bytes.
    for (key_path, value) in &edits {
        let mut document = parse(input, Format::Json);
        match value {
            Some(value) => document.set(key_path, value).map(drop).unwrap(),
            None => document.remove(key_path).map(drop).unwrap(),
        }
        let Body::Json(body) = &document.body else { panic!() };
        let single = body.only_splice().is_some();
        let index = (body.root.clone(), body.top.clone(), body.nested.clone());
        let written = output(&document);
        document.assert_json_index();
        let Body::Json(body) = &document.body else { panic!() };
        assert_eq!(index, (body.root.clone(), body.top.clone(), body.nested.clone()), "{key_path:?}");
        let new = document.into_new_bytes();
        assert_eq!(matches!(new, NewBytes::Spliced { .. }), single, "{key_path:?}");
        assert_eq!(String::from_utf8(new.into_vec(Some(input.as_bytes()))).unwrap(), written, "{key_path:?}");
    }
    // Removing a member next to others makes the CST write the object again, with the
    // other members' placeholders in it: they come back as the text they stand for.
    let mut document = parse(input, Format::Json);
    document.remove(&["projects", "/q", "mcpServers", "s"]).unwrap();
    document.assert_json_index();
    assert_eq!(
        output(&document),
        input.replace("\"mcpServers\": { \"s\": { \"command\": \"c\" } }", "\"mcpServers\": {}")
    );
}

/// `mcp add` once had a splice fast path for huge `.claude.json` files
/// (`skills_mcp/json_fast.rs`); the document layer is as fast now and took its place.
/// These are the bytes the fast path wrote, so nothing changed for the files it took.
#[test]
fn a_new_server_is_written_as_the_retired_splice_fast_path_wrote_it() {
    let entry = json!({"type": "stdio", "command": "npx", "args": ["-y", "@mcp/fs"],
                       "env": {"A": "1", "B": "é \"q\""}, "headers": {}, "list": []});
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "{\n  \"a\": 1,\n  \"mcpServers\": {\n    \"x\": {\n      \"type\": \"http\"\n    }\n  },\n  \"z\": [1, 2]\n}\n",
            &["mcpServers", "new"],
            "{\n  \"a\": 1,\n  \"mcpServers\": {\n    \"x\": {\n      \"type\": \"http\"\n    },\n    \"new\": {\n      \"type\": \"stdio\",\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@mcp/fs\"],\n      \"env\": {\n        \"A\": \"1\",\n        \"B\": \"é \\\"q\\\"\"\n      },\n      \"headers\": {},\n      \"list\": []\n    }\n  },\n  \"z\": [1, 2]\n}\n",
        ),
        (
            "{\n    \"mcpServers\": {\n        \"x\": {}\n    }\n}",
            &["mcpServers", "new"],
            "{\n    \"mcpServers\": {\n        \"x\": {},\n        \"new\": {\n            \"type\": \"stdio\",\n            \"command\": \"npx\",\n            \"args\": [\"-y\", \"@mcp/fs\"],\n            \"env\": {\n                \"A\": \"1\",\n                \"B\": \"é \\\"q\\\"\"\n            },\n            \"headers\": {},\n            \"list\": []\n        }\n    }\n}",
        ),
        (
            "{\n  \"projects\": {\n    \"/p\": {\n      \"mcpServers\": {\n        \"x\": { \"command\": \"a\" }\n      }\n    }\n  }\n}\n",
            &["projects", "/p", "mcpServers", "new"],
            "{\n  \"projects\": {\n    \"/p\": {\n      \"mcpServers\": {\n        \"x\": { \"command\": \"a\" },\n        \"new\": {\n          \"type\": \"stdio\",\n          \"command\": \"npx\",\n          \"args\": [\"-y\", \"@mcp/fs\"],\n          \"env\": {\n            \"A\": \"1\",\n            \"B\": \"é \\\"q\\\"\"\n          },\n          \"headers\": {},\n          \"list\": []\n        }\n      }\n    }\n  }\n}\n",
        ),
    ];
    for (input, key_path, expected) in cases {
        let mut document = parse(input, Format::Json);
        document.set(key_path, &entry).unwrap();
        // The span says which bytes changed: the rest is the input's.
        let (changed, inserted) = document.changed_span().unwrap();
        assert_eq!(expected[..changed.start], input[..changed.start]);
        assert_eq!(expected[changed.start + inserted..], input[changed.end..]);
        assert_eq!(String::from_utf8(document.into_bytes()).unwrap(), expected);
    }
    // With a BOM the span counts its bytes; a second edit makes it unknown.
    let mut document = parse("\u{feff}{\"a\": 1}", Format::Json);
    document.set(&["b"], &json!(2)).unwrap();
    assert_eq!(document.changed_span(), Some((10..10, 8)));
    assert_eq!(output(&document), "\u{feff}{\"a\": 1, \"b\": 2}");
    document.set(&["c"], &json!(3)).unwrap();
    assert_eq!(document.changed_span(), None);
}

/// Where the time of a parse goes on a 20 MB file (release mode:
/// `cargo test --release --lib -- --ignored --nocapture parse_phases`).
#[test]
#[ignore = "a benchmark: run it in release mode"]
fn parse_phases() {
    let mut text = String::from("{\n  \"projects\": {\n");
    let mut index = 0;
    while text.len() < 20 << 20 {
        text.push_str(&format!(
            "    \"/p/{index}\": {{\n      \"history\": [\n        {{\"display\": \"/clear {index} \\u00e9\", \"pastedContents\": {{}}}}\n      ],\n      \"mcpServers\": {{}}\n    }},\n"
        ));
        index += 1;
    }
    text.push_str("    \"/last\": {}\n  },\n  \"mcpServers\": {}\n}\n");
    let time = |name: &str, run: &mut dyn FnMut()| {
        let best = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                run();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .fold(f64::INFINITY, f64::min);
        println!("{name:<12} {best:>8.1} ms");
    };
    time("decode", &mut || {
        text::decode(text.as_bytes(), true).unwrap();
    });
    time("validate", &mut || {
        json_scan::validate(&text, Format::Json.json_dialect()).unwrap();
    });
    time("serde ignore", &mut || {
        serde_json::from_str::<serde::de::IgnoredAny>(&text).unwrap();
    });
    time("skip root", &mut || {
        json_read::members(&text, 0);
    });
    time("parse", &mut || {
        Document::parse(text.as_bytes(), Format::Json, Path::new("x")).unwrap();
    });
    let entry = json!({"type": "stdio", "command": "npx", "args": ["-y", "@bench/server"], "env": {}});
    time("parse+set+out", &mut || {
        let mut document = Document::parse(text.as_bytes(), Format::Json, Path::new("x")).unwrap();
        document.set(&["mcpServers", "bench"], &entry).unwrap();
        document.into_bytes();
    });
    time("local add", &mut || {
        let mut document = Document::parse(text.as_bytes(), Format::Json, Path::new("x")).unwrap();
        document.set(&["projects", "/p/77", "mcpServers", "bench"], &entry).unwrap();
        document.into_bytes();
    });
    let huge = format!(
        "{{\n  \"blob\": \"{}\",\n  \"mcpServers\": {{}}\n}}\n",
        "x\\u00e9\\\\\\\" ".repeat(20 << 20 >> 4)
    );
    time("huge strings", &mut || {
        json_scan::validate(&huge, super::json::JsonDialect::STRICT).unwrap();
    });
    // bench/mcp_large.sh's `small` shape: many small history entries.
    let mut small = String::from("{\n  \"numStartups\": 4242,\n  \"projects\": {\n");
    let mut index = 0;
    while small.len() < 20 << 20 {
        let history: Vec<String> = (0..400)
            .map(|n| format!("        {{\"display\": \"/clear {n}\", \"pastedContents\": {{}}}}"))
            .collect();
        small.push_str(&format!(
            "    \"/home/alice/src/project-{index}\": {{\n      \"allowedTools\": [],\n      \"history\": [\n{}\n      ],\n      \"mcpServers\": {{}},\n      \"lastCost\": 1.25\n    }},\n",
            history.join(",\n")
        ));
        index += 1;
    }
    small.push_str("    \"/last\": {}\n  },\n  \"mcpServers\": {}\n}\n");
    time("small alone", &mut || {
        json_scan::validate_alone(&small, super::json::JsonDialect::STRICT).unwrap();
    });
    time("small split", &mut || {
        json_scan::validate(&small, super::json::JsonDialect::STRICT).unwrap();
    });
    time("small serde", &mut || {
        serde_json::from_str::<serde::de::IgnoredAny>(&small).unwrap();
    });
}

#[test]
fn json_with_comments_takes_comments_and_refuses_trailing_commas_and_lenient_whitespace() {
    let input = "{\n  // the login\n  \"security\": { \"auth\": { \"selectedType\": \"oauth-personal\" } }, /* ui */\n  \"ui\": {}\n}\n";
    let document = parse(input, Format::JsonComments);
    assert_eq!(document.get(&["security", "auth", "selectedType"]), Some(json!("oauth-personal")));
    type Case = (&'static [u8], &'static str, (usize, usize));
    let cases: Vec<Case> = vec![
        (b"{\n  \"a\": 1,\n}", "JsoncInStrictJson", (2, 9)),
        (b"{\n  \"a\": [1, 2,],\n  \"b\": 2\n}", "JsoncInStrictJson", (2, 13)),
        (b"{\"a\":\x0c1}", "Syntax", (1, 6)),
        (b"{\"a\": 1}\n/* open", "Syntax", (2, 1)),
    ];
    for (input, kind, location) in cases {
        let error = refused(input, Format::JsonComments);
        assert!(format!("{error:?}").starts_with(kind), "{kind}: {error:?}");
        assert_eq!(error.location(), Some(location), "{error:?}");
    }
    let error = refused(b"{\n  \"a\": 1,\n}", Format::JsonComments);
    assert!(error.message().contains("remove this comma"), "{error:?}");
    // JSONC (OpenCode) takes the same trailing comma.
    parse("{\n  \"a\": 1,\n}", Format::Jsonc);
}

#[test]
fn json_with_comments_edits_keep_comments_and_never_add_a_trailing_comma() {
    assert_set_then_remove(
        "{\n  // user settings\n  \"ui\": { \"theme\": \"GitHub\" } // the theme\n}\n",
        Format::JsonComments,
        &["security", "auth", "selectedType"],
        json!("gemini-api-key"),
        "{\n  // user settings\n  \"ui\": { \"theme\": \"GitHub\" }, // the theme\n  \"security\": {\n    \"auth\": {\n      \"selectedType\": \"gemini-api-key\"\n    }\n  }\n}\n",
    );
    assert_set_then_remove(
        "{\n  \"mcp\": {\n    /* blocked */\n    \"excluded\": [\"a\"]\n  }\n}\n",
        Format::JsonComments,
        &["mcp", "allowed"],
        json!(["b"]),
        "{\n  \"mcp\": {\n    /* blocked */\n    \"excluded\": [\"a\"],\n    \"allowed\": [\"b\"]\n  }\n}\n",
    );
    let mut document = parse("{\n  \"mcp\": { \"excluded\": [\"a\"] }\n}\n", Format::JsonComments);
    document.set(&["mcp", "excluded"], &json!(["a", "b"])).unwrap();
    assert_eq!(output(&document), "{\n  \"mcp\": { \"excluded\": [\"a\", \"b\"] }\n}\n");
    let mut empty = Document::new_empty(Format::JsonComments);
    empty.set(&["mcpServers", "fs"], &json!({"command": "npx", "args": []})).unwrap();
    assert_eq!(
        output(&empty),
        "{\n  \"mcpServers\": {\n    \"fs\": {\n      \"command\": \"npx\",\n      \"args\": []\n    }\n  }\n}\n"
    );
}

/// What [`json_skeletons`] says about two texts: `None` when it cannot place the change,
/// else whether they mean the same.
fn skeletons_say(format: Format, before: &str, after: &str) -> Option<bool> {
    json_skeletons(format, before.as_bytes(), after.as_bytes()).map(|(before, after)| before == after)
}

#[test]
fn skeletons_compare_only_the_object_around_the_change() {
    let before = "{\n  \"projects\": {\"/a\": {\"history\": [1, 2]}},\n  \"mcpServers\": {\n    \"fs\": {\"command\": \"npx\"}\n  },\n  \"tail\": true\n}\n";
    // The same meaning, other bytes: whitespace inside the change.
    let spaced = before.replace("{\"command\": \"npx\"}", "{ \"command\":\"npx\" }");
    assert_eq!(skeletons_say(Format::Json, before, &spaced), Some(true));
    // A server more, or another command: not the same.
    let added = before.replace("\"fs\": {", "\"web\": {},\n    \"fs\": {");
    assert_eq!(skeletons_say(Format::Json, before, &added), Some(false));
    assert_eq!(skeletons_say(Format::Json, before, &before.replace("npx", "npm")), Some(false));
    let (skeleton, _) = json_skeletons(Format::Json, before.as_bytes(), added.as_bytes()).unwrap();
    // Every key on the way down is there; what the change did not reach is null.
    assert_eq!(skeleton, json!({"projects": null, "mcpServers": {"fs": {"command": "npx"}}, "tail": null}));
    // A number that only grew a digit next to the change is read again.
    let grown = "{\n  \"a\": {\"n\": 1, \"m\": 2}\n}\n";
    assert_eq!(skeletons_say(Format::Json, grown, &grown.replace("1,", "12,")), Some(false));
    assert_eq!(skeletons_say(Format::Json, grown, &grown.replace("1, ", "1 , ")), Some(true));
}

#[test]
fn skeletons_refuse_what_they_cannot_place_or_what_is_not_valid() {
    let before = "{\n  \"mcpServers\": {\"fs\": {\"command\": \"npx\"}}\n}\n";
    // The top-level braces changed, or the text after is not one object there.
    assert_eq!(skeletons_say(Format::Json, before, "[]\n"), None);
    assert_eq!(skeletons_say(Format::Json, before, &before.replace("\"npx\"}", "\"npx\"")), None);
    // A duplicate key, a comment in strict JSON, a trailing comma: refused as a parse would.
    assert_eq!(
        skeletons_say(Format::Json, before, &before.replace("\"fs\": {", "\"fs\": {}, \"fs\": {")),
        None
    );
    assert_eq!(skeletons_say(Format::Json, before, &before.replace("\"npx\"", "\"npx\" // x\n")), None);
    assert_eq!(skeletons_say(Format::Json, before, &before.replace("\"npx\"", "\"npx\",")), None);
    // JSONC takes them.
    assert_eq!(
        skeletons_say(Format::Jsonc, before, &before.replace("\"npx\"", "\"npx\", // x\n")),
        Some(true)
    );
    // A NUL in a comment, which the document layer refuses before it validates.
    assert_eq!(skeletons_say(Format::Jsonc, before, &before.replace("\"npx\"", "\"npx\" /*\0*/")), None);
    // Numbers are read as serde_json (and `JSON.parse`) read them: a number too large for
    // an integer is no string, and -0 is not 0.
    let large = "{\n  \"m\": {\"n\": 18446744073709551616}, \"t\": 1\n}\n";
    assert_eq!(
        skeletons_say(
            Format::Json,
            large,
            &large.replace("18446744073709551616", "\"18446744073709551616\"")
        ),
        Some(false)
    );
    assert_eq!(skeletons_say(Format::Json, large, &large.replace("18446744073709551616", "-0")), Some(false));
    assert_eq!(
        skeletons_say(
            Format::Json,
            &large.replace("18446744073709551616", "0"),
            &large.replace("18446744073709551616", "-0")
        ),
        Some(false)
    );
    // TOML is not theirs.
    assert_eq!(skeletons_say(Format::Toml, "a = 1\n", "a = 2\n"), None);
}

#[test]
fn skeletons_agree_with_whole_values_on_every_splice() {
    // A small deterministic generator: no dependency, the same cases on every run.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    let bases = [
        "{\n  \"a\": 1,\n  \"mcpServers\": {\n    \"fs\": {\"command\": \"npx\", \"args\": [\"-y\", \"x\"]},\n    \"w\\u0065b\": {}\n  },\n  \"p\": {\"/x\": {\"mcpServers\": {}, \"h\": [{\"d\": \"a\\\"b\"}]}},\n  \"z\": null\n}\n",
        "\u{feff}{\r\n  \"k\": {\"n\": -1.5e3, \"s\": \"é\", \"t\": [true, false]},\r\n  \"m\": {\"x\": {\"y\": {}}}\r\n}",
    ];
    let pieces = [
        "",
        " ",
        ",",
        ":",
        "\"",
        "{",
        "}",
        "[",
        "]",
        "1",
        "0",
        "null",
        "\"q\"",
        "\"fs\"",
        "\"a\": 2,",
        ", \"b\": 3",
        "{}",
        "[]",
        "\\",
        "\"x\": {\"y\": 1}",
        "e5",
        "-",
        "// c\n",
        "/* c */",
    ];
    let mut seen = [0_usize; 3];
    for (base, format) in bases.iter().flat_map(|base| [(base, Format::Json), (base, Format::Jsonc)]) {
        // What the text means: nothing when the document layer refuses it, else as
        // serde_json reads it (as the skeletons do), or as the document layer does (JSONC).
        let whole = |text: &str| {
            let document = Document::parse(text.as_bytes(), format, Path::new("x")).ok()?;
            Some(
                serde_json::from_str(text.trim_start_matches('\u{feff}'))
                    .unwrap_or_else(|_| document.to_value()),
            )
        };
        let base_value = whole(base).unwrap();
        for _ in 0..4000 {
            let at = next(base.len());
            let cut = next(4).min(base.len() - at);
            let (start, end) = (at, at + cut);
            if !base.is_char_boundary(start) || !base.is_char_boundary(end) {
                continue;
            }
            let after = format!("{}{}{}", &base[..start], pieces[next(pieces.len())], &base[end..]);
            let said = skeletons_say(format, base, &after);
            match (said, whole(&after)) {
                (None, _) => seen[0] += 1,
                (Some(same), Some(value)) => {
                    assert_eq!(same, value == base_value, "{after:?}");
                    seen[1 + usize::from(same)] += 1;
                }
                (Some(_), None) => panic!("took an invalid text: {after:?}"),
            }
        }
    }
    // The generator reaches every answer.
    assert!(seen.iter().all(|count| *count > 50), "{seen:?}");
}

#[test]
fn whole_new_bytes_become_the_splice_they_are() {
    let input = b"abcXYZdef";
    let spliced = NewBytes::Whole(b"abc12def".to_vec()).into_splice(Some(input));
    assert_eq!(spliced, NewBytes::Spliced { range: 3..6, with: b"12".to_vec() });
    // Whatever the change, the splice gives the same bytes back.
    for new in
        [&b"abcXYZdef"[..], b"abcXYZ!def", b"abdef", b"aaaa", b"", b"abcXYZdefabcXYZdef", b"xabcXYZdef"]
    {
        let spliced = NewBytes::Whole(new.to_vec()).into_splice(Some(input));
        assert!(matches!(spliced, NewBytes::Spliced { .. }));
        assert_eq!(spliced.into_vec(Some(input)), new, "{}", String::from_utf8_lossy(new));
    }
    // A file that was not there has nothing to splice into.
    assert_eq!(NewBytes::Whole(b"new".to_vec()).into_splice(None), NewBytes::Whole(b"new".to_vec()));
}

#[test]
fn new_bytes_are_compared_as_the_bytes_they_give() {
    let input = b"abcXYZdef";
    let all = |range: std::ops::Range<usize>, with: &[u8]| NewBytes::Spliced { range, with: with.to_vec() };
    // Every way of making these files from `input`, as splices (narrow, wide, empty) and
    // whole: each pair is equal exactly when the bytes are.
    let versions = [
        all(3..6, b"12"),
        all(2..7, b"c12d"),
        all(0..9, b"abc12def"),
        NewBytes::Whole(b"abc12def".to_vec()),
        all(3..6, b"13"),
        all(3..3, b""),
        NewBytes::unchanged(),
        all(9..9, b""),
        all(0..0, b"x"),
        all(3..6, b"XYZ"),
        NewBytes::Whole(b"abcXYZdef".to_vec()),
        all(8..9, b"f!"),
    ];
    for a in &versions {
        for b in &versions {
            let same = a.parts(Some(input)).concat() == b.parts(Some(input)).concat();
            assert_eq!(a.same_as(Some(input), b), same, "{a:?} {b:?}");
        }
    }
    assert!(NewBytes::unchanged().is(Some(input), input));
    assert!(NewBytes::Whole(b"new".to_vec()).same_as(None, &NewBytes::Whole(b"new".to_vec())));
    assert!(!NewBytes::Whole(b"new".to_vec()).same_as(None, &NewBytes::Whole(b"neW".to_vec())));
}

#[test]
fn a_document_knows_the_bytes_it_was_parsed_from() {
    let path = std::path::Path::new("settings.json");
    for bytes in [&b"{\"a\": 1}\n"[..], b"\xEF\xBB\xBF{\"a\": 1}\r\n"] {
        let document = Document::parse_owned(bytes.to_vec(), Format::Json, path).unwrap();
        assert!(document.is_parse_of(bytes));
        let bom_toggled = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => rest.to_vec(),
            None => [&b"\xEF\xBB\xBF"[..], bytes].concat(),
        };
        assert!(!document.is_parse_of(&bom_toggled));
        assert!(!document.is_parse_of(&[bytes, b" "].concat()));
    }
}
