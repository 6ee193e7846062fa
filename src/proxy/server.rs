//! Routes, the local token, and the walk down the chain for one request.
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

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Response, header};
use bytes::Bytes;
use http_body_util::BodyExt;
use memchr::memmem;
use subtle::ConstantTimeEq;

use super::error::{ErrorShape, ProxyError, strip_hop_by_hop};
use super::forward::{self, Attempted};
use super::inbound::RequestBody;
use super::streamed::StreamedBody;
use super::usage::UsageRow;
use super::{HOP_HEADER, Request, Route, State};

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

fn match_route(method: &Method, suffix: &str) -> Result<Route, ProxyError> {
    let route = match suffix {
        "/responses" | "/responses/compact" => Route::Responses,
        "/chat/completions" => Route::Chat,
        "/messages" => Route::Messages,
        "/messages/count_tokens" => Route::CountTokens,
        "/models" => Route::Models,
        other if other.starts_with("/models/") && !other[8..].is_empty() => Route::Models,
        other => return Err(ProxyError::NotFound(other.to_string())),
    };
    let expected = match route {
        Route::Models | Route::GeminiModels => Method::GET,
        Route::Responses
        | Route::Chat
        | Route::Messages
        | Route::CountTokens
        | Route::Gemini
        | Route::GeminiCountTokens => Method::POST,
    };
    if *method == expected { Ok(route) } else { Err(ProxyError::MethodNotAllowed) }
}

/// The Gemini API routes, with their version prefix (`/v1beta`, `/v1alpha`, or `/v1` for a
/// `POST .../models/{model}:{method}`) taken off the suffix; `None` for any other path.
fn gemini_route(method: &Method, path: &str) -> Option<Result<(Route, String), ProxyError>> {
    const METHODS: [&str; 3] = ["generateContent", "streamGenerateContent", "countTokens"];
    let (versioned, rest) = ["/v1beta", "/v1alpha", "/v1"].iter().find_map(|version| {
        path.strip_prefix(version).filter(|rest| rest.starts_with('/')).map(|rest| (*version, rest))
    })?;
    let colon_method = crate::convert::gemini_path(rest).map(|(_, name)| name);
    // `/v1` is the OpenAI and Anthropic prefix too: only a Gemini API method makes it Gemini.
    if versioned == "/v1"
        && !(*method == Method::POST && colon_method.is_some_and(|name| METHODS.contains(&name)))
    {
        return None;
    }
    let route = match colon_method {
        Some("generateContent" | "streamGenerateContent") => Route::Gemini,
        Some("countTokens") => Route::GeminiCountTokens,
        Some(other) => return Some(Err(ProxyError::NotFound(format!("{versioned}{rest} ({other})")))),
        None if rest == "/models" || rest.len() > "/models/".len() && rest.starts_with("/models/") => {
            Route::GeminiModels
        }
        None => return Some(Err(ProxyError::NotFound(format!("{versioned}{rest}")))),
    };
    let expected = if route == Route::GeminiModels { Method::GET } else { Method::POST };
    if *method != expected {
        return Some(Err(ProxyError::MethodNotAllowed));
    }
    Some(Ok((route, rest.to_string())))
}

/// The query without its `key` parameter on a Gemini API route (its other place for a
/// key), and that key; on every route, a pair whose name or value carries the local token
/// is dropped too, so the token never goes upstream in a URL.
fn split_query_key(query: Option<&str>, gemini: bool, token: &str) -> (Option<String>, Option<String>) {
    let Some(query) = query else { return (None, None) };
    let mut key = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            // One pair, decoded as a form would be (percent escapes, `+`); borrowed when
            // there is nothing to decode.
            let Some((name, value)) = url::form_urlencoded::parse(pair.as_bytes()).next() else {
                return false;
            };
            if gemini && name == "key" {
                key = Some(value.into_owned());
                return false;
            }
            !name.contains(token) && !value.contains(token)
        })
        .collect();
    ((!kept.is_empty()).then(|| kept.join("&")), key)
}

/// Whether this instance already handled the request (its id is in the hop list), or the
/// list is implausibly long.
fn seen_before(state: &State, hops: &HeaderValue) -> bool {
    let Ok(hops) = hops.to_str() else {
        return false;
    };
    let ids: Vec<&str> = hops.split(',').map(str::trim).collect();
    ids.len() > MAX_HOPS || ids.contains(&state.instance_id.as_str())
}

