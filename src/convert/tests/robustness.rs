//! Split streams (case 26), malformed upstreams, random bytes, and the cost against the tap.

use serde_json::json;

use super::directions::{messages_upstream_sse, opencode_like_ctx, responses_upstream_sse};
use super::streams::of_type;
use super::{chat_sse, delta, events, finish, run, usage_chunk};
use crate::providers::Api;

/// Case 26 (and the split-anywhere rule): every byte boundary gives the same events; split
/// multi-byte UTF-8 gives no U+FFFD.
#[test]
fn case26_split_at_every_byte_boundary() {
    let chat = chat_sse(
        &[
            delta(json!({"reasoning_content": "思考"})),
            delta(json!({"content": "日本語のテキスト ✓"})),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "bash", "arguments": "{\"c\":\"é\"}"}}]}),
            ),
            finish("tool_calls"),
            usage_chunk(json!({"prompt_tokens": 3, "completion_tokens": 4})),
        ],
        true,
    );
    let messages = messages_upstream_sse();
    let responses = responses_upstream_sse();
    let cases: [(Api, String); 3] =
        [(Api::Chat, chat), (Api::Messages, messages), (Api::Responses, responses)];
    for (upstream, input) in cases {
        for client in Api::ALL.into_iter().filter(|client| *client != upstream) {
            let ctx = opencode_like_ctx(client, upstream);
            let (whole, outcome) = run(&ctx, upstream, client, true, &[input.as_bytes()]);
            assert_eq!(outcome.error_class, None, "{upstream:?}→{client:?}");
            let expected = events(&whole);
            assert!(!String::from_utf8_lossy(&whole).contains('\u{FFFD}'));
            for cut in 1..input.len() {
                let (first, second) = input.as_bytes().split_at(cut);
                let (split, _) = run(&ctx, upstream, client, true, &[first, second]);
                assert!(std::str::from_utf8(&split).is_ok());
                assert_eq!(events(&split), expected, "{upstream:?}→{client:?} cut at {cut}");
            }
            // One byte at a time.
            let bytes: Vec<&[u8]> = input.as_bytes().chunks(1).collect();
            let (split, _) = run(&ctx, upstream, client, true, &bytes);
            assert_eq!(events(&split), expected);
        }
    }
}

/// Malformed upstreams: a garbage data line, truncated JSON, EOF before the terminal give a
/// well-formed client error and an error class, never success or a panic.
#[test]
fn malformed_upstreams() {
    let garbage =
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: garbage\n\ndata: [DONE]\n\n";
    let truncated = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"del";
    let eof = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
    for (input, class) in
        [(garbage, "malformed_upstream"), (truncated, "malformed_upstream"), (eof, "stream_truncated")]
    {
        for client in [Api::Responses, Api::Messages] {
            let ctx = opencode_like_ctx(client, Api::Chat);
            let (out, outcome) = run(&ctx, Api::Chat, client, true, &[input.as_bytes()]);
            assert_eq!(outcome.error_class, Some(class), "{client:?} {input}");
            let events = super::events(&out);
            match client {
                Api::Responses => {
                    let last = &events.last().unwrap();
                    if class == "stream_truncated" {
                        assert_eq!(last.1["response"]["status"], json!("incomplete"));
                    } else {
                        assert_eq!(last.0, "response.failed");
                        assert_eq!(last.1["response"]["error"]["code"], json!(class));
                    }
                }
                Api::Messages => {
                    assert_eq!(events.last().unwrap().0, "error");
                    assert!(of_type(&events, "message_stop").is_empty());
                }
                Api::Chat | Api::Gemini => {}
            }
        }
        let ctx = opencode_like_ctx(Api::Chat, Api::Messages);
        let messages_input = input.replace("{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}",
            "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}");
        let (out, outcome) = run(&ctx, Api::Messages, Api::Chat, true, &[messages_input.as_bytes()]);
        assert!(outcome.error_class.is_some());
        let events = super::events(&out);
        assert!(events.iter().any(|(_, d)| d.get("error").is_some()));
        assert_eq!(events.last().unwrap().1, json!("[DONE]"));
    }
    // A transport error after commit.
    let ctx = opencode_like_ctx(Api::Responses, Api::Chat);
    let mut converter = super::super::StreamConverter::new(ctx, Api::Chat, Api::Responses, true);
    let mut out = Vec::new();
    converter.feed(eof.as_bytes(), &mut out);
    converter.fail("connection reset", &mut out);
    converter.finish(&mut out);
    let events = super::events(&out);
    assert_eq!(events.last().unwrap().0, "response.failed");
    assert_eq!(of_type(&events, "response.failed").len(), 1);
    assert_eq!(converter.outcome().error_class, Some("transport_error"));
}

