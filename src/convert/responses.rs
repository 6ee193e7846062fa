//! OpenAI Responses requests (Codex): decode into the model, encode from it
//! (conversion.md §1). The stream side is in `responses_stream.rs`.
//!
//! Invariants: only `call_id` correlates items (Codex skip-serializes item ids). Reasoning is
//! carried across turns in `encrypted_content` marked [`REASONING_MARK`]; a foreign
//! (OpenAI-encrypted) reasoning item is dropped, never forwarded to another provider.

use serde_json::{Map, Value, json};

use super::ir::{
    Effort, Image, Message, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolCall, ToolChoice,
    ToolKind, ToolResult, salvage_arguments,
};
use super::util::{base64_decode, base64_encode};
use super::{object_schema, opt_str, text_of};

/// Prefix of the reasoning aigate mints into `encrypted_content` (conversion.md §3.1).
pub(crate) const REASONING_MARK: &str = "aigate-rc-v1:";

/// `aigate-rc-v1:<base64(json{t: text, s?: signature})>`.
pub(crate) fn mark_reasoning(text: &str, signature: Option<&str>) -> String {
    let payload = match signature {
        Some(signature) => json!({"t": text, "s": signature}),
        None => json!({"t": text}),
    };
    format!("{REASONING_MARK}{}", base64_encode(payload.to_string().as_bytes()))
}

/// The text and signature of a marked `encrypted_content`, if it is ours.
pub(crate) fn unmark_reasoning(encrypted: &str) -> Option<(String, Option<String>)> {
    let payload = encrypted.strip_prefix(REASONING_MARK)?;
    let bytes = base64_decode(payload)?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let text = value.get("t")?.as_str()?.to_string();
    let signature = value.get("s").and_then(Value::as_str).map(str::to_string);
    Some((text, signature))
}

/// Decode a Responses request body. `Err` is a 400 message.
pub(crate) fn decode_request(body: &Value) -> Result<Request, String> {
    let mut request = Request {
        model: opt_str(body, "model"),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        previous_response_id: opt_str(body, "previous_response_id"),
        store: body.get("store").and_then(Value::as_bool),
        max_tokens: body.get("max_output_tokens").and_then(Value::as_u64),
        temperature: body.get("temperature").and_then(Value::as_f64),
        top_p: body.get("top_p").and_then(Value::as_f64),
        parallel_tool_calls: body.get("parallel_tool_calls").and_then(Value::as_bool),
        effort: body.pointer("/reasoning/effort").and_then(Value::as_str).and_then(Effort::parse),
        ..Request::default()
    };
    match body.get("instructions") {
        Some(Value::String(text)) if !text.is_empty() => request.system.push(text.clone()),
        Some(Value::Array(parts)) => {
            let joined = parts.iter().filter_map(text_of).collect::<Vec<_>>().join("\n\n");
            if !joined.is_empty() {
                request.system.push(joined);
            }
        }
        _ => {}
    }
    let mut found_tools = Vec::new();
    match body.get("input") {
        Some(Value::String(text)) => {
            request.messages.push(Message::new(Role::User, vec![Part::Text(text.clone())]));
        }
        Some(Value::Array(items)) => decode_items(items, &mut request.messages, &mut found_tools)?,
        _ => {}
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        for tool in tools {
            decode_tool(tool, None, &mut request.tools);
        }
    }
    request.tools.extend(found_tools);
    request.tool_choice = body.get("tool_choice").and_then(decode_tool_choice);
    // `allowed_tools{mode, tools}`: only those tools are offered, with the mode as the choice.
    if let Some(choice) =
        body.get("tool_choice").filter(|c| c.get("type").and_then(Value::as_str) == Some("allowed_tools"))
    {
        let allowed: Vec<&str> = choice
            .get("tools")
            .and_then(Value::as_array)
            .map(|tools| tools.iter().filter_map(|tool| tool.get("name").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        request.tools.retain(|tool| allowed.contains(&tool.name.as_str()));
        request.tool_choice = match choice.get("mode").and_then(Value::as_str) {
            Some("required") => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Auto),
        };
    }
    if let Some(format) = body.pointer("/text/format") {
        request.response_format = match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => Some(ResponseFormat::JsonSchema {
                name: opt_str(format, "name").unwrap_or_else(|| "response".to_string()),
                schema: format.get("schema").cloned().unwrap_or_else(|| json!({})),
                strict: format.get("strict").and_then(Value::as_bool),
            }),
            Some("json_object") => Some(ResponseFormat::JsonObject),
            _ => None,
        };
    }
    Ok(request)
}

