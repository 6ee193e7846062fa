//! Unit tests for TOML edits: each seeds a raw file, edits it, and compares the whole
//! output text.

use super::*;
use pretty_assertions::assert_eq;
use serde_json::json;

fn parse(input: &str) -> Document<'_> {
    Document::parse(input.as_bytes(), Format::Toml, Path::new("config.toml")).unwrap()
}

fn output(document: &Document) -> String {
    String::from_utf8(document.to_bytes()).unwrap()
}

/// Set `key_path` to `value`, check the whole output, then remove it again and check
/// the input comes back byte for byte.
#[track_caller]
fn assert_set_then_remove(input: &str, key_path: &[&str], value: JsonValue, expected: &str) {
    let mut document = parse(input);
    assert!(document.set(key_path, &value).unwrap(), "set reported no change");
    assert_eq!(output(&document), expected);
    if !input.trim().is_empty() {
        assert!(matches!(document.toml_text, TomlText::Spliced { .. }), "the edit was not spliced");
    }
    reparse(expected);
    assert_eq!(document.get(key_path), Some(value.clone()));
    assert_eq!(document.remove(key_path).unwrap(), Some(value));
    assert_eq!(output(&document), input, "set then remove must give back the input");
}

#[track_caller]
fn reparse(text: &str) {
    if let Err(error) =
        text.replace("\r\n", "\n").trim_start_matches('\u{feff}').parse::<toml_edit::DocumentMut>()
    {
        panic!("output is not valid TOML: {error}\n{text}");
    }
}

#[test]
fn new_scalar_at_root_goes_before_the_first_header() {
    assert_set_then_remove(
        "# settings\nmodel = \"o3\"   # the model\n\n# providers\n[model_providers.a]\nname = \"A\"\n",
        &["model_provider"],
        json!("aigate"),
        "# settings\nmodel = \"o3\"   # the model\nmodel_provider = \"aigate\"\n\n# providers\n[model_providers.a]\nname = \"A\"\n",
    );
}

#[test]
fn new_root_key_in_a_file_that_starts_with_a_table_stays_at_the_root() {
    assert_set_then_remove(
        "[mcp_servers.docs]\ncommand = \"npx\"\n# appended later\nmodel_provider = \"x\"\n",
        &["model"],
        json!("o3"),
        "model = \"o3\"\n[mcp_servers.docs]\ncommand = \"npx\"\n# appended later\nmodel_provider = \"x\"\n",
    );
}

#[test]
fn new_nested_table_is_a_standard_table_with_inline_children_after_its_siblings() {
    assert_set_then_remove(
        "model = \"o3\"\n\n[mcp_servers.docs]\ncommand = \"npx\"\n\n[projects.\"/srv\"]\ntrust_level = \"trusted\"\n",
        &["mcp_servers", "aigate"],
        json!({"command": "aigate", "args": ["mcp"], "env": {"A": "1"}}),
        "model = \"o3\"\n\n[mcp_servers.docs]\ncommand = \"npx\"\n\n[mcp_servers.aigate]\ncommand = \"aigate\"\nargs = [\"mcp\"]\nenv = { A = \"1\" }\n\n[projects.\"/srv\"]\ntrust_level = \"trusted\"\n",
    );
}

#[test]
fn new_table_with_missing_parents_goes_at_the_end_with_no_empty_parent_header() {
    assert_set_then_remove(
        "model = \"o3\"\n\n[tui]\nnotifications = true\n",
        &["model_providers", "aigate"],
        json!({"name": "aigate", "base_url": "http://127.0.0.1:1/v1"}),
        "model = \"o3\"\n\n[tui]\nnotifications = true\n\n[model_providers.aigate]\nname = \"aigate\"\nbase_url = \"http://127.0.0.1:1/v1\"\n",
    );
}

#[test]
fn replacing_a_value_keeps_its_comment_and_spacing() {
    let mut document =
        parse("model    =   \"gpt-5\"          # spaces on purpose\n\tprofile = \"w\"\t# tab\n");
    assert!(document.set(&["model"], &json!("o3")).unwrap());
    assert!(document.set(&["profile"], &json!("x")).unwrap());
    assert_eq!(
        output(&document),
        "model    =   \"o3\"          # spaces on purpose\n\tprofile = \"x\"\t# tab\n"
    );
}

