//! Wire-protocol conversion between the three agent APIs: OpenAI Responses (Codex),
//! Anthropic Messages (Claude Code) and OpenAI Chat Completions (OpenCode, and most
//! gateways). Pure: no I/O, no async, no HTTP. The spec is `docs/conversion.md`.
//!
//! Shape: each API has a codec that decodes its requests into one conversation model
//! (`ir::Request`) and encodes from it, and a stream decoder (upstream SSE or JSON → `ir::Event`)
//! and encoder (events → the client's SSE or JSON). A fourth API is one more codec.
//!
//! How the proxy uses it:
//! 1. [`convert_request`] turns the client's body into the upstream's body and gives a
//!    [`ConvContext`] (tool-name map, requested model, history for the response cache).
//! 2. The upstream answers 2xx: a [`StreamConverter`] built from the context converts the body
//!    chunk by chunk ([`StreamConverter::feed`]) and ends it once ([`StreamConverter::finish`]
//!    or [`StreamConverter::fail`]). Before committing, the proxy may watch
//!    [`StreamConverter::content_started`] and [`StreamConverter::error_before_content`] to
//!    fail over.
//! 3. The upstream answers non-2xx: [`convert_error`] gives the status and body in the
//!    client's shape.
//!
//! ```rust,ignore
//! let cache = ResponseCache::new(); // one per proxy, shared by all requests
//! let quirks = provider.quirks();
//! let converted = convert_request(Api::Responses, Api::Chat, &body, Some(&model), &quirks, &cache)
//!     .map_err(|error| (error.status, error.body))?; // already in the client's shape
//! let path = upstream_path(Api::Chat, converted.stream, &model);
//! // … send converted.body; on non-2xx: converted.ctx.convert_error(status, &bytes) …
//! let mut converter = StreamConverter::new(converted.ctx, Api::Chat, Api::Responses, converted.stream);
//! let mut out = Vec::new();
//! while let Some(chunk) = upstream.next().await {
//!     converter.feed(&chunk?, &mut out);            // send `out` to the client, then clear it
//!     if !converter.content_started() && converter.error_before_content().is_some() { /* fail over */ }
//! }
//! converter.finish(&mut out);                        // or converter.fail(msg, &mut out)
//! let outcome = converter.outcome();                 // usage, stop reason, error class
//! ```
//!
//! Invariants:
//! - Same API on both sides is never converted: the body passes with only `model` replaced,
//!   and the stream passes byte for byte (decoded only for [`Outcome`]).
//! - Every stream ends with exactly one well-formed terminal in the client's API; a stream
//!   that ends early or carries garbage is never reported as success
//!   ([`Outcome::error_class`]).
//! - The codecs read provider differences only from [`Quirks`], never from provider names.
//! - All per-stream state (ids, sequence numbers, indexes) lives in the converter.
//!
//! Decisions where the spec leaves room (or two sources disagree):
//! - EOF without the upstream's terminal is never success. A Responses client gets
//!   `response.failed` (no output) or `response.completed` with `status: incomplete` (some
//!   output, §2.3 step 8); a Messages client gets `message_start` then `event: error` (case 34's
//!   "valid empty message" is what an upstream that sends only `[DONE]` gets); a Chat client
//!   gets an error chunk and `[DONE]`. [`Outcome::error_class`] is `stream_truncated` for all.
//! - A data frame that does not parse ends the stream with an error (`malformed_upstream`);
//!   non-field lines are ignored as SSE says, except a bare `{…}` line, read as data.
//! - Messages clients: content blocks never interleave, so a second tool call waits until the
//!   open tool block ends; reasoning that arrives after text has started is dropped (§5.2).
//! - Anthropic thinking signatures reach Codex inside our marked `encrypted_content` and come
//!   back; OpenAI `encrypted_content` reaches Claude Code inside a marked `signature`.
//! - Same-API requests are not converted, so `StreamConverter::fail` cannot repair a
//!   pass-through stream; it only records the outcome.

mod chat;
mod chat_stream;
mod estimate;
mod ir;
mod messages;
mod messages_stream;
mod prepare;
mod quirks;
mod responses;
mod responses_stream;
mod sse;
mod stream;
mod think;
mod tools;
mod util;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value, json};

pub use estimate::count_tokens_estimate;
pub use quirks::{JsonSchemaMode, MaxTokensField, Quirks, ReasoningEcho, ReasoningStyle};
pub use stream::{Outcome, OutcomeUsage, StreamConverter};

