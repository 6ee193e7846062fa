//! One attempt against one link of the chain: build the upstream request
//! ([`super::upstream`]), send it, judge the answer, and either commit the response to the
//! client as a tapped stream ([`super::body`]) or report why the next link should be tried.
//!
//! The conversion stage sits here, between "the chain picked a link" and "bytes go
//! upstream": when the link does not speak the request's API, the body is converted on the
//! way up and the stream on the way back; otherwise the bytes pass through untouched.
//!
//! Invariants:
//! - Until [`attempt`] returns `Committed`, no byte has been sent to the client, so the
//!   caller may still fail over. After it, errors pass through as they are.
//! - The response body is never collected: chunks go to the client as they arrive; only
//!   the first SSE events are held back, until the first content event, an error event,
//!   [`PEEK_LIMIT`] bytes, or the end of the stream.
//! - Provider keys are only ever put in outgoing headers marked sensitive, and are
//!   redacted from any upstream error text that is echoed back.
//! - Dropping the response body (the client went away) drops the upstream stream, which
//!   closes the upstream connection.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, Method, Response, StatusCode, header};
use futures_util::StreamExt;

use super::body::{Draft, TappedBody, Watch};
use super::error::{Attempt, ErrorShape, strip_hop_by_hop};
use super::failover::{Failure, Link, PickedKey, UpstreamUrl, parse_retry_after};
use super::streamed::{BodyWatch, StreamedBody};
use super::tap::Tap;
use super::transport::{ErrorKind, OutBody, UpstreamError, UpstreamResponse};
use super::upstream::{rewrite_model, upstream_headers, upstream_url};
use super::usage::UsageRow;
use super::{ChainEntry, Request, Route, State};
use crate::providers::Api;

/// At most this many bytes of SSE are held back while looking for the first content event.
pub(super) const PEEK_LIMIT: usize = 256 << 10;
/// How much of a failed upstream's body is read for the error message.
const ERROR_BODY_LIMIT: usize = 4096;

/// The result of one attempt.
pub enum Attempted {
    /// The response is on its way to the client; no failover from here on.
    Committed(Response<Body>),
    /// Try the next link; the reason goes into the final error.
    Failed(Attempt),
}

/// Try `link` once: through the conversion stage when it does not speak the request's
/// API, else as a pass-through.
///
/// `headers` are the client's headers (cleaned) for this attempt: the caller's last
/// attempt moves them in, earlier ones get a copy (failover may need them again).
pub async fn attempt(
    state: &State,
    link: &Link,
    request: &Request,
    headers: HeaderMap,
    attempts_so_far: u32,
) -> Attempted {
    if let ChainEntry::Provider(provider) = &link.entry {
        match request.route {
            Route::Responses | Route::Chat | Route::Messages | Route::Gemini => {
                let client_api = request.route.api().unwrap_or(Api::Chat);
                if let Some(upstream_api) = crate::providers::chain::upstream_api(provider, client_api)
                    .filter(|api| *api != client_api)
                {
                    return super::converted::attempt(
                        state,
                        link,
                        provider,
                        request,
                        headers,
                        upstream_api,
                        attempts_so_far,
                    )
                    .await;
                }
            }
            Route::CountTokens if !provider.speaks(Api::Messages) => {
                return super::converted::count_tokens_locally(request, link);
            }
            Route::GeminiCountTokens if !provider.speaks(Api::Gemini) => {
                return super::converted::count_tokens_locally(request, link);
            }
            Route::GeminiModels if !provider.speaks(Api::Gemini) => {
                return super::converted::gemini_models_locally(request, link, provider);
            }
            Route::CountTokens | Route::Models | Route::GeminiCountTokens | Route::GeminiModels => {}
        }
    }
    pass_through(state, link, request, headers, attempts_so_far, None).await
}

/// Try the one link that can serve `request` with its body passed on as it arrives (see
/// [`super::streamed`]; [`super::failover::Chain::streams_to`] picked the link: it speaks
/// the request's API and sends the model as asked).
pub async fn attempt_streamed(
    state: &State,
    link: &Link,
    request: &Request,
    headers: HeaderMap,
    body: StreamedBody,
) -> Attempted {
    pass_through(state, link, request, headers, 0, Some(body)).await
}

