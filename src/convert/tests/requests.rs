//! Request conversion: conversion.md §8 cases 1–15 (Responses → Chat), 27–30 (Messages →
//! Chat), 35 (count_tokens), and the other directions.

use serde_json::{Value, json};

use super::super::responses::mark_reasoning;
use super::super::{Quirks, ResponseCache, StreamConverter, convert_request, count_tokens_estimate};
use super::{chat_sse, codex_request, convert, convert_full, delta, finish};
use crate::providers::Api;

fn chat_messages(body: &Value) -> Value {
    body["messages"].clone()
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn call(id: &str, name: &str, arguments: &str) -> Value {
    json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments})
}

fn output(id: &str, output: Value) -> Value {
    json!({"type": "function_call_output", "call_id": id, "output": output})
}

fn function_tool(name: &str) -> Value {
    json!({"type": "function", "name": name, "description": format!("{name} tool"), "strict": false,
           "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}})
}

fn chat_tool(name: &str) -> Value {
    json!({"type": "function", "function": {"name": name, "description": format!("{name} tool"), "strict": false,
           "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}})
}

fn tool_call(id: &str, name: &str, arguments: &str) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

/// Case 1 (+15): instructions head, developer in place, assistant text joined; upstream has
/// `stream_options.include_usage` and none of `store`, `include`, `prompt_cache_key`.
#[test]
fn case01_text_only_turn_and_case15_dropped_fields() {
    let body = json!({
        "model": "gpt-5-codex", "instructions": "You are Codex.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev rules"}]},
            user("hi"),
            {"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": "Hello"}, {"type": "output_text", "text": " there"}]},
            user("bye")
        ],
        "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {"summary": "auto"},
        "store": false, "stream": true, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k"
    });
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        upstream,
        json!({
            "model": "up-model",
            "messages": [
                {"role": "system", "content": "You are Codex."},
                {"role": "system", "content": "dev rules"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Hello there"},
                {"role": "user", "content": "bye"}
            ],
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
}

/// Case 2: `input_image` becomes `image_url{url,detail}`; without vision a notice.
#[test]
fn case02_images_and_no_vision_notice() {
    let body = codex_request(
        json!([{"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"}]}]),
        json!([]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        chat_messages(&upstream),
        json!([
            {"role": "system", "content": "You are Codex."},
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}}]}
        ])
    );
    let blind = convert(Api::Responses, Api::Chat, &body, &Quirks::DEEPSEEK);
    assert_eq!(
        chat_messages(&blind),
        json!([
            {"role": "system", "content": "You are Codex."},
            {"role": "user", "content": "look\n\n[image omitted: the upstream model cannot read images]"}
        ])
    );
}

