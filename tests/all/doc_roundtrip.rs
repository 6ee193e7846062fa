//! Fixture tests for the document layer (`aigate::doc`): every valid fixture round-trips
//! byte for byte, every hostile one is refused with the right kind and a location, and
//! set-then-remove gives back the input for probes at every level of every fixture.

use std::path::{Path, PathBuf};

use aigate::doc::{DocError, Document, Format};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(relative: &str) -> Vec<u8> {
    fs_err::read(fixtures_dir().join(relative)).unwrap_or_else(|error| panic!("{error}"))
}

/// Every fixture the document layer must accept, with the format its client reads.
const VALID: &[(&str, Format)] = &[
    ("codex/config.toml", Format::Toml),
    ("codex/config.dotted-root.toml", Format::Toml),
    ("codex/config.inline-mcp.toml", Format::Toml),
    ("codex/config.reserved-provider.toml", Format::Toml),
    ("codex/config.legacy-chat.toml", Format::Toml),
    ("codex/config.minimal.toml", Format::Toml),
    ("codex/auth.chatgpt.json", Format::Json),
    ("codex/auth.chatgpt-legacy.json", Format::Json),
    ("codex/auth.apikey.json", Format::Json),
    ("codex/auth.apikey-legacy.json", Format::Json),
    ("codex/auth.chatgpt-extra-key.json", Format::Json),
    ("claude/settings.json", Format::Json),
    ("claude/settings.local.json", Format::Json),
    ("claude/.mcp.json", Format::Json),
    ("claude/.claude.json", Format::Json),
    ("opencode/opencode.jsonc", Format::Jsonc),
    ("opencode/opencode.json", Format::Jsonc),
    ("opencode/opencode.no-schema.json", Format::Jsonc),
    ("opencode/auth.json", Format::Json),
    ("gemini/settings.json", Format::JsonComments),
    ("gemini/settings.legacy-flat.json", Format::JsonComments),
    ("gemini/settings.commented.json", Format::JsonComments),
    ("gemini/env.crlf", Format::Dotenv),
    ("gemini/env.lf", Format::Dotenv),
    ("hostile/trap-root-key-after-table.toml", Format::Toml),
    // Comments and trailing commas are fine where the client reads JSONC.
    ("hostile/jsonc-in-strict.settings.json", Format::Jsonc),
    // Valid JSON of the wrong shape for its client: refusing it is the client's job.
    ("hostile/wrong-type-mcpservers-array.json", Format::Json),
    ("hostile/empty.json", Format::Json),
    ("hostile/whitespace-only.json", Format::Json),
    ("hostile/empty.toml", Format::Toml),
    ("hostile/comments-only.toml", Format::Toml),
    ("hostile/bom.settings.json", Format::Json),
    ("hostile/bom.config.toml", Format::Toml),
    ("hostile/bom.opencode.jsonc", Format::Jsonc),
    ("hostile/crlf.config.toml", Format::Toml),
    ("hostile/crlf.settings.json", Format::Json),
    ("hostile/mixed-eol.config.toml", Format::Toml),
    ("hostile/big-numbers.json", Format::Json),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Syntax,
    DuplicateKey,
    JsoncInStrictJson,
    WrongTopLevel,
    NotUtf8,
    NulByte,
    TooDeep,
}

/// Every fixture the document layer must refuse: format, kind, and 1-based location.
const INVALID: &[(&str, Format, Refusal, (usize, usize))] = &[
    ("hostile/invalid-unterminated.toml", Format::Toml, Refusal::Syntax, (1, 21)),
    ("hostile/duplicate-key.toml", Format::Toml, Refusal::DuplicateKey, (2, 1)),
    ("hostile/duplicate-table.toml", Format::Toml, Refusal::DuplicateKey, (4, 14)),
    ("hostile/jsonc-in-strict.settings.json", Format::Json, Refusal::JsoncInStrictJson, (2, 3)),
    // Gemini CLI takes the comment but not the trailing comma (its rc 52).
    ("hostile/jsonc-in-strict.settings.json", Format::JsonComments, Refusal::JsoncInStrictJson, (4, 54)),
    ("gemini/settings.trailing-comma.json", Format::JsonComments, Refusal::JsoncInStrictJson, (5, 60)),
    ("hostile/truncated.claude.json", Format::Json, Refusal::Syntax, (6, 26)),
    ("hostile/duplicate-keys.json", Format::Json, Refusal::DuplicateKey, (4, 3)),
    ("hostile/toplevel-array.json", Format::Json, Refusal::WrongTopLevel, (1, 1)),
    ("hostile/toplevel-null.json", Format::Json, Refusal::WrongTopLevel, (1, 1)),
    ("hostile/not-utf8.config.toml", Format::Toml, Refusal::NotUtf8, (1, 13)),
    ("hostile/nul-byte.json", Format::Json, Refusal::NulByte, (1, 14)),
    ("hostile/lone-surrogate.json", Format::Json, Refusal::Syntax, (1, 14)),
    ("hostile/deep-nesting.json", Format::Json, Refusal::TooDeep, (1, 641)),
];

