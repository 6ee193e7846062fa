//! Google Gemini API requests (`generateContent` / `streamGenerateContent`): decode (Gemini
//! CLI) and encode for a Gemini upstream. The stream side is in `gemini_stream.rs`.
//!
//! The Gemini API keeps the model and the stream flag in the URL, not the body, so the
//! decoder is given both ([`decode_request`]) and the encoder leaves them out.
//!
//! Invariants:
//! - `functionCall` / `functionResponse` pair by `id` when there is one, else by name in call
//!   order (the API itself pairs by name); every IR tool call has an id, minted when missing.
//! - A `functionResponse` names its call's *wire* name, found from the history's calls.
//! - Every model turn with a function call carries a `thoughtSignature` on its first call
//!   (Gemini 3 refuses a call without one; Gemini CLI sends the same validator-skip marker
//!   when it has none).
//! - Parameter schemas go up as `parametersJsonSchema` (full JSON schema, no OpenAPI subset).

use std::collections::{HashMap, VecDeque};

use serde_json::{Map, Value, json};

use super::ir::{
    Effort, Image, ImageSource, Message, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolCall,
    ToolChoice, ToolKind, ToolResult,
};
use super::tools::{ToolMap, sanitize_id};
use super::{clean_schema, object_schema, opt_str};

/// The signature Gemini accepts on a function call it did not sign (what Gemini CLI sends).
pub(crate) const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Decode a Gemini request body; `model` and `stream` come from the URL
/// (`models/{model}:streamGenerateContent`). `Err` is a 400 message.
pub(crate) fn decode_request(body: &Value, model: Option<&str>, stream: bool) -> Result<Request, String> {
    let config = body.get("generationConfig").cloned().unwrap_or_else(|| json!({}));
    let mut request = Request {
        model: model.map(str::to_string),
        stream,
        max_tokens: config.get("maxOutputTokens").and_then(Value::as_u64),
        temperature: config.get("temperature").and_then(Value::as_f64),
        top_p: config.get("topP").and_then(Value::as_f64),
        ..Request::default()
    };
    if let Some(Value::Array(stops)) = config.get("stopSequences") {
        request.stop.extend(stops.iter().filter_map(Value::as_str).map(str::to_string));
    }
    if let Some(thinking) = config.get("thinkingConfig") {
        match thinking.get("thinkingBudget").and_then(Value::as_i64) {
            Some(0) => request.effort = Some(Effort::None),
            Some(budget) if budget > 0 => {
                let budget = budget.unsigned_abs();
                request.budget = Some(budget);
                request.effort = Some(Effort::from_budget(budget));
            }
            // -1 is "dynamic": the provider's default.
            _ => {}
        }
        if let Some(level) = thinking.get("thinkingLevel").and_then(Value::as_str) {
            request.effort = Effort::parse(&level.to_ascii_lowercase()).or(request.effort);
        }
    }
    let mime = config.get("responseMimeType").and_then(Value::as_str).unwrap_or("");
    if mime.eq_ignore_ascii_case("application/json") {
        let schema = config
            .get("responseJsonSchema")
            .cloned()
            .or_else(|| config.get("responseSchema").map(lower_types));
        request.response_format = Some(match schema {
            Some(schema) => ResponseFormat::JsonSchema { name: "response".to_string(), schema, strict: None },
            None => ResponseFormat::JsonObject,
        });
    }
    if let Some(system) = body.get("systemInstruction").or_else(|| body.get("system_instruction")) {
        let text = match system {
            Value::String(text) => text.clone(),
            other => {
                super::ir::join_text(&decode_parts(other.get("parts"), &mut Pairing::default()).0, "\n\n")
            }
        };
        if !text.is_empty() {
            request.system.push(text);
        }
    }
    let Some(Value::Array(contents)) = body.get("contents") else {
        return Err("`contents` must be an array".to_string());
    };
    let mut pairing = Pairing::default();
    for content in contents {
        let role = content.get("role").and_then(Value::as_str).unwrap_or("user");
        let (parts, results) = decode_parts(content.get("parts"), &mut pairing);
        if role == "model" {
            if !parts.is_empty() {
                request.messages.push(Message::new(Role::Assistant, parts));
            }
            continue;
        }
        if !results.is_empty() {
            request.messages.push(Message::new(Role::Tool, results));
        }
        if !parts.is_empty() {
            request.messages.push(Message::new(Role::User, parts));
        }
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        for tool in tools {
            let declarations = tool
                .get("functionDeclarations")
                .or_else(|| tool.get("function_declarations"))
                .and_then(Value::as_array);
            for declaration in declarations.into_iter().flatten() {
                let parameters = declaration
                    .get("parametersJsonSchema")
                    .cloned()
                    .or_else(|| declaration.get("parameters").map(lower_types));
                request.tools.push(Tool {
                    name: opt_str(declaration, "name").unwrap_or_default(),
                    namespace: None,
                    description: opt_str(declaration, "description"),
                    parameters: object_schema(parameters.as_ref()),
                    strict: None,
                    kind: ToolKind::Function,
                });
            }
        }
    }
    if let Some(calling) = body.pointer("/toolConfig/functionCallingConfig") {
        let allowed: Vec<&str> = calling
            .get("allowedFunctionNames")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        request.tool_choice = match calling.get("mode").and_then(Value::as_str).map(str::to_ascii_uppercase) {
            Some(mode) if mode == "NONE" => Some(ToolChoice::None),
            Some(mode) if mode == "ANY" || mode == "VALIDATED" => match allowed.as_slice() {
                [one] => Some(ToolChoice::Tool { name: (*one).to_string(), namespace: None }),
                _ => Some(ToolChoice::Required),
            },
            Some(_) => Some(ToolChoice::Auto),
            None => None,
        };
    }
    Ok(request)
}

