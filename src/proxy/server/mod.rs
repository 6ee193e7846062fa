//! Routes, the local token, and the walk down the chain for one request: the walk is
//! here, the routes in `routes.rs`, the client's headers and the local token in
//! `headers.rs`, what the body asks for (model, stream, images) in `inspect.rs`.
//!
//! Invariants:
//! - Every answer carries `X-Request-ID`.
//! - Every request except `GET /health` must carry the local token (`Authorization:
//!   Bearer`, `x-api-key`, `x-goog-api-key`, `x-aigate-token`, or on a Gemini API route
//!   `?key=`), compared in constant time. The token never goes upstream: `x-aigate-token` is
//!   always removed, every header value carrying it is removed, and so is every query pair
//!   carrying it (and a Gemini API route's `key`).
//! - Only the allow-listed routes are served (with or without the `/v1` prefix; the Gemini
//!   API's under `/v1beta`, `/v1alpha` or `/v1`).
//! - The request body is read (bounded by the body limit, else 413) because failover must
//!   be able to send it again, and because the model may be mapped.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Response, header};
use bytes::Bytes;
use http_body_util::BodyExt;

use super::error::{ErrorShape, ProxyError};
use super::forward::{self, Attempted};
use super::inbound::RequestBody;
use super::streamed::StreamedBody;
use super::usage::UsageRow;
use super::{Request, Route, State};

mod headers;
mod inspect;
mod routes;

use headers::{Screened, remove_token, screen, strip_hops, token_matches};
use inspect::inspect_body;
use routes::{gemini_route, match_route, split_query_key};

/// Serve one request.
pub async fn handle(state: Arc<State>, request: axum::http::Request<RequestBody>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let mut seen = screen(&state, &parts.headers);
    // The client's own id is kept (so its logs and ours agree); one is made only when
    // missing or unusable.
    let request_id = seen.request_id.take().unwrap_or_else(|| new_request_id(&state));
    let mut response = match handle_inner(&state, parts, body, seen, &request_id).await {
        Ok(response) => response,
        Err((error, shape)) => error.into_response(shape),
    };
    // The id's own bytes become the header value (no copy).
    if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(request_id)) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