use crate::providers::Api;
use ir::{Message, Part, StopReason, Usage};
use tools::ToolMap;

/// A converted request.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The body to send upstream.
    pub body: Vec<u8>,
    /// Whether the client asked for a stream (the upstream request streams the same way).
    pub stream: bool,
    pub ctx: ConvContext,
}

/// What the response side needs to know about the request.
#[derive(Debug, Clone)]
pub struct ConvContext {
    pub(crate) client_api: Api,
    pub(crate) upstream_api: Api,
    /// The model the client asked for (echoed back: Claude Code sizes its context by name).
    pub(crate) client_model: String,
    pub(crate) client_stream: bool,
    pub(crate) tools: Arc<ToolMap>,
    /// The conversation so far (Responses clients), stored with the output for
    /// `previous_response_id`.
    pub(crate) history: Option<Arc<Vec<Message>>>,
    pub(crate) cache: ResponseCache,
    /// Estimated input tokens for Messages `message_start` before the upstream reports usage.
    pub(crate) input_estimate: u64,
}

impl ConvContext {
    pub fn client_api(&self) -> Api {
        self.client_api
    }

    pub fn upstream_api(&self) -> Api {
        self.upstream_api
    }

    pub fn client_stream(&self) -> bool {
        self.client_stream
    }

    /// Same API on both sides: nothing is converted.
    pub fn is_passthrough(&self) -> bool {
        self.client_api == self.upstream_api
    }

    /// The model name the client asked for.
    pub fn client_model(&self) -> &str {
        &self.client_model
    }

    /// An upstream non-2xx answer in the client's shape (knows whether the client streams).
    pub fn convert_error(&self, upstream_status: u16, upstream_body: &[u8]) -> (u16, Vec<u8>) {
        convert_error_for(self.client_api, self.client_stream, upstream_status, upstream_body)
    }
}

/// A request that cannot be converted; `body` is already in the client's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    pub status: u16,
    pub body: Vec<u8>,
    pub message: String,
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConvertError {}

impl ConvertError {
    fn new(client_api: Api, status: u16, code: &str, param: Option<&str>, message: String) -> Self {
        let body = match client_api {
            Api::Messages => messages_stream::error_json("invalid_request_error", &message),
            Api::Responses | Api::Chat => {
                json!({"error": {"message": message, "type": "invalid_request_error", "code": code, "param": param}})
            }
        };
        Self { status, body: body.to_string().into_bytes(), message }
    }
}

/// Convert a client request for the upstream.
///
/// `client_api` is the API of the incoming request, `upstream_api` the one the link speaks,
/// `model` the model to send upstream (already mapped; `None` keeps the request's).
/// `history` resolves Responses `previous_response_id` (a miss is 400
/// `previous_response_not_found`) and receives the finished turns.
pub fn convert_request(
    client_api: Api,
    upstream_api: Api,
    body: &[u8],
    model: Option<&str>,
    quirks: &Quirks,
    history: &ResponseCache,
) -> Result<Converted, ConvertError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        ConvertError::new(
            client_api,
            400,
            "invalid_json",
            None,
            format!("The request body is not valid JSON: {error}"),
        )
    })?;
    if !value.is_object() {
        return Err(ConvertError::new(
            client_api,
            400,
            "invalid_request",
            None,
            "The request body must be a JSON object".into(),
        ));
    }
    let client_model = value.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let stream = value.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if client_api == upstream_api {
        let body = match model {
            Some(model) if model != client_model => {
                let mut value = value;
                value["model"] = json!(model);
                value.to_string().into_bytes()
            }
            _ => body.to_vec(),
        };
        let ctx = ConvContext {
            client_api,
            upstream_api,
            client_model,
            client_stream: stream,
            tools: Arc::new(ToolMap::default()),
            history: None,
            cache: history.clone(),
            input_estimate: 0,
        };
        return Ok(Converted { body, stream, ctx });
    }
    let decoded = match client_api {
        Api::Responses => responses::decode_request(&value),
        Api::Chat => chat::decode_request(&value),
        Api::Messages => messages::decode_request(&value),
    };
    let mut request =
        decoded.map_err(|message| ConvertError::new(client_api, 400, "invalid_request", None, message))?;
    if let Some(previous) = request.previous_response_id.clone() {
        let Some(mut earlier) = history.get(&previous) else {
            return Err(ConvertError::new(
                client_api,
                400,
                "previous_response_not_found",
                Some("previous_response_id"),
                format!("Previous response with id '{previous}' not found."),
            ));
        };
        earlier.append(&mut request.messages);
        request.messages = earlier;
    }
    let saved = (client_api == Api::Responses).then(|| Arc::new(request.messages.clone()));
    let input_estimate = if client_api == Api::Messages { count_tokens_estimate(body) } else { 0 };
    prepare::prepare(&mut request, quirks);
    let mut tool_map = ToolMap::default();
    let encoded = match upstream_api {
        Api::Chat => chat::encode_request(&request, model, quirks, &mut tool_map),
        Api::Messages => messages::encode_request(&request, model, quirks, &mut tool_map),
        Api::Responses => responses::encode_request(&request, model, &mut tool_map),
    };
    let ctx = ConvContext {
        client_api,
        upstream_api,
        client_model,
        client_stream: request.stream,
        tools: Arc::new(tool_map),
        history: saved,
        cache: history.clone(),
        input_estimate,
    };
    Ok(Converted { body: encoded.to_string().into_bytes(), stream: request.stream, ctx })
}