fn refusal_of(error: &DocError) -> Option<Refusal> {
    match error {
        DocError::Syntax { .. } => Some(Refusal::Syntax),
        DocError::DuplicateKey { .. } => Some(Refusal::DuplicateKey),
        DocError::JsoncInStrictJson { .. } => Some(Refusal::JsoncInStrictJson),
        DocError::WrongTopLevel { .. } => Some(Refusal::WrongTopLevel),
        DocError::NotUtf8 { .. } => Some(Refusal::NotUtf8),
        DocError::NulByte { .. } => Some(Refusal::NulByte),
        DocError::TooDeep { .. } => Some(Refusal::TooDeep),
        DocError::Conflict { .. } => None,
    }
}

fn parse(relative: &str, format: Format) -> Document<'static> {
    match Document::parse_owned(read(relative), format, Path::new(relative)) {
        Ok(document) => document,
        Err(error) => panic!("{relative} should parse: {error}"),
    }
}

/// The output must parse again as the same format (strict JSON also with serde_json)
/// and hold `value` at `key_path`.
#[track_caller]
fn assert_output_parses_with(
    original: &[u8],
    bytes: &[u8],
    format: Format,
    key_path: &[&str],
    value: &Value,
    context: &str,
) {
    let again = match Document::parse(bytes, format, Path::new(context)) {
        Ok(document) => document,
        Err(error) => panic!("{context}: output does not parse: {error}\n{}", String::from_utf8_lossy(bytes)),
    };
    assert_eq!(again.get(key_path).as_ref(), Some(value), "{context}: value not found after re-parse");
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    match format {
        Format::Toml => {
            if let Err(error) = text.replace("\r\n", "\n").parse::<toml_edit::DocumentMut>() {
                panic!("{context}: toml_edit refuses the output: {error}\n{text}");
            }
        }
        // serde_json also refuses numbers beyond f64 (`1e400`); only hold the output to
        // it when the input passed.
        Format::Json if serde_json_accepts(original) => {
            if let Err(error) = serde_json::from_str::<Value>(text) {
                panic!("{context}: serde_json refuses the output: {error}\n{text}");
            }
        }
        Format::Json | Format::Jsonc | Format::JsonComments | Format::Dotenv => {}
    }
}

fn serde_json_accepts(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    text.trim().is_empty() || serde_json::from_str::<Value>(text).is_ok()
}

/// Key paths to probe in a document: a new root scalar, a new nested table, and a new
/// entry under every existing table at the first two levels.
fn probes(document: &Document) -> Vec<(Vec<String>, Value)> {
    if document.format() == Format::Dotenv {
        // One level of string values.
        return vec![
            (vec!["ZZ_PROBE".to_string()], json!("v")),
            (vec!["zz.probe-2".to_string()], json!("a # b")),
        ];
    }
    let mut probes = vec![
        (vec!["zz_probe".to_string()], json!("v")),
        (
            vec!["zz_probe_table".to_string(), "my.server x".to_string()],
            json!({"command": "aigate", "args": ["mcp"], "env": {"A": "1"}}),
        ),
    ];
    for key in document.keys(&[]) {
        if document.get(&[key.as_str()]).is_some_and(|value| value.is_object()) {
            probes.push((vec![key.clone(), "zz_probe".to_string()], json!({"name": "p", "env": {"K": "V"}})));
            probes.push((vec![key.clone(), "zz_scalar".to_string()], json!(1)));
            for inner in document.keys(&[key.as_str()]) {
                if document.get(&[key.as_str(), inner.as_str()]).is_some_and(|value| value.is_object()) {
                    probes.push((vec![key.clone(), inner, "zz_probe".to_string()], json!("v")));
                }
            }
        }
    }
    probes
}