#[test]
fn setting_the_same_value_changes_nothing() {
    let input = "model = 'o3' # literal\n[t]\nx = { a = 1 }\n";
    let mut document = parse(input);
    assert!(!document.set(&["model"], &json!("o3")).unwrap());
    assert!(!document.set(&["t"], &json!({"x": {"a": 1}})).unwrap());
    assert_eq!(output(&document), input);
}

#[test]
fn insert_into_an_inline_table_edits_it_in_place() {
    assert_set_then_remove(
        "model = \"o4-mini\"\nmcp_servers = { context7 = { command = \"npx\" } }\n\n[projects.\"/srv/app\"]\ntrust_level = \"trusted\"\n",
        &["mcp_servers", "aigate"],
        json!({"command": "aigate", "env": {"A": "1"}}),
        "model = \"o4-mini\"\nmcp_servers = { context7 = { command = \"npx\" }, aigate = { command = \"aigate\", env = { A = \"1\" } } }\n\n[projects.\"/srv/app\"]\ntrust_level = \"trusted\"\n",
    );
}

#[test]
fn dotted_root_tables_stay_dotted() {
    assert_set_then_remove(
        "model_providers.deepseek.name = \"DeepSeek\"\n\n[model_providers.groq]\nname = \"Groq\"\n",
        &["model_providers", "aigate"],
        json!({"name": "aigate", "http_headers": {"X": "1"}}),
        "model_providers.deepseek.name = \"DeepSeek\"\nmodel_providers.aigate.name = \"aigate\"\nmodel_providers.aigate.http_headers = { X = \"1\" }\n\n[model_providers.groq]\nname = \"Groq\"\n",
    );
}

#[test]
fn dotted_and_header_forms_are_read_alike() {
    let document = parse(
        "model_providers.deepseek.name = \"DeepSeek\"\nmcp_servers = { t = { command = \"uvx\" } }\n[model_providers.groq]\nname = \"Groq\"\n[x]\nenv.A = \"1\"\n",
    );
    assert_eq!(document.keys(&["model_providers"]), vec!["deepseek", "groq"]);
    assert_eq!(document.get(&["model_providers", "deepseek", "name"]), Some(json!("DeepSeek")));
    assert_eq!(document.get(&["mcp_servers", "t"]), Some(json!({"command": "uvx"})));
    assert_eq!(document.get(&["x", "env"]), Some(json!({"A": "1"})));
    assert!(document.contains(&["model_providers", "groq", "name"]));
    assert!(!document.contains(&["model_providers", "groq", "nope"]));
}

#[test]
fn keys_that_need_quotes_are_quoted() {
    assert_set_then_remove(
        "[mcp_servers.docs]\ncommand = \"npx\"\n",
        &["mcp_servers", "my.server x"],
        json!({"url": "http://x"}),
        "[mcp_servers.docs]\ncommand = \"npx\"\n\n[mcp_servers.\"my.server x\"]\nurl = \"http://x\"\n",
    );
}

#[test]
fn crlf_file_keeps_crlf_on_old_and_new_lines() {
    assert_set_then_remove(
        "model = \"o3\"\r\n\r\n[model_providers.azure]\r\nname = \"Azure\"\r\n",
        &["model_providers", "azure", "env_key"],
        json!("AZURE_KEY"),
        "model = \"o3\"\r\n\r\n[model_providers.azure]\r\nname = \"Azure\"\r\nenv_key = \"AZURE_KEY\"\r\n",
    );
}

#[test]
fn mixed_endings_survive_and_new_lines_use_the_dominant_one() {
    assert_set_then_remove(
        "model = \"o3\"\r\nprofile = \"x\"\n[profiles.x]\r\nmodel = \"o4-mini\"\n",
        &["approval_policy"],
        json!("never"),
        "model = \"o3\"\r\nprofile = \"x\"\napproval_policy = \"never\"\n[profiles.x]\r\nmodel = \"o4-mini\"\n",
    );
}

#[test]
fn bom_is_kept() {
    assert_set_then_remove(
        "\u{feff}model = \"gpt-5-codex\"\n\n[mcp_servers.docs]\ncommand = \"npx\"\n",
        &["mcp_servers", "docs", "args"],
        json!(["-y"]),
        "\u{feff}model = \"gpt-5-codex\"\n\n[mcp_servers.docs]\ncommand = \"npx\"\nargs = [\"-y\"]\n",
    );
}

