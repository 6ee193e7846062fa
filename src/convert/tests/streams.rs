//! Stream conversion: conversion.md §8 cases 16–26 (Chat → Responses), 31–34 (Chat →
//! Messages), the other directions, split streams, malformed upstreams and a fuzz-ish test.

use serde_json::{Value, json};

use super::super::{ConvContext, Quirks, ResponseCache, convert_error, convert_error_for};
use super::{
    chat_sse, codex_request, context, convert_full, delta, events, events_json, finish, golden, run,
    usage_chunk,
};
use crate::providers::Api;

fn codex_ctx(tools: Value) -> ConvContext {
    context(
        Api::Responses,
        Api::Chat,
        &codex_request(json!([{"type": "message", "role": "user", "content": "hi"}]), tools),
    )
}

fn claude_ctx(tools: Value) -> ConvContext {
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 1000, "stream": true,
                      "messages": [{"role": "user", "content": "hi"}], "tools": tools});
    context(Api::Messages, Api::Chat, &body)
}

fn names(events: &[(String, Value)]) -> Vec<String> {
    events.iter().map(|(name, _)| name.clone()).collect()
}

fn of_type<'a>(events: &'a [(String, Value)], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|(event, _)| event == name).map(|(_, data)| data).collect()
}

fn responses_stream(chunks: &[Value], done: bool) -> Vec<(String, Value)> {
    let input = chat_sse(chunks, done);
    let (out, _) = run(&codex_ctx(json!([])), Api::Chat, Api::Responses, true, &[input.as_bytes()]);
    events(&out)
}

