//! Errors the proxy itself answers with, in the client API's own shape, and the list of
//! hop-by-hop headers that never cross the proxy.
//!
//! Invariants: one `match` maps a [`ProxyError`] to its status ([`ProxyError::status`]);
//! messages never carry a key or the local token (they name providers and statuses only).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};

use crate::providers::Api;

/// Which error body shape the client understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"error":{"message","type","code"}}` (Responses, Chat, and anything unknown).
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`.
    Anthropic,
}

impl ErrorShape {
    pub fn for_api(api: Option<Api>) -> Self {
        match api {
            Some(Api::Messages) => ErrorShape::Anthropic,
            // Google's `{"error":{"code","message","status"}}` has `message` where OpenAI's
            // has it, which is what Gemini CLI reads.
            Some(Api::Responses | Api::Chat | Api::Gemini) | None => ErrorShape::OpenAi,
        }
    }
}

/// Why one provider of the chain did not serve a request.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub provider: std::sync::Arc<str>,
    pub reason: String,
    /// The upstream's status when it answered.
    pub status: Option<u16>,
    /// Whether a request was actually sent (false: skipped).
    pub sent: bool,
    /// Seconds from `Retry-After`, when the upstream sent one.
    pub retry_after: Option<u64>,
}

/// Everything the proxy answers on its own.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "Missing or wrong aigate token: send it as `Authorization: Bearer`, `x-api-key` or `x-aigate-token`"
    )]
    Unauthorized,
    #[error("aigate does not serve `{0}`")]
    NotFound(String),
    #[error("Method not allowed here")]
    MethodNotAllowed,
    #[error("Request body is larger than the limit of {0} bytes")]
    BodyTooLarge(usize),
    #[error("Could not read the request: {0}")]
    BadRequest(String),
    #[error("The request body did not arrive in time")]
    RequestTimeout,
    #[error(
        "This request came back to the aigate listener that sent it (a provider points at aigate itself)"
    )]
    Loop,
    #[error("{}", exhausted_message(.0))]
    Exhausted(Vec<Attempt>),
}

fn exhausted_message(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "aigate has no provider to send this request to".to_string();
    }
    let tried: Vec<String> =
        attempts.iter().map(|attempt| format!("{}: {}", attempt.provider, attempt.reason)).collect();
    format!("aigate: no provider could serve this request ({})", tried.join("; "))
}

impl ProxyError {
    /// The one status mapping.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::Unauthorized => StatusCode::UNAUTHORIZED,
            ProxyError::NotFound(_) => StatusCode::NOT_FOUND,
            ProxyError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ProxyError::Loop => StatusCode::LOOP_DETECTED,
            ProxyError::Exhausted(attempts) => exhausted_status(attempts),
        }
    }

    /// A short class for usage rows.
    pub fn class(&self) -> &'static str {
        match self {
            ProxyError::Unauthorized => "unauthorized",
            ProxyError::NotFound(_) => "not_found",
            ProxyError::MethodNotAllowed => "method_not_allowed",
            ProxyError::BodyTooLarge(_) => "body_too_large",
            ProxyError::BadRequest(_) => "bad_request",
            ProxyError::RequestTimeout => "request_timeout",
            ProxyError::Loop => "loop",
            ProxyError::Exhausted(_) => "exhausted",
        }
    }

    /// The answer in the client's error shape.
    pub fn into_response(self, shape: ErrorShape) -> Response<Body> {
        let status = self.status();
        let message = self.to_string();
        let retry_after = match &self {
            ProxyError::Exhausted(attempts) if status == StatusCode::TOO_MANY_REQUESTS => {
                attempts.iter().filter_map(|attempt| attempt.retry_after).min()
            }
            ProxyError::Exhausted(_)
            | ProxyError::Unauthorized
            | ProxyError::NotFound(_)
            | ProxyError::MethodNotAllowed
            | ProxyError::BodyTooLarge(_)
            | ProxyError::BadRequest(_)
            | ProxyError::RequestTimeout
            | ProxyError::Loop => None,
        };
        let mut response = error_response(shape, status, &message, self.class());
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// 502, unless every provider that was sent the request answered the same status
/// (then that status, e.g. 429 so the client backs off, or 401 so it refreshes a login).
fn exhausted_status(attempts: &[Attempt]) -> StatusCode {
    let mut sent = attempts.iter().filter(|attempt| attempt.sent).peekable();
    let Some(first) = sent.peek().and_then(|attempt| attempt.status) else {
        return StatusCode::BAD_GATEWAY;
    };
    if sent.all(|attempt| attempt.status == Some(first)) {
        StatusCode::from_u16(first).unwrap_or(StatusCode::BAD_GATEWAY)
    } else {
        StatusCode::BAD_GATEWAY
    }
}

/// A JSON error in `shape`.
pub fn error_response(shape: ErrorShape, status: StatusCode, message: &str, code: &str) -> Response<Body> {
    let body = match shape {
        ErrorShape::OpenAi => serde_json::json!({
            "error": {"message": message, "type": openai_type(status), "code": code}
        }),
        ErrorShape::Anthropic => serde_json::json!({
            "type": "error",
            "error": {"type": anthropic_type(status), "message": message}
        }),
    };
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => "authentication_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "upstream_error",
    }
}

fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus
/// `host` and `content-length`, which the outgoing side sets itself.
static HOP_BY_HOP: [HeaderName; 10] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HOST,
];

/// Where `name` (lower-case) is in [`HOP_BY_HOP`], if it is a hop-by-hop header.
fn hop_by_hop_at(name: &str) -> Option<usize> {
    // By length first (the lengths of the names in HOP_BY_HOP; the test below has them
    // all): most names are of none of them.
    if matches!(name.len(), 2 | 4 | 7 | 10 | 16 | 17 | 18 | 19) {
        HOP_BY_HOP.iter().position(|hop| hop.as_str() == name)
    } else {
        None
    }
}

/// `name` (lower-case) is a hop-by-hop header, one [`strip_hop_by_hop`] removes.
pub fn is_hop_by_hop(name: &str) -> bool {
    hop_by_hop_at(name).is_some()
}

/// The names the `Connection` headers list (trimmed, as written).
pub fn connection_listed(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}

/// Remove every hop-by-hop header from `headers`, in place.
///
/// Runs on every request and response: only the fixed names that are there are removed
/// (a request always has `Host`), and nothing is allocated unless `Connection` names
/// headers other than the fixed ones (`HeaderName::from_bytes` lower-cases them, as the
/// fixed list is).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names first: an answer usually has none of them.
    let mut present = [false; HOP_BY_HOP.len()];
    for name in headers.keys() {
        if let Some(at) = hop_by_hop_at(name.as_str()) {
            present[at] = true;
        }
    }
    // `Connection` is the first of them.
    let listed: Vec<HeaderName> = if present[0] {
        connection_listed(headers)
            .filter(|token| !HOP_BY_HOP.iter().any(|hop| hop.as_str().eq_ignore_ascii_case(token)))
            .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
            .collect()
    } else {
        Vec::new()
    };
    for (name, _) in HOP_BY_HOP.iter().zip(present).filter(|(_, here)| *here) {
        headers.remove(name);
    }
    for name in listed {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_stripped() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("keep-alive, X-Custom-Hop"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-custom-hop", HeaderValue::from_static("1"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("proxy-authorization", HeaderValue::from_static("Basic x"));
        headers.insert("host", HeaderValue::from_static("127.0.0.1"));
        headers.insert("anthropic-beta", HeaderValue::from_static("oauth-2025-04-20"));
        headers.insert("session-id", HeaderValue::from_static("s1"));
        for name in &HOP_BY_HOP {
            headers.append(name, HeaderValue::from_static("x"));
        }
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, vec!["anthropic-beta", "session-id"]);
    }

    #[test]
    fn exhausted_status_rules() {
        let attempt = |status: Option<u16>, sent: bool| Attempt {
            provider: "p".into(),
            reason: "r".into(),
            status,
            sent,
            retry_after: None,
        };
        assert_eq!(exhausted_status(&[]), StatusCode::BAD_GATEWAY);
        assert_eq!(
            exhausted_status(&[attempt(Some(429), true), attempt(Some(429), true)]),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            exhausted_status(&[attempt(None, false), attempt(Some(429), true)]),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            exhausted_status(&[attempt(Some(500), true), attempt(None, true)]),
            StatusCode::BAD_GATEWAY
        );
    }

    #[test]
    fn shapes() {
        let response = error_response(ErrorShape::Anthropic, StatusCode::TOO_MANY_REQUESTS, "m", "c");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(ErrorShape::for_api(Some(Api::Messages)), ErrorShape::Anthropic);
        assert_eq!(ErrorShape::for_api(None), ErrorShape::OpenAi);
    }
}
