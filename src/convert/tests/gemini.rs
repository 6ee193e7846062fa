//! The Gemini API codec: requests both ways (tool calls, images, generation and thinking
//! config) and streams both ways, as golden files.

use serde_json::{Value, json};

use super::super::{PathInfo, Quirks, ResponseCache, StreamConverter, convert_request_at, upstream_path};
use super::{chat_sse, convert, delta, events_json, finish, golden, normalize, usage_chunk};
use crate::providers::Api;

/// What Gemini CLI 0.61 sends on a tool round (shape from a logged request), with an image.
fn gemini_cli_request() -> Value {
    json!({
        "contents": [
            {"role": "user", "parts": [{"text": "<session_context>ctx</session_context>"}, {"text": "run it"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]},
            {"role": "model", "parts": [{"functionCall": {"id": "run_shell_command_1_0",
                "args": {"command": "echo TOOL-RAN-$[6*7]"}, "name": "run_shell_command"},
                "thoughtSignature": "skip_thought_signature_validator"}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command",
                "response": {"output": "Output: TOOL-RAN-42"}, "id": "run_shell_command_1_0"}}]}
        ],
        "systemInstruction": {"role": "user", "parts": [{"text": "You are a non-interactive CLI agent."}]},
        "tools": [{"functionDeclarations": [{"name": "run_shell_command", "description": "Runs a shell command.",
            "parametersJsonSchema": {"type": "object", "properties": {"command": {"type": "string"}},
            "required": ["command"]}},
            {"name": "legacy", "parameters": {"type": "OBJECT", "properties": {"x": {"type": "STRING"}}}}]}],
        "generationConfig": {"temperature": 1, "topP": 0.95, "topK": 64, "maxOutputTokens": 2048,
            "thinkingConfig": {"includeThoughts": true, "thinkingBudget": 8192}}
    })
}

fn gemini_converted(upstream: Api, stream: bool) -> super::super::Converted {
    convert_request_at(
        Api::Gemini,
        Some(PathInfo { model: "gemini-2.5-pro", stream }),
        upstream,
        gemini_cli_request().to_string().as_bytes(),
        Some("up-model"),
        &Quirks::default(),
        &ResponseCache::new(),
    )
    .unwrap()
}

#[test]
fn gemini_requests_to_every_api() {
    for (upstream, name) in [
        (Api::Chat, "gemini_to_chat"),
        (Api::Messages, "gemini_to_messages"),
        (Api::Responses, "gemini_to_responses"),
    ] {
        let converted = gemini_converted(upstream, true);
        assert!(converted.stream);
        assert_eq!(converted.ctx.client_model(), "gemini-2.5-pro");
        let body: Value = serde_json::from_slice(&converted.body).unwrap();
        golden(name, &body);
    }
    // The Chat form keeps the call id, the result and the image.
    let body: Value = serde_json::from_slice(&gemini_converted(Api::Chat, true).body).unwrap();
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0], json!({"role": "system", "content": "You are a non-interactive CLI agent."}));
    assert_eq!(messages[2]["tool_calls"][0]["id"], json!("run_shell_command_1_0"));
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "run_shell_command_1_0", "content": "Output: TOOL-RAN-42"})
    );
    assert_eq!(messages[1]["content"][2]["image_url"]["url"], json!("data:image/png;base64,iVBORw0KGgo="));
    assert_eq!(body["tools"][1]["function"]["parameters"]["properties"]["x"]["type"], json!("string"));
    assert_eq!(body["max_tokens"], json!(2048));
}

#[test]
fn requests_of_every_api_to_gemini() {
    let chat = json!({"model": "m", "stream": true, "messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}}]},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "bash", "arguments": "{\"command\":\"ls\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"}],
        "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object",
            "properties": {"command": {"type": "string"}}}}}],
        "tool_choice": "required", "max_tokens": 100, "reasoning_effort": "high"});
    let body = convert(Api::Chat, Api::Gemini, &chat, &Quirks::default());
    golden("chat_to_gemini", &body);
    assert_eq!(
        body["contents"][1]["parts"][0]["thoughtSignature"],
        json!("skip_thought_signature_validator")
    );
    assert_eq!(body["contents"][2]["parts"][0]["functionResponse"]["name"], json!("bash"));
    assert_eq!(body["contents"][0]["parts"][1]["inlineData"]["mimeType"], json!("image/jpeg"));
    assert!(body.get("model").is_none() && body.get("stream").is_none());
    let claude = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true, "system": "be brief",
        "messages": [{"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "pwd"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                {"type": "text", "text": "/w"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]}]}],
        "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
        "thinking": {"type": "enabled", "budget_tokens": 2000}});
    golden("messages_to_gemini", &convert(Api::Messages, Api::Gemini, &claude, &Quirks::default()));
    assert_eq!(upstream_path(Api::Gemini, true, "models/g"), "/models/g:streamGenerateContent?alt=sse");
    assert_eq!(upstream_path(Api::Gemini, false, "g"), "/models/g:generateContent");
}

