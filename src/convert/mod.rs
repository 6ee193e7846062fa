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

mod cache;
mod chat;
mod chat_stream;
mod errors;
mod estimate;
mod gemini;
mod gemini_stream;
mod ir;
mod messages;
mod messages_stream;
mod passthrough;
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

use std::sync::Arc;

use serde_json::{Map, Value, json};

pub use cache::ResponseCache;
pub use errors::{convert_error, convert_error_for};
pub(crate) use errors::{error_fields, responses_error_code};
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
            Api::Gemini => gemini_stream::error_json(status, "INVALID_ARGUMENT", &message),
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
    convert_request_at(client_api, None, upstream_api, body, model, quirks, history)
}

/// What the client's URL says about its request, for an API that keeps it there (Gemini:
/// `models/{model}:streamGenerateContent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathInfo<'a> {
    pub model: &'a str,
    pub stream: bool,
}

/// The model and stream flag of a Gemini API path after its version prefix:
/// `/models/gemini-2.5-pro:streamGenerateContent` → (`gemini-2.5-pro`, `streamGenerateContent`).
/// The model may hold `/` (`openai/gpt-4o`: the SDK sends ids unencoded); the method is
/// what follows the last `:` and holds none.
pub fn gemini_path(suffix: &str) -> Option<(&str, &str)> {
    let rest = suffix.strip_prefix("/models/")?;
    let (model, method) = rest.rsplit_once(':')?;
    (!model.is_empty() && !method.is_empty() && !method.contains('/')).then_some((model, method))
}

/// `/models/{model}:{method}`, for a model with or without its `models/` prefix.
pub fn gemini_method_path(model: &str, method: &str) -> String {
    format!("/models/{}:{method}", model.strip_prefix("models/").unwrap_or(model))
}

/// [`convert_request`] for a client whose URL carries the model and the stream flag.
pub fn convert_request_at(
    client_api: Api,
    path: Option<PathInfo<'_>>,
    upstream_api: Api,
    body: &[u8],
    model: Option<&str>,
    quirks: &Quirks,
    history: &ResponseCache,
) -> Result<Converted, ConvertError> {
    let invalid_json = |error: serde_json::Error| {
        ConvertError::new(
            client_api,
            400,
            "invalid_json",
            None,
            format!("The request body is not valid JSON: {error}"),
        )
    };
    if client_api == upstream_api {
        // Not converted: read the few fields without building a tree, splice `model`.
        let (fields, mut client_model, mut stream) = passthrough::fields(body).map_err(invalid_json)?;
        if let Some(path) = path {
            client_model = path.model.to_string();
            stream = path.stream;
        }
        let body = match model {
            // The Gemini API has its model in the URL.
            Some(model) if model != client_model && path.is_none() => passthrough::with_model(&fields, model),
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
    let value: Value = serde_json::from_slice(body).map_err(invalid_json)?;
    if !value.is_object() {
        return Err(ConvertError::new(
            client_api,
            400,
            "invalid_request",
            None,
            "The request body must be a JSON object".into(),
        ));
    }
    let client_model = match path {
        Some(path) => path.model.to_string(),
        None => value.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
    };
    let decoded = match client_api {
        Api::Responses => responses::decode_request(&value),
        Api::Chat => chat::decode_request(&value),
        Api::Messages => messages::decode_request(&value),
        Api::Gemini => {
            gemini::decode_request(&value, path.map(|path| path.model), path.is_some_and(|path| path.stream))
        }
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
    // Like OpenAI, a `store: false` turn cannot be a `previous_response_id` later, so it is
    // not kept (Codex sends `store: false` and the whole history every turn).
    let saved = (client_api == Api::Responses && request.store != Some(false))
        .then(|| Arc::new(request.messages.clone()));
    let input_estimate = if client_api == Api::Messages { count_tokens_estimate(body) } else { 0 };
    prepare::prepare(&mut request, quirks);
    let mut tool_map = ToolMap::default();
    let encoded = match upstream_api {
        Api::Chat => chat::encode_request(&request, model, quirks, &mut tool_map),
        Api::Messages => messages::encode_request(&request, model, quirks, &mut tool_map),
        Api::Responses => responses::encode_request(&request, model, &mut tool_map),
        Api::Gemini => gemini::encode_request(&request, &mut tool_map),
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

/// The path to request on the upstream for `api`: for Gemini the model and the stream
/// flag are in it (`/models/{model}:streamGenerateContent?alt=sse`).
pub fn upstream_path(api: Api, stream: bool, model: &str) -> String {
    match api {
        Api::Responses | Api::Chat | Api::Messages => api.path().to_string(),
        Api::Gemini if stream => format!("{}?alt=sse", gemini_method_path(model, "streamGenerateContent")),
        Api::Gemini => gemini_method_path(model, "generateContent"),
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