/// Try `link` once with the request as it is (only `model` mapped); `streamed` is the
/// body when it is passed on as it arrives (then `request.body` is empty, and the model
/// and the stream flag are known once it has passed).
async fn pass_through(
    state: &State,
    link: &Link,
    request: &Request,
    headers: HeaderMap,
    attempts_so_far: u32,
    streamed: Option<StreamedBody>,
) -> Attempted {
    let key = link.pick_key();
    let model_sent = match &link.entry {
        ChainEntry::Official => request.model.clone(),
        ChainEntry::Provider(provider) => provider.map_model(request.model.as_deref()),
    };
    let anthropic_client = headers.contains_key(super::upstream::ANTHROPIC_VERSION);
    let (url, api_for_credentials) = upstream_url(link, request, anthropic_client, model_sent.as_deref());
    // The Gemini API has the model in the path (mapped in the URL), not in the body.
    let body = if model_sent == request.model || api_for_credentials == Api::Gemini {
        request.body.clone()
    } else {
        model_sent
            .as_deref()
            .and_then(|model| rewrite_model(&request.body, model))
            .unwrap_or_else(|| request.body.clone())
    };
    let headers = upstream_headers(state, link, headers, key.as_ref(), api_for_credentials);
    let fail = |reason: String, status: Option<u16>, retry_after: Option<Duration>| {
        failed(link, key.as_ref(), reason, status, retry_after)
    };

    let watch = streamed.as_ref().map(StreamedBody::watch);
    let body = match streamed {
        Some(streamed) => Some(OutBody::Streamed(Box::new(streamed))),
        None => (request.method != Method::GET).then_some(OutBody::Whole(Some(body))),
    };
    let sent =
        send(link, request, request.method.clone(), url, headers, body, key.as_ref(), watch.clone()).await;
    // What the scan of a streamed body found: the model as asked (and sent: such a link
    // maps none).
    let scanned = watch.as_ref().and_then(BodyWatch::model);
    let Sent { response, status, ttfb_ms } = match sent {
        Ok(sent) => sent,
        Err((reason, status, retry_after)) => {
            // A body the client broke off, or one too slow, is the client's.
            if let Some(error) = watch.as_ref().and_then(BodyWatch::take_refused) {
                return Attempted::Committed(error.into_response(ErrorShape::for_api(request.route.api())));
            }
            return fail(reason, status, retry_after);
        }
    };
    let model_sent = model_sent.or_else(|| scanned.clone());
    let UpstreamResponse { headers: response_headers, hop_by_hop, body: mut upstream, .. } = response;
    let is_sse = response_headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));
    let api = request.route.api().unwrap_or(api_for_credentials);
    let mut tap = Tap::new(api, is_sse, request.started);
    let mut held = VecDeque::new();
    let mut ended = false;
    if is_sse && status.is_success() {
        // Hold the stream back until it shows content or an error, so that an error
        // event before any content can still fail over (cc-switch #7425).
        let deadline = tokio::time::Instant::now() + link.idle_within();
        let mut held_bytes = 0;
        while tap.first_content.is_none() && tap.error.is_none() && held_bytes < PEEK_LIMIT {
            match tokio::time::timeout_at(deadline, upstream.next()).await {
                Err(_) => {
                    return fail(format!("no content within {}", human(link.idle_within())), None, None);
                }
                Ok(None) => {
                    ended = true;
                    break;
                }
                Ok(Some(Err(error))) => {
                    return fail(format!("stream broke before any content: {}", error.short()), None, None);
                }
                Ok(Some(Ok(chunk))) => {
                    tap.feed(&chunk);
                    held_bytes += chunk.len();
                    held.push_back(chunk);
                }
            }
        }
        if let Some(message) = tap.error.take() {
            let message = short_text(&redact(&message, key.as_ref().map(|key| key.value)));
            return fail(format!("error event before any content: {message}"), Some(status.as_u16()), None);
        }
        if ended && tap.first_content.is_none() {
            // Nothing reached the client yet: the next link may still answer.
            return fail("the stream ended before any content".to_string(), Some(status.as_u16()), None);
        }
    } else if status.is_success() {
        // A JSON answer: an empty body is no answer, and nothing has reached the client.
        let declared_empty = response_headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim() == "0");
        if declared_empty {
            return fail("an empty answer".to_string(), Some(status.as_u16()), None);
        }
        match tokio::time::timeout(link.idle_within(), upstream.next()).await {
            Err(_) => return fail(format!("no body within {}", human(link.idle_within())), None, None),
            Ok(None) => return fail("an empty answer".to_string(), Some(status.as_u16()), None),
            Ok(Some(Err(error))) => {
                return fail(format!("the body broke before any byte: {}", error.short()), None, None);
            }
            Ok(Some(Ok(chunk))) => {
                tap.feed(&chunk);
                held.push_back(chunk);
            }
        }
    }
    link.succeeded();

    // With a Content-Length, the client's connection stops polling the body once that
    // many bytes went out and never sees its end: the record is finished when the last
    // byte is handed over.
    let content_length = response_headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let mut response_builder = Response::builder().status(status);
    if let Some(headers) = response_builder.headers_mut() {
        *headers = response_headers;
        if hop_by_hop {
            strip_hop_by_hop(headers);
        }
        if let Some(value) = &link.name_header {
            headers.insert(HeaderName::from_static("x-aigate-provider"), value.clone());
        }
    }
    let mut row = UsageRow {
        error_class: (!status.is_success()).then(|| format!("http_{}", status.as_u16())),
        ..request.usage_row(
            api,
            &link.name,
            model_sent.clone(),
            status.as_u16(),
            is_sse,
            ttfb_ms,
            attempts_so_far + 1,
        )
    };
    if row.model_requested.is_none() {
        row.model_requested = scanned;
    }
    let tapped = TappedBody {
        held,
        upstream: if ended { None } else { Some(upstream) },
        failed: None,
        watch: Watch::Tap(tap),
        idle: link.idle_within(),
        last_chunk: Instant::now(),
        sleep: None,
        // The model list is bookkeeping, not usage.
        draft: (!matches!(request.route, Route::Models | Route::GeminiModels)).then(|| Draft {
            sink: state.usage.clone(),
            row,
            started: request.started,
        }),
        outcome: None,
        remaining: content_length,
        done: false,
        carry: super::body::Gather::default(),
        rounds: 0,
        round: None,
    };
    let response = response_builder
        .body(Body::from_stream(tapped))
        .unwrap_or_else(|_| Response::new(Body::from("aigate: bad upstream response head")));
    Attempted::Committed(response)
}