/// More aigates than this in a row is a loop we could not otherwise see.
const MAX_HOPS: usize = 8;

fn token_matches(state: &State, candidate: &[u8]) -> bool {
    equal_in_constant_time(candidate, state.token.as_bytes())
}

/// `a == b` in a time that depends on their lengths only, compared a word at a time with
/// subtle's `u64` comparison (its byte-slice one guards every byte on its own, which cost
/// more than the rest of the token check).
fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut same = a_words.remainder().ct_eq(b_words.remainder());
    let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().unwrap_or_default());
    for (x, y) in a_words.zip(b_words) {
        same &= word(x).ct_eq(&word(y));
    }
    same.into()
}

fn bearer(value: &HeaderValue) -> Option<&[u8]> {
    let bytes = value.as_bytes();
    (bytes.len() > 7 && bytes[..7].eq_ignore_ascii_case(b"bearer ")).then(|| bytes[7..].trim_ascii())
}

/// What one pass over the client's headers tells: a lookup in the map for each question
/// (and a removal for each header that may be there) cost more than the pass.
#[derive(Debug, Default)]
struct Screened {
    /// The client's `x-request-id` (its first), when it is usable as ours.
    request_id: Option<String>,
    /// The local token is in `Authorization: Bearer`, `x-api-key`, `x-goog-api-key` or
    /// `x-aigate-token` (every value of each is compared, in constant time).
    authorized: bool,
    /// The hop list names this instance, or too many.
    looped: bool,
    /// A header [`strip_hops`] removes is there.
    hops: bool,
    /// A value carries the local token ([`remove_token`]).
    token: bool,
    /// The client its `User-Agent` names.
    client: Option<&'static str>,
    /// The session the client names.
    session_id: Option<Arc<str>>,
}

fn screen(state: &State, headers: &HeaderMap) -> Screened {
    let token = state.token_finder();
    let mut seen = Screened::default();
    let mut request_id = None;
    let mut agent = None;
    // Where a client without a session of ours names its own: `session-id`,
    // `x-claude-code-session-id`, `x-session-id`, in this order.
    let mut sessions: [Option<&HeaderValue>; 3] = [None; 3];
    let mut connection = false;
    for (name, value) in headers {
        // The agent and the session are read from what the clean leaves (a value that
        // carries the token goes, and so does a header `Connection` lists); the token, the
        // hop list and the id from what the client sent.
        let carries = carries_token(token, value);
        seen.token |= carries;
        // Every place is checked (no early exit), so timing does not tell which matched.
        match name.as_str() {
            "authorization" => {
                if let Some(candidate) = bearer(value) {
                    seen.authorized |= token_matches(state, candidate);
                }
            }
            "x-api-key" | "x-goog-api-key" => {
                seen.authorized |= token_matches(state, value.as_bytes().trim_ascii());
            }
            "x-aigate-token" => {
                seen.authorized |= token_matches(state, value.as_bytes().trim_ascii());
                seen.hops = true;
            }
            HOP_HEADER => seen.looped |= seen_before(state, value),
            "x-request-id" => {
                request_id.get_or_insert(value);
            }
            "user-agent" if !carries => {
                agent.get_or_insert(value);
            }
            "content-length" => seen.hops = true,
            "session-id" if !carries => {
                sessions[0].get_or_insert(value);
            }
            "x-claude-code-session-id" if !carries => {
                sessions[1].get_or_insert(value);
            }
            "x-session-id" if !carries => {
                sessions[2].get_or_insert(value);
            }
            "connection" => {
                connection = true;
                seen.hops = true;
            }
            other => seen.hops |= super::error::is_hop_by_hop(other),
        }
    }
    if connection {
        // Rare: a `Connection` that names headers (the head codec keeps no other).
        let listed = |name: &str| {
            headers
                .get_all(header::CONNECTION)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .any(|value| value.split(',').any(|token| token.trim().eq_ignore_ascii_case(name)))
        };
        if listed("user-agent") {
            agent = None;
        }
        for (slot, name) in
            sessions.iter_mut().zip(["session-id", "x-claude-code-session-id", "x-session-id"])
        {
            if listed(name) {
                *slot = None;
            }
        }
    }
    seen.request_id = request_id
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|byte| byte.is_ascii_graphic()))
        .map(str::to_string);
    if state.client.is_none() {
        seen.client = agent.and_then(client_from_user_agent);
    }
    if state.session_id.is_none() {
        seen.session_id = sessions.iter().flatten().find_map(|value| value.to_str().ok()).map(Into::into);
    }
    seen
}

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

