//! Chat → Messages streams: conversion.md §8 cases 31–34 (what Claude Code consumes), failover.

use serde_json::{Value, json};

use super::streams::{claude_ctx, codex_ctx, names, of_type};
use super::{chat_sse, delta, events, finish, golden, run, usage_chunk};
use crate::providers::Api;

pub(super) fn claude_events(
    chunks: &[Value],
    done: bool,
    tools: Value,
) -> (Vec<(String, Value)>, super::super::Outcome) {
    let input = chat_sse(chunks, done);
    let (out, outcome) = run(&claude_ctx(tools), Api::Chat, Api::Messages, true, &[input.as_bytes()]);
    (events(&out), outcome)
}

/// Case 31: thinking → text → 2 tool calls: blocks 0..3, strictly nested; arguments only via
/// `input_json_delta`; stop_reason tool_use although the upstream said stop.
#[test]
fn case31_messages_blocks() {
    let (events, _) = claude_events(
        &[
            delta(json!({"reasoning_content": "hmm"})),
            delta(json!({"content": "I'll run two."})),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "Bash", "arguments": "{\"command\":"}}]}),
            ),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]})),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "Read", "arguments": "{}"}}]}),
            ),
            finish("stop"),
            usage_chunk(
                json!({"prompt_tokens": 50, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 30}}),
            ),
        ],
        true,
        json!([{"name": "Bash", "input_schema": {}}, {"name": "Read", "input_schema": {}}]),
    );
    golden(
        "case31_chat_to_messages_blocks",
        &Value::Array(events.iter().map(|(e, d)| json!([e, d])).collect()),
    );
    let mut open: Option<u64> = None;
    let mut next = 0;
    for (name, data) in &events {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "blocks never overlap");
                assert_eq!(data["index"], json!(next));
                open = data["index"].as_u64();
                next += 1;
                if data["content_block"]["type"] == json!("tool_use") {
                    assert_eq!(data["content_block"]["input"], json!({}));
                }
            }
            "content_block_delta" => assert_eq!(data["index"].as_u64(), open),
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open);
                open = None;
            }
            _ => {}
        }
    }
    assert_eq!(next, 4);
    let delta = of_type(&events, "message_delta")[0];
    assert_eq!(delta["delta"]["stop_reason"], json!("tool_use"));
    assert_eq!(
        delta["usage"],
        json!({"input_tokens": 20, "output_tokens": 10, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 0})
    );
    assert_eq!(
        of_type(&events, "message_start")[0]["message"]["model"],
        json!("claude-sonnet-4-5"),
        "case 28: model echoed"
    );
}

/// Parallel calls whose argument fragments interleave still give whole JSON per block.
#[test]
fn interleaved_parallel_arguments_to_messages() {
    let (events, _) = claude_events(
        &[
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "Bash", "arguments": "{\"a\""}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "Read", "arguments": "{\"b\""}}]}),
            ),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]})),
            delta(json!({"tool_calls": [{"index": 1, "function": {"arguments": ":2}"}}]})),
            finish("tool_calls"),
        ],
        true,
        json!([{"name": "Bash", "input_schema": {}}, {"name": "Read", "input_schema": {}}]),
    );
    let mut inputs = vec![String::new(); 2];
    for data in of_type(&events, "content_block_delta") {
        let index = data["index"].as_u64().unwrap() as usize;
        inputs[index].push_str(data["delta"]["partial_json"].as_str().unwrap());
    }
    assert_eq!(inputs, ["{\"a\":1}", "{\"b\":2}"]);
    assert_eq!(of_type(&events, "content_block_start").len(), 2);
    assert_eq!(of_type(&events, "content_block_stop").len(), 2);
}