/// The path to request on the upstream for `api` (Gemini will need the model in it).
pub fn upstream_path(api: Api, _stream: bool, _model: &str) -> String {
    api.path().to_string()
}

/// An upstream non-2xx answer in the client's error shape, for a client that streams (the
/// usual case; see [`convert_error_for`]). A Responses context overflow or exhausted quota
/// becomes `200` SSE `response.failed` (the only path into Codex's handling, §2.5); MiniMax
/// `base_resp` bodies are normalised.
pub fn convert_error(client_api: Api, upstream_status: u16, upstream_body: &[u8]) -> (u16, Vec<u8>) {
    convert_error_for(client_api, true, upstream_status, upstream_body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorClass {
    ContextOverflow,
    Quota,
    RateLimit,
    Overloaded,
    Auth,
    Permission,
    NotFound,
    TooLarge,
    Server,
    Invalid,
}

fn classify(status: u16, code: &str, message: &str) -> ErrorClass {
    let text = format!("{code} {message}").to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|needle| text.contains(needle));
    if has(&[
        "context_length_exceeded",
        "context length",
        "maximum context",
        "context window",
        "too many tokens",
        "prompt is too long",
        "model_context_window_exceeded",
        "input is too long",
        "exceeds the model's maximum",
    ]) {
        return ErrorClass::ContextOverflow;
    }
    if status == 402
        || has(&[
            "insufficient_quota",
            "insufficient balance",
            "insufficient_balance",
            "balance is not enough",
        ])
    {
        return ErrorClass::Quota;
    }
    match status {
        429 => ErrorClass::RateLimit,
        503 | 529 => ErrorClass::Overloaded,
        401 => ErrorClass::Auth,
        403 => ErrorClass::Permission,
        404 => ErrorClass::NotFound,
        413 => ErrorClass::TooLarge,
        _ if has(&["overloaded"]) => ErrorClass::Overloaded,
        500..=599 => ErrorClass::Server,
        _ => ErrorClass::Invalid,
    }
}

/// [`convert_error`] for a client that does or does not stream.
pub fn convert_error_for(
    client_api: Api,
    client_stream: bool,
    upstream_status: u16,
    upstream_body: &[u8],
) -> (u16, Vec<u8>) {
    let value: Value = serde_json::from_slice(upstream_body)
        .unwrap_or_else(|_| json!({"error": {"message": String::from_utf8_lossy(upstream_body).chars().take(2000).collect::<String>()}}));
    let (code, mut message) = error_fields(&value);
    if message.is_empty() {
        message = format!("The upstream answered HTTP {upstream_status}");
    }
    let class = classify(upstream_status, &code, &message);
    let status = match class {
        ErrorClass::ContextOverflow | ErrorClass::Invalid => {
            if (400..500).contains(&upstream_status) {
                upstream_status
            } else {
                400
            }
        }
        _ if (400..600).contains(&upstream_status) => upstream_status,
        _ => 502,
    };
    match client_api {
        Api::Responses => {
            let code = match class {
                ErrorClass::ContextOverflow => "context_length_exceeded",
                ErrorClass::Quota => "insufficient_quota",
                ErrorClass::RateLimit => "rate_limit_exceeded",
                ErrorClass::Overloaded => "server_is_overloaded",
                ErrorClass::Server => "server_error",
                ErrorClass::Auth => "invalid_api_key",
                ErrorClass::Permission
                | ErrorClass::NotFound
                | ErrorClass::TooLarge
                | ErrorClass::Invalid => {
                    if code.is_empty() {
                        "invalid_request_error"
                    } else {
                        code.as_str()
                    }
                }
            };
            if client_stream && matches!(class, ErrorClass::ContextOverflow | ErrorClass::Quota) {
                return (200, responses_failed_sse(code, &message));
            }
            let kind = if matches!(class, ErrorClass::Server | ErrorClass::Overloaded) {
                "server_error"
            } else {
                "invalid_request_error"
            };
            let body = json!({"error": {"message": message, "type": kind, "code": code, "param": null}});
            (status, body.to_string().into_bytes())
        }
        Api::Messages => {
            let (kind, message) = match class {
                ErrorClass::ContextOverflow
                    if !message.to_ascii_lowercase().contains("prompt is too long") =>
                {
                    ("invalid_request_error", format!("prompt is too long: {message}"))
                }
                ErrorClass::ContextOverflow | ErrorClass::Invalid | ErrorClass::Quota => {
                    ("invalid_request_error", message)
                }
                ErrorClass::RateLimit => ("rate_limit_error", message),
                ErrorClass::Overloaded => ("overloaded_error", message),
                ErrorClass::Auth => ("authentication_error", message),
                ErrorClass::Permission => ("permission_error", message),
                ErrorClass::NotFound => ("not_found_error", message),
                ErrorClass::TooLarge => ("request_too_large", message),
                ErrorClass::Server => ("api_error", message),
            };
            let body = json!({"type": "error", "error": {"type": kind, "message": message}});
            (status, body.to_string().into_bytes())
        }
        Api::Chat => {
            let code = match class {
                ErrorClass::ContextOverflow => "context_length_exceeded".to_string(),
                ErrorClass::Quota => "insufficient_quota".to_string(),
                ErrorClass::RateLimit => "rate_limit_exceeded".to_string(),
                _ => code,
            };
            let body =
                json!({"error": {"message": message, "type": "upstream_error", "code": code, "param": null}});
            (status, body.to_string().into_bytes())
        }
    }
}

/// The Responses error code Codex understands for an upstream's in-stream error.
pub(crate) fn responses_error_code(code: &str, message: &str) -> String {
    match classify(0, code, message) {
        ErrorClass::ContextOverflow => "context_length_exceeded".to_string(),
        ErrorClass::Quota => "insufficient_quota".to_string(),
        ErrorClass::Overloaded => "server_is_overloaded".to_string(),
        _ if code.contains("rate_limit") => "rate_limit_exceeded".to_string(),
        _ => code.to_string(),
    }
}

/// `response.created` then `response.failed{error:{code,message}}`.
fn responses_failed_sse(code: &str, message: &str) -> Vec<u8> {
    let id = util::mint_id("resp_");
    let created_at = util::now();
    let mut out = Vec::new();
    let response = json!({"id": id, "object": "response", "created_at": created_at, "status": "in_progress", "output": [], "usage": null});
    sse::write_event(
        &mut out,
        "response.created",
        &json!({"type": "response.created", "sequence_number": 0, "response": response}),
    );
    let failed = json!({
        "id": id, "object": "response", "created_at": created_at, "status": "failed", "output": [],
        "error": {"code": code, "message": message}, "usage": null
    });
    sse::write_event(
        &mut out,
        "response.failed",
        &json!({"type": "response.failed", "sequence_number": 1, "response": failed}),
    );
    out
}

/// `(code, message)` of any API's error body (OpenAI, Anthropic, MiniMax `base_resp`, plain).
pub(crate) fn error_fields(value: &Value) -> (String, String) {
    let text = |value: Option<&Value>| match value {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    if let Some(base) = value
        .get("base_resp")
        .filter(|base| base.get("status_code").and_then(Value::as_i64).unwrap_or(0) != 0)
    {
        return (
            text(base.get("status_code")).unwrap_or_default(),
            text(base.get("status_msg")).unwrap_or_default(),
        );
    }
    match value.get("error") {
        Some(Value::String(message)) => (String::new(), message.clone()),
        Some(error @ Value::Object(_)) => {
            let code = text(error.get("code")).or_else(|| text(error.get("type"))).unwrap_or_default();
            let message = text(error.get("message")).unwrap_or_else(|| error.to_string());
            (code, message)
        }
        _ => (
            text(value.get("code")).unwrap_or_default(),
            text(value.get("message")).or_else(|| text(value.get("detail"))).unwrap_or_default(),
        ),
    }
}

/// The final body of a non-streamed response, built from the collected parts.
pub(crate) struct FinalBody<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub parts: Vec<Part>,
    pub usage: Usage,
    pub stop: Option<StopReason>,
    /// Set when the turn did not succeed.
    pub failed: Option<Failure<'a>>,
}

/// Why a turn failed, for the client's error body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure<'a> {
    /// [`Outcome::error_class`].
    pub class: &'a str,
    /// The upstream's error code, or the class.
    pub code: &'a str,
    pub message: &'a str,
}