/// Case 16: pure text, exact sequence; sequence numbers from 0, per stream.
#[test]
fn case16_pure_text_event_sequence() {
    let chunks = [
        delta(json!({"role": "assistant", "content": ""})),
        delta(json!({"content": "Hel"})),
        delta(json!({"content": "lo"})),
        finish("stop"),
        usage_chunk(json!({"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14})),
    ];
    let events = responses_stream(&chunks, true);
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (index, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], json!(index), "{name}");
        assert_eq!(data["type"], json!(name));
    }
    golden(
        "case16_chat_text_to_responses",
        &Value::Array(events.iter().map(|(e, d)| json!([e, d])).collect()),
    );

    // Two streams converted in interleaved order number independently.
    let ctx = codex_ctx(json!([]));
    let mut first = super::super::StreamConverter::new(ctx.clone(), Api::Chat, Api::Responses, true);
    let mut second = super::super::StreamConverter::new(ctx, Api::Chat, Api::Responses, true);
    let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
    let text = chat_sse(&chunks, true);
    for line in text.split_inclusive("\n\n") {
        first.feed(line.as_bytes(), &mut out_a);
        second.feed(line.as_bytes(), &mut out_b);
    }
    first.finish(&mut out_a);
    second.finish(&mut out_b);
    for out in [out_a, out_b] {
        let seqs: Vec<Value> =
            super::events(&out).into_iter().map(|(_, data)| data["sequence_number"].clone()).collect();
        assert_eq!(seqs, (0..10).map(|n| json!(n)).collect::<Vec<_>>());
    }
}

/// Case 17: reasoning, text, tool call → oi 0, 1, 2; every delta/done reuses its oi;
/// `completed.output` has 3 items in oi order.
#[test]
fn case17_reasoning_text_tool_output_indexes() {
    let ctx =
        codex_ctx(json!([{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}]));
    let input = chat_sse(
        &[
            delta(json!({"reasoning_content": "think"})),
            delta(json!({"content": "Running."})),
            delta(json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                         "function": {"name": "exec_command", "arguments": "{\"cmd\":"}}]})),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]})),
            finish("tool_calls"),
            usage_chunk(json!({"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25,
                               "completion_tokens_details": {"reasoning_tokens": 2}})),
        ],
        true,
    );
    let (out, outcome) = run(&ctx, Api::Chat, Api::Responses, true, &[input.as_bytes()]);
    let events = super::events(&out);
    golden("case17_reasoning_text_tool_to_responses", &events_json(&out));
    let added = of_type(&events, "response.output_item.added");
    assert_eq!(
        added.iter().map(|e| e["output_index"].clone()).collect::<Vec<_>>(),
        [json!(0), json!(1), json!(2)]
    );
    assert_eq!(
        added.iter().map(|e| e["item"]["type"].clone()).collect::<Vec<_>>(),
        [json!("reasoning"), json!("message"), json!("function_call")]
    );
    let done = of_type(&events, "response.output_item.done");
    // Reasoning closes before the message opens.
    let position = |name: &str, oi: usize| {
        events.iter().position(|(event, data)| event == name && data["output_index"] == json!(oi)).unwrap()
    };
    assert!(position("response.output_item.done", 0) < position("response.output_item.added", 1));
    for (name, data) in &events {
        if let Some(item_id) = data.get("item_id") {
            let oi = data["output_index"].as_u64().unwrap() as usize;
            assert_eq!(&added[oi]["item"]["id"], item_id, "{name}");
        }
    }
    let completed = of_type(&events, "response.completed")[0];
    let output = completed["response"]["output"].as_array().unwrap();
    assert_eq!(output.len(), 3);
    assert_eq!(&output[0], &done.iter().find(|d| d["output_index"] == json!(0)).unwrap()["item"]);
    assert_eq!(output[2]["call_id"], json!("call_a"));
    assert_eq!(output[2]["arguments"], json!("{\"cmd\":\"ls\"}"));
    assert_eq!(
        completed["response"]["usage"],
        json!({"input_tokens": 20, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
               "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 25})
    );
    assert_eq!(outcome.stop_reason, Some("tool_use"));
    assert_eq!(outcome.error_class, None);
    assert_eq!(outcome.usage.reasoning, 2);
}

/// Case 18: inline `<think>` split across chunks; `<commentary>` stripped, text kept.
#[test]
fn case18_inline_think_split() {
    let events = responses_stream(
        &[
            delta(json!({"content": "<thi"})),
            delta(json!({"content": "nk>x</th"})),
            delta(json!({"content": "ink>y"})),
            delta(json!({"content": " <commentary>c</commentary>"})),
            finish("stop"),
        ],
        true,
    );
    let output = &of_type(&events, "response.completed")[0]["response"]["output"];
    assert_eq!(output[0]["summary"], json!([{"type": "summary_text", "text": "x"}]));
    assert_eq!(output[1]["content"][0]["text"], json!("y c"));
    assert!(!serde_json::to_string(&events).unwrap().contains("think>"));
}

fn completed_output(events: &[(String, Value)]) -> Vec<Value> {
    of_type(events, "response.completed")[0]["response"]["output"].as_array().unwrap().clone()
}

/// Case 19: a late name and empty repeated ids keep one call; parallel calls whose earlier
/// name arrives late keep their order.
#[test]
fn case19_late_names_keep_identity_and_order() {
    let events = responses_stream(
        &[
            delta(json!({"tool_calls": [{"index": 0, "id": "call_x", "function": {"arguments": ""}}]})),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "", "function": {"name": "shell", "arguments": "{\"a\""}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "", "function": {"name": "", "arguments": ":1}"}}]}),
            ),
            finish("tool_calls"),
        ],
        true,
    );
    let output = completed_output(&events);
    assert_eq!(output.len(), 1);
    assert_eq!(output[0]["call_id"], json!("call_x"));
    assert_eq!(output[0]["name"], json!("shell"));
    assert_eq!(output[0]["arguments"], json!("{\"a\":1}"));

    let events = responses_stream(
        &[
            delta(json!({"tool_calls": [{"index": 0, "id": "call_0", "function": {"arguments": "{}"}}]})),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_1", "function": {"name": "second", "arguments": "{}"}}]}),
            ),
            delta(json!({"tool_calls": [{"index": 0, "function": {"name": "first"}}]})),
            finish("tool_calls"),
        ],
        true,
    );
    let output = completed_output(&events);
    assert_eq!(
        output.iter().map(|item| item["name"].clone()).collect::<Vec<_>>(),
        [json!("first"), json!("second")]
    );
    let added = of_type(&events, "response.output_item.added");
    assert_eq!(added[0]["item"]["name"], json!("first"));
}