/// The ordered walk of §1.3: items become messages; reasoning attaches forward to the next
/// assistant output, or backward at a user boundary, never across a user turn.
fn decode_items(
    items: &[Value],
    messages: &mut Vec<Message>,
    found_tools: &mut Vec<Tool>,
) -> Result<(), String> {
    let mut pending_reasoning: Vec<Reasoning> = Vec::new();
    let mut last_assistant_text: Option<String> = None;
    for item in items {
        let kind = item.get("type").and_then(Value::as_str);
        let role = item.get("role").and_then(Value::as_str);
        match (kind, role) {
            (Some("message") | None, Some(role)) => {
                let parts = decode_content(item.get("content"));
                match role {
                    "assistant" => {
                        let text = super::ir::join_text(&parts, "");
                        if last_assistant_text.as_deref() == Some(text.as_str()) && !text.is_empty() {
                            continue;
                        }
                        last_assistant_text = Some(text.clone());
                        if text.is_empty() {
                            continue;
                        }
                        push_assistant(messages, &mut pending_reasoning, Part::Text(text));
                    }
                    "user" => {
                        last_assistant_text = None;
                        attach_backward(messages, &mut pending_reasoning);
                        messages.push(Message::new(Role::User, parts));
                    }
                    _ => {
                        last_assistant_text = None;
                        attach_backward(messages, &mut pending_reasoning);
                        let text = super::ir::join_text(&parts, "\n\n");
                        messages.push(Message::new(Role::System, vec![Part::Text(text)]));
                    }
                }
            }
            (Some("function_call"), _) => {
                let call = ToolCall {
                    id: call_id(item)?,
                    name: opt_str(item, "name").unwrap_or_default(),
                    namespace: opt_str(item, "namespace"),
                    arguments: salvage_arguments(item.get("arguments").and_then(Value::as_str).unwrap_or("")),
                    kind: ToolKind::Function,
                };
                push_assistant(messages, &mut pending_reasoning, Part::ToolCall(call));
            }
            (Some("custom_tool_call"), _) => {
                let input = item.get("input").and_then(Value::as_str).unwrap_or("");
                let call = ToolCall {
                    id: call_id(item)?,
                    name: opt_str(item, "name").unwrap_or_default(),
                    namespace: None,
                    arguments: json!({ "input": input }).to_string(),
                    kind: ToolKind::Custom,
                };
                push_assistant(messages, &mut pending_reasoning, Part::ToolCall(call));
            }
            (Some("local_shell_call"), _) => {
                let exec = item.pointer("/action").cloned().unwrap_or_else(|| json!({}));
                let mut arguments = Map::new();
                arguments.insert("command".into(), exec.get("command").cloned().unwrap_or_else(|| json!([])));
                if let Some(dir) = exec.get("working_directory").filter(|dir| !dir.is_null()) {
                    arguments.insert("workdir".into(), dir.clone());
                }
                if let Some(timeout) = exec.get("timeout_ms").filter(|timeout| !timeout.is_null()) {
                    arguments.insert("timeout_ms".into(), timeout.clone());
                }
                let call = ToolCall {
                    id: call_id(item)?,
                    name: "local_shell".to_string(),
                    namespace: None,
                    arguments: Value::Object(arguments).to_string(),
                    kind: ToolKind::LocalShell,
                };
                push_assistant(messages, &mut pending_reasoning, Part::ToolCall(call));
            }
            (Some("tool_search_call"), _) => {
                let arguments = match item.get("arguments") {
                    Some(Value::String(text)) => salvage_arguments(text),
                    Some(other) => other.to_string(),
                    None => "{}".to_string(),
                };
                let call = ToolCall {
                    id: call_id(item)?,
                    name: "tool_search".to_string(),
                    namespace: None,
                    arguments,
                    kind: ToolKind::ToolSearch,
                };
                push_assistant(messages, &mut pending_reasoning, Part::ToolCall(call));
            }
            (Some("tool_search_output"), _) => {
                // The tools it found join the tool set (§1.4); the model sees their list.
                let found = item.get("tools").and_then(Value::as_array).cloned().unwrap_or_default();
                for tool in &found {
                    decode_tool(tool, None, found_tools);
                }
                let result = ToolResult {
                    id: call_id(item)?,
                    content: vec![Part::Text(Value::Array(found).to_string())],
                    is_error: false,
                    kind: ToolKind::ToolSearch,
                };
                messages.push(Message::new(Role::Tool, vec![Part::ToolResult(result)]));
            }
            (Some(kind @ ("function_call_output" | "custom_tool_call_output")), _) => {
                last_assistant_text = None;
                let content = match item.get("output") {
                    Some(Value::String(text)) => vec![Part::Text(text.clone())],
                    Some(Value::Array(_)) => decode_content(item.get("output")),
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => vec![Part::Text(other.to_string())],
                };
                let result = ToolResult {
                    id: call_id(item)?,
                    content,
                    is_error: false,
                    kind: if kind == "custom_tool_call_output" {
                        ToolKind::Custom
                    } else {
                        ToolKind::Function
                    },
                };
                messages.push(Message::new(Role::Tool, vec![Part::ToolResult(result)]));
            }
            (Some("reasoning"), _) => {
                if let Some(reasoning) = decode_reasoning(item) {
                    pending_reasoning.push(reasoning);
                }
            }
            (Some("compaction" | "compaction_summary"), _) => {
                if let Some((text, _)) =
                    item.get("encrypted_content").and_then(Value::as_str).and_then(unmark_reasoning)
                {
                    attach_backward(messages, &mut pending_reasoning);
                    messages.push(Message::new(Role::User, vec![Part::Text(text)]));
                }
            }
            // web_search_call, image_generation_call, ghost_snapshot, unknown items: dropped.
            _ => {}
        }
    }
    attach_backward(messages, &mut pending_reasoning);
    Ok(())
}