/// Fuzz-ish: random byte slices into every decoder and encoder never panic, and the output
/// is always valid UTF-8 that ends with exactly one terminal.
#[test]
fn random_bytes_never_panic() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let corpus = [
        chat_sse(&[delta(json!({"content": "日本"})), finish("stop")], true),
        messages_upstream_sse(),
        responses_upstream_sse(),
    ];
    for round in 0..300 {
        let base = corpus[round % 3].as_bytes();
        let mut bytes: Vec<u8> = base.to_vec();
        for _ in 0..(next() % 8) {
            if bytes.is_empty() {
                break;
            }
            let at = (next() as usize) % bytes.len().max(1);
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, next() as u8),
            }
        }
        if round % 10 == 0 {
            bytes = (0..(next() % 200)).map(|_| next() as u8).collect();
        }
        for upstream in Api::ALL {
            for client in Api::ALL {
                let ctx = opencode_like_ctx(client, upstream);
                for stream in [true, false] {
                    let mut chunks = Vec::new();
                    let mut rest = bytes.as_slice();
                    while !rest.is_empty() {
                        let cut = ((next() % 40) as usize + 1).min(rest.len());
                        chunks.push(&rest[..cut]);
                        rest = &rest[cut..];
                    }
                    let (out, _) = run(&ctx, upstream, client, stream, &chunks);
                    if upstream != client {
                        assert!(std::str::from_utf8(&out).is_ok());
                    }
                }
            }
        }
    }
}

/// CPU of a converted stream against the pass-through tap on the same bytes
/// (`cargo test --release --lib convert_cost -- --ignored --nocapture`).
#[test]
#[ignore = "timing; run by hand in release"]
fn convert_cost_against_passthrough_tap() {
    let mut chunks = vec![delta(json!({"role": "assistant", "content": ""}))];
    for index in 0..4000 {
        chunks.push(delta(json!({"content": format!("token {index} 日本 ")})));
    }
    chunks.push(delta(
        json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "bash", "arguments": ""}}]}),
    ));
    for _ in 0..500 {
        chunks.push(delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "abc "}}]})));
    }
    chunks.push(finish("tool_calls"));
    chunks.push(usage_chunk(json!({"prompt_tokens": 1000, "completion_tokens": 4500})));
    let input = chat_sse(&chunks, true);
    let pieces: Vec<&[u8]> = input.as_bytes().chunks(1400).collect();
    let shared: Vec<bytes::Bytes> = pieces.iter().copied().map(bytes::Bytes::copy_from_slice).collect();
    let rounds = 20;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        let mut tap = crate::proxy::tap::Tap::new(Api::Chat, true, std::time::Instant::now());
        for piece in &shared {
            tap.feed(piece);
        }
        std::hint::black_box(tap.finish());
    }
    let tap = started.elapsed();
    for client in [Api::Responses, Api::Messages] {
        let ctx = opencode_like_ctx(client, Api::Chat);
        let started = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..rounds {
            let (out, _) = run(&ctx, Api::Chat, client, true, &pieces);
            bytes += out.len();
        }
        let converted = started.elapsed();
        println!(
            "{client:?}: tap {tap:?}, converted {converted:?} ({:.2}x of the tap's parse), {} KiB out per stream",
            converted.as_secs_f64() / tap.as_secs_f64(),
            bytes / rounds / 1024
        );
    }
}