#[test]
fn every_valid_fixture_round_trips_byte_for_byte() {
    for (relative, format) in VALID {
        let document = parse(relative, *format);
        assert_eq!(document.to_bytes(), read(relative), "{relative}");
        assert_eq!(document.format(), *format);
    }
}

#[test]
fn every_hostile_fixture_is_refused_with_its_kind_and_location() {
    for (relative, format, refusal, location) in INVALID {
        match Document::parse(&read(relative), *format, Path::new(relative)) {
            Ok(_) => panic!("{relative} should be refused"),
            Err(error) => {
                assert_eq!(refusal_of(&error), Some(*refusal), "{relative}: {error}");
                assert_eq!(error.location(), Some(*location), "{relative}: {error}");
                let rendered = aigate::error::Error::from(error).render();
                assert!(rendered.starts_with("error: Failed to parse `"), "{rendered}");
                assert!(
                    rendered.contains(&format!("line {}, column {}", location.0, location.1)),
                    "{rendered}"
                );
            }
        }
    }
}

#[test]
fn set_then_remove_gives_back_every_valid_fixture() {
    for (relative, format) in VALID {
        let original = read(relative);
        for (key_path, value) in probes(&parse(relative, *format)) {
            let key_path: Vec<&str> = key_path.iter().map(String::as_str).collect();
            let context = format!("{relative} {key_path:?}");
            let mut document = parse(relative, *format);
            assert!(document.set(&key_path, &value).unwrap(), "{context}: set reported no change");
            let edited = document.to_bytes();
            assert_ne!(edited, original, "{context}");
            assert_output_parses_with(&original, &edited, *format, &key_path, &value, &context);
            assert_eq!(document.remove(&key_path).unwrap(), Some(value.clone()), "{context}");
            assert_eq!(
                String::from_utf8_lossy(&document.to_bytes()),
                String::from_utf8_lossy(&original),
                "{context}: set then remove changed the file"
            );
        }
    }
}

#[test]
fn edits_keep_every_other_line_of_the_big_fixtures() {
    // Adding an MCP server to each client's main file changes only added lines.
    let cases: &[(&str, Format, &[&str])] = &[
        ("codex/config.toml", Format::Toml, &["mcp_servers", "aigate"]),
        ("codex/config.dotted-root.toml", Format::Toml, &["mcp_servers", "aigate"]),
        ("claude/.claude.json", Format::Json, &["mcpServers", "aigate"]),
        ("opencode/opencode.jsonc", Format::Jsonc, &["mcp", "aigate"]),
        ("hostile/crlf.config.toml", Format::Toml, &["mcp_servers", "aigate"]),
        ("hostile/crlf.settings.json", Format::Json, &["mcpServers", "aigate"]),
    ];
    for (relative, format, key_path) in cases {
        let original = String::from_utf8(read(relative)).unwrap();
        let mut document = parse(relative, *format);
        document.set(key_path, &json!({"command": "aigate", "args": ["mcp"]})).unwrap();
        let edited = String::from_utf8(document.to_bytes()).unwrap();
        let mut remaining = edited.as_str();
        for line in original.split_inclusive('\n') {
            // Each original line still appears, in order (the last line may have gained
            // a separator such as a comma before it in JSON).
            let needle = line.trim_end_matches(['\r', '\n']).trim_end_matches(',');
            match remaining.find(needle) {
                Some(index) => remaining = &remaining[index + needle.len()..],
                None => panic!("{relative}: lost line {line:?}\n{edited}"),
            }
        }
        if original.contains("\r\n") {
            assert!(
                !edited.replace("\r\n", "").contains('\n'),
                "{relative}: a new line lost CRLF\n{edited:?}"
            );
        }
    }
}