/// Case 20: missing index with distinct ids gives 2 calls; fragments without an id stay in
/// one call; non-contiguous indexes 1 and 3 are both emitted.
#[test]
fn case20_tool_keys() {
    let events = responses_stream(
        &[
            delta(json!({"tool_calls": [{"id": "call_a", "function": {"name": "a", "arguments": "{"}}]})),
            delta(json!({"tool_calls": [{"function": {"arguments": "}"}}]})),
            delta(json!({"tool_calls": [{"id": "call_b", "function": {"name": "b", "arguments": "{}"}}]})),
            finish("tool_calls"),
        ],
        true,
    );
    let output = completed_output(&events);
    assert_eq!(output.len(), 2);
    assert_eq!(
        (output[0]["call_id"].clone(), output[0]["arguments"].clone()),
        (json!("call_a"), json!("{}"))
    );
    assert_eq!(output[1]["call_id"], json!("call_b"));

    let events = responses_stream(
        &[
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_1", "function": {"name": "a", "arguments": "{}"}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 3, "id": "call_3", "function": {"name": "b", "arguments": "{}"}}]}),
            ),
            finish("tool_calls"),
        ],
        true,
    );
    assert_eq!(completed_output(&events).len(), 2);

    // An id the upstream reuses (`call_0` twice) is replaced by a minted one.
    let events = responses_stream(
        &[
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_0", "function": {"name": "a", "arguments": "{}"}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_0", "function": {"name": "b", "arguments": "{}"}}]}),
            ),
            finish("tool_calls"),
        ],
        true,
    );
    let output = completed_output(&events);
    assert_eq!(output[0]["call_id"], json!("call_0"));
    assert_eq!(output[1]["call_id"], json!("call_*_1"));
}

/// Case 21: finish on every chunk → one message; usage after finish lands in `completed`.
#[test]
fn case21_repeated_finish_and_late_usage() {
    let every = |content: &str| json!({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": "stop"}]});
    let events = responses_stream(
        &[
            every("a"),
            every("b"),
            every("c"),
            usage_chunk(json!({"prompt_tokens": 5, "completion_tokens": 3})),
        ],
        true,
    );
    assert_eq!(of_type(&events, "response.output_item.added").len(), 1);
    assert_eq!(of_type(&events, "response.completed").len(), 1);
    let completed = of_type(&events, "response.completed")[0];
    assert_eq!(completed["response"]["output"][0]["content"][0]["text"], json!("abc"));
    assert_eq!(completed["response"]["usage"]["input_tokens"], json!(5));
    assert_eq!(completed["response"]["usage"]["total_tokens"], json!(8));
}

/// Case 22: `prompt_cache_hit_tokens` → cached_tokens; no usage → zero integers.
#[test]
fn case22_usage_mapping() {
    let events = responses_stream(
        &[
            delta(json!({"content": "a"})),
            finish("stop"),
            usage_chunk(json!({"prompt_tokens": 100, "completion_tokens": 7, "prompt_cache_hit_tokens": 60})),
        ],
        true,
    );
    assert_eq!(
        of_type(&events, "response.completed")[0]["response"]["usage"],
        json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 7,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 107})
    );
    let events = responses_stream(&[delta(json!({"content": "a"})), finish("stop")], true);
    assert_eq!(
        of_type(&events, "response.completed")[0]["response"]["usage"],
        json!({"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 0,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 0})
    );
}

/// Case 23: `length` → completed/incomplete max_output_tokens; EOF without [DONE]: no output
/// → failed, with output → incomplete; both flagged `stream_truncated`.
#[test]
fn case23_length_and_eof() {
    let events = responses_stream(&[delta(json!({"content": "a"})), finish("length")], true);
    let response = &of_type(&events, "response.completed")[0]["response"];
    assert_eq!(response["status"], json!("incomplete"));
    assert_eq!(response["incomplete_details"], json!({"reason": "max_output_tokens"}));

    let input = chat_sse(&[delta(json!({"role": "assistant"}))], false);
    let (out, outcome) = run(&codex_ctx(json!([])), Api::Chat, Api::Responses, true, &[input.as_bytes()]);
    let events = super::events(&out);
    assert_eq!(names(&events), ["response.created", "response.in_progress", "response.failed"]);
    assert_eq!(events[2].1["response"]["error"]["code"], json!("stream_truncated"));
    assert_eq!(outcome.error_class, Some("stream_truncated"));

    let input = chat_sse(&[delta(json!({"content": "partial"}))], false);
    let (out, outcome) = run(&codex_ctx(json!([])), Api::Chat, Api::Responses, true, &[input.as_bytes()]);
    let events = super::events(&out);
    let response = &of_type(&events, "response.completed")[0]["response"];
    assert_eq!(response["status"], json!("incomplete"));
    assert_eq!(response["output"][0]["content"][0]["text"], json!("partial"));
    assert_eq!(outcome.error_class, Some("stream_truncated"));
}

/// Case 24: only a nameless tool call → `response.failed` upstream_tool_call_dropped.
#[test]
fn case24_nameless_tool_call_fails() {
    let input = chat_sse(
        &[
            delta(json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": "{}"}}]})),
            finish("tool_calls"),
        ],
        true,
    );
    let (out, outcome) = run(&codex_ctx(json!([])), Api::Chat, Api::Responses, true, &[input.as_bytes()]);
    let events = super::events(&out);
    assert!(of_type(&events, "response.completed").is_empty());
    let failed = of_type(&events, "response.failed");
    assert_eq!(failed[0]["response"]["error"]["code"], json!("upstream_tool_call_dropped"));
    assert_eq!(outcome.error_class, Some("upstream_tool_call_dropped"));
}

/// Case 25: upstream errors before streaming.
#[test]
fn case25_upstream_errors() {
    let overflow = br#"{"error":{"message":"This model's maximum context length is 131072 tokens","type":"invalid_request_error","code":null}}"#;
    let (status, body) = convert_error(Api::Responses, 400, overflow);
    assert_eq!(status, 200);
    let events = events(&body);
    assert_eq!(names(&events), ["response.created", "response.failed"]);
    assert_eq!(events[1].1["response"]["error"]["code"], json!("context_length_exceeded"));

    let (status, body) = convert_error_for(Api::Responses, false, 400, overflow);
    assert_eq!(status, 400);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], json!("context_length_exceeded"));

    let (status, body) = convert_error(Api::Responses, 503, br#"{"error":{"message":"Server busy"}}"#);
    assert_eq!(status, 503);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"error": {"message": "Server busy", "type": "server_error", "code": "server_is_overloaded", "param": null}})
    );

    let minimax = br#"{"id":"x","base_resp":{"status_code":1008,"status_msg":"insufficient balance"}}"#;
    let (status, body) = convert_error_for(Api::Chat, true, 200, minimax);
    assert_eq!(status, 502);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["message"],
        json!("insufficient balance")
    );
    let (status, body) = convert_error(Api::Messages, 429, minimax);
    assert_eq!(status, 429);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "insufficient balance"}})
    );

    let (status, body) = convert_error(Api::Messages, 400, overflow);
    assert_eq!(status, 400);
    let message =
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("prompt is too long"), "Claude Code compacts on this prefix: {message}");
    let (status, body) = convert_error(Api::Messages, 503, b"upstream connect error");
    assert_eq!(status, 503);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["error"]["type"], json!("overloaded_error"));
}

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

