//! Upstream errors in the client's shape (conversion.md §2.5, §5.9): one classification of
//! any API's error body (OpenAI, Anthropic, MiniMax `base_resp`, plain text), then one
//! mapping per client API.

use serde_json::{Value, json};

use super::{sse, util};
use crate::providers::Api;

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
        Api::Gemini => {
            let google = match class {
                ErrorClass::ContextOverflow | ErrorClass::Invalid | ErrorClass::TooLarge => {
                    "INVALID_ARGUMENT"
                }
                ErrorClass::Quota | ErrorClass::RateLimit => "RESOURCE_EXHAUSTED",
                ErrorClass::Overloaded => "UNAVAILABLE",
                ErrorClass::Auth => "UNAUTHENTICATED",
                ErrorClass::Permission => "PERMISSION_DENIED",
                ErrorClass::NotFound => "NOT_FOUND",
                ErrorClass::Server => "INTERNAL",
            };
            let status = if class == ErrorClass::Quota { 429 } else { status };
            let body = super::gemini_stream::error_json(status, google, &message);
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
