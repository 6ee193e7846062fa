//! One attempt against a link that does not speak the request's API: the conversion stage.
//!
//! The request body is converted on the way up ([`crate::convert::convert_request`]); the
//! answer is converted on the way back, event by event ([`StreamConverter`]), into the
//! client's own API. A non-streamed answer is converted whole (it is one JSON document).
//!
//! Invariants (the same as a pass-through attempt's):
//! - Until the attempt returns `Committed`, nothing has reached the client: a converted
//!   stream is held until the converter has decoded its first content, an error, or the
//!   end, so an upstream that fails before content still hands over to the next link.
//! - The upstream's error statuses reach the client in the client's own error shape.
//! - The provider gets only its own key, in its own API's credential header.
//! - The usage row says what really happened (tokens from the upstream's usage, and an
//!   error class for an error event, a cut stream or a malformed chunk).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use bytes::Bytes;
use futures_util::StreamExt;

use super::body::{Draft, TappedBody, Upstream, Watch};
use super::error::Attempt;
use super::failover::Link;
use super::forward::{Attempted, PEEK_LIMIT, Sent, failed, human, redact, send, short_text};
use super::upstream::upstream_headers;
use super::usage::{UsageRow, cost};
use super::{Request, State};
use crate::convert::{self, StreamConverter};
use crate::providers::{Api, Provider};