/// Calls waiting for their responses: by id, and by name in order.
#[derive(Debug, Default)]
struct Pairing {
    next: usize,
    by_name: HashMap<String, VecDeque<String>>,
}

impl Pairing {
    fn call(&mut self, id: Option<&str>, name: &str) -> String {
        let id = if let Some(id) = id.filter(|id| !id.is_empty()) {
            id.to_string()
        } else {
            self.next += 1;
            format!("call_{}_{}", sanitize_id(name), self.next)
        };
        self.by_name.entry(name.to_string()).or_default().push_back(id.clone());
        id
    }

    fn response(&mut self, id: Option<&str>, name: &str) -> String {
        let queue = self.by_name.entry(name.to_string()).or_default();
        match id.filter(|id| !id.is_empty()) {
            Some(id) => {
                queue.retain(|pending| pending != id);
                id.to_string()
            }
            None => queue.pop_front().unwrap_or_else(|| format!("call_{}_0", sanitize_id(name))),
        }
    }
}

/// A content's parts: (the user/model parts, the function responses).
fn decode_parts(parts: Option<&Value>, pairing: &mut Pairing) -> (Vec<Part>, Vec<Part>) {
    let mut out = Vec::new();
    let mut results = Vec::new();
    let Some(Value::Array(parts)) = parts else {
        return (out, results);
    };
    for part in parts {
        if let Some(text) = part.get("text").and_then(Value::as_str) {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                out.push(Part::Reasoning(Reasoning {
                    text: text.to_string(),
                    signature: opt_str(part, "thoughtSignature"),
                    ..Reasoning::default()
                }));
            } else if !text.is_empty() {
                out.push(Part::Text(text.to_string()));
            }
        } else if let Some(data) = part.get("inlineData").or_else(|| part.get("inline_data")) {
            let media_type = opt_str(data, "mimeType").unwrap_or_else(|| "image/png".to_string());
            let data = opt_str(data, "data").unwrap_or_default();
            out.push(if media_type.starts_with("image/") {
                Part::Image(Image { source: ImageSource::Base64 { media_type, data }, detail: None })
            } else {
                Part::Text(format!("[{media_type} file omitted]"))
            });
        } else if let Some(data) = part.get("fileData").or_else(|| part.get("file_data")) {
            let media_type = opt_str(data, "mimeType").unwrap_or_default();
            let uri = opt_str(data, "fileUri").unwrap_or_default();
            out.push(if media_type.starts_with("image/") || media_type.is_empty() {
                Part::Image(Image::from_url(&uri, None))
            } else {
                Part::Text(format!("[file {uri}]"))
            });
        } else if let Some(call) = part.get("functionCall").or_else(|| part.get("function_call")) {
            let name = opt_str(call, "name").unwrap_or_default();
            let id = pairing.call(call.get("id").and_then(Value::as_str), &name);
            let arguments = match call.get("args") {
                Some(args @ Value::Object(_)) => args.to_string(),
                _ => "{}".to_string(),
            };
            out.push(Part::ToolCall(ToolCall {
                id,
                name,
                namespace: None,
                arguments,
                kind: ToolKind::Function,
            }));
        } else if let Some(response) = part.get("functionResponse").or_else(|| part.get("function_response"))
        {
            let name = opt_str(response, "name").unwrap_or_default();
            let id = pairing.response(response.get("id").and_then(Value::as_str), &name);
            let body = response.get("response").cloned().unwrap_or(Value::Null);
            let (text, is_error) = response_text(&body);
            let mut content = vec![Part::Text(text)];
            // Gemini 3: images returned by a tool, inside the response's own parts.
            if let Some(Value::Array(inner)) = response.get("parts") {
                let (images, _) = decode_parts(Some(&Value::Array(inner.clone())), pairing);
                content.extend(images);
            }
            results.push(Part::ToolResult(ToolResult { id, content, is_error, kind: ToolKind::Function }));
        }
    }
    (out, results)
}