/// A context for `client` → `upstream` with a `bash` tool in the client's own shape.
fn opencode_like_ctx(client: Api, upstream: Api) -> ConvContext {
    let body = match client {
        Api::Chat => {
            json!({"model": "mock-model", "stream": true, "messages": [{"role": "user", "content": "hi"}],
                            "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]})
        }
        Api::Messages => json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
                                "messages": [{"role": "user", "content": "hi"}],
                                "tools": [{"name": "bash", "input_schema": {"type": "object"}}]}),
        Api::Responses => codex_request(
            json!([{"type": "message", "role": "user", "content": "hi"}]),
            json!([{"type": "function", "name": "bash", "parameters": {"type": "object"}}]),
        ),
    };
    context(client, upstream, &body)
}

fn messages_upstream_sse() -> String {
    let frames = [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_up", "type": "message", "role": "assistant",
            "model": "claude", "content": [], "stop_reason": null,
            "usage": {"input_tokens": 60, "cache_read_input_tokens": 40, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "思考"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig=="}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "日本語 ✓"}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"c\":"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "\"é\"}"}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 2})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 12}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    frames.iter().map(|(event, data)| format!("event: {event}\ndata: {data}\n\n")).collect()
}

fn responses_upstream_sse() -> String {
    let frames = [
        json!({"type": "response.created", "sequence_number": 0, "response": {"id": "resp_up", "status": "in_progress", "output": []}}),
        json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": {"type": "reasoning", "id": "rs_up", "summary": []}}),
        json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 2, "item_id": "rs_up", "output_index": 0, "summary_index": 0, "delta": "思考"}),
        json!({"type": "response.output_item.done", "sequence_number": 3, "output_index": 0, "item": {"type": "reasoning", "id": "rs_up", "summary": [{"type": "summary_text", "text": "思考"}], "encrypted_content": "gAAAAenc"}}),
        json!({"type": "response.output_item.added", "sequence_number": 4, "output_index": 1, "item": {"type": "message", "id": "msg_up", "role": "assistant", "content": []}}),
        json!({"type": "response.output_text.delta", "sequence_number": 5, "item_id": "msg_up", "output_index": 1, "content_index": 0, "delta": "日本語 ✓"}),
        json!({"type": "response.output_item.done", "sequence_number": 6, "output_index": 1, "item": {"type": "message", "id": "msg_up", "role": "assistant", "content": [{"type": "output_text", "text": "日本語 ✓"}]}}),
        json!({"type": "response.output_item.added", "sequence_number": 7, "output_index": 2, "item": {"type": "function_call", "id": "fc_up", "call_id": "call_1", "name": "bash", "arguments": ""}}),
        json!({"type": "response.function_call_arguments.delta", "sequence_number": 8, "item_id": "fc_up", "output_index": 2, "delta": "{\"c\":\"é\"}"}),
        json!({"type": "response.output_item.done", "sequence_number": 9, "output_index": 2, "item": {"type": "function_call", "id": "fc_up", "call_id": "call_1", "name": "bash", "arguments": "{\"c\":\"é\"}"}}),
        json!({"type": "response.completed", "sequence_number": 10, "response": {"id": "resp_up", "status": "completed", "output": [],
               "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 9,
                         "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 109}}}),
    ];
    frames.iter().map(|data| format!("event: {}\ndata: {data}\n\n", data["type"].as_str().unwrap())).collect()
}

/// Every decoder × encoder pair, streamed and not: golden event sequences / bodies.
#[test]
fn every_direction_golden() {
    let chat = chat_sse(
        &[
            delta(json!({"reasoning_content": "思考"})),
            delta(json!({"content": "日本語 ✓"})),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "bash", "arguments": "{\"c\":\"é\"}"}}]}),
            ),
            finish("tool_calls"),
            usage_chunk(
                json!({"prompt_tokens": 100, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 40}}),
            ),
        ],
        true,
    );
    let inputs: [(Api, String); 3] = [
        (Api::Chat, chat),
        (Api::Messages, messages_upstream_sse()),
        (Api::Responses, responses_upstream_sse()),
    ];
    for (upstream, input) in &inputs {
        for client in Api::ALL.into_iter().filter(|client| client != upstream) {
            let ctx = opencode_like_ctx(client, *upstream);
            let (out, outcome) = run(&ctx, *upstream, client, true, &[input.as_bytes()]);
            assert_eq!(outcome.error_class, None);
            assert_eq!(outcome.stop_reason, Some("tool_use"));
            assert_eq!((outcome.usage.input, outcome.usage.cached), (100, 40), "{upstream:?}→{client:?}");
            golden(&format!("stream_{}_to_{}", upstream.name(), client.name()), &events_json(&out));
            // The same turn, client not streaming: one JSON body.
            let (body, _) = run(&ctx, *upstream, client, false, &[input.as_bytes()]);
            let body: Value = super::normalize(serde_json::from_slice(&body).unwrap());
            golden(&format!("body_{}_to_{}", upstream.name(), client.name()), &body);
        }
    }
}