/// A non-streamed converted answer is read whole, up to this size.
const JSON_ANSWER_LIMIT: usize = 64 << 20;
/// How much of an upstream's error body is converted into the client's error shape.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// Try `link` (a provider that speaks `upstream_api`, not the request's API) once.
pub async fn attempt(
    state: &State,
    link: &Link,
    provider: &Provider,
    request: &Request,
    headers: HeaderMap,
    upstream_api: Api,
    attempts_so_far: u32,
) -> Attempted {
    let Some(client_api) = request.route.api() else {
        return Attempted::Failed(skipped(link, "this route is not converted"));
    };
    let model_sent = provider.map_model(request.model.as_deref());
    let quirks = provider.quirks();
    let path = (client_api == Api::Gemini).then(|| convert::PathInfo {
        model: request.model.as_deref().unwrap_or_default(),
        stream: request.stream,
    });
    let converted = match convert::convert_request_at(
        client_api,
        path,
        upstream_api,
        &request.body,
        model_sent.as_deref(),
        &quirks,
        &state.responses,
    ) {
        Ok(converted) => converted,
        // A request that cannot be converted is the client's to fix (or, for a missing
        // `previous_response_id`, to resend whole): its error, in its own shape.
        Err(error) => return Attempted::Committed(json_response(error.status, error.body)),
    };
    let key = link.pick_key();
    let key_value = key.as_ref().map(|key| key.value);
    let fail = |reason: String, status: Option<u16>, retry_after: Option<Duration>| {
        failed(
            link,
            key.as_ref(),
            format!("{reason} (converted to {})", upstream_api.title()),
            status,
            retry_after,
        )
    };

    let model_for_path = model_sent.as_deref().or(request.model.as_deref()).unwrap_or_default();
    let path = convert::upstream_path(upstream_api, converted.stream, model_for_path);
    // The Gemini stream's `?alt=sse` is a query, not part of the path.
    let (path, query) =
        path.split_once('?').map_or((path.as_str(), None), |(path, query)| (path, Some(query)));
    let url = link.base(upstream_api).join(path, query);
    let mut headers = upstream_headers(state, link, headers, key.as_ref(), upstream_api);
    // The client's own protocol headers mean nothing to an upstream of another API.
    let foreign: Vec<header::HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            (upstream_api != Api::Messages && name.starts_with("anthropic-"))
                || (upstream_api == Api::Messages && name == "openai-beta")
                || (upstream_api != Api::Gemini
                    && (name.starts_with("x-goog-") || name.starts_with("x-gemini-")))
        })
        .cloned()
        .collect();
    for name in foreign {
        headers.remove(&name);
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(if converted.stream { "text/event-stream" } else { "application/json" }),
    );
    let client_stream = converted.ctx.client_stream();
    let ctx = converted.ctx;
    let body = Some(super::transport::OutBody::Whole(Some(bytes::Bytes::from(converted.body))));
    let Sent { response, status, ttfb_ms } =
        match send(link, request, Method::POST, url, headers, body, key.as_ref(), None).await {
            Ok(sent) => sent,
            Err((reason, status, retry_after)) => return fail(reason, status, retry_after),
        };
    let row = request.usage_row(
        client_api,
        &link.name,
        model_sent.clone(),
        status.as_u16(),
        client_stream,
        ttfb_ms,
        attempts_so_far + 1,
    );
    let mut upstream: Upstream = response.body;

    if !status.is_success() {
        // The upstream's answer to this request (400 and the like): the client gets it in
        // its own shape; no other link would answer differently.
        link.succeeded();
        let body =
            read_limited(&mut upstream, ERROR_BODY_LIMIT, link.idle_within()).await.unwrap_or_default();
        let (client_status, client_body) = ctx.convert_error(status.as_u16(), &body);
        let mut row = row;
        row.status = Some(client_status);
        row.error_class = Some(format!("http_{}", status.as_u16()));
        row.duration_ms = Some(request.started.elapsed().as_millis() as i64);
        state.usage.record(row);
        let body = redact(&String::from_utf8_lossy(&client_body), key_value);
        let mut response = json_response(client_status, body.into_bytes());
        if client_status == 200 {
            // A Responses context overflow: `response.failed` in a 200 stream.
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        }
        return Attempted::Committed(with_provider(response, link));
    }

    let mut converter = StreamConverter::new(ctx, upstream_api, client_api, client_stream);
    let content_type = converter.content_type();
    if !client_stream {
        // One JSON document: read it whole, convert it whole.
        let Some(body) = read_limited(&mut upstream, JSON_ANSWER_LIMIT, link.idle_within()).await else {
            return fail("the answer broke or went silent before its end".to_string(), None, None);
        };
        let mut out = Vec::new();
        converter.feed(&body, &mut out);
        converter.finish(&mut out);
        if !converter.content_started() {
            let why = converter
                .error_before_content()
                .or_else(|| converter.outcome().error_message)
                .unwrap_or_else(|| "an answer without content".to_string());
            return fail(short_text(&redact(&why, key_value)), Some(status.as_u16()), None);
        }
        link.succeeded();
        let mut row = row;
        record_outcome(&mut row, &converter, request.started, Some(ttfb_ms));
        state.usage.record(row);
        let mut response = json_response(200, out);
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        return Attempted::Committed(with_provider(response, link));
    }

    // A stream: hold the converted events until the first content (or an error, or the
    // end), so that a failure before content can still move to the next link.
    let mut held = VecDeque::new();
    let mut held_bytes = 0;
    let mut ended = false;
    let deadline = tokio::time::Instant::now() + link.idle_within();
    while !converter.content_started()
        && converter.error_before_content().is_none()
        && held_bytes < PEEK_LIMIT
    {
        match tokio::time::timeout_at(deadline, upstream.next()).await {
            Err(_) => return fail(format!("no content within {}", human(link.idle_within())), None, None),
            Ok(None) => {
                ended = true;
                break;
            }
            Ok(Some(Err(error))) => {
                return fail(format!("stream broke before any content: {}", error.short()), None, None);
            }
            Ok(Some(Ok(chunk))) => {
                held_bytes += chunk.len();
                let mut out = Vec::new();
                converter.feed(&chunk, &mut out);
                if !out.is_empty() {
                    held.push_back(Bytes::from(out));
                }
            }
        }
    }
    if let Some(message) = converter.error_before_content() {
        let message = short_text(&redact(&message, key_value));
        return fail(format!("error event before any content: {message}"), Some(status.as_u16()), None);
    }
    if ended && !converter.content_started() {
        return fail("the stream ended before any content".to_string(), Some(status.as_u16()), None);
    }
    link.succeeded();
    let watch = Watch::convert(converter, request.started);
    let tapped = TappedBody {
        held,
        upstream: Some(upstream),
        failed: None,
        watch,
        idle: link.idle_within(),
        last_chunk: Instant::now(),
        sleep: None,
        draft: Some(Draft { sink: state.usage.clone(), row, started: request.started }),
        outcome: None,
        remaining: None,
        done: false,
        carry: super::body::Gather::default(),
        rounds: 0,
        round: None,
    };
    let mut response = Response::new(Body::from_stream(tapped));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Attempted::Committed(with_provider(response, link))
}