/// A `functionResponse.response` as text: its `output` (or `content`/`result`) string when it
/// is the whole answer, its `error` as an error, else the JSON.
fn response_text(response: &Value) -> (String, bool) {
    if let Value::Object(object) = response {
        if let Some(error) = object.get("error") {
            let text = error.as_str().map_or_else(|| error.to_string(), str::to_string);
            return (text, true);
        }
        for key in ["output", "content", "result"] {
            if let Some(Value::String(text)) = object.get(key) {
                if object.len() == 1 {
                    return (text.clone(), false);
                }
            }
        }
    }
    match response {
        Value::String(text) => (text.clone(), false),
        Value::Null => (String::new(), false),
        other => (other.to_string(), false),
    }
}

/// An OpenAPI-subset schema (`"type": "STRING"`) as JSON schema (lower-case types).
fn lower_types(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), value) {
                        ("type", Value::String(kind)) => json!(kind.to_ascii_lowercase()),
                        _ => lower_types(value),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(lower_types).collect()),
        other => other.clone(),
    }
}

/// Encode for a Gemini upstream (the model and the stream flag go in the URL).
pub(crate) fn encode_request(request: &Request, tools: &mut ToolMap) -> Value {
    let mut body = Map::new();
    // The Gemini API has one system slot: in-place system messages (Codex's developer
    // messages) join it, in order.
    let in_place = request
        .messages
        .iter()
        .filter(|message| message.role == Role::System)
        .map(|message| message.text("\n\n"));
    let head = request
        .system
        .iter()
        .cloned()
        .chain(in_place)
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    if !head.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": [{"text": head}]}));
    }
    // Call id → wire name, for the responses.
    let mut names: HashMap<&str, String> = HashMap::new();
    for message in &request.messages {
        for part in &message.parts {
            if let Part::ToolCall(call) = part {
                names.insert(&call.id, tools.add(&call.name, call.namespace.as_deref(), call.kind));
            }
        }
    }
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        let (role, parts) = match message.role {
            Role::System => continue,
            Role::User => ("user", message.parts.iter().filter_map(user_part).collect()),
            Role::Assistant => ("model", model_parts(message, tools)),
            Role::Tool => {
                let mut parts = Vec::new();
                let mut images = Vec::new();
                for part in &message.parts {
                    if let Part::ToolResult(result) = part {
                        let name =
                            names.get(result.id.as_str()).cloned().unwrap_or_else(|| "tool".to_string());
                        parts.push(function_response(result, &name, &mut images));
                    }
                }
                parts.extend(images);
                ("user", parts)
            }
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some((last, earlier)) if *last == role => earlier.extend(parts),
            _ => contents.push((role, parts)),
        }
    }
    body.insert(
        "contents".into(),
        Value::Array(
            contents.into_iter().map(|(role, parts)| json!({"role": role, "parts": parts})).collect(),
        ),
    );
    let offered = !request.tools.is_empty() && request.tool_choice != Some(ToolChoice::None);
    if offered {
        let mut seen = std::collections::HashSet::new();
        let mut declarations = Vec::new();
        for tool in &request.tools {
            let name = tools.add(&tool.name, tool.namespace.as_deref(), tool.kind);
            if !seen.insert(name.clone()) {
                continue;
            }
            let mut declaration = Map::new();
            declaration.insert("name".into(), json!(name));
            if let Some(description) = tool.description.as_ref().filter(|text| !text.is_empty()) {
                declaration.insert("description".into(), json!(description));
            }
            declaration.insert("parametersJsonSchema".into(), clean_schema(&tool.parameters, false));
            declarations.push(Value::Object(declaration));
        }
        body.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
        let calling = match &request.tool_choice {
            Some(ToolChoice::Required) => Some(json!({"mode": "ANY"})),
            Some(ToolChoice::Tool { name, namespace }) => Some(json!({
                "mode": "ANY",
                "allowedFunctionNames": [super::tools::wire_name(name, namespace.as_deref())]
            })),
            Some(ToolChoice::Auto) => Some(json!({"mode": "AUTO"})),
            Some(ToolChoice::None) | None => None,
        };
        if let Some(calling) = calling {
            body.insert("toolConfig".into(), json!({"functionCallingConfig": calling}));
        }
    }
    let mut config = Map::new();
    if let Some(temperature) = request.temperature {
        config.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        config.insert("topP".into(), json!(top_p));
    }
    if let Some(max) = request.max_tokens {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    if !request.stop.is_empty() {
        config.insert("stopSequences".into(), json!(request.stop));
    }
    match &request.response_format {
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            config.insert("responseMimeType".into(), json!("application/json"));
            config.insert("responseJsonSchema".into(), schema.clone());
        }
        Some(ResponseFormat::JsonObject) => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        None => {}
    }
    let budget = match (request.budget, request.effort) {
        (_, Some(Effort::None)) => Some(0),
        (Some(budget), _) => Some(budget),
        (None, Some(effort)) => effort.budget(),
        (None, None) => None,
    };
    if let Some(budget) = budget {
        let mut thinking = json!({"thinkingBudget": budget});
        if budget > 0 {
            thinking["includeThoughts"] = json!(true);
        }
        config.insert("thinkingConfig".into(), thinking);
    }
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(body)
}