fn gemini_sse(chunks: &[Value]) -> String {
    chunks.iter().map(|chunk| format!("data: {chunk}\r\n\r\n")).collect()
}

#[test]
fn gemini_upstream_streams_to_every_client() {
    let upstream = gemini_sse(&[
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "thinking", "thought": true}]}, "index": 0}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Let me "}]}, "index": 0}],
               "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 1}}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "run it."},
               {"functionCall": {"name": "bash", "args": {"command": "echo hi"}}}]}, "finishReason": "STOP", "index": 0}],
               "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 5, "thoughtsTokenCount": 2,
               "cachedContentTokenCount": 4, "totalTokenCount": 18}}),
    ]);
    for (client, name) in [
        (Api::Chat, "gemini_stream_to_chat"),
        (Api::Messages, "gemini_stream_to_messages"),
        (Api::Responses, "gemini_stream_to_responses"),
    ] {
        let ctx = super::directions::opencode_like_ctx(client, Api::Gemini);
        // Split at every 7 bytes: chunk boundaries must not matter.
        let bytes = upstream.as_bytes();
        let pieces: Vec<&[u8]> = bytes.chunks(7).collect();
        let (out, outcome) = super::run(&ctx, Api::Gemini, client, true, &pieces);
        assert_eq!(outcome.error_class, None, "{client:?}");
        assert_eq!(outcome.stop_reason, Some("tool_use"));
        assert_eq!((outcome.usage.input, outcome.usage.output, outcome.usage.cached), (11, 7, 4));
        golden(name, &events_json(&out));
    }
    // A stream cut before its finishReason is never success.
    let cut = gemini_sse(&[json!({"candidates": [{"content": {"parts": [{"text": "a"}]}}]})]);
    let ctx = super::directions::opencode_like_ctx(Api::Chat, Api::Gemini);
    let (_, outcome) = super::run(&ctx, Api::Gemini, Api::Chat, true, &[cut.as_bytes()]);
    assert_eq!(outcome.error_class, Some("stream_truncated"));
    // An error chunk is an error event.
    let error =
        gemini_sse(&[json!({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})]);
    let mut converter = StreamConverter::new(ctx, Api::Gemini, Api::Chat, true);
    converter.feed(error.as_bytes(), &mut Vec::new());
    assert_eq!(converter.error_before_content().as_deref(), Some("quota"));
}

#[test]
fn every_upstream_stream_to_a_gemini_client() {
    let converted = gemini_converted(Api::Chat, true);
    let upstream = chat_sse(
        &[
            delta(json!({"role": "assistant", "reasoning_content": "hmm"})),
            delta(json!({"content": "Run"})),
            delta(json!({"content": "ning."})),
            delta(json!({"tool_calls": [{"index": 0, "id": "call_9", "type": "function",
                "function": {"name": "run_shell_command", "arguments": "{\"comm"}}]})),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "and\":\"ls\"}"}}]})),
            finish("tool_calls"),
            usage_chunk(json!({"prompt_tokens": 20, "completion_tokens": 9,
                "completion_tokens_details": {"reasoning_tokens": 3}})),
        ],
        true,
    );
    let (out, outcome) = super::run(&converted.ctx, Api::Chat, Api::Gemini, true, &[upstream.as_bytes()]);
    assert_eq!(outcome.error_class, None);
    let events = events_json(&out);
    golden("chat_stream_to_gemini", &events);
    let last = &events.as_array().unwrap().last().unwrap()[1];
    assert_eq!(last["candidates"][0]["finishReason"], json!("STOP"));
    assert_eq!(
        last["candidates"][0]["content"]["parts"][0]["functionCall"],
        json!({"name": "run_shell_command", "args": {"command": "ls"}, "id": "call_9"})
    );
    assert_eq!(
        last["usageMetadata"],
        json!({"promptTokenCount": 20, "candidatesTokenCount": 6,
        "totalTokenCount": 29, "thoughtsTokenCount": 3})
    );
    // Non-streamed (generateContent): one body.
    let converted = gemini_converted(Api::Messages, false);
    let messages = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [{"type": "text", "text": "MOCK-OK"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 5, "output_tokens": 2}});
    let (out, _) =
        super::run(&converted.ctx, Api::Messages, Api::Gemini, false, &[messages.to_string().as_bytes()]);
    let body: Value = serde_json::from_slice(&out).unwrap();
    golden("messages_body_to_gemini", &normalize(body));
}

#[test]
fn gemini_errors_in_googles_shape() {
    let (status, body) = super::super::convert_error(
        Api::Gemini,
        429,
        br#"{"error":{"message":"slow down","type":"rate_limit"}}"#,
    );
    assert_eq!(status, 429);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}));
    assert_eq!(
        super::super::gemini_path("/models/gemini-2.5-pro:streamGenerateContent"),
        Some(("gemini-2.5-pro", "streamGenerateContent"))
    );
    assert_eq!(super::super::gemini_path("/models"), None);
}