/// Case 3: two calls then two outputs → ONE assistant message with 2 tool_calls, 2 tool messages.
#[test]
fn case03_parallel_calls_one_assistant_message() {
    let body = codex_request(
        json!([
            user("go"),
            call("call_1", "shell_a", "{}"),
            call("call_2", "shell_b", "{\"x\":1}"),
            output("call_1", json!("one")),
            output("call_2", json!("two"))
        ]),
        json!([function_tool("shell_a"), function_tool("shell_b")]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        chat_messages(&upstream),
        json!([
            {"role": "system", "content": "You are Codex."},
            {"role": "user", "content": "go"},
            {"role": "assistant", "tool_calls": [tool_call("call_1", "shell_a", "{}"), tool_call("call_2", "shell_b", "{\"x\":1}")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "one"},
            {"role": "tool", "tool_call_id": "call_2", "content": "two"}
        ])
    );
    assert_eq!(upstream["tools"], json!([chat_tool("shell_a"), chat_tool("shell_b")]));
    assert_eq!(upstream["tool_choice"], json!("auto"));
    assert_eq!(upstream["parallel_tool_calls"], json!(true));
}

/// Case 4: assistant text then a call → one assistant message carrying both.
#[test]
fn case04_text_and_call_in_one_message() {
    let body = codex_request(
        json!([user("go"),
               {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
               call("call_1", "shell_a", "{}"), output("call_1", json!("ok"))]),
        json!([function_tool("shell_a")]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        chat_messages(&upstream)[2],
        json!({"role": "assistant", "content": "Let me check.", "tool_calls": [tool_call("call_1", "shell_a", "{}")]})
    );
}

/// Case 5: an output with `[input_text, input_image]` → tool text with a marker, then a user
/// image message after the tool run.
#[test]
fn case05_tool_output_image_moves_to_user_message() {
    let body = codex_request(
        json!([
            user("shot"),
            call("call_1", "view_image", "{}"),
            output(
                "call_1",
                json!([{"type": "input_text", "text": "see"},
                                       {"type": "input_image", "image_url": "data:image/png;base64,QQ=="}])
            )
        ]),
        json!([function_tool("view_image")]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        chat_messages(&upstream),
        json!([
            {"role": "system", "content": "You are Codex."},
            {"role": "user", "content": "shot"},
            {"role": "assistant", "tool_calls": [tool_call("call_1", "view_image", "{}")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "see\n[image attached in the next user message]"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ=="}}]}
        ])
    );
}

/// Case 6: orphan output dropped; a call without output mid-history gets an empty tool
/// message; at the tail it does not.
#[test]
fn case06_orphans_and_missing_outputs() {
    let body = codex_request(
        json!([
            user("a"),
            output("call_orphan", json!("lost")),
            call("call_1", "shell_a", "{}"),
            user("b"),
            call("call_2", "shell_a", "{}")
        ]),
        json!([function_tool("shell_a")]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        chat_messages(&upstream),
        json!([
            {"role": "system", "content": "You are Codex."},
            {"role": "user", "content": "a"},
            {"role": "assistant", "tool_calls": [tool_call("call_1", "shell_a", "{}")]},
            {"role": "tool", "tool_call_id": "call_1", "content": ""},
            {"role": "user", "content": "b"},
            {"role": "assistant", "tool_calls": [tool_call("call_2", "shell_a", "{}")]}
        ])
    );
}

/// Case 7: truncated arguments in history become `{}`.
#[test]
fn case07_truncated_arguments_salvaged() {
    let body = codex_request(
        json!([user("a"), call("call_1", "shell_a", "{\"a\":"), output("call_1", json!("x"))]),
        json!([function_tool("shell_a")]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(chat_messages(&upstream)[2]["tool_calls"][0]["function"]["arguments"], json!("{}"));
}

/// Case 8: marked reasoning → `reasoning_content` on the next tool-call message; foreign
/// `gAAAA…` dropped; a tool-call turn without reasoning gets DeepSeek's placeholder.
#[test]
fn case08_reasoning_echo_on_deepseek() {
    let body = codex_request(
        json!([
            user("q"),
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thought one"}],
             "encrypted_content": mark_reasoning("thought one", None)},
            call("call_1", "shell_a", "{}"), output("call_1", json!("r1")),
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "foreign"}], "encrypted_content": "gAAAAABfake"},
            call("call_2", "shell_a", "{}"), output("call_2", json!("r2"))
        ]),
        json!([function_tool("shell_a")]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::DEEPSEEK);
    assert_eq!(
        chat_messages(&upstream),
        json!([
            {"role": "system", "content": "You are Codex."},
            {"role": "user", "content": "q"},
            {"role": "assistant", "reasoning_content": "thought one", "tool_calls": [tool_call("call_1", "shell_a", "{}")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "r1"},
            {"role": "assistant", "reasoning_content": "(this turn ran without thinking mode)",
             "tool_calls": [tool_call("call_2", "shell_a", "{}")]},
            {"role": "tool", "tool_call_id": "call_2", "content": "r2"}
        ])
    );
    // The default upstream gets no reasoning at all.
    let plain = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert!(plain.to_string().find("reasoning_content").is_none());
}

/// An assistant text repeated right after itself is sent once; the same text in a later turn
/// is kept.
#[test]
fn repeated_assistant_text_only_skipped_when_adjacent() {
    let said = |text: &str| json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]});
    let body =
        codex_request(json!([user("a"), said("Done."), said("Done."), user("b"), said("Done.")]), json!([]));
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        chat_messages(&upstream),
        json!([
            {"role": "system", "content": "You are Codex."},
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "Done."},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "Done."}
        ])
    );
}

/// Reasoning at a user boundary attaches backward, never across the user turn.
#[test]
fn reasoning_attaches_backward_at_user_boundary() {
    let body = codex_request(
        json!([
            user("q"),
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "A"}]},
            {"type": "reasoning", "summary": [], "encrypted_content": mark_reasoning("late", None)},
            user("next")
        ]),
        json!([]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::DEEPSEEK);
    assert_eq!(
        chat_messages(&upstream)[2],
        json!({"role": "assistant", "content": "A", "reasoning_content": "late"})
    );
}