/// Non-streamed upstream JSON → streamed and non-streamed clients.
#[test]
fn non_streamed_upstream_bodies() {
    let chat = json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "up",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "<think>r</think>Answer",
                     "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "bash", "arguments": "{\"c\":1}"}}]},
                     "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2}});
    let ctx = opencode_like_ctx(Api::Messages, Api::Chat);
    let (body, outcome) = run(&ctx, Api::Chat, Api::Messages, false, &[chat.to_string().as_bytes()]);
    assert_eq!(outcome.error_class, None);
    assert_eq!(
        super::normalize(serde_json::from_slice(&body).unwrap()),
        json!({"id": "msg_*", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
               "content": [{"type": "thinking", "thinking": "r", "signature": ""}, {"type": "text", "text": "Answer"},
                           {"type": "tool_use", "id": "call_9", "name": "bash", "input": {"c": 1}}],
               "stop_reason": "tool_use", "stop_sequence": null,
               "usage": {"input_tokens": 9, "output_tokens": 2, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}})
    );
    let messages = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 2}});
    let ctx = opencode_like_ctx(Api::Chat, Api::Messages);
    let (body, _) = run(&ctx, Api::Messages, Api::Chat, false, &[messages.to_string().as_bytes()]);
    assert_eq!(
        super::normalize(serde_json::from_slice(&body).unwrap()),
        json!({"id": "chatcmpl-*", "object": "chat.completion", "created": 0, "model": "mock-model",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6,
                         "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 0}}})
    );
    // A non-streamed upstream answering a streamed client still streams events.
    let ctx = codex_ctx(json!([]));
    let (out, _) = run(&ctx, Api::Chat, Api::Responses, true, &[chat.to_string().as_bytes()]);
    assert_eq!(of_type(&events(&out), "response.completed").len(), 1);
    // An error body with 200.
    let (body, outcome) = run(
        &ctx,
        Api::Chat,
        Api::Responses,
        false,
        &[br#"{"error":{"message":"quota","code":"insufficient_quota"}}"#],
    );
    assert_eq!(outcome.error_class, Some("upstream_error_event"));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], json!("failed"));
    assert_eq!(body["error"], json!({"code": "insufficient_quota", "message": "quota"}));
}