#[test]
fn dotted_and_inline_forms_are_recognised_not_duplicated() {
    let mut document = parse("codex/config.dotted-root.toml", Format::Toml);
    assert_eq!(document.keys(&["model_providers"]), vec!["deepseek", "groq"]);
    assert!(!document.set(&["model_providers", "deepseek", "name"], &json!("DeepSeek")).unwrap());
    document.set(&["model_providers", "deepseek", "wire_api"], &json!("responses")).unwrap();
    let edited = String::from_utf8(document.to_bytes()).unwrap();
    assert!(edited.contains("model_providers.deepseek.wire_api = \"responses\"\n"), "{edited}");
    assert!(!edited.contains("[model_providers.deepseek]"), "{edited}");

    let document = parse("codex/config.inline-mcp.toml", Format::Toml);
    assert_eq!(document.keys(&["mcp_servers"]), vec!["context7", "remote"]);
    assert_eq!(
        document.get(&["mcp_servers", "remote", "bearer_token_env_var"]),
        Some(json!("EXAMPLE_MCP_TOKEN"))
    );
}

#[test]
fn root_key_in_the_trap_file_stays_at_the_root() {
    let mut document = parse("hostile/trap-root-key-after-table.toml", Format::Toml);
    assert_eq!(document.get(&["mcp_servers", "docs", "model_provider"]), Some(json!("aigate")));
    assert_eq!(document.get(&["model_provider"]), None);
    document.set(&["model_provider"], &json!("aigate")).unwrap();
    let again = Document::parse_owned(document.to_bytes(), Format::Toml, Path::new("trap")).unwrap();
    assert_eq!(again.get(&["model_provider"]), Some(json!("aigate")));
    assert_eq!(again.get(&["mcp_servers", "docs", "model_provider"]), Some(json!("aigate")));
}

#[cfg(unix)]
#[test]
fn symlink_fixtures_are_created_at_runtime() {
    let directory = tempfile::tempdir().unwrap();
    let codex = directory.path().join("codex");
    let hostile = directory.path().join("hostile");
    fs_err::create_dir_all(&codex).unwrap();
    fs_err::create_dir_all(&hostile).unwrap();
    fs_err::write(codex.join("config.toml"), read("codex/config.toml")).unwrap();
    std::os::unix::fs::symlink("../codex/config.toml", hostile.join("symlink-to-codex-config.toml")).unwrap();
    std::os::unix::fs::symlink("./does-not-exist.json", hostile.join("dangling-symlink.json")).unwrap();
    std::os::unix::fs::symlink("loop-b.json", hostile.join("loop-a.json")).unwrap();
    std::os::unix::fs::symlink("loop-a.json", hostile.join("loop-b.json")).unwrap();

    // Reading through the link gives the target's bytes, which round-trip unchanged.
    let through_link = fs_err::read(hostile.join("symlink-to-codex-config.toml")).unwrap();
    let document =
        Document::parse(&through_link, Format::Toml, &hostile.join("symlink-to-codex-config.toml")).unwrap();
    assert_eq!(document.to_bytes(), read("codex/config.toml"));

    // A dangling link and a loop fail at read time with an error naming the path; the
    // document layer never sees them.
    for name in ["dangling-symlink.json", "loop-a.json"] {
        let error = fs_err::read(hostile.join(name)).unwrap_err();
        assert!(error.to_string().contains(name), "{error}");
    }
}

