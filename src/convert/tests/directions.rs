//! Every upstream decoder × client encoder, streamed and not; tool rounds the real clients need;
//! reasoning carried across turns.

use serde_json::{Value, json};

use super::super::{ConvContext, Quirks, ResponseCache};
use super::streams::{codex_ctx, completed_output, of_type};
use super::{
    chat_sse, codex_request, context, convert_full, delta, events, events_json, finish, golden, run,
    usage_chunk,
};
use crate::providers::Api;

/// A context for `client` → `upstream` with a `bash` tool in the client's own shape.
pub(super) fn opencode_like_ctx(client: Api, upstream: Api) -> ConvContext {
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
        Api::Gemini => json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                              "tools": [{"functionDeclarations": [{"name": "bash", "parametersJsonSchema": {"type": "object"}}]}]}),
    };
    context(client, upstream, &body)
}

pub(super) fn messages_upstream_sse() -> String {
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

pub(super) fn responses_upstream_sse() -> String {
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

pub(super) fn fixture_ctx(name: &str, upstream_for: Api) -> ConvContext {
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