fn call_id(item: &Value) -> Result<String, String> {
    match item.get("call_id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(format!(
            "Missing `call_id` on a `{}` input item",
            item.get("type").and_then(Value::as_str).unwrap_or("?")
        )),
    }
}

/// Reasoning text: our marked copy first, then the summary. Foreign encrypted content
/// (OpenAI's `gAAAA…`) drops the item.
fn decode_reasoning(item: &Value) -> Option<Reasoning> {
    if let Some(encrypted) = item.get("encrypted_content").and_then(Value::as_str) {
        if let Some((text, signature)) = unmark_reasoning(encrypted) {
            return Some(Reasoning { text, signature, encrypted: None, redacted: None });
        }
        return None;
    }
    let summary = item
        .get("summary")
        .and_then(Value::as_array)
        .map(|parts| parts.iter().filter_map(text_of).collect::<Vec<_>>().join("\n\n"))
        .unwrap_or_default();
    if summary.is_empty() {
        return None;
    }
    Some(Reasoning { text: summary, ..Reasoning::default() })
}

fn push_assistant(messages: &mut Vec<Message>, pending: &mut Vec<Reasoning>, part: Part) {
    if !matches!(messages.last(), Some(message) if message.role == Role::Assistant) {
        messages.push(Message::new(Role::Assistant, Vec::new()));
    }
    if let Some(last) = messages.last_mut() {
        last.parts.extend(pending.drain(..).map(Part::Reasoning));
        last.parts.push(part);
    }
}

fn attach_backward(messages: &mut [Message], pending: &mut Vec<Reasoning>) {
    if pending.is_empty() {
        return;
    }
    if let Some(last) = messages.last_mut().filter(|message| message.role == Role::Assistant) {
        let at = last.parts.iter().position(|part| !matches!(part, Part::Reasoning(_))).unwrap_or(0);
        let reasoning: Vec<Part> = pending.drain(..).map(Part::Reasoning).collect();
        last.parts.splice(at..at, reasoning);
    }
    pending.clear();
}

