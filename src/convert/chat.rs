//! OpenAI Chat Completions requests: decode (OpenCode) and encode for a Chat upstream with
//! the provider's [`Quirks`] (conversion.md §1, §3.2, §4). The stream side is in
//! `chat_stream.rs`.
//!
//! Invariants: tool names on the wire come from [`ToolMap::add`]; tool-call ids are sanitized;
//! a tool-call turn is always ONE assistant message; images never go in `tool` messages.

use serde_json::{Map, Value, json};

use super::ir::{
    Effort, Image, Message, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolCall, ToolChoice,
    ToolKind, ToolResult, salvage_arguments,
};
use super::quirks::{JsonSchemaMode, MaxTokensField, Quirks, ReasoningEcho, ReasoningStyle};
use super::tools::{ToolMap, sanitize_id, wire_name};
use super::{clean_schema, object_schema, opt_str};

/// Left in a tool message whose images moved to the following user message.
pub(crate) const IMAGE_MOVED: &str = "[image attached in the next user message]";

/// Decode a Chat Completions request body. `Err` is a 400 message.
pub(crate) fn decode_request(body: &Value) -> Result<Request, String> {
    let mut request = Request {
        model: opt_str(body, "model"),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_tokens: body
            .get("max_completion_tokens")
            .and_then(Value::as_u64)
            .or_else(|| body.get("max_tokens").and_then(Value::as_u64)),
        temperature: body.get("temperature").and_then(Value::as_f64),
        top_p: body.get("top_p").and_then(Value::as_f64),
        parallel_tool_calls: body.get("parallel_tool_calls").and_then(Value::as_bool),
        effort: body
            .get("reasoning_effort")
            .and_then(Value::as_str)
            .or_else(|| body.pointer("/reasoning/effort").and_then(Value::as_str))
            .and_then(Effort::parse),
        ..Request::default()
    };
    match body.get("stop") {
        Some(Value::String(stop)) => request.stop.push(stop.clone()),
        Some(Value::Array(stops)) => {
            request.stop.extend(stops.iter().filter_map(Value::as_str).map(str::to_string));
        }
        _ => {}
    }
    let Some(Value::Array(messages)) = body.get("messages") else {
        return Err("`messages` must be an array".to_string());
    };
    for message in messages {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("user");
        match role {
            "system" | "developer" => {
                let text = content_parts(message.get("content"));
                let text = super::ir::join_text(&text, "\n\n");
                if request.messages.is_empty() {
                    request.system.push(text);
                } else {
                    request.messages.push(Message::new(Role::System, vec![Part::Text(text)]));
                }
            }
            "assistant" => {
                let mut parts = Vec::new();
                let reasoning = message
                    .get("reasoning_content")
                    .and_then(Value::as_str)
                    .or_else(|| message.get("reasoning").and_then(Value::as_str));
                if let Some(text) = reasoning.filter(|text| !text.is_empty()) {
                    parts.push(Part::Reasoning(Reasoning { text: text.to_string(), ..Reasoning::default() }));
                }
                parts.extend(content_parts(message.get("content")).into_iter().filter(|part| match part {
                    Part::Text(text) => !text.is_empty(),
                    _ => true,
                }));
                if let Some(Value::Array(calls)) = message.get("tool_calls") {
                    for call in calls {
                        parts.push(Part::ToolCall(ToolCall {
                            id: opt_str(call, "id").unwrap_or_default(),
                            name: call
                                .pointer("/function/name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            namespace: None,
                            arguments: salvage_arguments(
                                call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or(""),
                            ),
                            kind: ToolKind::Function,
                        }));
                    }
                }
                request.messages.push(Message::new(Role::Assistant, parts));
            }
            "tool" | "function" => {
                let id = opt_str(message, "tool_call_id").unwrap_or_default();
                let result = ToolResult {
                    id,
                    content: content_parts(message.get("content")),
                    is_error: false,
                    kind: ToolKind::Function,
                };
                request.messages.push(Message::new(Role::Tool, vec![Part::ToolResult(result)]));
            }
            _ => request.messages.push(Message::new(Role::User, content_parts(message.get("content")))),
        }
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        for tool in tools {
            if tool.get("type").and_then(Value::as_str).is_some_and(|kind| kind != "function") {
                continue;
            }
            let function = tool.get("function").unwrap_or(tool);
            request.tools.push(Tool {
                name: opt_str(function, "name").unwrap_or_default(),
                namespace: None,
                description: opt_str(function, "description"),
                parameters: object_schema(function.get("parameters")),
                strict: function.get("strict").and_then(Value::as_bool),
                kind: ToolKind::Function,
            });
        }
    }
    request.tool_choice = match body.get("tool_choice") {
        Some(Value::String(choice)) => match choice.as_str() {
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Auto),
        },
        Some(choice @ Value::Object(_)) => choice
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|name| ToolChoice::Tool { name: name.to_string(), namespace: None }),
        _ => None,
    };
    request.response_format = match body.pointer("/response_format/type").and_then(Value::as_str) {
        Some("json_schema") => {
            let schema = body.pointer("/response_format/json_schema").cloned().unwrap_or_else(|| json!({}));
            Some(ResponseFormat::JsonSchema {
                name: opt_str(&schema, "name").unwrap_or_else(|| "response".to_string()),
                strict: schema.get("strict").and_then(Value::as_bool),
                schema: schema.get("schema").cloned().unwrap_or_else(|| json!({})),
            })
        }
        Some("json_object") => Some(ResponseFormat::JsonObject),
        _ => None,
    };
    Ok(request)
}