/// Case 32: duplicate finish chunks and trailing usage → one message_delta, one message_stop.
#[test]
fn case32_single_terminal() {
    let (events, _) = claude_events(
        &[
            delta(json!({"content": "a"})),
            finish("stop"),
            finish("stop"),
            usage_chunk(
                json!({"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 4}}),
            ),
        ],
        true,
        json!([]),
    );
    assert_eq!(of_type(&events, "message_delta").len(), 1);
    assert_eq!(of_type(&events, "message_stop").len(), 1);
    assert_eq!(of_type(&events, "message_delta")[0]["usage"]["input_tokens"], json!(6));
    assert_eq!(events.last().unwrap().0, "message_stop");
}

/// Case 33: reasoning interleaved after text started opens no new block.
#[test]
fn case33_no_blocks_for_stray_reasoning() {
    let (events, _) = claude_events(
        &[
            delta(json!({"reasoning_content": "r1"})),
            delta(json!({"content": "t1"})),
            delta(json!({"reasoning_content": "r2"})),
            delta(json!({"content": "t2"})),
            delta(json!({"reasoning_content": "r3"})),
            delta(json!({"content": "t3"})),
            finish("stop"),
        ],
        true,
        json!([]),
    );
    assert_eq!(of_type(&events, "content_block_start").len(), 2);
    let texts: String = of_type(&events, "content_block_delta")
        .iter()
        .filter_map(|d| d["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(texts, "t1t2t3");
}

/// Case 34: `[DONE]` with no chunks gives a valid empty message; EOF with nothing gives
/// message_start then an error (never a stray stop, never success); a mid-stream error frame
/// gives `event: error` with `{type:error, error:{type,message}}` and no message_stop.
#[test]
fn case34_empty_and_error_streams() {
    let (events, outcome) = claude_events(&[], true, json!([]));
    assert_eq!(names(&events), ["message_start", "message_delta", "message_stop"]);
    assert_eq!(outcome.error_class, None);
    assert!(!outcome.usage_known);

    let (out, outcome) = run(&claude_ctx(json!([])), Api::Chat, Api::Messages, true, &[]);
    let events = super::events(&out);
    assert_eq!(names(&events), ["message_start", "error"]);
    assert_eq!(outcome.error_class, Some("stream_truncated"));

    let (events, outcome) = claude_events(
        &[
            delta(json!({"content": "a"})),
            json!({"error": {"message": "Overloaded", "type": "overloaded_error", "code": "overloaded"}}),
        ],
        true,
        json!([]),
    );
    let last = events.last().unwrap();
    assert_eq!(last.0, "error");
    assert_eq!(last.1, json!({"type": "error", "error": {"type": "api_error", "message": "Overloaded"}}));
    assert!(of_type(&events, "message_stop").is_empty());
    assert_eq!(outcome.error_class, Some("upstream_error_event"));
    assert_eq!(outcome.error_message.as_deref(), Some("Overloaded"));
}

/// An error frame before any content is reported for failover.
#[test]
fn error_before_content_allows_failover() {
    let ctx = claude_ctx(json!([]));
    let mut converter = super::super::StreamConverter::new(ctx, Api::Chat, Api::Messages, true);
    let mut out = Vec::new();
    converter.feed(b": keep-alive\n\n", &mut out);
    assert!(!converter.content_started());
    converter.feed(
        b"data: {\"error\":{\"message\":\"rate limited\",\"code\":\"rate_limit_exceeded\"}}\n\n",
        &mut out,
    );
    assert_eq!(converter.error_before_content().as_deref(), Some("rate limited"));
    assert!(!converter.content_started());
    let mut converter =
        super::super::StreamConverter::new(claude_ctx(json!([])), Api::Chat, Api::Messages, true);
    converter.feed(chat_sse(&[delta(json!({"content": "x"}))], false).as_bytes(), &mut out);
    assert!(converter.content_started());
    assert_eq!(converter.content_type(), "text/event-stream");
}

/// Keep-alives in the client's form, never after the end.
#[test]
fn keepalive_in_the_client_form() {
    let mut converter =
        super::super::StreamConverter::new(claude_ctx(json!([])), Api::Chat, Api::Messages, true);
    let mut out = Vec::new();
    converter.keepalive(&mut out);
    assert_eq!(out, b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    converter.feed(b"data: [DONE]\n\n", &mut out);
    converter.finish(&mut out);
    let len = out.len();
    converter.keepalive(&mut out);
    assert_eq!(out.len(), len);
    let mut converter =
        super::super::StreamConverter::new(codex_ctx(json!([])), Api::Chat, Api::Responses, true);
    let mut out = Vec::new();
    converter.keepalive(&mut out);
    assert_eq!(out, b": keep-alive\n\n");
}