const AIGATE_TOKEN: axum::http::HeaderName = axum::http::HeaderName::from_static("x-aigate-token");

/// Drop hop-by-hop headers, the body length (set again on the way out), and the local
/// token wherever it is: every value of every header that carries it, alone, as a bearer
/// token, or inside a longer value, is removed. (A request does the parts of it that
/// [`screen`] found work for.)
#[cfg(test)]
fn clean_token_and_hops(token: &memmem::Finder<'_>, headers: &mut HeaderMap) {
    strip_hops(headers);
    remove_token(token, headers);
}

/// Drop hop-by-hop headers, the body length and `x-aigate-token`.
fn strip_hops(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(AIGATE_TOKEN);
}

/// A value that carries the local token: a value shorter than the token cannot (most of
/// them), and one that ends in it (the token alone, or after `Bearer `) needs no search.
fn carries_token(token: &memmem::Finder<'_>, value: &HeaderValue) -> bool {
    let value = value.as_bytes();
    value.len() >= token.needle().len() && (value.ends_with(token.needle()) || token.find(value).is_some())
}

/// Drop every value that carries the local token.
fn remove_token(token: &memmem::Finder<'_>, headers: &mut HeaderMap) {
    let carries = |value: &HeaderValue| carries_token(token, value);
    // A client usually sends it in one header of one value (`Authorization`,
    // `x-api-key`): that header goes whole, without a list of the values kept.
    while let Some(name) = headers.iter().find(|(_, value)| carries(value)).map(|(name, _)| name.clone()) {
        if headers.get_all(&name).iter().all(carries) {
            headers.remove(&name);
            continue;
        }
        let kept: Vec<HeaderValue> =
            headers.get_all(&name).iter().filter(|value| !carries(value)).cloned().collect();
        headers.remove(&name);
        for value in kept {
            headers.append(name.clone(), value);
        }
    }
}

/// The requested model, whether the body carries an image, and the stream flag. The image
/// check is structural (a content part whose `type` is an image type), so a tool property
/// named `image` is not an image; the tree is only built when an image type's name
/// appears, and the body is only scanned for images when `images_matter` (some link of
/// the chain cannot read them: the only use of the answer), else it is `false`.
fn inspect_body(body: &[u8], images_matter: bool) -> (Option<String>, bool, bool) {
    let (model, stream) = skim_model_and_stream(body).unwrap_or_else(|| peek_model_and_stream(body));
    let model = model.map(Cow::into_owned);
    let may_have_images = images_matter && names_an_image_type(body);
    let has_images = may_have_images
        && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|value| {
            ["input", "messages", "contents"].iter().any(|key| value.get(key).is_some_and(has_image_part))
        });
    (model, has_images, stream)
}

/// The top-level `model` and `stream` of a JSON body, read by serde: nothing of either
/// when the body is no object with a string (or `null`) model and a boolean (or `null`)
/// stream.
fn peek_model_and_stream(body: &[u8]) -> (Option<Cow<'_, str>>, bool) {
    #[derive(serde::Deserialize)]
    struct Peek<'a> {
        #[serde(borrow)]
        model: Option<Cow<'a, str>>,
        stream: Option<bool>,
    }
    match serde_json::from_slice::<Peek<'_>>(body) {
        Ok(peek) => (peek.model, peek.stream.unwrap_or(false)),
        Err(_) => (None, false),
    }
}

/// [`peek_model_and_stream`] by the skim (`skim::top_level`): the top level walked, and
/// only the two values read. `None` leaves the body to serde: the skim cannot vouch for it,
/// a key is there twice, or a value is not a plain string, boolean or `null` (an escape or
/// a control character in the model, anything else in the stream).
fn skim_model_and_stream(body: &[u8]) -> Option<(Option<Cow<'_, str>>, bool)> {
    let [model, stream] = super::skim::values_of(body, [b"model", b"stream"])?;
    let model = match model {
        None | Some(b"null") => None,
        Some([b'"', text @ .., b'"']) if !text.iter().any(|byte| *byte == b'\\' || *byte < 0x20) => {
            Some(Cow::Borrowed(std::str::from_utf8(text).ok()?))
        }
        Some(_) => return None,
    };
    let stream = match stream {
        None | Some(b"null" | b"false") => false,
        Some(b"true") => true,
        Some(_) => return None,
    };
    Some((model, stream))
}