async fn handle_inner(
    state: &State,
    parts: axum::http::request::Parts,
    body: RequestBody,
    seen: Screened,
    request_id: &str,
) -> Result<Response<Body>, (ProxyError, ErrorShape)> {
    let started = Instant::now();
    let ts_ms = crate::db::now_ms();
    let path = parts.uri.path();
    if matches!(path, "/health" | "/healthz" | "/v1/health" | "/v1/healthz") {
        if parts.method == Method::GET || parts.method == Method::HEAD {
            let mut response = Response::new(Body::from("ok"));
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            return Ok(response);
        }
        return Err((ProxyError::MethodNotAllowed, ErrorShape::OpenAi));
    }
    let (route, suffix) = if let Some(found) = gemini_route(&parts.method, path) {
        found.map_err(|error| (error, ErrorShape::OpenAi))?
    } else {
        let suffix =
            path.strip_prefix("/v1").filter(|rest| rest.starts_with('/')).unwrap_or(path).to_string();
        let guessed_shape =
            if suffix.starts_with("/messages") { ErrorShape::Anthropic } else { ErrorShape::OpenAi };
        (match_route(&parts.method, &suffix).map_err(|error| (error, guessed_shape))?, suffix)
    };
    let shape = ErrorShape::for_api(route.api());
    if seen.looped {
        return Err((ProxyError::Loop, shape));
    }
    let gemini = route.api() == Some(crate::providers::Api::Gemini);
    let (query, query_key) = split_query_key(parts.uri.query(), gemini, &state.token);
    if !(seen.authorized | query_key.is_some_and(|key| token_matches(state, key.as_bytes()))) {
        return Err((ProxyError::Unauthorized, shape));
    }
    let declared = body.declared_length();
    if declared.is_some_and(|length| length > state.body_limit as u64) {
        return Err((ProxyError::BodyTooLarge(state.body_limit), shape));
    }
    // A large body that only one link can take is passed on as it arrives; any other is
    // read whole first (failover may send it again, the model may be mapped).
    let streamed_to = declared
        .filter(|length| {
            *length >= STREAM_FROM
                && parts.method == Method::POST
                && matches!(route, Route::Responses | Route::Chat | Route::Messages | Route::Gemini)
        })
        .and_then(|length| Some((state.chain.streams_to(route.api())?, length)));
    let (body, streamed) = match streamed_to {
        Some((index, length)) => {
            (bytes::Bytes::new(), Some((index, StreamedBody::new(body, length, &state.body_timeouts))))
        }
        None => (
            read_body(body, state.body_limit, declared, &state.body_timeouts)
                .await
                .map_err(|error| (error, shape))?,
            None,
        ),
    };
    let mut headers = parts.headers;
    if seen.hops {
        strip_hops(&mut headers);
    }
    if seen.token {
        remove_token(state.token_finder(), &mut headers);
    }
    let (mut model, has_images, mut stream) = inspect_body(&body, state.chain.any_blind);
    if gemini {
        // The Gemini API names the model and the stream in the path, not the body.
        if let Some((path_model, method)) = crate::convert::gemini_path(&suffix) {
            model = Some(path_model.to_string());
            stream = method == "streamGenerateContent";
        }
    }
    let client = state.client.or(seen.client);
    let session_id = state.session_id.clone().or(seen.session_id);
    let mut request = Request {
        route,
        method: parts.method,
        suffix,
        query,
        headers,
        body,
        model,
        has_images,
        stream,
        started,
        ts_ms,
        request_id: request_id.to_string(),
        session_id,
        client,
    };

    if let Some((index, body)) = streamed {
        let link = &state.chain.links[index];
        let headers = std::mem::take(&mut request.headers);
        return match forward::attempt_streamed(state, link, &request, headers, body).await {
            Attempted::Committed(response) => Ok(response),
            Attempted::Failed(attempt) => {
                let error = ProxyError::Exhausted(vec![attempt]);
                record_exhausted(state, &request, &error, 1);
                Err((error, shape))
            }
        };
    }
    let (order, mut attempts) = state.chain.plan(route.api(), request.has_images);
    let mut sent = 0;
    let last = order.len().saturating_sub(1);
    for (position, index) in order.into_iter().enumerate() {
        let link = &state.chain.links[index];
        // The last link to try gets the client's headers moved in; the ones before get a
        // copy, since the next link needs them again.
        let headers =
            if position == last { std::mem::take(&mut request.headers) } else { request.headers.clone() };
        match forward::attempt(state, link, &request, headers, sent).await {
            Attempted::Committed(response) => return Ok(response),
            Attempted::Failed(attempt) => {
                sent += 1;
                attempts.push(attempt);
            }
        }
    }
    let error = ProxyError::Exhausted(attempts);
    record_exhausted(state, &request, &error, sent);
    Err((error, shape))
}

/// The usage row of a request no link served.
fn record_exhausted(state: &State, request: &Request, error: &ProxyError, sent: u32) {
    let ProxyError::Exhausted(attempts) = error else {
        return;
    };
    let last = attempts.iter().rev().find(|attempt| attempt.sent).map(|attempt| attempt.provider.clone());
    state.usage.record(UsageRow {
        ts_ms: request.ts_ms,
        request_id: request.request_id.clone(),
        session_id: request.session_id.clone(),
        client: request.client,
        api: request.route.api().map(crate::providers::Api::name),
        provider: last,
        model_requested: request.model.clone(),
        status: Some(error.status().as_u16()),
        duration_ms: Some(request.started.elapsed().as_millis() as i64),
        error_class: Some(error.class().to_string()),
        attempts: sent,
        ..UsageRow::default()
    });
}

/// A body declared at least this long is passed on as it arrives when only one link can
/// take it: a small one arrives in one read anyway. A body of no declared length is read
/// whole, so that the upstream gets a Content-Length (some refuse chunked requests).
const STREAM_FROM: u64 = 256 << 10;