/// Content parts (`input_text`, `output_text`, `input_image`, `input_file`).
fn decode_content(content: Option<&Value>) -> Vec<Part> {
    match content {
        Some(Value::String(text)) => vec![Part::Text(text.clone())],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("input_text" | "output_text" | "text" | "summary_text") => {
                    part.get("text").and_then(Value::as_str).map(|text| Part::Text(text.to_string()))
                }
                Some("refusal") => {
                    part.get("refusal").and_then(Value::as_str).map(|t| Part::Text(t.to_string()))
                }
                Some("input_image") => {
                    let url = match part.get("image_url") {
                        Some(Value::String(url)) => Some(url.as_str()),
                        Some(object) => object.get("url").and_then(Value::as_str),
                        None => None,
                    }?;
                    Some(Part::Image(Image::from_url(url, opt_str(part, "detail"))))
                }
                Some("input_file") => Some(Part::Text(format!(
                    "[file omitted: {}]",
                    part.get("filename").and_then(Value::as_str).unwrap_or("attachment")
                ))),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn decode_tool(tool: &Value, namespace: Option<&str>, tools: &mut Vec<Tool>) {
    let name = opt_str(tool, "name").unwrap_or_default();
    let description = opt_str(tool, "description");
    match tool.get("type").and_then(Value::as_str) {
        Some("function") => tools.push(Tool {
            name,
            namespace: namespace.map(str::to_string),
            description,
            parameters: object_schema(tool.get("parameters")),
            strict: tool.get("strict").and_then(Value::as_bool),
            kind: ToolKind::Function,
        }),
        Some("namespace") => {
            if let Some(Value::Array(children)) = tool.get("tools") {
                for child in children {
                    decode_tool(child, Some(&name), tools);
                }
            }
        }
        Some("custom") => {
            let mut description = description.unwrap_or_default();
            if let Some(format) = tool.get("format") {
                if let (Some(syntax), Some(definition)) = (
                    format.get("syntax").and_then(Value::as_str),
                    format.get("definition").and_then(Value::as_str),
                ) {
                    description.push_str(&format!(
                        "\n\nPut the whole tool input in `input`; it must follow this {syntax} grammar:\n{definition}"
                    ));
                }
            }
            tools.push(Tool {
                name,
                namespace: None,
                description: Some(description),
                parameters: json!({
                    "type": "object",
                    "properties": {"input": {"type": "string", "description": "The raw tool input."}},
                    "required": ["input"]
                }),
                strict: None,
                kind: ToolKind::Custom,
            });
        }
        Some("local_shell") => tools.push(Tool {
            name: "local_shell".to_string(),
            namespace: None,
            description: Some("Runs a shell command and returns its output.".to_string()),
            parameters: json!({
                "type": "object",
                "properties": {
                    "command": {"type": "array", "items": {"type": "string"}, "description": "The command and its arguments."},
                    "workdir": {"type": "string", "description": "The working directory."},
                    "timeout_ms": {"type": "integer", "description": "Timeout in milliseconds."}
                },
                "required": ["command"]
            }),
            strict: None,
            kind: ToolKind::LocalShell,
        }),
        Some("tool_search") => tools.push(Tool {
            name: "tool_search".to_string(),
            namespace: None,
            description,
            parameters: object_schema(tool.get("parameters")),
            strict: None,
            kind: ToolKind::ToolSearch,
        }),
        // web_search, web_search_preview, mcp, image_generation, code_interpreter,
        // file_search, computer_use…: hosted tools no Chat/Messages upstream can run.
        _ => {}
    }
}

fn decode_tool_choice(choice: &Value) -> Option<ToolChoice> {
    match choice {
        Value::String(text) => match text.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => None,
        },
        Value::Object(_) => match choice.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => Some(ToolChoice::Tool {
                name: opt_str(choice, "name")?,
                namespace: opt_str(choice, "namespace"),
            }),
            Some("tool_search") => {
                Some(ToolChoice::Tool { name: "tool_search".to_string(), namespace: None })
            }
            _ => Some(ToolChoice::Auto),
        },
        _ => None,
    }
}