/// An answer's head, from [`send`].
pub(super) struct Sent {
    pub(super) response: UpstreamResponse,
    pub(super) status: StatusCode,
    /// From the request's arrival to the answer's headers.
    pub(super) ttfb_ms: i64,
}

/// Send one attempt's request and wait for its headers: the answer, or why the next link
/// should be tried (reason, status, `Retry-After`): no headers in time, a connection
/// error, or a status that moves on ([`should_fail_over`], its body's error text redacted).
#[allow(clippy::too_many_arguments)]
pub(super) async fn send(
    link: &Link,
    request: &Request,
    method: Method,
    url: UpstreamUrl,
    headers: HeaderMap,
    body: Option<OutBody>,
    key: Option<&PickedKey<'_>>,
    streamed: Option<BodyWatch>,
) -> Result<Sent, (String, Option<u16>, Option<Duration>)> {
    let sending = link.send(method, url, headers, body);
    let mut headers_within = link.headers_within(request.stream);
    // `None`: no answer's head in time.
    let answer = match streamed {
        None => tokio::time::timeout(headers_within, sending).await.ok(),
        Some(watch) => {
            // The time to the answer's head counts from the body's end (its stream flag is
            // known then); until then the body's deadlines apply, and an upstream that
            // stops reading it still gets no more than the body's whole time plus that.
            tokio::pin!(sending);
            let bound = tokio::time::sleep_until(watch.deadline + headers_within);
            tokio::select! {
                biased;
                answer = &mut sending => Some(answer),
                () = bound => None,
                () = watch.ended() => {
                    let stream = watch.stream().unwrap_or(request.stream);
                    headers_within = link.headers_within(stream);
                    tokio::time::timeout(headers_within, sending).await.ok()
                }
            }
        }
    };
    let response = match answer {
        None => return Err((format!("no response headers within {}", human(headers_within)), None, None)),
        Some(Err(error)) => return Err((describe_send_error(&error), None, None)),
        Some(Ok(response)) => response,
    };
    let ttfb_ms = request.started.elapsed().as_millis() as i64;
    let status = response.status;
    if should_fail_over(status) {
        let retry_after = response
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let text = read_error_text(response, key.map(|key| key.value)).await;
        let mut reason = format!("HTTP {}", status.as_u16());
        if let Some(seconds) = retry_after {
            reason = format!("{reason}, retry after {}s", seconds.as_secs());
        }
        if !text.is_empty() {
            reason = format!("{reason}: {text}");
        }
        return Err((reason, Some(status.as_u16()), retry_after));
    }
    Ok(Sent { response, status, ttfb_ms })
}