/// TOML shapes in the spirit of the toml-test `valid` corpus, written by hand: every
/// kind of key, value, table and whitespace a user's config.toml may hold.
const TOML_SHAPES: &[&str] = &[
    "",
    "# only a comment",
    "a = 1",
    "a = 1\n",
    "a=1\nb =2\nc= 3\n",
    "\"name\".'last' = \"x\"\n",
    "fruit . flavor = \"banana\"\nfruit.color = 'yellow'\n",
    "site.a = 1\nother = 2\nsite.b = 3\n",
    "[\"\".a]\nk = 1\n",
    "\"\" = \"empty key\"\n'a' = 'x'\n",
    "['a b'.\"c.d\"]\n'e f' = 1\n",
    "point = {\n  x = 1, # the x\n  y = 2,\n}\n",
    "inline = { a = 1, b = { c = [1, 2] } }\n",
    "empty = {}\nspaced = { }\n",
    "arr = [\n  1,\n  2, # two\n]\n",
    "aot = 1\n[[products]]\nname = \"Hammer\"\n\n[[products]]\n\n[[products]]\nname = \"Nail\"\n",
    "[[fruits]]\nname = \"apple\"\n[fruits.physical]\ncolor = \"red\"\n[[fruits.varieties]]\nname = \"red delicious\"\n",
    "s1 = \"\"\"\nRoses are red\n  Violets are blue\"\"\"\ns2 = '''\nraw \\ text\n'''\n",
    "t = 1979-05-27T07:32:00Z\nd = 1979-05-27\nlt = 07:32:00\nf = +inf\nn = nan\nh = 0xDEADBEEF\nu = 1_000\n",
    "  indented = true\n\t\ttabbed = \"yes\"\n",
    "[a]\n[a.b]\nc = 1\n[a.b.d]\n# trailing comment in a table\n",
    "[x.y.z.w]\n[x]\n",
    "a = 1 # comment\n\n\n# block\n# comment\n[t] # header comment\nb = 2\n\n# end",
    "a = 1\r\n[t]\r\nb = 2\r\n",
    "a = 1\r\nb = 2\n[t]\r\nc = 3",
    "[mcp_servers.docs]\ncommand = \"npx\"\nenv.A = \"1\"\n[mcp_servers.docs.env2]\nB = \"2\"\n",
    "mcp_servers = { docs = { command = \"npx\" } }\n",
    "model_providers.deepseek.name = \"DeepSeek\"\n\n[model_providers.groq]\nname = \"Groq\"\n",
    "model = \"o3\"\n[projects.\"/home/a b\"]\ntrust_level = \"trusted\"\n[projects.'C:\\Users\\x']\ntrust_level = \"untrusted\"\n",
    "[tui]\nnotifications = true\n\n[model_providers.x]\nname = \"x\"\n\n[profiles.\"my profile\"]\nmodel = \"y\"\n",
];

/// The edits aigate makes to a Codex config.
fn codex_edits() -> Vec<(Vec<&'static str>, Value)> {
    vec![
        (vec!["model_provider"], json!("aigate")),
        (vec!["model_providers", "aigate"], json!({"name": "aigate", "base_url": "http://127.0.0.1:1/v1"})),
        (vec!["mcp_servers", "x"], json!({"command": "npx", "args": ["-y", "@x/y"], "env": {"K": "V"}})),
        (vec!["mcp_servers", "my.server"], json!({"url": "http://h/mcp"})),
    ]
}

/// Whether `edited` is `original` with bytes inserted and none removed or changed, in at
/// most `blocks` contiguous runs.
fn only_insertions(original: &str, edited: &str, blocks: usize) -> bool {
    let diff =
        similar::TextDiff::configure().algorithm(similar::Algorithm::Myers).diff_chars(original, edited);
    let mut inserted = 0;
    for operation in diff.ops() {
        match operation.tag() {
            similar::DiffTag::Equal => {}
            similar::DiffTag::Insert => inserted += 1,
            similar::DiffTag::Delete | similar::DiffTag::Replace => return false,
        }
    }
    inserted <= blocks
}

/// Defect 1, property style: over every shape (and every TOML fixture), each edit and all
/// of them together only insert bytes (every original byte is still there, in order),
/// the result parses with the value in place, and removing what was added gives back
/// the exact original.
#[test]
fn toml_edits_only_insert_and_removing_them_gives_back_the_original() {
    let mut inputs: Vec<(String, String)> = TOML_SHAPES
        .iter()
        .enumerate()
        .map(|(index, shape)| (format!("shape {index}"), (*shape).to_string()))
        .collect();
    for (relative, format) in VALID {
        if *format == Format::Toml {
            let bytes = read(relative);
            let text =
                String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).into_owned();
            inputs.push(((*relative).to_string(), text));
        }
    }
    for (name, input) in &inputs {
        let original = Document::parse(input.as_bytes(), Format::Toml, Path::new(name))
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let applicable: Vec<_> = codex_edits()
            .into_iter()
            .filter(|(key_path, _)| {
                // An edit the shape refuses (a parent that is not a table) is fine to skip.
                let mut probe = Document::parse(input.as_bytes(), Format::Toml, Path::new(name)).unwrap();
                !original.contains(key_path) && probe.set(key_path, &json!(1)).is_ok()
            })
            .collect();
        let mut together = Document::parse(input.as_bytes(), Format::Toml, Path::new(name)).unwrap();
        for (key_path, value) in &applicable {
            let context = format!("{name} {key_path:?}");
            let mut document = Document::parse(input.as_bytes(), Format::Toml, Path::new(name)).unwrap();
            assert!(document.set(key_path, value).unwrap(), "{context}");
            let edited = String::from_utf8(document.to_bytes()).unwrap();
            assert!(
                only_insertions(input, &edited, 1),
                "{context}: not a pure insertion\n{input}\n---\n{edited}"
            );
            assert_output_parses_with(
                input.as_bytes(),
                edited.as_bytes(),
                Format::Toml,
                key_path,
                value,
                &context,
            );
            document.remove(key_path).unwrap();
            assert_eq!(String::from_utf8(document.to_bytes()).unwrap(), *input, "{context}: set then remove");
            together.set(key_path, value).unwrap();
        }
        let edited = String::from_utf8(together.to_bytes()).unwrap();
        assert!(
            only_insertions(input, &edited, applicable.len()),
            "{name}: all edits\n{input}\n---\n{edited}"
        );
        for (key_path, _) in applicable.iter().rev() {
            together.remove(key_path).unwrap();
        }
        assert_eq!(String::from_utf8(together.to_bytes()).unwrap(), *input, "{name}: all edits removed");
    }
}

