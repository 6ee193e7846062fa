//! Anthropic Messages requests: decode (Claude Code) and encode for a Messages upstream
//! (conversion.md §4). The stream side is in `messages_stream.rs`.
//!
//! Invariants: the rotating `x-anthropic-billing-header:` line never reaches an upstream;
//! `max_tokens` is always sent (required); roles alternate on the wire (tool results and the
//! user text after them share one user message, results first).

use serde_json::{Map, Value, json};

use super::ir::{
    Effort, Image, ImageSource, Message, Part, Reasoning, Request, Role, Tool, ToolCall, ToolChoice,
    ToolKind, ToolResult,
};
use super::quirks::Quirks;
use super::tools::{ToolMap, sanitize_id, wire_name};
use super::{object_schema, opt_str};

const BILLING_HEADER: &str = "x-anthropic-billing-header:";
/// Marks an OpenAI `encrypted_content` carried in a thinking `signature` (Responses upstream
/// → Messages client → back).
pub(crate) const ENCRYPTED_MARK: &str = "aigate-enc-v1:";

/// Decode a Messages request body. `Err` is a 400 message.
pub(crate) fn decode_request(body: &Value) -> Result<Request, String> {
    let mut request = Request {
        model: opt_str(body, "model"),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_tokens: body.get("max_tokens").and_then(Value::as_u64),
        temperature: body.get("temperature").and_then(Value::as_f64),
        top_p: body.get("top_p").and_then(Value::as_f64),
        ..Request::default()
    };
    match body.get("system") {
        Some(Value::String(text)) => push_system(&mut request.system, text),
        Some(Value::Array(blocks)) => {
            for block in blocks {
                if let Some(text) = block.get("text").and_then(Value::as_str) {
                    push_system(&mut request.system, text);
                }
            }
        }
        _ => {}
    }
    if let Some(Value::Array(stops)) = body.get("stop_sequences") {
        request.stop.extend(stops.iter().filter_map(Value::as_str).map(str::to_string));
    }
    let Some(Value::Array(messages)) = body.get("messages") else {
        return Err("`messages` must be an array".to_string());
    };
    for message in messages {
        let blocks = blocks_of(message.get("content"));
        match message.get("role").and_then(Value::as_str) {
            Some("assistant") => {
                let parts = blocks.iter().filter_map(assistant_part).collect();
                request.messages.push(Message::new(Role::Assistant, parts));
            }
            Some("system") => {
                let text =
                    blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect::<Vec<_>>();
                request.messages.push(Message::new(Role::System, vec![Part::Text(text.join("\n\n"))]));
            }
            _ => {
                let mut results = Vec::new();
                let mut rest = Vec::new();
                for block in &blocks {
                    if block.get("type").and_then(Value::as_str) == Some("tool_result") {
                        results.push(Part::ToolResult(ToolResult {
                            id: opt_str(block, "tool_use_id").unwrap_or_default(),
                            content: content_parts(&blocks_of(block.get("content"))),
                            is_error: block.get("is_error").and_then(Value::as_bool).unwrap_or(false),
                            kind: ToolKind::Function,
                        }));
                    } else {
                        rest.extend(content_parts(std::slice::from_ref(block)));
                    }
                }
                if !results.is_empty() {
                    request.messages.push(Message::new(Role::Tool, results));
                }
                if !rest.is_empty() {
                    request.messages.push(Message::new(Role::User, rest));
                }
            }
        }
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        for tool in tools {
            let kind = tool.get("type").and_then(Value::as_str);
            let name = opt_str(tool, "name").unwrap_or_default();
            // Server tools (`web_search_20250305`, `bash_20250124`…) and BatchTool are dropped.
            if kind.is_some_and(|kind| kind != "custom") || name == "BatchTool" {
                continue;
            }
            request.tools.push(Tool {
                name,
                namespace: None,
                description: opt_str(tool, "description"),
                parameters: object_schema(tool.get("input_schema")),
                strict: None,
                kind: ToolKind::Function,
            });
        }
    }
    if let Some(choice) = body.get("tool_choice") {
        request.tool_choice = match choice.get("type").and_then(Value::as_str) {
            Some("any") => Some(ToolChoice::Required),
            Some("none") => Some(ToolChoice::None),
            Some("tool") => opt_str(choice, "name").map(|name| ToolChoice::Tool { name, namespace: None }),
            _ => Some(ToolChoice::Auto),
        };
        if choice.get("disable_parallel_tool_use").and_then(Value::as_bool) == Some(true) {
            request.parallel_tool_calls = Some(false);
        }
    }
    match body.pointer("/thinking/type").and_then(Value::as_str) {
        Some("enabled") => {
            let budget = body.pointer("/thinking/budget_tokens").and_then(Value::as_u64);
            request.budget = budget;
            request.effort = budget.map(Effort::from_budget).or(Some(Effort::Medium));
        }
        Some("adaptive") => request.effort = Some(Effort::XHigh),
        Some("disabled") => request.effort = Some(Effort::None),
        _ => {}
    }
    if let Some(effort) =
        body.pointer("/output_config/effort").and_then(Value::as_str).and_then(Effort::parse)
    {
        if request.effort != Some(Effort::None) {
            request.effort = Some(effort);
        }
    }
    Ok(request)
}

