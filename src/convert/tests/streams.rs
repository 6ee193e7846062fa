//! Chat → Responses streams: conversion.md §8 cases 16–25 (what Codex consumes), names and
//! custom tools mapped back (cases 9, 10), tool_search.

use serde_json::{Value, json};

use super::super::{ConvContext, Quirks, convert_error, convert_error_for};
use super::{chat_sse, codex_request, context, delta, events, events_json, finish, golden, run, usage_chunk};
use crate::providers::Api;

pub(super) fn codex_ctx(tools: Value) -> ConvContext {
    context(
        Api::Responses,
        Api::Chat,
        &codex_request(json!([{"type": "message", "role": "user", "content": "hi"}]), tools),
    )
}

pub(super) fn claude_ctx(tools: Value) -> ConvContext {
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 1000, "stream": true,
                      "messages": [{"role": "user", "content": "hi"}], "tools": tools});
    context(Api::Messages, Api::Chat, &body)
}

pub(super) fn names(events: &[(String, Value)]) -> Vec<String> {
    events.iter().map(|(name, _)| name.clone()).collect()
}

pub(super) fn of_type<'a>(events: &'a [(String, Value)], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|(event, _)| event == name).map(|(_, data)| data).collect()
}

pub(super) fn responses_stream(chunks: &[Value], done: bool) -> Vec<(String, Value)> {
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
    assert!(outcome.usage_known);
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

pub(super) fn completed_output(events: &[(String, Value)]) -> Vec<Value> {
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