fn claude_events(
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

/// A mid-stream context overflow reaches Codex as `context_length_exceeded`.
#[test]
fn mid_stream_errors_use_codex_codes() {
    let input = chat_sse(
        &[json!({"error": {"message": "Input exceeds the model's maximum context length", "code": "400"}})],
        false,
    );
    let (out, outcome) = run(&codex_ctx(json!([])), Api::Chat, Api::Responses, true, &[input.as_bytes()]);
    let events = super::events(&out);
    assert_eq!(events.last().unwrap().1["response"]["error"]["code"], json!("context_length_exceeded"));
    assert_eq!(outcome.error_class, Some("upstream_error_event"));
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

/// Cases 9/10 (response half): flat names map back to namespace + child; custom tools come
/// back as `custom_tool_call` with the raw input (non-JSON arguments pass raw).
#[test]
fn case09_10_names_and_custom_tools_map_back() {
    let long = "r".repeat(90);
    let tools = json!([
        {"type": "namespace", "name": "mcp__fs__", "tools": [{"type": "function", "name": "read_file", "parameters": {}}]},
        {"type": "namespace", "name": "mcp__srv__", "tools": [{"type": "function", "name": long, "parameters": {}}]},
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "x"}}
    ]);
    let ctx = codex_ctx(tools);
    let long_wire = super::super::tools::wire_name(&long, Some("mcp__srv__"));
    let input = chat_sse(
        &[
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "mcp__fs__read_file", "arguments": "{\"path\":\"a\"}"}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_2", "function": {"name": long_wire, "arguments": "{}"}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 2, "id": "call_3", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\"}"}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 3, "id": "call_4", "function": {"name": "apply_patch", "arguments": "not json"}}]}),
            ),
            finish("tool_calls"),
        ],
        true,
    );
    let (out, _) = run(&ctx, Api::Chat, Api::Responses, true, &[input.as_bytes()]);
    let events = super::events(&out);
    let output = completed_output(&events);
    assert_eq!(
        output[0],
        json!({"type": "function_call", "id": "fc_*", "call_id": "call_1", "name": "read_file", "namespace": "mcp__fs__",
               "arguments": "{\"path\":\"a\"}", "status": "completed"})
    );
    assert_eq!(
        (output[1]["name"].clone(), output[1]["namespace"].clone()),
        (json!(long), json!("mcp__srv__"))
    );
    assert_eq!(
        output[2],
        json!({"type": "custom_tool_call", "id": "fc_*", "call_id": "call_3", "name": "apply_patch",
               "input": "*** Begin Patch\n*** End Patch", "status": "completed"})
    );
    assert_eq!(output[3]["input"], json!("not json"));
    // Custom tools stream no argument deltas, only custom_tool_call_input.delta/done.
    let custom_deltas = of_type(&events, "response.custom_tool_call_input.done");
    assert_eq!(custom_deltas.len(), 2);
    let argument_deltas = of_type(&events, "response.function_call_arguments.delta");
    assert!(argument_deltas.iter().all(|d| d["item_id"] != output[2]["id"] || d["output_index"] != json!(2)));
    assert!(argument_deltas.len() == 2);

    // Case 30: a long Claude MCP name round-trips.
    let claude_long = format!("mcp__{}__tool", "s".repeat(70));
    let ctx = claude_ctx(json!([{"name": claude_long, "input_schema": {}}]));
    let wire = super::super::tools::wire_name(&claude_long, None);
    let input = chat_sse(
        &[
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": wire, "arguments": "{}"}}]}),
            ),
            finish("tool_calls"),
        ],
        true,
    );
    let (out, _) = run(&ctx, Api::Chat, Api::Messages, true, &[input.as_bytes()]);
    let start = of_type(&super::events(&out), "content_block_start")[0].clone();
    assert_eq!(start["content_block"]["name"], json!(claude_long));
}