/// A bounded LRU of Responses turns: response id → the conversation up to and including that
/// response's output. Cheap to clone (shared); `Send + Sync`.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    inner: Arc<Mutex<CacheInner>>,
}

#[derive(Debug)]
struct CacheInner {
    entries: HashMap<String, CacheEntry>,
    tick: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct CacheEntry {
    history: Arc<Vec<Message>>,
    output: Message,
    bytes: usize,
    used: u64,
}

impl Default for ResponseCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseCache {
    /// 256 turns or 32 MiB, whichever is reached first.
    pub fn new() -> Self {
        Self::with_limits(256, 32 << 20)
    }

    pub fn with_limits(max_entries: usize, max_bytes: usize) -> Self {
        let inner = CacheInner { entries: HashMap::new(), tick: 0, bytes: 0, max_entries, max_bytes };
        Self { inner: Arc::new(Mutex::new(inner)) }
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn put(&self, id: &str, history: Arc<Vec<Message>>, output: Message) {
        let bytes = history.iter().map(Message::weight).sum::<usize>() + output.weight() + id.len();
        let mut inner = self.lock();
        if bytes > inner.max_bytes {
            return;
        }
        inner.tick += 1;
        let used = inner.tick;
        if let Some(old) = inner.entries.insert(id.to_string(), CacheEntry { history, output, bytes, used }) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.entries.len() > inner.max_entries || inner.bytes > inner.max_bytes {
            let Some(oldest) =
                inner.entries.iter().min_by_key(|(_, entry)| entry.used).map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(entry) = inner.entries.remove(&oldest) {
                inner.bytes -= entry.bytes;
            }
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<Vec<Message>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(id)?;
        entry.used = tick;
        let mut messages: Vec<Message> = entry.history.as_ref().clone();
        messages.push(entry.output.clone());
        Some(messages)
    }
}

// ---- small JSON helpers shared by the codecs ----

/// `body[key]` as an owned string.
pub(crate) fn opt_str(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A string, or an object's `text`.
pub(crate) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Object(object) => object.get("text").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// A tool's parameter schema as an object schema (`null` → `{type:object,properties:{}}`).
pub(crate) fn object_schema(schema: Option<&Value>) -> Value {
    let mut object = match schema {
        Some(Value::Object(object)) => object.clone(),
        _ => Map::new(),
    };
    object.entry("type").or_insert_with(|| json!("object"));
    if object.get("type").and_then(Value::as_str) == Some("object") {
        object.entry("properties").or_insert_with(|| json!({}));
    }
    Value::Object(object)
}

/// The schema as sent upstream: no `$schema`; with `strict`, also no `additionalProperties`,
/// null-valued keys or `format:"uri"`, recursively (DeepSeek profile).
pub(crate) fn clean_schema(schema: &Value, strict: bool) -> Value {
    fn walk(value: &Value, strict: bool, root: bool) -> Value {
        match value {
            Value::Object(object) => {
                let mut out = Map::new();
                for (key, item) in object {
                    if root && key == "$schema" {
                        continue;
                    }
                    if strict
                        && (key == "additionalProperties"
                            || item.is_null()
                            || (key == "format" && item.as_str() == Some("uri")))
                    {
                        continue;
                    }
                    out.insert(key.clone(), walk(item, strict, false));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(|item| walk(item, strict, false)).collect()),
            other => other.clone(),
        }
    }
    walk(schema, strict, true)
}

/// For tests and callers that hold a request in the model: whether a message list ends
/// with an assistant turn (used by the response cache tests).
#[cfg(test)]
pub(crate) fn last_role(messages: &[Message]) -> Option<ir::Role> {
    messages.last().map(|message| message.role)
}