/// Whether `"input_image"`, `"image_url"`, `"image"` or `"image/` is in the body: one scan
/// for `image` with a searcher made once (a searcher made per call costs more than the
/// scan of a small body), each hit looked at around.
fn names_an_image_type(body: &[u8]) -> bool {
    static IMAGE: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"image"));
    IMAGE.find_iter(body).any(|at| {
        let (before, after) = (&body[..at], &body[at + b"image".len()..]);
        if before.ends_with(b"\"input_") {
            after.starts_with(b"\"")
        } else {
            before.ends_with(b"\"") && [&b"\""[..], b"_url\"", b"/"].iter().any(|end| after.starts_with(end))
        }
    })
}

/// Whether a message list (or one message, or a content array) holds an image part:
/// Responses `input_image`, Chat `image_url`, Messages `image` (also inside tool results).
fn has_image_part(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Array(items) => items.iter().any(has_image_part),
        serde_json::Value::Object(map) => {
            let typed_image = map
                .get("type")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|kind| matches!(kind, "input_image" | "image_url" | "image"));
            // Gemini API: `{"inlineData": {"mimeType": "image/png", ...}}` (or `fileData`).
            let gemini_image = ["inlineData", "inline_data", "fileData", "file_data"].iter().any(|key| {
                map.get(*key)
                    .and_then(|data| data.get("mimeType").or_else(|| data.get("mime_type")))
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|mime| mime.starts_with("image/"))
            });
            typed_image
                || gemini_image
                || ["content", "output", "parts"].iter().any(|key| map.get(*key).is_some_and(has_image_part))
        }
        _ => false,
    }
}

