use super::super::ir::{Part, Reasoning, StopReason, ToolCall, ToolKind, Usage};
use super::super::{Failure, FinalBody};

/// Whole (not streamed) client bodies of every API, for turns of each shape, against the
/// bytes in `tests/fixtures/convert/golden/whole_bodies.txt` (minted ids and the time read as
/// `"ID"` and `0`). They were `Value`s built and then written; now they are typed and
/// written directly (`bench/PROFILE.md`), and these are the bytes both gave.
#[test]
fn whole_bodies_are_written_byte_for_byte_as_expected() {
    let parts = vec![
        Part::Reasoning(Reasoning {
            text: "think \"q\"".into(),
            signature: Some("sig".into()),
            encrypted: None,
            redacted: None,
        }),
        Part::Reasoning(Reasoning {
            text: "more".into(),
            signature: None,
            encrypted: Some("enc".into()),
            redacted: None,
        }),
        Part::Text("hello\nworld é".into()),
        Part::ToolCall(ToolCall {
            id: "call_1".into(),
            name: "shell".into(),
            namespace: None,
            arguments: "{\"cmd\":\"ls\"}".into(),
            kind: ToolKind::Function,
        }),
        Part::ToolCall(ToolCall {
            id: "call_2".into(),
            name: "apply".into(),
            namespace: Some("ns".into()),
            arguments: "not json".into(),
            kind: ToolKind::Custom,
        }),
    ];
    let usage = Usage { input: 100, output: 20, cached: 30, cache_write: 5, reasoning: 7 };
    let mut out = String::new();
    let cases: Vec<(Vec<Part>, Option<StopReason>, Option<Failure<'static>>)> = vec![
        (parts.clone(), Some(StopReason::EndTurn), None),
        (parts[2..3].to_vec(), Some(StopReason::MaxTokens), None),
        (parts[2..3].to_vec(), Some(StopReason::ContentFilter), None),
        (Vec::new(), None, None),
        (parts[2..3].to_vec(), None, Some(Failure { class: "stream_truncated", code: "c", message: "m" })),
        (Vec::new(), None, Some(Failure { class: "upstream_error", code: "c", message: "m \"x\"" })),
        (parts[3..4].to_vec(), Some(StopReason::ToolUse), None),
    ];
    for (parts, stop, failed) in cases {
        let body = FinalBody { id: "id_1", model: "m-1", parts, usage, stop, failed };
        for (name, write) in [
            ("responses", super::super::responses_stream::write_body as fn(&FinalBody<'_>, &mut Vec<u8>)),
            ("messages", super::super::messages_stream::write_body),
            ("chat", super::super::chat_stream::write_body),
        ] {
            let mut bytes = Vec::new();
            write(&body, &mut bytes);
            out.push_str(name);
            out.push(' ');
            out.push_str(&String::from_utf8(bytes).unwrap());
            out.push('\n');
        }
    }
    let ids = normalised(&out);
    let expected = include_str!("../../../tests/fixtures/convert/golden/whole_bodies.txt");
    assert_eq!(ids, expected);
}

/// `out` with each minted id (`msg_`, `rs_`, `fc_` and 24 hex digits, quoted) read as `"ID"`
/// and each `"created"` or `"created_at"` number as 0.
fn normalised(out: &str) -> String {
    let mut text = out.to_string();
    for prefix in ["\"msg_", "\"rs_", "\"fc_"] {
        while let Some(at) = text.find(prefix) {
            let end = at + prefix.len() + 24 + 1;
            assert!(text[at + prefix.len()..end - 1].bytes().all(|byte| byte.is_ascii_hexdigit()), "{text}");
            text.replace_range(at..end, "\"ID\"");
        }
    }
    for key in ["\"created\":", "\"created_at\":"] {
        let mut from = 0;
        while let Some(found) = text[from..].find(key) {
            let start = from + found + key.len();
            let end = start + text[start..].bytes().take_while(u8::is_ascii_digit).count();
            text.replace_range(start..end, "0");
            from = start;
        }
    }
    text
}