#[test]
fn no_final_newline_and_trailing_comment_are_kept() {
    assert_set_then_remove(
        "[notice]\nhide = true\n# trailing comment, no newline",
        &["notice", "other"],
        json!(false),
        "[notice]\nhide = true\nother = false\n# trailing comment, no newline",
    );
}

#[test]
fn empty_file_gets_fresh_content() {
    assert_set_then_remove(
        "",
        &["mcp_servers", "a"],
        json!({"command": "x"}),
        "[mcp_servers.a]\ncommand = \"x\"\n",
    );
}

#[test]
fn comments_only_file_keeps_its_comments() {
    assert_set_then_remove(
        "\n\n# only comments\n",
        &["model"],
        json!("o3"),
        "model = \"o3\"\n\n\n# only comments\n",
    );
}

#[test]
fn remove_a_table_takes_its_header_and_body() {
    let mut document = parse("a = 1\n\n[t.one]\nx = 1\n\n[t.two]\ny = 2\n");
    assert_eq!(document.remove(&["t", "one"]).unwrap(), Some(json!({"x": 1})));
    assert_eq!(output(&document), "a = 1\n\n[t.two]\ny = 2\n");
    assert_eq!(document.remove(&["t", "nope"]).unwrap(), None);
    assert_eq!(document.remove(&["nope", "deeper"]).unwrap(), None);
}

#[test]
fn remove_a_dotted_entry_takes_all_its_lines() {
    let mut document =
        parse("mcp_servers.time.command = \"uvx\"\nmcp_servers.time.args = [\"x\"]\nmodel = \"o3\"\n");
    assert_eq!(
        document.remove(&["mcp_servers", "time"]).unwrap(),
        Some(json!({"command": "uvx", "args": ["x"]}))
    );
    assert_eq!(output(&document), "model = \"o3\"\n");
}

#[test]
fn setting_an_object_onto_a_table_edits_it_key_by_key() {
    let mut document = parse("[p.a]\nname = \"A\" # keep\nold = 1\n");
    assert!(document.set(&["p", "a"], &json!({"name": "A", "base_url": "u"})).unwrap());
    assert_eq!(output(&document), "[p.a]\nname = \"A\" # keep\nbase_url = \"u\"\n");
}

#[test]
fn edits_through_a_scalar_or_with_null_are_refused() {
    let mut document = parse("model = \"o3\"\n");
    let error = document.set(&["model", "x"], &json!(1)).unwrap_err();
    assert!(matches!(error, DocError::Conflict { .. }), "{error:?}");
    let error = document.set(&["y"], &json!(null)).unwrap_err();
    assert!(matches!(error, DocError::Conflict { .. }), "{error:?}");
    assert_eq!(output(&document), "model = \"o3\"\n");
}

#[test]
fn values_convert_to_json() {
    let document = parse("d = 1979-05-27T07:32:00Z\nf = 1.5\ni = 120_000\ninf = inf\n[[arr]]\nx = 1\n");
    assert_eq!(
        document.to_value(),
        json!({"d": "1979-05-27T07:32:00Z", "f": 1.5, "i": 120_000, "inf": "inf", "arr": [{"x": 1}]})
    );
}

#[test]
fn parse_errors_carry_line_and_column() {
    let error =
        Document::parse(b"model = \"x\"\nmodel = \"y\"\n", Format::Toml, Path::new("c.toml")).unwrap_err();
    assert!(matches!(error, DocError::DuplicateKey { line: 2, column: 1, .. }), "{error:?}");
    assert_eq!(error.message(), "duplicate key `model`");
    let error = Document::parse(b"a = 1\nb = \"open\n", Format::Toml, Path::new("c.toml")).unwrap_err();
    assert!(matches!(error, DocError::Syntax { line: 2, .. }), "{error:?}");
    let error = Document::parse(b"a = \"caf\xe9\"\n", Format::Toml, Path::new("c.toml")).unwrap_err();
    assert_eq!(error.location(), Some((1, 9)));
    assert!(matches!(error, DocError::NotUtf8 { .. }), "{error:?}");
}