fn client_from_user_agent(agent: &HeaderValue) -> Option<&'static str> {
    let agent = agent.to_str().ok()?;
    if agent.starts_with("codex") {
        Some("codex")
    } else if agent.starts_with("claude-cli") || agent.starts_with("claude-code") {
        Some("claude")
    } else if agent.starts_with("opencode") {
        Some("opencode")
    } else if agent.starts_with("GeminiCLI") {
        Some("gemini")
    } else {
        None
    }
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

    #[test]
    fn the_token_compare_finds_every_difference_and_every_length() {
        let token = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefXYZ";
        assert!(equal_in_constant_time(token, token));
        assert!(equal_in_constant_time(b"", b""));
        for at in 0..token.len() {
            let mut other = *token;
            other[at] ^= 1;
            assert!(!equal_in_constant_time(&other, token), "a difference at {at}");
            assert!(!equal_in_constant_time(&token[..at], token), "a prefix of {at} bytes");
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

    #[test]
    fn routes() {
        assert_eq!(match_route(&Method::POST, "/responses").unwrap(), Route::Responses);
        assert_eq!(match_route(&Method::POST, "/messages/count_tokens").unwrap(), Route::CountTokens);
        assert_eq!(match_route(&Method::GET, "/models/gpt-5").unwrap(), Route::Models);
        assert!(matches!(match_route(&Method::GET, "/responses"), Err(ProxyError::MethodNotAllowed)));
        assert!(matches!(match_route(&Method::POST, "/admin"), Err(ProxyError::NotFound(_))));
    }

    #[test]
    fn gemini_routes_keep_the_model_path_and_leave_other_v1_paths_alone() {
        let route = |method: &Method, path: &str| gemini_route(method, path).map(Result::unwrap);
        assert_eq!(
            route(&Method::POST, "/v1beta/models/gemini-2.5-pro:streamGenerateContent"),
            Some((Route::Gemini, "/models/gemini-2.5-pro:streamGenerateContent".to_string()))
        );
        assert_eq!(
            route(&Method::POST, "/v1/models/gemini-2.5-pro:generateContent"),
            Some((Route::Gemini, "/models/gemini-2.5-pro:generateContent".to_string()))
        );
        assert_eq!(
            route(&Method::POST, "/v1beta/models/m:countTokens").map(|found| found.0),
            Some(Route::GeminiCountTokens)
        );
        assert_eq!(route(&Method::GET, "/v1beta/models").map(|found| found.0), Some(Route::GeminiModels));
        // Router and provider model ids with a slash, unencoded as the SDK sends them.
        assert_eq!(
            route(&Method::POST, "/v1alpha/models/openai/gpt-4o:streamGenerateContent"),
            Some((Route::Gemini, "/models/openai/gpt-4o:streamGenerateContent".to_string()))
        );
        assert_eq!(
            route(&Method::GET, "/v1beta/models/openai/gpt-4o").map(|found| found.0),
            Some(Route::GeminiModels)
        );
        // OpenAI's model ids may hold colons: a GET under /v1 stays an OpenAI route.
        assert_eq!(route(&Method::GET, "/v1/models/ft:gpt-4o:org:x"), None);
        assert_eq!(route(&Method::POST, "/v1/chat/completions"), None);
        assert!(matches!(
            gemini_route(&Method::GET, "/v1beta/models/m:generateContent"),
            Some(Err(ProxyError::MethodNotAllowed))
        ));
        assert!(matches!(
            gemini_route(&Method::POST, "/v1beta/models/m:embedContent"),
            Some(Err(ProxyError::NotFound(_)))
        ));
    }

    #[test]
    fn the_query_key_is_taken_out() {
        assert_eq!(
            split_query_key(Some("alt=sse&key=sk%2Bx"), true, "tok"),
            (Some("alt=sse".to_string()), Some("sk+x".to_string()))
        );
        assert_eq!(split_query_key(Some("key=t"), true, "tok"), (None, Some("t".to_string())));
        assert_eq!(split_query_key(Some("key=t"), false, "tok"), (Some("key=t".to_string()), None));
        // The local token never rides in a URL, whatever the route or the spelling.
        assert_eq!(
            split_query_key(Some("a=1&%6Bey=tok&x=pre-tok-post&tok=1"), false, "tok"),
            (Some("a=1".to_string()), None)
        );
    }

    #[test]
    fn gemini_inline_images_are_images() {
        let body = br#"{"contents":[{"role":"user","parts":[{"text":"what"},{"inlineData":{"mimeType":"image/png","data":"AA"}}]}]}"#;
        assert!(inspect_body(body, true).1);
        let pdf = br#"{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"application/pdf","data":"AA"}}]}]}"#;
        assert!(!inspect_body(pdf, true).1);
    }

    #[test]
    fn an_image_type_is_named_where_one_of_its_four_spellings_is() {
        let four = |body: &[u8]| {
            [&b"\"input_image\""[..], b"\"image_url\"", b"\"image\"", b"\"image/"]
                .iter()
                .any(|needle| memchr::memmem::find(body, needle).is_some())
        };
        for body in [
            &br#"{"type":"input_image"}"#[..],
            br#"{"type":"image_url"}"#,
            br#"{"type":"image"}"#,
            br#""image/png""#,
            br#"image"image/"#,
            br#"{"text":"an image, images, imagery"}"#,
            br#"{"x":"input_image_url","y":"image_urls","z":"myimage"}"#,
            br#""input_imageimage""#,
            b"image",
            b"",
        ] {
            assert_eq!(names_an_image_type(body), four(body), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn images_are_found_by_structure_not_by_name() {
        // A tool whose schema has a property named `image` carries no image.
        let tool = br#"{"model":"m","tools":[{"type":"function","function":{"name":"t","parameters":{"type":"object","properties":{"image":{"type":"string"},"image_url":{"type":"string"}}}}}],"messages":[{"role":"user","content":"describe \"image\""}]}"#;
        assert_eq!(inspect_body(tool, true), (Some("m".into()), false, false));
        let chat = br#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA"}}]}]}"#;
        assert!(inspect_body(chat, true).1);
        let responses = br#"{"input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"data:x"}]}]}"#;
        assert!(inspect_body(responses, true).1);
        let tool_result = br#"{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA"}}]}]}]}"#;
        assert!(inspect_body(tool_result, true).1);
    }

    #[test]
    fn clean_headers_drops_the_token_wherever_it_is_and_keeps_the_rest() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-aigate-token", "tok-123"),
            ("authorization", "Bearer tok-123"),
            ("x-other", "a"),
            ("x-other", "pre tok-123 post"),
            ("x-custom", "kept"),
            ("connection", "x-hop-me"),
            ("x-hop-me", "1"),
            ("host", "127.0.0.1"),
            ("content-length", "3"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        let mut clean = headers.clone();
        clean_token_and_hops(&memmem::Finder::new("tok-123"), &mut clean);
        let mut left: Vec<(String, String)> = clean
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect();
        left.sort();
        assert_eq!(left, [("x-custom".to_string(), "kept".to_string()), ("x-other".into(), "a".into())]);
        // Nothing carrying it: only the hop-by-hop headers and the length go.
        let mut plain = HeaderMap::new();
        plain.insert("x-custom", HeaderValue::from_static("kept"));
        plain.insert("host", HeaderValue::from_static("h"));
        clean_token_and_hops(&memmem::Finder::new("tok-123"), &mut plain);
        assert_eq!(plain.len(), 1);
        assert_eq!(plain["x-custom"], "kept");
    }

    fn test_state(token: &str) -> State {
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

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn one_pass_over_the_headers_answers_every_question_a_lookup_did() {
        let state = test_state("tok-123");
        let screened = |pairs: &[(&str, &str)]| screen(&state, &map(pairs));
        // The token in each of its places, in any value of the header.
        for (name, value) in [
            ("authorization", "Bearer tok-123"),
            ("authorization", "bearer  tok-123 "),
            ("x-api-key", "tok-123"),
            ("x-goog-api-key", " tok-123"),
            ("x-aigate-token", "tok-123"),
        ] {
            assert!(screened(&[(name, "other"), (name, value)]).authorized, "{name}: {value}");
        }
        for (name, value) in [
            ("authorization", "tok-123"),
            ("x-api-key", "tok-1234"),
            ("x-other", "tok-123"),
            ("cookie", "tok-123"),
        ] {
            let seen = screened(&[(name, value)]);
            assert!(!seen.authorized, "{name}: {value}");
            assert_eq!(seen.token, value.contains("tok-123"), "{name}: {value}");
        }
        // The hop list: this instance in it, or more aigates than a chain can have.
        assert!(screened(&[(HOP_HEADER, "a, me")]).looped);
        assert!(screened(&[(HOP_HEADER, "a"), (HOP_HEADER, "me")]).looped);
        assert!(screened(&[(HOP_HEADER, "1,2,3,4,5,6,7,8,9")]).looped);
        assert!(!screened(&[(HOP_HEADER, "a,b")]).looped);
        // What there is to remove besides the token.
        for name in
            ["connection", "keep-alive", "proxy-authorization", "te", "upgrade", "host", "content-length"]
        {
            assert!(screened(&[(name, "x")]).hops, "{name}");
        }
        assert!(screened(&[("x-aigate-token", "wrong")]).hops);
        assert!(!screened(&[("content-type", "application/json"), ("x-api-key", "k")]).hops);
        // The first usable id, the agent and the session in its names' order; a value that
        // carries the token is not read.
        let seen = screened(&[
            ("x-request-id", " req-1 "),
            ("x-request-id", "req-2"),
            ("user-agent", "claude-cli/2.1 tok-123"),
            ("user-agent", "codex_cli_rs/0.1"),
            ("x-session-id", "s-3"),
            ("session-id", "s-1 tok-123"),
            ("x-claude-code-session-id", "s-2"),
        ]);
        assert_eq!(seen.request_id.as_deref(), Some("req-1"));
        // What `Connection` lists goes with it, so it names neither agent nor session.
        let listed = screened(&[
            ("user-agent", "codex_cli_rs/0.1"),
            ("session-id", "s-1"),
            ("x-session-id", "s-3"),
            ("connection", "User-Agent, session-id"),
        ]);
        assert!(listed.hops);
        assert_eq!((listed.client, listed.session_id.as_deref()), (None, Some("s-3")));
        assert_eq!(seen.client, Some("codex"));
        assert_eq!(seen.session_id.as_deref(), Some("s-2"));
        assert_eq!(screened(&[("x-request-id", "has space")]).request_id, None);
        assert_eq!(screened(&[("x-request-id", &"a".repeat(129))]).request_id, None);
        assert_eq!(screened(&[]).client, None);
    }

    #[test]
    fn the_clean_a_request_does_as_screened_is_the_whole_clean() {
        let state = test_state("tok-123");
        let cases: &[&[(&str, &str)]] = &[
            &[
                ("content-type", "application/json"),
                ("x-api-key", "tok-123"),
                ("authorization", "Bearer tok-123"),
            ],
            &[("x-other", "a"), ("x-other", "pre tok-123 post"), ("x-custom", "kept")],
            &[("connection", "x-hop-me"), ("x-hop-me", "1"), ("host", "h"), ("content-length", "3")],
            &[("x-aigate-token", "wrong"), ("x-custom", "kept")],
            &[("proxy-authorization", "Basic x"), ("anthropic-version", "2023-06-01")],
            &[("x-custom", "kept")],
        ];
        for pairs in cases {
            let mut whole = map(pairs);
            clean_token_and_hops(state.token_finder(), &mut whole);
            let mut screened = map(pairs);
            let seen = screen(&state, &screened);
            if seen.hops {
                strip_hops(&mut screened);
            }
            if seen.token {
                remove_token(state.token_finder(), &mut screened);
            }
            assert_eq!(screened, whole, "{pairs:?}");
        }
    }

    #[test]
    fn the_skim_reads_model_and_stream_as_serde_does() {
        let documents: &[&[u8]] = &[
            br#"{"model": "mock-small", "input": "hi", "stream": false}"#,
            br#"{"stream":true,"model":"gpt-5","input":[{"role":"user","content":[{"type":"input_text","text":"\"model\": {[}]"}]}]}"#,
            br#" { "model" : "a\u00e9\"b" , "stream" : null , "tools" : [ { "name" : "model" } ] } "#,
            br#"{"model":null,"messages":[],"stream":true,"max_tokens":1e3}"#,
            br#"{"model":"m","model":"n"}"#,
            br#"{"model":5,"stream":true}"#,
            br#"{"model":"m","stream":"yes"}"#,
            br#"{"mo\u0064el":"m"}"#,
            b"{\"model\":\"caf\xc3\xa9\",\"stream\":true}",
            b"{\"model\":\"\xff\"}",
            b"{\"model\":\"a\tb\"}",
            b"{}",
            b"[]",
        ];
        let agree = |data: &[u8]| {
            let text = String::from_utf8_lossy(data);
            match (skim_model_and_stream(data), serde_json::from_slice::<serde_json::Value>(data).is_ok()) {
                (Some(skimmed), true) => assert_eq!(skimmed, peek_model_and_stream(data), "{text}"),
                (Some(_), false) => {
                    // Only a document whose brackets pair and strings end, ending with its object.
                    let end = data.iter().rposition(|byte| !byte.is_ascii_whitespace()).unwrap();
                    assert_eq!(data[end], b'}', "{text}");
                }
                (None, _) => {}
            }
        };
        for document in documents {
            agree(document);
            for end in 0..document.len() {
                agree(&document[..end]);
            }
            for at in 0..document.len() {
                for byte in *b"\"\\{}[],:0e-. \ntu\x01" {
                    let mut changed = document.to_vec();
                    changed[at] = byte;
                    agree(&changed);
                }
            }
        }
        assert_eq!(skim_model_and_stream(documents[0]), Some((Some("mock-small".into()), false)));
        assert_eq!(skim_model_and_stream(documents[1]), Some((Some("gpt-5".into()), true)));
        // Left to serde: an escape, a key twice, a value of another type, an escaped key.
        for left in [2, 4, 5, 6, 7, 10] {
            assert_eq!(skim_model_and_stream(documents[left]), None, "{left}");
        }
        assert_eq!(inspect_body(documents[2], false), (Some("a\u{e9}\"b".into()), false, false));
        assert_eq!(inspect_body(documents[5], false), (None, false, false));
    }

    #[test]
    fn body_inspection() {
        assert_eq!(inspect_body(br#"{"stream":true,"model":"m1"}"#, true), (Some("m1".into()), false, true));
        assert_eq!(
            inspect_body(br#"{"messages":[{"content":[{"type":"image","source":{}}]}]}"#, true),
            (None, true, false)
        );
        assert_eq!(inspect_body(b"garbage", true), (None, false, false));
        // With no link that cannot read images, the body is not looked through for them.
        let image = br#"{"model":"m","messages":[{"content":[{"type":"image","source":{}}]}]}"#;
        assert_eq!(inspect_body(image, false), (Some("m".into()), false, false));
        assert!(inspect_body(image, true).1);
    }
}