fn content_parts(content: Option<&Value>) -> Vec<Part> {
    match content {
        Some(Value::String(text)) => vec![Part::Text(text.clone())],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text" | "input_text") => {
                    part.get("text").and_then(Value::as_str).map(|text| Part::Text(text.to_string()))
                }
                Some("image_url") => {
                    let url = match part.get("image_url") {
                        Some(Value::String(url)) => Some(url.as_str()),
                        Some(object) => object.get("url").and_then(Value::as_str),
                        None => None,
                    }?;
                    let detail =
                        part.pointer("/image_url/detail").and_then(Value::as_str).map(str::to_string);
                    Some(Part::Image(Image::from_url(url, detail)))
                }
                Some("file") => Some(Part::Text("[file omitted]".to_string())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Encode for a Chat upstream.
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
    let mut messages: Vec<Value> = Vec::new();
    let head =
        request.system.iter().filter(|text| !text.is_empty()).cloned().collect::<Vec<_>>().join("\n\n");
    if !head.is_empty() {
        messages.push(json!({"role": "system", "content": head}));
    }
    let mut pending_images: Vec<Value> = Vec::new();
    for message in &request.messages {
        if message.role != Role::Tool && !pending_images.is_empty() {
            messages.push(json!({"role": "user", "content": std::mem::take(&mut pending_images)}));
        }
        match message.role {
            Role::System => messages.push(json!({"role": "system", "content": message.text("\n\n")})),
            Role::User => messages.push(json!({"role": "user", "content": user_content(&message.parts)})),
            Role::Assistant => messages.push(assistant_message(message, quirks, tools)),
            Role::Tool => {
                for part in &message.parts {
                    if let Part::ToolResult(result) = part {
                        messages.push(tool_message(result, &mut pending_images));
                    }
                }
            }
        }
    }
    if !pending_images.is_empty() {
        messages.push(json!({"role": "user", "content": pending_images}));
    }
    if quirks.collapse_system {
        messages = collapse_system(messages);
    }
    body.insert("messages".into(), Value::Array(merge_users(messages)));

    let mut tool_choice = request.tool_choice.clone();
    let mut offered = !request.tools.is_empty();
    if quirks.tool_choice_auto_only {
        match tool_choice {
            Some(ToolChoice::None) => offered = false,
            Some(ToolChoice::Required | ToolChoice::Tool { .. }) => tool_choice = Some(ToolChoice::Auto),
            Some(ToolChoice::Auto) | None => {}
        }
    }
    let wire_tools = if offered { encode_tools(&request.tools, quirks, tools) } else { Vec::new() };
    if !wire_tools.is_empty() {
        body.insert("tools".into(), Value::Array(wire_tools));
        match tool_choice {
            Some(ToolChoice::Auto) if quirks.omit_explicit_auto => {}
            Some(ToolChoice::Auto) => {
                body.insert("tool_choice".into(), json!("auto"));
            }
            Some(ToolChoice::None) => {
                body.insert("tool_choice".into(), json!("none"));
            }
            Some(ToolChoice::Required) => {
                body.insert("tool_choice".into(), json!("required"));
            }
            Some(ToolChoice::Tool { name, namespace }) => {
                let name = wire_name(&name, namespace.as_deref());
                body.insert("tool_choice".into(), json!({"type": "function", "function": {"name": name}}));
            }
            None => {}
        }
        if quirks.supports_parallel_tool_calls {
            if let Some(parallel) = request.parallel_tool_calls {
                body.insert("parallel_tool_calls".into(), json!(parallel));
            }
        }
        if quirks.tool_stream && request.stream {
            body.insert("tool_stream".into(), json!(true));
        }
    }
    if let Some(max) = clamp(request.max_tokens, quirks) {
        let field = match quirks.max_tokens_field {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        };
        body.insert(field.into(), json!(max));
    }
    if !quirks.strip_sampling {
        if let Some(temperature) = request.temperature {
            body.insert("temperature".into(), json!(temperature));
        }
        if let Some(top_p) = request.top_p {
            body.insert("top_p".into(), json!(top_p));
        }
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    match (&request.response_format, quirks.json_schema) {
        (Some(ResponseFormat::JsonSchema { name, schema, strict }), JsonSchemaMode::Nested) => {
            let mut inner = Map::new();
            inner.insert("name".into(), json!(name));
            inner.insert("schema".into(), schema.clone());
            if let Some(strict) = strict {
                inner.insert("strict".into(), json!(strict));
            }
            body.insert("response_format".into(), json!({"type": "json_schema", "json_schema": inner}));
        }
        (
            Some(ResponseFormat::JsonSchema { .. } | ResponseFormat::JsonObject),
            JsonSchemaMode::JsonObject,
        )
        | (Some(ResponseFormat::JsonObject), JsonSchemaMode::Nested) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        (Some(_), JsonSchemaMode::Drop) | (None, _) => {}
    }
    let effort = request.effort.or_else(|| request.budget.map(Effort::from_budget));
    reasoning_params(effort, quirks.reasoning_style, request.stream, &mut body);
    body.insert("stream".into(), json!(request.stream));
    if request.stream && quirks.supports_stream_options {
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(body)
}

fn clamp(max: Option<u64>, quirks: &Quirks) -> Option<u64> {
    match (max, quirks.max_output_cap) {
        (Some(max), Some(cap)) => Some(max.min(u64::from(cap))),
        (max, _) => max,
    }
}

/// The provider's thinking control for an effort (conversion.md §3.2, test case 13).
fn reasoning_params(
    effort: Option<Effort>,
    style: ReasoningStyle,
    stream: bool,
    body: &mut Map<String, Value>,
) {
    let Some(effort) = effort else {
        return;
    };
    match style {
        ReasoningStyle::None => {}
        ReasoningStyle::OpenAi => {
            let name = if effort == Effort::Max { "xhigh" } else { effort.name() };
            body.insert("reasoning_effort".into(), json!(name));
        }
        ReasoningStyle::Deepseek => {
            if effort == Effort::None {
                body.insert("thinking".into(), json!({"type": "disabled"}));
            } else {
                let name = if effort >= Effort::XHigh { "max" } else { "high" };
                body.insert("reasoning_effort".into(), json!(name));
            }
        }
        ReasoningStyle::OpenRouter => {
            let name = if effort == Effort::Max { "xhigh" } else { effort.name() };
            body.insert("reasoning".into(), json!({"effort": name}));
        }
        ReasoningStyle::QwenEnableThinking => {
            // DashScope thinks only in streamed calls and rejects enable_thinking otherwise.
            body.insert("enable_thinking".into(), json!(effort != Effort::None && stream));
        }
        ReasoningStyle::ThinkingType => {
            let kind = if effort == Effort::None { "disabled" } else { "enabled" };
            body.insert("thinking".into(), json!({"type": kind}));
        }
    }
}

fn encode_tools(source: &[Tool], quirks: &Quirks, tools: &mut ToolMap) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for tool in source {
        let name = tools.add(&tool.name, tool.namespace.as_deref(), tool.kind);
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut function = Map::new();
        function.insert("name".into(), json!(name));
        if let Some(description) = tool.description.as_ref().filter(|text| !text.is_empty()) {
            function.insert("description".into(), json!(description));
        }
        function.insert("parameters".into(), clean_schema(&tool.parameters, quirks.strict_schema_cleaning));
        if !quirks.drop_strict {
            if let Some(strict) = tool.strict {
                function.insert("strict".into(), json!(strict));
            }
        }
        out.push(json!({"type": "function", "function": function}));
    }
    out
}

/// A text-only user message is a joined string; with images it is a parts array.
fn user_content(parts: &[Part]) -> Value {
    if parts.iter().all(|part| matches!(part, Part::Text(_))) {
        return json!(super::ir::join_text(parts, "\n\n"));
    }
    Value::Array(parts.iter().filter_map(chat_part).collect())
}

fn chat_part(part: &Part) -> Option<Value> {
    match part {
        Part::Text(text) => Some(json!({"type": "text", "text": text})),
        Part::Image(image) => {
            let mut url = Map::new();
            url.insert("url".into(), json!(image.url()));
            if let Some(detail) = &image.detail {
                url.insert("detail".into(), json!(detail));
            }
            Some(json!({"type": "image_url", "image_url": url}))
        }
        Part::ToolCall(_) | Part::ToolResult(_) | Part::Reasoning(_) => None,
    }
}

fn assistant_message(message: &Message, quirks: &Quirks, tools: &mut ToolMap) -> Value {
    let mut out = Map::new();
    out.insert("role".into(), json!("assistant"));
    let text = message.text("");
    let mut reasoning = String::new();
    let mut redacted = false;
    let mut calls = Vec::new();
    for part in &message.parts {
        match part {
            Part::Reasoning(part) => {
                if part.redacted.is_some() && part.text.is_empty() {
                    redacted = true;
                }
                if !part.text.is_empty() {
                    if !reasoning.is_empty() {
                        reasoning.push_str("\n\n");
                    }
                    reasoning.push_str(&part.text);
                }
            }
            Part::ToolCall(call) => {
                let name = tools.add(&call.name, call.namespace.as_deref(), call.kind);
                calls.push(json!({
                    "id": sanitize_id(&call.id),
                    "type": "function",
                    "function": {"name": name, "arguments": call.arguments}
                }));
            }
            Part::Text(_) | Part::Image(_) | Part::ToolResult(_) => {}
        }
    }
    let content = match quirks.echo_reasoning {
        ReasoningEcho::InlineThink if !reasoning.is_empty() => {
            format!("<think>\n{reasoning}\n</think>\n\n{text}")
        }
        ReasoningEcho::InlineThink | ReasoningEcho::Field | ReasoningEcho::Drop => text,
    };
    if !content.is_empty() || calls.is_empty() {
        out.insert("content".into(), json!(content));
    }
    if quirks.echo_reasoning == ReasoningEcho::Field {
        if !reasoning.is_empty() {
            out.insert("reasoning_content".into(), json!(reasoning));
        } else if (!calls.is_empty() || redacted) && quirks.reasoning_placeholder.is_some() {
            out.insert("reasoning_content".into(), json!(quirks.reasoning_placeholder));
        }
    }
    if !calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    Value::Object(out)
}

fn tool_message(result: &ToolResult, pending_images: &mut Vec<Value>) -> Value {
    let mut texts: Vec<&str> = Vec::new();
    for part in &result.content {
        match part {
            Part::Text(text) => texts.push(text),
            Part::Image(_) => {
                texts.push(IMAGE_MOVED);
                if let Some(image) = chat_part(part) {
                    pending_images.push(image);
                }
            }
            Part::ToolCall(_) | Part::ToolResult(_) | Part::Reasoning(_) => {}
        }
    }
    let mut content = texts.join("\n");
    if result.is_error {
        content = format!("Error: {content}");
    }
    json!({"role": "tool", "tool_call_id": sanitize_id(&result.id), "content": content})
}

/// MiniMax: one system message, first.
fn collapse_system(messages: Vec<Value>) -> Vec<Value> {
    let mut system: Vec<String> = Vec::new();
    let mut rest = Vec::with_capacity(messages.len());
    for message in messages {
        if message.get("role").and_then(Value::as_str) == Some("system") {
            if let Some(text) = message.get("content").and_then(Value::as_str) {
                system.push(text.to_string());
            }
        } else {
            rest.push(message);
        }
    }
    if !system.is_empty() {
        rest.insert(0, json!({"role": "system", "content": system.join("\n\n")}));
    }
    rest
}

/// Consecutive user messages become one; parts arrays merge without dropping images.
fn merge_users(messages: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(messages.len());
    for message in messages {
        let is_user = message.get("role").and_then(Value::as_str) == Some("user");
        if is_user {
            if let Some(last) =
                out.last_mut().filter(|last| last.get("role").and_then(Value::as_str) == Some("user"))
            {
                let merged = match (last.get("content"), message.get("content")) {
                    (Some(Value::String(a)), Some(Value::String(b))) => json!(format!("{a}\n\n{b}")),
                    (Some(a), Some(b)) => {
                        let mut parts = as_parts(a);
                        parts.extend(as_parts(b));
                        Value::Array(parts)
                    }
                    (Some(a), None) => a.clone(),
                    (None, Some(b)) => b.clone(),
                    (None, None) => json!(""),
                };
                last["content"] = merged;
                continue;
            }
        }
        out.push(message);
    }
    out
}

fn as_parts(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) => vec![json!({"type": "text", "text": text})],
        Value::Array(parts) => parts.clone(),
        _ => Vec::new(),
    }
}