fn push_system(system: &mut Vec<String>, text: &str) {
    let text = if text.starts_with(BILLING_HEADER) {
        text.split_once('\n').map_or("", |(_, rest)| rest)
    } else {
        text
    };
    if !text.trim().is_empty() {
        system.push(text.to_string());
    }
}

fn blocks_of(content: Option<&Value>) -> Vec<Value> {
    match content {
        Some(Value::String(text)) => vec![json!({"type": "text", "text": text})],
        Some(Value::Array(blocks)) => blocks.clone(),
        _ => Vec::new(),
    }
}

fn content_parts(blocks: &[Value]) -> Vec<Part> {
    blocks
        .iter()
        .filter_map(|block| match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                block.get("text").and_then(Value::as_str).map(|text| Part::Text(text.to_string()))
            }
            Some("image") => {
                let source = block.get("source")?;
                let image = match source.get("type").and_then(Value::as_str) {
                    Some("base64") => Image {
                        source: ImageSource::Base64 {
                            media_type: opt_str(source, "media_type")
                                .unwrap_or_else(|| "image/png".to_string()),
                            data: opt_str(source, "data").unwrap_or_default(),
                        },
                        detail: None,
                    },
                    Some("url") => Image::from_url(source.get("url").and_then(Value::as_str)?, None),
                    _ => return None,
                };
                Some(Part::Image(image))
            }
            Some("document") => {
                let text = block
                    .pointer("/source/data")
                    .filter(|_| block.pointer("/source/type").and_then(Value::as_str) == Some("text"));
                Some(Part::Text(match text.and_then(Value::as_str) {
                    Some(text) => text.to_string(),
                    None => "[document omitted]".to_string(),
                }))
            }
            _ => None,
        })
        .collect()
}

fn assistant_part(block: &Value) -> Option<Part> {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => block
            .get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(|t| Part::Text(t.to_string())),
        Some("thinking") => {
            let signature = opt_str(block, "signature");
            let (signature, encrypted) = match signature {
                Some(sig) if sig.starts_with(ENCRYPTED_MARK) => {
                    (None, Some(sig[ENCRYPTED_MARK.len()..].to_string()))
                }
                other => (other, None),
            };
            Some(Part::Reasoning(Reasoning {
                text: opt_str(block, "thinking").unwrap_or_default(),
                signature,
                encrypted,
                redacted: None,
            }))
        }
        Some("redacted_thinking") => Some(Part::Reasoning(Reasoning {
            redacted: Some(opt_str(block, "data").unwrap_or_default()),
            ..Reasoning::default()
        })),
        Some("tool_use") => Some(Part::ToolCall(ToolCall {
            id: opt_str(block, "id").unwrap_or_default(),
            name: opt_str(block, "name").unwrap_or_default(),
            namespace: None,
            arguments: block.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
            kind: ToolKind::Function,
        })),
        // server_tool_use, web_search_tool_result…: dropped.
        _ => None,
    }
}