/// Tool-round semantics the real clients need (docs/client-formats.md §8).
#[test]
fn tool_round_semantics_for_real_clients() {
    let chat_call = chat_sse(
        &[
            delta(json!({"role": "assistant", "content": null,
                       "tool_calls": [{"index": 0, "id": "call_mock_1", "type": "function", "function": {"name": "exec_command", "arguments": ""}}]})),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\":\"echo "}}]})),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "TOOL-RAN\"}"}}]})),
            finish("tool_calls"),
            usage_chunk(json!({"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14})),
        ],
        true,
    );
    // Codex: output_item.done with the function_call, then completed with integer usage.
    let codex = fixture_ctx("real/codex_responses_turn1.json", Api::Responses);
    let (out, _) = run(&codex, Api::Chat, Api::Responses, true, &[chat_call.as_bytes()]);
    let events = super::events(&out);
    let done = of_type(&events, "response.output_item.done");
    assert_eq!(
        done[0]["item"],
        json!({"type": "function_call", "id": "fc_*", "call_id": "call_mock_1", "name": "exec_command",
               "arguments": "{\"cmd\":\"echo TOOL-RAN\"}", "status": "completed"})
    );
    assert_eq!(events.last().unwrap().0, "response.completed");
    assert_eq!(events.last().unwrap().1["response"]["usage"]["total_tokens"], json!(14));

    // Claude Code: tool_use start, input_json_delta, message_delta stop_reason tool_use.
    let claude = fixture_ctx("real/claude_messages_turn1.json", Api::Messages);
    let chat_call = chat_call.replace("exec_command", "Bash").replace("cmd", "command");
    let (out, _) = run(&claude, Api::Chat, Api::Messages, true, &[chat_call.as_bytes()]);
    let events = super::events(&out);
    golden("tool_round_chat_to_claude", &Value::Array(events.iter().map(|(e, d)| json!([e, d])).collect()));
    assert_eq!(of_type(&events, "content_block_start")[0]["content_block"]["type"], json!("tool_use"));
    assert_eq!(of_type(&events, "message_delta")[0]["delta"]["stop_reason"], json!("tool_use"));
    assert_eq!(of_type(&events, "message_start")[0]["message"]["model"], json!("claude-opus-5-5"));

    // OpenCode Chat ← Messages upstream: tool_calls deltas with index/id/name, then tool_calls.
    let opencode = fixture_ctx("real/opencode_chat_turn1.json", Api::Messages);
    let messages_call = messages_upstream_sse();
    let (out, _) = run(&opencode, Api::Messages, Api::Chat, true, &[messages_call.as_bytes()]);
    let events = super::events(&out);
    let first_tool = events.iter().find(|(_, d)| d.pointer("/choices/0/delta/tool_calls").is_some()).unwrap();
    assert_eq!(
        first_tool.1["choices"][0]["delta"]["tool_calls"][0],
        json!({"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "bash", "arguments": ""}})
    );
    let finishes: Vec<&Value> = events
        .iter()
        .filter_map(|(_, d)| d.pointer("/choices/0/finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("tool_calls")]);
    assert_eq!(events.last().unwrap().1, json!("[DONE]"));
}

fn fixture_ctx(name: &str, upstream_for: Api) -> ConvContext {
    let body = super::fixture_json(name);
    let client = if name.contains("codex") {
        Api::Responses
    } else if name.contains("claude") {
        Api::Messages
    } else {
        Api::Chat
    };
    let upstream = if upstream_for == client { Api::Chat } else { upstream_for };
    convert_full(client, upstream, &body, &Quirks::default(), &ResponseCache::new()).ctx
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
                Api::Chat => {}
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
    let rounds = 20;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        let mut tap = crate::proxy::tap::Tap::new(Api::Chat, true, std::time::Instant::now());
        for piece in &pieces {
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

/// Anthropic thinking signatures survive a Codex turn (inside the marked encrypted_content),
/// and OpenAI encrypted reasoning survives a Claude Code turn (inside a marked signature).
#[test]
fn reasoning_round_trips_across_turns() {
    // Codex ← Messages upstream, then Codex's next request → Messages upstream.
    let tools = json!([{"type": "function", "name": "bash", "parameters": {"type": "object"}}]);
    let first = codex_request(json!([{"type": "message", "role": "user", "content": "hi"}]), tools.clone());
    let ctx = context(Api::Responses, Api::Messages, &first);
    let (out, _) = run(&ctx, Api::Messages, Api::Responses, true, &[messages_upstream_sse().as_bytes()]);
    let output = completed_output(&super::events(&out));
    let mut input = vec![json!({"type": "message", "role": "user", "content": "hi"})];
    input.extend(output.iter().cloned());
    input.push(json!({"type": "function_call_output", "call_id": "toolu_1", "output": "done"}));
    let second = codex_request(Value::Array(input), tools);
    let upstream = super::convert(Api::Responses, Api::Messages, &second, &Quirks::default());
    assert_eq!(
        upstream["messages"][1]["content"][0],
        json!({"type": "thinking", "thinking": "思考", "signature": "sig=="})
    );

    // Claude Code ← Responses upstream, then Claude's next request → Responses upstream.
    let ctx = super::context(
        Api::Messages,
        Api::Responses,
        &json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
                "messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "bash", "input_schema": {}}]}),
    );
    let (body, _) = run(&ctx, Api::Responses, Api::Messages, false, &[responses_upstream_sse().as_bytes()]);
    let message: Value = serde_json::from_slice(&body).unwrap();
    let next = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "hi"},
                     {"role": "assistant", "content": message["content"]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "done"}]}],
        "tools": [{"name": "bash", "input_schema": {}}]});
    let upstream = super::convert(Api::Messages, Api::Responses, &next, &Quirks::default());
    assert_eq!(
        upstream["input"][1],
        json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "思考"}], "encrypted_content": "gAAAAenc"})
    );
}