/// How long a request body may take: between two chunks, and in all.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeouts {
    pub idle: std::time::Duration,
    pub total: std::time::Duration,
}

impl Default for BodyTimeouts {
    fn default() -> Self {
        Self { idle: std::time::Duration::from_secs(30), total: std::time::Duration::from_secs(300) }
    }
}

/// Read the whole request body: at most `limit` bytes (else 413), no gap longer than
/// `timeouts.idle` and no longer than `timeouts.total` in all (else 408), so a client that
/// announces a body and never sends it cannot hold a connection. A body of several chunks
/// with a declared length is gathered into one buffer of that size: growing it by doubling
/// would copy a 10 MB body several times and hold up to 1.5x of it at the peak.
async fn read_body(
    mut body: RequestBody,
    limit: usize,
    declared: Option<u64>,
    timeouts: &BodyTimeouts,
) -> Result<bytes::Bytes, ProxyError> {
    let deadline = tokio::time::Instant::now() + timeouts.total;
    let mut collected = bytes::BytesMut::new();
    let mut first: Option<bytes::Bytes> = None;
    loop {
        let idle = tokio::time::Instant::now() + timeouts.idle;
        let frame = match tokio::time::timeout_at(idle.min(deadline), body.frame()).await {
            Err(_) => return Err(ProxyError::RequestTimeout),
            Ok(None) => break,
            Ok(Some(Err(error))) => return Err(ProxyError::BadRequest(error.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        let total = first.as_ref().map_or(0, bytes::Bytes::len) + collected.len() + data.len();
        if total > limit {
            return Err(ProxyError::BodyTooLarge(limit));
        }
        // One chunk (the usual small request) is kept as it is, without a copy.
        match first.take() {
            None if collected.is_empty() => first = Some(data),
            None => collected.extend_from_slice(&data),
            Some(earlier) => {
                let expected = declared.map_or(0, |length| length.min(limit as u64) as usize);
                collected.reserve(expected.max(earlier.len() + data.len()));
                collected.extend_from_slice(&earlier);
                collected.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| collected.freeze()))
}

/// `aig-<instance>-<counter>`: unique per proxy run without a syscall per request.
fn new_request_id(state: &State) -> String {
    let sequence = state.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Sized once: `aig-`, the instance id, `-` and at most 20 digits (put together by
    // hand: `write!` cost more than the rest of the id).
    let mut id = String::with_capacity(state.instance_id.len() + 25);
    id.push_str("aig-");
    id.push_str(&state.instance_id);
    id.push('-');
    for digit in super::wire::decimal(sequence, &mut [0; 20]) {
        id.push(char::from(*digit));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn test_state(token: &str) -> State {
        let official = super::super::OfficialUpstreams {
            openai: "http://127.0.0.1:9/v1".into(),
            chatgpt: "http://127.0.0.1:9/c".into(),
            anthropic: "http://127.0.0.1:9".into(),
            codex_chatgpt_login: false,
        };
        State {
            token: token.into(),
            token_finder: std::sync::OnceLock::new(),
            chain: super::super::failover::Chain::new(&[super::super::ChainEntry::Official], &official)
                .unwrap(),
            official,
            usage: super::super::usage::UsageSink::start(std::path::PathBuf::from("/nonexistent")),
            body_limit: 1 << 20,
            body_timeouts: BodyTimeouts::default(),
            client: None,
            session_id: None,
            instance_id: "me".into(),
            hop: HeaderValue::from_static("me"),
            responses: crate::convert::ResponseCache::new(),
            requests: std::sync::atomic::AtomicU64::new(0),
        }
    }

    #[test]
    fn a_request_id_is_made_of_the_instance_and_a_counter() {
        let state = test_state("t");
        state.requests.store(u64::MAX - 1, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(new_request_id(&state), format!("aig-me-{}", u64::MAX - 1));
        assert_eq!(new_request_id(&state), format!("aig-me-{}", u64::MAX));
        assert_eq!(new_request_id(&state), "aig-me-0");
    }
}