/// A `.claude.json` of about `size` bytes: `projects` with `per_project` history entries
/// each, then `servers` (the top-level `mcpServers` member, or nothing).
fn large_claude_json(size: usize, per_project: usize, servers: &str) -> String {
    let mut text = String::from("{\n  \"numStartups\": 4242,\n  \"projects\": {\n");
    let mut index = 0;
    while text.len() < size {
        if index > 0 {
            text.push_str(",\n");
        }
        text.push_str(&format!(
            "    \"/home/alice/src/project-{index}\": {{\n      \"allowedTools\": [],\n      \"history\": [\n"
        ));
        let history: Vec<String> = (0..per_project)
            .map(|entry| {
                format!("        {{\"display\": \"/clear {entry} \\u00e9\", \"pastedContents\": {{}}}}")
            })
            .collect();
        text.push_str(&history.join(",\n"));
        text.push_str("\n      ],\n      \"mcpServers\": {},\n      \"lastCost\": 1.25\n    }");
        index += 1;
    }
    text.push_str(&format!("\n  }},\n{servers}  \"isQualifiedForDataSharing\": false\n}}\n"));
    text
}

/// Timings of the document layer on large files (the CLI's whole-command figures are in
/// `bench/mcp_large.sh`). Run with
/// `cargo test --release --test all -- --ignored --nocapture document_layer_timings`.
#[test]
#[ignore = "a benchmark: run it in release mode"]
fn document_layer_timings() {
    use std::time::Instant;
    let servers = "  \"mcpServers\": {\n    \"context7\": {\n      \"type\": \"stdio\",\n      \"command\": \"npx\"\n    }\n  },\n";
    let huge_string = format!(
        "{{\n  \"cachedBlob\": \"{}\",\n{servers}  \"z\": 1\n}}\n",
        "x\\\" \\u00e9 ".repeat(20 * 1024 * 1024 / 12)
    );
    let shapes = [
        ("populated", large_claude_json(20 << 20, 40, servers)),
        ("empty", large_claude_json(20 << 20, 400, "  \"mcpServers\": {},\n")),
        ("missing", large_claude_json(20 << 20, 400, "")),
        ("huge", huge_string),
    ];
    let entry = json!({"type": "stdio", "command": "npx", "args": ["-y", "@bench/server"], "env": {}});
    let best = |run: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .fold(f64::INFINITY, f64::min)
    };
    println!("{:<10} {:>6} {:>10} {:>10} {:>14}", "shape", "MB", "parse ms", "+get ms", "parse+set+out");
    for (name, text) in &shapes {
        let bytes = text.as_bytes();
        let parse = best(&mut || {
            Document::parse(bytes, Format::Json, Path::new("x")).unwrap();
        });
        let read = best(&mut || {
            let document = Document::parse(bytes, Format::Json, Path::new("x")).unwrap();
            document.get(&["mcpServers"]);
            document.keys(&["mcpServers"]);
        });
        let edit = best(&mut || {
            let mut document = Document::parse(bytes, Format::Json, Path::new("x")).unwrap();
            document.get(&["mcpServers", "bench"]);
            document.set(&["mcpServers", "bench"], &entry).unwrap();
            document.into_bytes();
        });
        println!(
            "{name:<10} {:>6.1} {parse:>10.1} {read:>10.1} {edit:>14.1}",
            bytes.len() as f64 / 1_048_576.0
        );
    }
}