#[test]
fn doc_error_renders_as_a_refusal_with_location_and_hint() {
    let error =
        Document::parse(b"a = 1\nb = \"open\n", Format::Toml, Path::new("/nowhere/config.toml")).unwrap_err();
    let rendered = crate::error::Error::from(error).render();
    assert!(
        rendered.starts_with(
            "error: Failed to parse `/nowhere/config.toml:2:10`\n  Caused by: line 2, column 10: "
        ),
        "{rendered}"
    );
    assert!(
        rendered.ends_with(
            "\nhint: fix the file by hand (nothing was written to any client), or put back an earlier version with `aigate restore`\n"
        ),
        "{rendered}"
    );
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep_inputs = [
        format!("a = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        format!("a = {}1{}\n", "{ b = ".repeat(100_000), " }".repeat(100_000)),
        format!("a{} = 1\n", ".a".repeat(3000)),
        format!("[a{}]\n", ".a".repeat(3000)),
    ];
    for input in deep_inputs {
        let error = Document::parse(input.as_bytes(), Format::Toml, Path::new("deep.toml")).unwrap_err();
        assert!(matches!(error, DocError::TooDeep { line: 1, .. }), "{error:?}");
    }
}

#[test]
fn a_value_under_an_implicit_parent_makes_its_header_appear_and_disappear() {
    assert_set_then_remove(
        "[mcp_servers.docs]\ncommand = \"npx\"\n",
        &["mcp_servers", "note"],
        json!("s"),
        "[mcp_servers]\nnote = \"s\"\n[mcp_servers.docs]\ncommand = \"npx\"\n",
    );
}

#[test]
fn new_sub_table_goes_after_the_parents_last_sub_table() {
    assert_set_then_remove(
        "[a]\nx = 1\n\n[a.b]\ny = 2\n\n[c]\nz = 3\n",
        &["a", "new"],
        json!({"k": 1}),
        "[a]\nx = 1\n\n[a.b]\ny = 2\n\n[a.new]\nk = 1\n\n[c]\nz = 3\n",
    );
}

#[test]
fn replacing_a_table_with_a_scalar_writes_a_plain_key() {
    let mut document = parse("a = 1\n[t]\nx = 1\n");
    assert!(document.set(&["t"], &json!("now a string")).unwrap());
    assert_eq!(output(&document), "a = 1\nt = \"now a string\"\n");
}

#[test]
fn replacing_a_scalar_with_an_object_writes_an_inline_table_in_place() {
    let mut document = parse("x = 1 # was a number\ny = 2\n");
    assert!(document.set(&["x"], &json!({"b": {"c": 1}})).unwrap());
    assert_eq!(output(&document), "x = { b = { c = 1 } } # was a number\ny = 2\n");
}

#[test]
fn empty_inline_tables_take_their_first_key_cleanly() {
    assert_set_then_remove("x = { }\n", &["x", "a"], json!(1), "x = { a = 1 }\n");
    assert_set_then_remove("x = {}\n", &["x", "a"], json!(1), "x = { a = 1 }\n");
}

#[test]
fn arrays_of_tables_are_not_addressable() {
    let mut document = parse("[[arr]]\nx = 1\n");
    let error = document.set(&["arr", "x"], &json!(5)).unwrap_err();
    assert!(matches!(error, DocError::Conflict { .. }), "{error:?}");
    assert_eq!(document.get(&["arr"]), Some(json!([{"x": 1}])));
}

#[test]
fn input_that_makes_toml_edit_panic_is_refused_cleanly() {
    // toml_edit 0.23 panicked ("all items have spans") on this after its grammar error;
    // 0.25 refuses it, which is why src/doc no longer runs a toml_parser pass first.
    let error = Document::parse(b"a = =\na.b = 1\n", Format::Toml, Path::new("c.toml")).unwrap_err();
    assert!(matches!(error, DocError::Syntax { line: 1, column: 5, .. }), "{error:?}");
    assert_eq!(error.message(), "extra `=`, expected nothing");
}

#[test]
fn form_feed_or_vertical_tab_alone_is_refused_not_blank() {
    for (input, column) in [(&b"\x0c"[..], 1), (b"\x0b", 1), (b"\n\n  \x0c\n", 3)] {
        let error = Document::parse(input, Format::Toml, Path::new("c.toml")).unwrap_err();
        assert!(matches!(error, DocError::Syntax { .. }), "{input:?}: {error:?}");
        assert!(error.message().contains("not allowed in TOML"), "{error:?}");
        let line = if input.len() > 1 { 3 } else { 1 };
        assert_eq!(error.location(), Some((line, column)), "{input:?}: {error:?}");
    }
}

#[test]
fn two_byte_order_marks_are_refused_for_every_format() {
    for format in [Format::Toml, Format::Json, Format::Jsonc] {
        let error =
            Document::parse(b"\xEF\xBB\xBF\xEF\xBB\xBFa = 1\n", format, Path::new("/x/config")).unwrap_err();
        assert!(matches!(error, DocError::Syntax { line: 1, column: 1, .. }), "{format:?}: {error:?}");
        let rendered = crate::error::Error::from(error).render();
        assert!(rendered.starts_with("error: Failed to parse `/x/config:1:1`\n"), "{rendered}");
    }
}

/// Defect 1: lines aigate does not own were re-rendered by toml_edit on any edit.
#[test]
fn an_edit_keeps_dotted_keys_empty_keys_and_multi_line_inline_tables_as_written() {
    let input = concat!(
        "\"name\".'last' = \"x\"\n",
        "fruit . flavor = \"banana\"\n",
        "site.a = 1\n",
        "other = 2\n",
        "site.b = 3   # regrouped by toml_edit\n",
        "point = {\n",
        "  x = 1, # the x\n",
        "  y = 2,\n",
        "}\n",
        "\n",
        "[\"\".a]\n",
        "k = 'v'\n",
    );
    let mut document = parse(input);
    assert!(document.set(&["model_provider"], &json!("aigate")).unwrap());
    assert!(
        document
            .set(
                &["model_providers", "aigate"],
                &json!({"name": "aigate", "base_url": "http://127.0.0.1:1/v1"})
            )
            .unwrap()
    );
    assert!(document.set(&["mcp_servers", "x"], &json!({"command": "npx", "args": ["-y"]})).unwrap());
    let expected = concat!(
        "\"name\".'last' = \"x\"\n",
        "fruit . flavor = \"banana\"\n",
        "site.a = 1\n",
        "other = 2\n",
        "site.b = 3   # regrouped by toml_edit\n",
        "point = {\n",
        "  x = 1, # the x\n",
        "  y = 2,\n",
        "}\n",
        "model_provider = \"aigate\"\n",
        "\n",
        "[\"\".a]\n",
        "k = 'v'\n",
        "\n",
        "[model_providers.aigate]\n",
        "name = \"aigate\"\n",
        "base_url = \"http://127.0.0.1:1/v1\"\n",
        "\n",
        "[mcp_servers.x]\n",
        "command = \"npx\"\n",
        "args = [\"-y\"]\n",
    );
    assert_eq!(output(&document), expected);
    reparse(expected);
    assert!(document.remove(&["mcp_servers", "x"]).unwrap().is_some());
    assert!(document.remove(&["model_providers", "aigate"]).unwrap().is_some());
    assert!(document.remove(&["model_provider"]).unwrap().is_some());
    assert_eq!(output(&document), input);
}

#[test]
fn an_edit_inside_a_dotted_or_inline_table_touches_only_that_entry() {
    assert_set_then_remove(
        "a . b = 1\nz = 0\na . c = 2 # c\n",
        &["a", "d"],
        json!(4),
        "a . b = 1\nz = 0\na . c = 2 # c\na.d = 4\n",
    );
    assert_set_then_remove(
        "mcp_servers = {\n  one = { command = \"a\" }, # first\n}\n",
        &["mcp_servers", "two"],
        json!({"command": "b"}),
        "mcp_servers = {\n  one = { command = \"a\" }, two = { command = \"b\" }, # first\n}\n",
    );
    assert_set_then_remove("t = { }\n", &["t", "k"], json!(1), "t = { k = 1 }\n");
    let mut document = parse("\"name\".'last' = 1\nx = { a = 1 }\n");
    assert!(document.set(&["x", "a"], &json!(2)).unwrap());
    assert_eq!(output(&document), "\"name\".'last' = 1\nx = { a = 2 }\n");
}

#[test]
fn crlf_and_a_missing_final_newline_survive_spliced_tables() {
    assert_set_then_remove(
        "a = 1\r\n[t]\r\nb = 2",
        &["mcp_servers", "x"],
        json!({"command": "c"}),
        "a = 1\r\n[t]\r\nb = 2\r\n\r\n[mcp_servers.x]\r\ncommand = \"c\"",
    );
}