/// Case 9 (request half): namespace tools flatten to ≤64 characters; a 90-character name is
/// hash-shortened.
#[test]
fn case09_namespace_flattening() {
    let long = "r".repeat(90);
    let body = codex_request(
        json!([user("a")]),
        json!([{"type": "namespace", "name": "mcp__fs__", "description": "fs", "tools": [function_tool("read_file")]},
               {"type": "namespace", "name": "mcp__srv__", "tools": [function_tool(&long)]}]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    let names: Vec<&str> = upstream["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "mcp__fs__read_file");
    assert_eq!(names[1].len(), 64);
    assert!(names[1].starts_with("mcp__srv__rrr"));
}

/// Case 10 (request half): `custom` apply_patch becomes a function with one `input` string.
#[test]
fn case10_custom_tool_request() {
    let body = codex_request(
        json!([user("patch"),
               {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch"},
               {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done"}]),
        json!([{"type": "custom", "name": "apply_patch", "description": "Apply a patch",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        upstream["tools"],
        json!([{"type": "function", "function": {
            "name": "apply_patch",
            "description": "Apply a patch\n\nPut the whole tool input in `input`; it must follow this lark grammar:\nstart: x",
            "parameters": {"type": "object", "properties": {"input": {"type": "string", "description": "The raw tool input."}},
                           "required": ["input"]}}}])
    );
    assert_eq!(
        chat_messages(&upstream)[2],
        json!({"role": "assistant", "tool_calls": [tool_call("call_p", "apply_patch", "{\"input\":\"*** Begin Patch\\n*** End Patch\"}")]})
    );
    assert_eq!(
        chat_messages(&upstream)[3],
        json!({"role": "tool", "tool_call_id": "call_p", "content": "Done"})
    );
}

/// Case 11: hosted tools dropped; with none left, no tool_choice or parallel_tool_calls.
#[test]
fn case11_hosted_tools_dropped() {
    let body = codex_request(
        json!([user("a")]),
        json!([{"type": "web_search"}, {"type": "mcp", "server_label": "x", "server_url": "https://x"},
               {"type": "image_generation"}]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        upstream,
        json!({"model": "up-model",
               "messages": [{"role": "system", "content": "You are Codex."}, {"role": "user", "content": "a"}],
               "stream": true, "stream_options": {"include_usage": true}})
    );
}

/// `allowed_tools` filters the tools and sets the mode (§1.5).
#[test]
fn allowed_tools_filters() {
    let mut body =
        codex_request(json!([user("a")]), json!([function_tool("shell_a"), function_tool("shell_b")]));
    body["tool_choice"] = json!({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "shell_b"}]});
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(upstream["tools"], json!([chat_tool("shell_b")]));
    assert_eq!(upstream["tool_choice"], json!("required"));
}

/// Case 12: `text.format` json_schema is nested; DeepSeek gets `json_object`; MiniMax none.
#[test]
fn case12_json_schema_nested() {
    let mut body = codex_request(json!([user("a")]), json!([]));
    body["text"] = json!({"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true},
                          "verbosity": "low"});
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        upstream["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}})
    );
    let deepseek = convert(Api::Responses, Api::Chat, &body, &Quirks::DEEPSEEK);
    assert_eq!(deepseek["response_format"], json!({"type": "json_object"}));
    let minimax = convert(Api::Responses, Api::Chat, &body, &Quirks::MINIMAX);
    assert!(minimax.get("response_format").is_none());
}

/// Case 13: the effort matrix.
#[test]
fn case13_effort_matrix() {
    let with_effort = |effort: &str| {
        let mut body = codex_request(json!([user("a")]), json!([]));
        body["reasoning"] = json!({"effort": effort, "summary": "auto"});
        body["temperature"] = json!(0.2);
        body
    };
    let deepseek = convert(Api::Responses, Api::Chat, &with_effort("medium"), &Quirks::DEEPSEEK);
    assert_eq!(deepseek["reasoning_effort"], json!("high"));
    assert!(deepseek.get("temperature").is_none(), "sampling stripped on DeepSeek");
    let deepseek = convert(Api::Responses, Api::Chat, &with_effort("xhigh"), &Quirks::DEEPSEEK);
    assert_eq!(deepseek["reasoning_effort"], json!("max"));
    let off = convert(Api::Responses, Api::Chat, &with_effort("none"), &Quirks::DEEPSEEK);
    assert_eq!(off["thinking"], json!({"type": "disabled"}));
    let openrouter = convert(Api::Responses, Api::Chat, &with_effort("max"), &Quirks::OPENROUTER);
    assert_eq!(openrouter["reasoning"], json!({"effort": "xhigh"}));
    assert!(openrouter.get("reasoning_effort").is_none());
    assert_eq!(openrouter["temperature"], json!(0.2));
    let kimi = convert(Api::Responses, Api::Chat, &with_effort("high"), &Quirks::KIMI);
    assert!(kimi.get("reasoning_effort").is_none());
    assert_eq!(kimi["thinking"], json!({"type": "enabled"}));
    let qwen = convert(Api::Responses, Api::Chat, &with_effort("low"), &Quirks::QWEN);
    assert_eq!(qwen["enable_thinking"], json!(true));
    assert!(qwen.get("reasoning_effort").is_none());
    let mut unstreamed = with_effort("low");
    unstreamed["stream"] = json!(false);
    let qwen = convert(Api::Responses, Api::Chat, &unstreamed, &Quirks::QWEN);
    assert_eq!(qwen["enable_thinking"], json!(false), "DashScope thinks only when streaming");
    let openai = convert(Api::Responses, Api::Chat, &with_effort("low"), &Quirks::OPENAI);
    assert_eq!(openai["reasoning_effort"], json!("low"));
}

/// Case 14: `previous_response_id` hit prepends the cached turn; a miss is 400.
#[test]
fn case14_previous_response_id() {
    let cache = ResponseCache::new();
    let mut first = codex_request(json!([user("first question")]), json!([]));
    first.as_object_mut().unwrap().remove("store");
    let converted = convert_full(Api::Responses, Api::Chat, &first, &Quirks::default(), &cache);
    let mut converter = StreamConverter::new(converted.ctx, Api::Chat, Api::Responses, true);
    let mut out = Vec::new();
    converter.feed(
        chat_sse(&[delta(json!({"content": "first answer"})), finish("stop")], true).as_bytes(),
        &mut out,
    );
    converter.finish(&mut out);
    let id = converter.response_id().to_string();
    assert!(id.starts_with("resp_"));
    assert_eq!(cache.len(), 1);

    let mut second = codex_request(json!([user("second question")]), json!([]));
    second["previous_response_id"] = json!(id);
    second.as_object_mut().unwrap().remove("store");
    let upstream: Value = serde_json::from_slice(
        &convert_full(Api::Responses, Api::Chat, &second, &Quirks::default(), &cache).body,
    )
    .unwrap();
    assert_eq!(
        chat_messages(&upstream),
        json!([
            {"role": "system", "content": "You are Codex."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "second question"}
        ])
    );

    // A `store: false` turn is not kept, as on OpenAI.
    let stored = cache.len();
    let unstored = convert_full(
        Api::Responses,
        Api::Chat,
        &codex_request(json!([user("x")]), json!([])),
        &Quirks::default(),
        &cache,
    );
    let mut converter = StreamConverter::new(unstored.ctx, Api::Chat, Api::Responses, true);
    converter.feed(chat_sse(&[delta(json!({"content": "y"})), finish("stop")], true).as_bytes(), &mut out);
    converter.finish(&mut out);
    assert_eq!(cache.len(), stored);

    second["previous_response_id"] = json!("resp_unknown");
    let error = convert_request(
        Api::Responses,
        Api::Chat,
        second.to_string().as_bytes(),
        None,
        &Quirks::default(),
        &cache,
    )
    .unwrap_err();
    assert_eq!(error.status, 400);
    let body: Value = serde_json::from_slice(&error.body).unwrap();
    assert_eq!(
        body,
        json!({"error": {"message": "Previous response with id 'resp_unknown' not found.",
                         "type": "invalid_request_error", "code": "previous_response_not_found",
                         "param": "previous_response_id"}})
    );
}

#[test]
fn response_cache_is_bounded() {
    let cache = ResponseCache::with_limits(2, 1 << 20);
    let message = super::super::ir::Message::new(super::super::ir::Role::Assistant, Vec::new());
    for id in ["a", "b", "c"] {
        cache.put(id, std::sync::Arc::new(Vec::new()), message.clone());
    }
    assert_eq!(cache.len(), 2);
    assert!(cache.get("a").is_none());
    assert_eq!(super::super::last_role(&cache.get("c").unwrap()), Some(super::super::ir::Role::Assistant));
}

fn claude_request(messages: Value, tools: Value) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
           "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cc_entrypoint=cli;"},
                      {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
           "messages": messages, "tools": tools,
           "metadata": {"user_id": "u"}})
}

/// Cases 27 + 28: tool results before the user text, in block order; a tool_result image
/// moves to a user message; billing header stripped, cache_control dropped.
#[test]
fn case27_28_messages_tool_results_and_system() {
    let body = claude_request(
        json!([
            {"role": "user", "content": "run"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_A", "name": "Bash", "input": {"command": "a"}},
                {"type": "tool_use", "id": "toolu_B", "name": "Read", "input": {"path": "b"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_A", "content": "a-out", "cache_control": {"type": "ephemeral"}},
                {"type": "tool_result", "tool_use_id": "toolu_B", "content": [
                    {"type": "text", "text": "b-out"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ=="}}]},
                {"type": "text", "text": "thanks"}]}
        ]),
        json!([{"name": "Bash", "description": "Run", "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}]),
    );
    let upstream = convert(Api::Messages, Api::Chat, &body, &Quirks::default());
    assert_eq!(
        upstream,
        json!({
            "model": "up-model",
            "messages": [
                {"role": "system", "content": "You are Claude Code."},
                {"role": "user", "content": "run"},
                {"role": "assistant", "tool_calls": [tool_call("toolu_A", "Bash", "{\"command\":\"a\"}"),
                                                     tool_call("toolu_B", "Read", "{\"path\":\"b\"}")]},
                {"role": "tool", "tool_call_id": "toolu_A", "content": "a-out"},
                {"role": "tool", "tool_call_id": "toolu_B", "content": "b-out\n[image attached in the next user message]"},
                {"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ=="}},
                    {"type": "text", "text": "thanks"}]}
            ],
            "tools": [{"type": "function", "function": {"name": "Bash", "description": "Run",
                       "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}],
            "max_tokens": 32000,
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
}

/// Case 29: thinking + tool_use history to DeepSeek → `reasoning_content`; redacted → placeholder.
#[test]
fn case29_thinking_history_to_deepseek() {
    let body = claude_request(
        json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "plan", "signature": "sig"},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
            {"role": "assistant", "content": [
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "ok2", "is_error": true}]}
        ]),
        json!([]),
    );
    let upstream = convert(Api::Messages, Api::Chat, &body, &Quirks::DEEPSEEK);
    assert_eq!(
        chat_messages(&upstream),
        json!([
            {"role": "system", "content": "You are Claude Code."},
            {"role": "user", "content": "go"},
            {"role": "assistant", "reasoning_content": "plan", "tool_calls": [tool_call("toolu_1", "Bash", "{}")]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"},
            {"role": "assistant", "reasoning_content": "(this turn ran without thinking mode)",
             "tool_calls": [tool_call("toolu_2", "Bash", "{}")]},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: ok2"}
        ])
    );
}

/// Case 30 (request half): server tools dropped; an MCP name over 64 characters shortened.
#[test]
fn case30_server_tools_and_long_names() {
    let long = format!("mcp__{}__tool", "s".repeat(70));
    let body = claude_request(
        json!([{"role": "user", "content": "go"}]),
        json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
               {"name": long, "input_schema": {"type": "object", "properties": {}}}]),
    );
    let upstream = convert(Api::Messages, Api::Chat, &body, &Quirks::default());
    let tools = upstream["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    let name = tools[0]["function"]["name"].as_str().unwrap();
    assert_eq!(name.len(), 64);
    assert_ne!(name, long);
}

/// Messages thinking → effort buckets; `output_config.effort` wins; tool_choice mapping.
#[test]
fn messages_thinking_and_tool_choice() {
    let mut body = claude_request(
        json!([{"role": "user", "content": "go"}]),
        json!([{"name": "Bash", "input_schema": {}}]),
    );
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 20000});
    body["tool_choice"] = json!({"type": "any", "disable_parallel_tool_use": true});
    let upstream = convert(Api::Messages, Api::Chat, &body, &Quirks::OPENAI);
    assert_eq!(upstream["reasoning_effort"], json!("high"));
    assert_eq!(upstream["tool_choice"], json!("required"));
    assert_eq!(upstream["parallel_tool_calls"], json!(false));
    assert_eq!(upstream["max_completion_tokens"], json!(32000));
    body["output_config"] = json!({"effort": "low"});
    let upstream = convert(Api::Messages, Api::Chat, &body, &Quirks::OPENAI);
    assert_eq!(upstream["reasoning_effort"], json!("low"));
    body["tool_choice"] = json!({"type": "tool", "name": "Bash"});
    let upstream = convert(Api::Messages, Api::Chat, &body, &Quirks::GLM);
    assert_eq!(upstream["tool_choice"], json!("auto"), "GLM: forced choices degrade to auto");
    assert_eq!(upstream["tool_stream"], json!(true));
}

/// MiniMax: one head system message, no explicit auto, no parallel flag, inline think echo.
#[test]
fn minimax_quirks() {
    let body = codex_request(
        json!([{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
               user("a"),
               {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
               {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "A"}]},
               user("b")]),
        json!([function_tool("shell_a")]),
    );
    let upstream = convert(Api::Responses, Api::Chat, &body, &Quirks::MINIMAX);
    assert_eq!(
        chat_messages(&upstream),
        json!([
            {"role": "system", "content": "You are Codex.\n\ndev"},
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nA"},
            {"role": "user", "content": "b"}
        ])
    );
    assert!(upstream.get("tool_choice").is_none());
    assert!(upstream.get("parallel_tool_calls").is_none());
    assert_eq!(upstream["max_completion_tokens"], Value::Null);
}

/// Chat → Responses and Chat → Messages requests (OpenCode against Codex/Claude-only links).
#[test]
fn chat_to_responses_and_messages() {
    let body = json!({
        "model": "mock-model", "max_tokens": 1000, "stream": true, "stream_options": {"include_usage": true},
        "temperature": 0.5, "stop": "END", "reasoning_effort": "high",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                                         {"type": "image_url", "image_url": {"url": "https://x/img.png"}}]},
            {"role": "assistant", "content": "", "tool_calls": [tool_call("call_1", "bash", "{\"command\":\"ls\"}")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "a.txt\n"}
        ],
        "tools": [chat_tool("bash")], "tool_choice": "auto"
    });
    let responses = convert(Api::Chat, Api::Responses, &body, &Quirks::default());
    assert_eq!(
        responses,
        json!({
            "model": "up-model",
            "instructions": "sys",
            "input": [
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": "https://x/img.png"}]},
                {"type": "function_call", "call_id": "call_1", "name": "bash", "arguments": "{\"command\":\"ls\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "a.txt\n"}
            ],
            "tools": [{"type": "function", "name": "bash", "description": "bash tool",
                       "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
                       "strict": false}],
            "tool_choice": "auto",
            "max_output_tokens": 1000,
            "temperature": 0.5,
            "reasoning": {"effort": "high"},
            "include": ["reasoning.encrypted_content"],
            "store": false,
            "stream": true
        })
    );
    let messages = convert(Api::Chat, Api::Messages, &body, &Quirks::default());
    assert_eq!(
        messages,
        json!({
            "model": "up-model",
            "system": "sys",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "look"},
                                             {"type": "image", "source": {"type": "url", "url": "https://x/img.png"}}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "bash", "input": {"command": "ls"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "a.txt\n"}]}
            ],
            "tools": [{"name": "bash", "description": "bash tool",
                       "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}],
            "tool_choice": {"type": "auto"},
            // In a tool loop with no signed thinking: no thinking (see
            // no_thinking_for_an_unsigned_tool_loop_to_messages), so temperature stays.
            "max_tokens": 1000,
            "temperature": 0.5,
            "stop_sequences": ["END"],
            "stream": true
        })
    );
}

/// Responses ↔ Messages requests through the model.
#[test]
fn responses_to_messages_and_back() {
    let body = codex_request(
        json!([
            user("go"),
            call("call_1", "shell_a", "{\"cmd\":\"ls\"}"),
            output("call_1", json!("ok")),
            user("more")
        ]),
        json!([function_tool("shell_a")]),
    );
    let messages = convert(Api::Responses, Api::Messages, &body, &Quirks::default());
    assert_eq!(
        messages,
        json!({
            "model": "up-model",
            "system": "You are Codex.",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "go"}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "shell_a", "input": {"cmd": "ls"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "ok"},
                                             {"type": "text", "text": "more"}]}
            ],
            "tools": [{"name": "shell_a", "description": "shell_a tool",
                       "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}],
            "tool_choice": {"type": "auto"},
            "max_tokens": 32000,
            "stream": true
        })
    );
    let claude = claude_request(json!([{"role": "user", "content": "hi"}]), json!([]));
    let responses = convert(Api::Messages, Api::Responses, &claude, &Quirks::default());
    assert_eq!(
        responses,
        json!({"model": "up-model", "instructions": "You are Claude Code.",
               "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
               "max_output_tokens": 32000, "store": false, "stream": true})
    );
}

/// A tool loop that started on another provider has no signed thinking: no thinking asked.
#[test]
fn no_thinking_for_an_unsigned_tool_loop_to_messages() {
    let mut body = codex_request(
        json!([user("go"), call("call_1", "shell_a", "{}"), output("call_1", json!("ok"))]),
        json!([function_tool("shell_a")]),
    );
    body["reasoning"] = json!({"effort": "high"});
    let upstream = convert(Api::Responses, Api::Messages, &body, &Quirks::default());
    assert!(upstream.get("thinking").is_none());
    body["input"] = json!([user("go")]);
    let upstream = convert(Api::Responses, Api::Messages, &body, &Quirks::default());
    assert_eq!(upstream["thinking"], json!({"type": "enabled", "budget_tokens": 16384}));
}

/// Same API: the body passes with only `model` replaced.
#[test]
fn same_api_is_passthrough() {
    let body = json!({"model": "a", "messages": [], "x-unknown": 1});
    let converted =
        convert_full(Api::Messages, Api::Messages, &body, &Quirks::default(), &ResponseCache::new());
    let upstream: Value = serde_json::from_slice(&converted.body).unwrap();
    assert_eq!(upstream, json!({"model": "up-model", "messages": [], "x-unknown": 1}));
    assert!(converted.ctx.is_passthrough());
}

/// Bad bodies are 400 in the client's shape.
#[test]
fn invalid_bodies_are_client_shaped_400s() {
    let error =
        convert_request(Api::Messages, Api::Chat, b"{nope", None, &Quirks::default(), &ResponseCache::new())
            .unwrap_err();
    assert_eq!(error.status, 400);
    let body: Value = serde_json::from_slice(&error.body).unwrap();
    assert_eq!(body["type"], json!("error"));
    assert_eq!(body["error"]["type"], json!("invalid_request_error"));
    let missing = codex_request(json!([{"type": "function_call_output", "output": "x"}]), json!([]));
    let error = convert_request(
        Api::Responses,
        Api::Chat,
        missing.to_string().as_bytes(),
        None,
        &Quirks::default(),
        &ResponseCache::new(),
    )
    .unwrap_err();
    assert_eq!(error.status, 400);
}

/// Case 35: the local count_tokens estimate; CJK counts above chars/4.
#[test]
fn case35_count_tokens_estimate() {
    let cjk = "你好世界".repeat(100);
    let body = json!({"model": "claude", "messages": [{"role": "user", "content": cjk}]});
    let estimate = count_tokens_estimate(body.to_string().as_bytes());
    assert!(estimate >= 400, "{estimate}");
    let ascii = json!({"model": "claude", "system": "abcd".repeat(100), "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ==".repeat(1000)}}]}]});
    assert_eq!(count_tokens_estimate(ascii.to_string().as_bytes()), 100 + 1500 + 1);
    assert_eq!(count_tokens_estimate(b"not json"), 0);
}
