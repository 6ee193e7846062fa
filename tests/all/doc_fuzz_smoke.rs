//! Runs the fuzz target's property (`fuzz/check.rs`) over every fixture and over
//! deterministic mutations of them (truncations, deleted bytes, inserted syntax
//! characters), so the property is exercised on every `cargo test` without a fuzzer.

use std::path::Path;

use aigate::doc::Format;

#[path = "../../fuzz/check.rs"]
mod check;

const FIXTURES: &[(&str, Format)] = &[
    ("codex/config.toml", Format::Toml),
    ("codex/config.dotted-root.toml", Format::Toml),
    ("codex/config.inline-mcp.toml", Format::Toml),
    ("codex/config.minimal.toml", Format::Toml),
    ("hostile/trap-root-key-after-table.toml", Format::Toml),
    ("hostile/comments-only.toml", Format::Toml),
    ("hostile/crlf.config.toml", Format::Toml),
    ("hostile/mixed-eol.config.toml", Format::Toml),
    ("hostile/bom.config.toml", Format::Toml),
    ("claude/settings.json", Format::Json),
    ("claude/.mcp.json", Format::Json),
    ("codex/auth.chatgpt.json", Format::Json),
    ("hostile/crlf.settings.json", Format::Json),
    ("hostile/big-numbers.json", Format::Json),
    ("hostile/bom.settings.json", Format::Json),
    ("opencode/opencode.jsonc", Format::Jsonc),
    ("opencode/opencode.json", Format::Jsonc),
    ("hostile/bom.opencode.jsonc", Format::Jsonc),
    ("hostile/jsonc-in-strict.settings.json", Format::Jsonc),
    ("gemini/settings.commented.json", Format::JsonComments),
    ("gemini/settings.json", Format::JsonComments),
    ("gemini/env.crlf", Format::Dotenv),
    ("gemini/env.lf", Format::Dotenv),
];

/// Characters that change the structure when inserted somewhere.
const INSERTED: &[&[u8]] = &[b"{", b"}", b"[", b"\"", b",", b"\n", b"\r\n", b"=", b"#", b"//"];

fn mutations(input: &[u8]) -> Vec<Vec<u8>> {
    let step = (input.len() / 16).max(1);
    let mut variants = Vec::new();
    for position in (0..=input.len()).step_by(step) {
        variants.push(input[..position].to_vec());
        if position < input.len() {
            let mut deleted = input.to_vec();
            deleted.remove(position);
            variants.push(deleted);
        }
        for inserted in INSERTED {
            let mut variant = input[..position].to_vec();
            variant.extend_from_slice(inserted);
            variant.extend_from_slice(&input[position..]);
            variants.push(variant);
        }
    }
    variants
}

#[test]
fn the_fuzz_property_holds_for_every_fixture_and_its_mutations() {
    for (relative, format) in FIXTURES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(relative);
        let input = fs_err::read(path).unwrap_or_else(|error| panic!("{error}"));
        check::check(&input, *format);
        for variant in mutations(&input) {
            check::check(&variant, *format);
        }
    }
}

#[test]
fn the_fuzz_property_holds_for_small_hand_written_inputs() {
    // As the fuzzer feeds them: a selector byte (0 TOML, 1 JSON, 2 JSONC), then the file.
    let inputs: &[&[u8]] = &[
        b"\x00",
        b"\x00a = 1",
        b"\x00[a]\n[a.b]\n",
        b"\x00a = { b = { } }\n",
        b"\x00a.b = { c = 1 }\n",
        b"\x00[[a]]\nb = 1\n",
        b"\x00\xEF\xBB\xBFa = 1\r\n[t]\r\nb = 2",
        b"\x01{}",
        b"\x01{\"a\":{}}",
        b"\x01{\"a\":{\"b\":{\"c\":[]}}}",
        b"\x01{\n\n  \"a\": {\n\n    \"b\": 1\n\n  }\n}",
        b"\x02{ \"a\": { \"b\": 1, }, } // c",
        b"\x02/* c */ {\n\t\"a\": 1 /* d */\n}",
        b"\x02{\n  \"a\": 1 // c\n}\n",
    ];
    for input in inputs {
        check::check_fuzz_input(input);
    }
}

/// Short random documents over a structural alphabet (a fixed xorshift seed, so the
/// run is reproducible): most do not parse, the ones that do hit odd corners.
#[test]
fn the_fuzz_property_holds_for_random_small_documents() {
    const ALPHABET: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        ",",
        ":",
        "=",
        ".",
        "#",
        "//",
        "/*",
        "*/",
        "\n",
        "\r\n",
        " ",
        "\t",
        "a",
        "b",
        "1",
        "true",
        "\"k\"",
        "\"k\": ",
        "a = ",
        "[a]\n",
        "[a.b]\n",
        "[[a]]\n",
        "a.b = ",
        "{ x = 1 }",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let mut data = vec![(next() % 3) as u8];
        for _ in 0..(next() % 12) {
            data.extend_from_slice(ALPHABET[(next() % ALPHABET.len() as u64) as usize].as_bytes());
        }
        check::check_fuzz_input(&data);
    }
}