/// A link that was sent the request and did not serve it: it cools down (the key too,
/// for 401/403/429), and the reason goes into the final error.
pub(super) fn failed(
    link: &Link,
    key: Option<&PickedKey<'_>>,
    reason: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
) -> Attempted {
    link.failed(Failure { status, retry_after, key: key.map(|key| key.index) });
    Attempted::Failed(Attempt {
        provider: link.name.clone(),
        reason,
        status,
        sent: true,
        retry_after: retry_after.map(|duration| duration.as_secs()),
    })
}

/// 429, 5xx, 401 and 403 move on to the next link; other statuses are the answer.
pub(super) fn should_fail_over(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 403 | 429) || status.is_server_error()
}

pub(super) async fn read_error_text(response: UpstreamResponse, key: Option<&str>) -> String {
    let mut stream = response.body;
    let mut collected = Vec::new();
    let read = async {
        while let Some(Ok(chunk)) = stream.next().await {
            collected.extend_from_slice(&chunk);
            if collected.len() >= ERROR_BODY_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    collected.truncate(ERROR_BODY_LIMIT);
    let text = match serde_json::from_slice::<serde_json::Value>(&collected) {
        Ok(value) => value
            .pointer("/error/message")
            .or_else(|| value.get("message"))
            .or_else(|| value.get("error"))
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| String::from_utf8_lossy(&collected).into_owned(), str::to_string),
        Err(_) => String::from_utf8_lossy(&collected).into_owned(),
    };
    // Redact first, then cut: a key the cut splits must not reach the client minus its
    // last characters.
    short_text(&redact(&text.split_whitespace().collect::<Vec<_>>().join(" "), key))
}

/// At most [`ERROR_TEXT_LIMIT`] characters of an upstream's error text.
pub(super) fn short_text(text: &str) -> String {
    text.chars().take(ERROR_TEXT_LIMIT).collect()
}

/// How much of an upstream's error text is shown.
const ERROR_TEXT_LIMIT: usize = 300;

/// Replace a key that an upstream echoed in its error text, whole or in part: any run of
/// [`KEY_PREFIX_SHOWN`] or more of its leading characters (an upstream that quotes a key
/// cut short still quotes a secret).
pub(super) fn redact(text: &str, key: Option<&str>) -> String {
    let Some(key) = key.filter(|key| key.len() >= KEY_PREFIX_SHOWN) else {
        return text.to_string();
    };
    let masked = crate::output::mask_secret(key);
    let needle = &key[..KEY_PREFIX_SHOWN];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(needle) {
        out.push_str(&rest[..at]);
        let candidate = &rest[at..];
        let mut matched = candidate.bytes().zip(key.bytes()).take_while(|(a, b)| a == b).count();
        while !candidate.is_char_boundary(matched) {
            matched -= 1;
        }
        out.push_str(&masked);
        rest = &candidate[matched..];
    }
    out.push_str(rest);
    out
}

/// A run of this many leading characters of a key counts as the key.
const KEY_PREFIX_SHOWN: usize = 8;

pub(super) fn describe_send_error(error: &UpstreamError) -> String {
    match error.kind {
        ErrorKind::Connect => format!("connection failed: {}", error.short()),
        ErrorKind::Other => format!("request failed: {}", error.short()),
    }
}

pub(super) fn human(duration: Duration) -> String {
    if duration.as_millis() % 1000 == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_statuses() {
        for status in [401, 403, 429, 500, 502, 503, 529] {
            assert!(should_fail_over(StatusCode::from_u16(status).unwrap()), "{status}");
        }
        for status in [200, 400, 404, 413, 422] {
            assert!(!should_fail_over(StatusCode::from_u16(status).unwrap()), "{status}");
        }
    }

    #[test]
    fn keys_are_redacted() {
        assert_eq!(
            redact("bad key sk-abcdefghijklmnop1234", Some("sk-abcdefghijklmnop1234")),
            "bad key sk-…1234"
        );
        // A key the upstream quoted cut short, and one at the very end of the text.
        let key = "sk-abcdefghijklmnop1234";
        assert_eq!(redact("key sk-abcdefgh… is invalid", Some(key)), "key sk-…1234… is invalid");
        assert_eq!(redact("x sk-abcdefghijk", Some(key)), "x sk-…1234");
        assert_eq!(redact("nothing here", Some(key)), "nothing here");
    }

    #[test]
    fn a_long_error_is_redacted_before_it_is_cut() {
        let key = "sk-0123456789abcdefghijklmnopqrstuv";
        let text = format!("{}{key} more", "x".repeat(ERROR_TEXT_LIMIT - 10));
        let shown = short_text(&redact(&text, Some(key)));
        assert!(!shown.contains("sk-0123456"), "{shown}");
    }
}