/// `choices[0]` is read whatever its `index` (OpenRouter sent `index: 1`); `choices: null`
/// with usage is a usage chunk.
#[test]
fn first_choice_whatever_its_index() {
    let events = responses_stream(
        &[
            json!({"choices": [{"index": 1, "delta": {"content": "x"}}, {"index": 2, "delta": {"content": "ignored"}}]}),
            json!({"choices": null, "usage": {"prompt_tokens": 2, "completion_tokens": 1}}),
            finish("stop"),
        ],
        true,
    );
    let response = &of_type(&events, "response.completed")[0]["response"];
    assert_eq!(response["output"][0]["content"][0]["text"], json!("x"));
    assert_eq!(response["usage"]["total_tokens"], json!(3));
}

/// Codex `tool_search`: a function upstream, found tools join the tool set, and the call
/// comes back as a client-executed `tool_search_call`.
#[test]
fn tool_search_round_trip() {
    let body = codex_request(
        json!([
            {"type": "message", "role": "user", "content": "find"},
            {"type": "tool_search_call", "call_id": "call_s", "execution": "client", "arguments": {"query": "fs"}},
            {"type": "tool_search_output", "call_id": "call_s", "execution": "client",
             "tools": [{"type": "function", "name": "read_file", "parameters": {"type": "object"}}]}
        ]),
        json!([{"type": "tool_search", "execution": "client", "description": "Search tools",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}]),
    );
    let upstream = super::convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    let names: Vec<&str> = upstream["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tool_search", "read_file"]);
    assert_eq!(
        upstream["messages"][2]["tool_calls"][0]["function"],
        json!({"name": "tool_search", "arguments": "{\"query\":\"fs\"}"})
    );
    assert_eq!(upstream["messages"][3]["role"], json!("tool"));

    let ctx = context(Api::Responses, Api::Chat, &body);
    let input = chat_sse(
        &[
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_t", "function": {"name": "tool_search", "arguments": "{\"query\":\"git\"}"}}]}),
            ),
            finish("tool_calls"),
        ],
        true,
    );
    let (out, _) = run(&ctx, Api::Chat, Api::Responses, true, &[input.as_bytes()]);
    assert_eq!(
        completed_output(&super::events(&out))[0],
        json!({"type": "tool_search_call", "id": "fc_*", "call_id": "call_t", "execution": "client",
               "arguments": {"query": "git"}, "status": "completed"})
    );
}
