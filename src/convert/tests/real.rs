//! Requests captured from the real clients (Codex 0.171, Claude Code 2.1.332, OpenCode 1.18.33
//! via `realclients/tool_round.sh`, trimmed): each converts to every other API with its
//! content intact, and decode → encode of its own API keeps the content.

use serde_json::Value;

use super::super::ir::{Part, Request, Role};
use super::super::tools::{ToolMap, sanitize_id, wire_name};
use super::super::{Quirks, chat, clean_schema, gemini, messages, prepare, responses};
use super::{convert, fixture_json, golden};
use crate::providers::Api;

const FIXTURES: [(&str, Api); 6] = [
    ("codex_responses_turn1", Api::Responses),
    ("codex_responses_turn2", Api::Responses),
    ("claude_messages_turn1", Api::Messages),
    ("claude_messages_turn2", Api::Messages),
    ("opencode_chat_turn1", Api::Chat),
    ("opencode_chat_turn2", Api::Chat),
];

fn decode(api: Api, body: &Value) -> Request {
    match api {
        Api::Responses => responses::decode_request(body),
        Api::Chat => chat::decode_request(body),
        Api::Messages => messages::decode_request(body),
        Api::Gemini => gemini::decode_request(body, Some("gemini-2.5-pro"), true),
    }
    .unwrap()
}

fn encode(api: Api, request: &Request) -> Value {
    let mut map = ToolMap::default();
    match api {
        Api::Responses => responses::encode_request(request, None, &mut map),
        Api::Chat => chat::encode_request(request, None, &Quirks::default(), &mut map),
        Api::Messages => messages::encode_request(request, None, &Quirks::default(), &mut map),
        Api::Gemini => gemini::encode_request(request, &mut map),
    }
}

fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The content that must survive any conversion: system text, each turn's text, images, tool
/// calls (wire name, id, arguments) and results, and the tools offered.
fn digest(request: &Request) -> Vec<String> {
    let mut system: String = request.system.iter().map(|text| squash(text)).collect();
    let mut lines = Vec::new();
    let mut last_role = None;
    for message in &request.messages {
        if message.role == Role::System {
            system.push_str(&squash(&message.text("")));
            continue;
        }
        // Tool results and the user text after them share one message in Messages.
        let role = match message.role {
            Role::Tool | Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        };
        let mut text = String::new();
        for part in &message.parts {
            match part {
                Part::Text(piece) => text.push_str(&squash(piece)),
                Part::Image(image) => lines.push(format!("{role}:image:{}", image.url())),
                Part::ToolCall(call) => {
                    let arguments: Value = serde_json::from_str(&call.arguments).unwrap();
                    lines.push(format!(
                        "call:{}:{}:{arguments}",
                        wire_name(&call.name, call.namespace.as_deref()),
                        sanitize_id(&call.id)
                    ));
                }
                Part::ToolResult(result) => {
                    lines.push(format!(
                        "result:{}:{}",
                        sanitize_id(&result.id),
                        squash(&super::super::ir::join_text(&result.content, ""))
                    ));
                }
                Part::Reasoning(_) => {}
            }
        }
        if !text.is_empty() {
            if last_role == Some(role)
                && lines.last().is_some_and(|line: &String| line.starts_with(&format!("{role}:text:")))
            {
                let last = lines.last_mut().unwrap();
                last.push_str(&text);
            } else {
                lines.push(format!("{role}:text:{text}"));
            }
        }
        last_role = Some(role);
    }
    lines.insert(0, format!("system:{system}"));
    let mut tools: Vec<String> = request
        .tools
        .iter()
        .map(|tool| {
            format!(
                "tool:{}:{}",
                wire_name(&tool.name, tool.namespace.as_deref()),
                clean_schema(&tool.parameters, false)
            )
        })
        .collect();
    tools.sort();
    tools.dedup();
    lines.extend(tools);
    lines
}

#[test]
fn real_requests_convert_to_every_other_api() {
    for (name, client) in FIXTURES {
        let body = fixture_json(&format!("real/{name}.json"));
        let mut original = decode(client, &body);
        prepare::prepare(&mut original, &Quirks::default());
        let expected = digest(&original);
        assert!(expected.len() > 3, "{name}");
        for upstream in Api::ALL.into_iter().filter(|api| *api != client) {
            let converted = convert(client, upstream, &body, &Quirks::default());
            golden(&format!("real_{name}_to_{}", upstream.name()), &converted);
            let round = decode(upstream, &converted);
            pretty_assertions::assert_eq!(digest(&round), expected, "{name} → {upstream:?}");
            if upstream != Api::Gemini {
                // (The Gemini API has both in the URL.)
                assert_eq!(converted["stream"], Value::Bool(true));
                assert_eq!(converted["model"], Value::String("up-model".into()));
            }
        }
    }
}

#[test]
fn real_requests_round_trip_through_their_own_api() {
    for (name, api) in FIXTURES {
        let body = fixture_json(&format!("real/{name}.json"));
        let decoded = decode(api, &body);
        let again = decode(api, &encode(api, &decoded));
        pretty_assertions::assert_eq!(digest(&again), digest(&decoded), "{name}");
        assert_eq!(again.tools.len(), decoded.tools.len(), "{name}");
        assert_eq!(again.stream, decoded.stream);
        assert_eq!(again.max_tokens, decoded.max_tokens);
    }
}

/// What the real second turns carry, checked by hand against the capture.
#[test]
fn real_second_turns_keep_the_tool_round() {
    let codex = convert(
        Api::Responses,
        Api::Chat,
        &fixture_json("real/codex_responses_turn2.json"),
        &Quirks::default(),
    );
    let messages = codex["messages"].as_array().unwrap();
    let assistant = messages.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "exec_command");
    let tool = messages.last().unwrap();
    assert_eq!(tool["role"], "tool");
    assert!(tool["content"].as_str().unwrap().contains("TOOL-RAN-42"));
    let names: Vec<&str> =
        codex["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"multi_agent_v1__spawn_agent"), "{names:?}");
    assert!(!names.contains(&"web_search"));

    let claude = convert(
        Api::Messages,
        Api::Chat,
        &fixture_json("real/claude_messages_turn2.json"),
        &Quirks::default(),
    );
    let text = claude.to_string();
    assert!(!text.contains("x-anthropic-billing-header"));
    assert!(!text.contains("cache_control"));
    let messages = claude["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["role"], "tool");
    assert_eq!(messages.last().unwrap()["content"], "TOOL-RAN-42");

    let opencode =
        convert(Api::Chat, Api::Messages, &fixture_json("real/opencode_chat_turn2.json"), &Quirks::default());
    let last = opencode["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["content"][0]["type"], "tool_result");
    assert_eq!(last["content"][0]["content"], "TOOL-RAN-42\n");
}