/// Encode for a Messages upstream (from a Responses or Chat client).
pub(crate) fn encode_request(
    request: &Request,
    model: Option<&str>,
    quirks: &Quirks,
    tools: &mut ToolMap,
) -> Value {
    let mut body = Map::new();
    if let Some(model) = model.map(str::to_string).or_else(|| request.model.clone()) {
        body.insert("model".into(), json!(model));
    }
    let cap = quirks.max_output_cap.map_or(u64::MAX, u64::from);
    let mut max_tokens = request.max_tokens.unwrap_or(u64::from(quirks.default_max_tokens)).min(cap);
    let mut system: Vec<String> = request.system.iter().filter(|text| !text.is_empty()).cloned().collect();
    let mut messages: Vec<Value> = Vec::new();
    for message in &request.messages {
        let (role, blocks) = match message.role {
            Role::System => {
                system.push(message.text("\n\n"));
                continue;
            }
            Role::User => ("user", message.parts.iter().filter_map(user_block).collect::<Vec<_>>()),
            Role::Tool => ("user", message.parts.iter().filter_map(tool_result_block).collect()),
            Role::Assistant => {
                ("assistant", message.parts.iter().filter_map(|part| assistant_block(part, tools)).collect())
            }
        };
        if blocks.is_empty() {
            continue;
        }
        if let Some(last) = messages.last_mut().filter(|last| last["role"] == role) {
            if let Some(Value::Array(existing)) = last.get_mut("content") {
                existing.extend(blocks);
                continue;
            }
        }
        messages.push(json!({"role": role, "content": blocks}));
    }
    let system = system.join("\n\n");
    if !system.is_empty() {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), Value::Array(messages));
    let mut forced = false;
    // Tools stay even with tool_choice none: Anthropic rejects tool_use/tool_result history
    // in a request that defines no tools.
    if !request.tools.is_empty() {
        let mut seen = std::collections::HashSet::new();
        let wire: Vec<Value> = request
            .tools
            .iter()
            .filter_map(|tool| {
                let name = tools.add(&tool.name, tool.namespace.as_deref(), tool.kind);
                if !seen.insert(name.clone()) {
                    return None;
                }
                let mut object = Map::new();
                object.insert("name".into(), json!(name));
                if let Some(description) = &tool.description {
                    object.insert("description".into(), json!(description));
                }
                object.insert("input_schema".into(), super::clean_schema(&tool.parameters, false));
                Some(Value::Object(object))
            })
            .collect();
        body.insert("tools".into(), Value::Array(wire));
        let mut choice = match &request.tool_choice {
            Some(ToolChoice::Required) => {
                forced = true;
                json!({"type": "any"})
            }
            Some(ToolChoice::Tool { name, namespace }) => {
                forced = true;
                json!({"type": "tool", "name": wire_name(name, namespace.as_deref())})
            }
            Some(ToolChoice::None) => json!({"type": "none"}),
            Some(ToolChoice::Auto) | None => json!({"type": "auto"}),
        };
        if request.parallel_tool_calls == Some(false) && request.tool_choice != Some(ToolChoice::None) {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        if request.tool_choice.is_some() || request.parallel_tool_calls == Some(false) {
            body.insert("tool_choice".into(), choice);
        }
    }
    let budget = request.budget.or_else(|| request.effort.and_then(Effort::budget));
    let mut thinking = false;
    let allowed = !forced && request.effort != Some(Effort::None) && !unsigned_tool_loop(&request.messages);
    if let Some(budget) = budget.filter(|_| allowed) {
        if max_tokens <= budget {
            max_tokens = (budget + 4096).min(cap);
        }
        let budget = budget.min(max_tokens.saturating_sub(1024));
        if budget >= 1024 {
            thinking = true;
            body.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
        }
    }
    body.insert("max_tokens".into(), json!(max_tokens));
    // With thinking on, Anthropic accepts no temperature and only top_p >= 0.95.
    if !thinking {
        if let Some(temperature) = request.temperature {
            body.insert("temperature".into(), json!(temperature));
        }
        if let Some(top_p) = request.top_p {
            body.insert("top_p".into(), json!(top_p));
        }
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    body.insert("stream".into(), json!(request.stream));
    Value::Object(body)
}

/// Inside a tool loop whose assistant turn has no signed thinking block (it came from another
/// provider): Anthropic rejects thinking for it ("expected thinking block"), so none is asked.
fn unsigned_tool_loop(messages: &[Message]) -> bool {
    let Some(last) = messages.iter().rposition(|message| message.role == Role::Assistant) else {
        return false;
    };
    let in_loop = messages[last + 1..].iter().all(|message| message.role == Role::Tool);
    let signed = messages[last].parts.iter().any(|part| {
        matches!(
            part,
            Part::Reasoning(Reasoning { signature: Some(_), .. } | Reasoning { redacted: Some(_), .. })
        )
    });
    in_loop && messages[last].has_tool_calls() && !signed
}

fn image_block(image: &Image) -> Value {
    match &image.source {
        ImageSource::Base64 { media_type, data } => {
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
        }
        ImageSource::Url(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
    }
}

fn user_block(part: &Part) -> Option<Value> {
    match part {
        Part::Text(text) if !text.is_empty() => Some(json!({"type": "text", "text": text})),
        Part::Image(image) => Some(image_block(image)),
        Part::Text(_) | Part::ToolCall(_) | Part::ToolResult(_) | Part::Reasoning(_) => None,
    }
}

fn tool_result_block(part: &Part) -> Option<Value> {
    let Part::ToolResult(result) = part else {
        return None;
    };
    let has_image = result.content.iter().any(|part| matches!(part, Part::Image(_)));
    let content = if has_image {
        Value::Array(result.content.iter().filter_map(user_block).collect())
    } else {
        json!(super::ir::join_text(&result.content, "\n"))
    };
    let mut block = Map::new();
    block.insert("type".into(), json!("tool_result"));
    block.insert("tool_use_id".into(), json!(sanitize_id(&result.id)));
    block.insert("content".into(), content);
    if result.is_error {
        block.insert("is_error".into(), json!(true));
    }
    Some(Value::Object(block))
}

fn assistant_block(part: &Part, tools: &mut ToolMap) -> Option<Value> {
    match part {
        Part::Text(text) if !text.is_empty() => Some(json!({"type": "text", "text": text})),
        Part::ToolCall(call) => {
            let input: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
            let input = if input.is_object() { input } else { json!({}) };
            let name = tools.add(&call.name, call.namespace.as_deref(), call.kind);
            Some(json!({"type": "tool_use", "id": sanitize_id(&call.id), "name": name, "input": input}))
        }
        // Anthropic verifies thinking signatures: only a signed block can go back.
        Part::Reasoning(Reasoning { text, signature: Some(signature), .. }) => {
            Some(json!({"type": "thinking", "thinking": text, "signature": signature}))
        }
        Part::Reasoning(Reasoning { redacted: Some(data), .. }) => {
            Some(json!({"type": "redacted_thinking", "data": data}))
        }
        Part::Text(_) | Part::Image(_) | Part::ToolResult(_) | Part::Reasoning(_) => None,
    }
}