fn image_part(image: &Image) -> Value {
    match &image.source {
        ImageSource::Base64 { media_type, data } => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        ImageSource::Url(url) => json!({"fileData": {"mimeType": guess_mime(url), "fileUri": url}}),
    }
}

fn guess_mime(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.rsplit_once('.').map(|(_, extension)| extension.to_ascii_lowercase()).as_deref() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => "image/jpeg",
    }
}

fn user_part(part: &Part) -> Option<Value> {
    match part {
        Part::Text(text) if !text.is_empty() => Some(json!({"text": text})),
        Part::Image(image) => Some(image_part(image)),
        Part::Text(_) | Part::ToolCall(_) | Part::ToolResult(_) | Part::Reasoning(_) => None,
    }
}

fn model_parts(message: &Message, tools: &mut ToolMap) -> Vec<Value> {
    let mut parts = Vec::new();
    let mut signed = false;
    // A Gemini signature that came back on a thought (Gemini → client → Gemini) goes back on
    // the first call; anything else gets the validator-skip marker.
    let mut signature: Option<&str> = None;
    for part in &message.parts {
        match part {
            Part::Reasoning(reasoning) => {
                if let Some(own) = reasoning.signature.as_deref().filter(|text| !text.is_empty()) {
                    signature = Some(own);
                }
            }
            Part::Text(text) if !text.is_empty() => parts.push(json!({"text": text})),
            Part::ToolCall(call) => {
                let name = tools.add(&call.name, call.namespace.as_deref(), call.kind);
                let args = match serde_json::from_str::<Value>(&call.arguments) {
                    Ok(args @ Value::Object(_)) => args,
                    Ok(other) => json!({"input": other}),
                    Err(_) => json!({"input": call.arguments}),
                };
                let mut function = json!({"name": name, "args": args});
                if !call.id.is_empty() {
                    function["id"] = json!(sanitize_id(&call.id));
                }
                let mut value = json!({"functionCall": function});
                if !signed {
                    signed = true;
                    value["thoughtSignature"] = json!(signature.unwrap_or(SKIP_SIGNATURE));
                }
                parts.push(value);
            }
            Part::Image(image) => parts.push(image_part(image)),
            Part::Text(_) | Part::ToolResult(_) => {}
        }
    }
    parts
}

fn function_response(result: &ToolResult, name: &str, images: &mut Vec<Value>) -> Value {
    let mut texts: Vec<&str> = Vec::new();
    for part in &result.content {
        match part {
            Part::Text(text) => texts.push(text),
            Part::Image(image) => images.push(image_part(image)),
            Part::ToolCall(_) | Part::ToolResult(_) | Part::Reasoning(_) => {}
        }
    }
    let text = texts.join("\n");
    let response = if result.is_error { json!({"error": text}) } else { json!({"output": text}) };
    let mut function = json!({"name": name, "response": response});
    if !result.id.is_empty() {
        function["id"] = json!(sanitize_id(&result.id));
    }
    json!({"functionResponse": function})
}