/// `POST /v1/messages/count_tokens` (or the Gemini API's `:countTokens`) for a provider
/// without that endpoint: an estimate made here, and said so in `x-aigate-estimate`.
pub fn count_tokens_locally(request: &Request, link: &Link) -> Attempted {
    let estimate = convert::count_tokens_estimate(&request.body);
    let body = if request.route == super::Route::GeminiCountTokens {
        serde_json::json!({ "totalTokens": estimate })
    } else {
        serde_json::json!({ "input_tokens": estimate })
    };
    let body = body.to_string().into_bytes();
    let mut response = json_response(200, body);
    response.headers_mut().insert("x-aigate-estimate", HeaderValue::from_static("local"));
    Attempted::Committed(with_provider(response, link))
}

/// `GET /v1beta/models[/{model}]` for a provider without the Gemini API: the models this
/// link would serve (its default and mapped ones), in the Gemini API's shape.
pub fn gemini_models_locally(request: &Request, link: &Link, provider: &Provider) -> Attempted {
    let entry = |name: &str| {
        serde_json::json!({
            "name": format!("models/{name}"),
            "displayName": name,
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
        })
    };
    let body = if let Some(name) = request.suffix.strip_prefix("/models/") {
        entry(name.strip_prefix("models/").unwrap_or(name))
    } else {
        let mut names: Vec<&str> = provider.default_model.iter().map(String::as_str).collect();
        names.extend(provider.model_map.keys().map(String::as_str).filter(|name| *name != "*"));
        names.sort_unstable();
        names.dedup();
        serde_json::json!({ "models": names.into_iter().map(entry).collect::<Vec<_>>() })
    };
    Attempted::Committed(with_provider(json_response(200, body.to_string().into_bytes()), link))
}

fn skipped(link: &Link, reason: &str) -> Attempt {
    Attempt {
        provider: link.name.clone(),
        reason: reason.to_string(),
        status: None,
        sent: false,
        retry_after: None,
    }
}

fn json_response(status: u16, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn with_provider(mut response: Response<Body>, link: &Link) -> Response<Body> {
    if let Some(value) = &link.name_header {
        response.headers_mut().insert("x-aigate-provider", value.clone());
    }
    response
}

/// The whole body, at most `limit` bytes, no gap longer than `idle`; `None` when it breaks,
/// goes silent or is too large.
async fn read_limited(upstream: &mut Upstream, limit: usize, idle: Duration) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(idle, upstream.next()).await {
            Err(_) | Ok(Some(Err(_))) => return None,
            Ok(None) => return Some(body),
            Ok(Some(Ok(chunk))) => {
                if body.len() + chunk.len() > limit {
                    return None;
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

/// Tokens, cost, time to first content and error class of a finished conversion.
fn record_outcome(row: &mut UsageRow, converter: &StreamConverter, started: Instant, ttft_ms: Option<i64>) {
    let outcome = converter.outcome();
    let count = |value: u64| i64::try_from(value).ok();
    row.input_tokens = count(outcome.usage.input);
    row.output_tokens = count(outcome.usage.output);
    row.cached_tokens = count(outcome.usage.cached);
    row.ttft_ms = ttft_ms;
    row.duration_ms = Some(started.elapsed().as_millis() as i64);
    let model = row.model_sent.clone().or_else(|| row.model_requested.clone());
    row.cost_usd =
        model.and_then(|model| cost(&model, row.input_tokens, row.output_tokens, row.cached_tokens));
    row.error_class = outcome.error_class.map(str::to_string);
}