/// Encode a Responses request for a Responses upstream (from a Chat or Messages client).
pub(crate) fn encode_request(
    request: &Request,
    model: Option<&str>,
    tools: &mut super::tools::ToolMap,
) -> Value {
    let mut body = Map::new();
    if let Some(model) = model.map(str::to_string).or_else(|| request.model.clone()) {
        body.insert("model".into(), json!(model));
    }
    let mut input: Vec<Value> = Vec::new();
    for message in &request.messages {
        encode_message(message, tools, &mut input);
    }
    let instructions = request.system.join("\n\n");
    if !instructions.is_empty() {
        body.insert("instructions".into(), json!(instructions));
    }
    body.insert("input".into(), Value::Array(input));
    let wire_tools: Vec<Value> = request
        .tools
        .iter()
        .map(|tool| {
            let name = tools.add(&tool.name, tool.namespace.as_deref(), tool.kind);
            let mut object = Map::new();
            object.insert("type".into(), json!("function"));
            object.insert("name".into(), json!(name));
            if let Some(description) = &tool.description {
                object.insert("description".into(), json!(description));
            }
            object.insert("parameters".into(), tool.parameters.clone());
            object.insert("strict".into(), json!(tool.strict.unwrap_or(false)));
            Value::Object(object)
        })
        .collect();
    if !wire_tools.is_empty() {
        body.insert("tools".into(), Value::Array(wire_tools));
        if let Some(choice) = &request.tool_choice {
            let value = match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool { name, namespace } => {
                    json!({"type": "function", "name": super::tools::wire_name(name, namespace.as_deref())})
                }
            };
            body.insert("tool_choice".into(), value);
        }
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    if let Some(max) = request.max_tokens {
        body.insert("max_output_tokens".into(), json!(max));
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    let effort = request.effort.or_else(|| request.budget.map(Effort::from_budget));
    if let Some(effort) = effort {
        let name = if effort == Effort::Max { "xhigh" } else { effort.name() };
        body.insert("reasoning".into(), json!({"effort": name}));
        // With store:false the reasoning only comes back (and can go back) encrypted.
        body.insert("include".into(), json!(["reasoning.encrypted_content"]));
    }
    match &request.response_format {
        Some(ResponseFormat::JsonSchema { name, schema, strict }) => {
            let mut format = Map::new();
            format.insert("type".into(), json!("json_schema"));
            format.insert("name".into(), json!(name));
            format.insert("schema".into(), schema.clone());
            if let Some(strict) = strict {
                format.insert("strict".into(), json!(strict));
            }
            body.insert("text".into(), json!({ "format": format }));
        }
        Some(ResponseFormat::JsonObject) => {
            body.insert("text".into(), json!({"format": {"type": "json_object"}}));
        }
        None => {}
    }
    body.insert("store".into(), json!(false));
    body.insert("stream".into(), json!(request.stream));
    Value::Object(body)
}

fn encode_message(message: &Message, tools: &mut super::tools::ToolMap, input: &mut Vec<Value>) {
    match message.role {
        Role::System => input.push(json!({
            "type": "message", "role": "developer",
            "content": [{"type": "input_text", "text": message.text("\n\n")}]
        })),
        Role::User => input.push(json!({
            "type": "message", "role": "user", "content": input_parts(&message.parts)
        })),
        Role::Assistant => {
            let mut text = String::new();
            let flush = |text: &mut String, input: &mut Vec<Value>| {
                if !text.is_empty() {
                    input.push(json!({
                        "type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": std::mem::take(text)}]
                    }));
                }
            };
            for part in &message.parts {
                match part {
                    Part::Text(piece) => text.push_str(piece),
                    Part::ToolCall(call) => {
                        flush(&mut text, input);
                        let name = tools.add(&call.name, call.namespace.as_deref(), call.kind);
                        input.push(json!({
                            "type": "function_call", "call_id": super::tools::sanitize_id(&call.id),
                            "name": name, "arguments": call.arguments
                        }));
                    }
                    Part::Reasoning(reasoning) => {
                        // Only OpenAI's own encrypted reasoning is useful to a Responses upstream.
                        if let Some(encrypted) = &reasoning.encrypted {
                            flush(&mut text, input);
                            input.push(json!({
                                "type": "reasoning",
                                "summary": [{"type": "summary_text", "text": reasoning.text}],
                                "encrypted_content": encrypted
                            }));
                        }
                    }
                    Part::Image(_) | Part::ToolResult(_) => {}
                }
            }
            flush(&mut text, input);
        }
        Role::Tool => {
            for part in &message.parts {
                if let Part::ToolResult(result) = part {
                    let has_image = result.content.iter().any(|part| matches!(part, Part::Image(_)));
                    let mut text = super::ir::join_text(&result.content, "\n");
                    if result.is_error {
                        text = format!("Error: {text}");
                    }
                    let output = if has_image {
                        let mut parts = input_parts(&result.content);
                        if result.is_error {
                            parts.insert(0, json!({"type": "input_text", "text": "Error:"}));
                        }
                        Value::Array(parts)
                    } else {
                        json!(text)
                    };
                    input.push(json!({
                        "type": "function_call_output",
                        "call_id": super::tools::sanitize_id(&result.id),
                        "output": output
                    }));
                }
            }
        }
    }
}

fn input_parts(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|part| match part {
            Part::Text(text) => Some(json!({"type": "input_text", "text": text})),
            Part::Image(image) => {
                let mut object = Map::new();
                object.insert("type".into(), json!("input_image"));
                object.insert("image_url".into(), json!(image.url()));
                if let Some(detail) = &image.detail {
                    object.insert("detail".into(), json!(detail));
                }
                Some(Value::Object(object))
            }
            Part::ToolCall(_) | Part::ToolResult(_) | Part::Reasoning(_) => None,
        })
        .collect()
}
