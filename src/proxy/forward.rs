//! One attempt against one link of the chain: build the upstream request (URL, headers,
//! credentials, mapped model), send it, judge the answer, and either commit the response
//! to the client as a tapped stream or report why the next link should be tried.
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
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, header};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::ChainEntry;
use super::error::{Attempt, strip_hop_by_hop};
use super::failover::{Failure, Link, parse_retry_after};
use super::server::{Request, Route, State};
use super::tap::Tap;
use super::usage::{UsageRow, UsageSink, cost};
use crate::providers::Api;

/// At most this many bytes of SSE are held back while looking for the first content event.
const PEEK_LIMIT: usize = 256 << 10;
/// How much of a failed upstream's body is read for the error message.
const ERROR_BODY_LIMIT: usize = 4096;

/// The header carrying the ids of the aigate instances a request to a loopback upstream
/// went through, comma-separated.
pub const HOP_HEADER: &str = "x-aigate-hop";

type Upstream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// The result of one attempt.
pub enum Attempted {
    /// The response is on its way to the client; no failover from here on.
    Committed(Response<Body>),
    /// Try the next link; the reason goes into the final error.
    Failed(Attempt),
}

/// Try `link` once.
pub async fn attempt(state: &State, link: &Link, request: &Request, attempts_so_far: u32) -> Attempted {
    let key = link.pick_key();
    let (url, api_for_credentials) = upstream_url(state, link, request);
    let model_sent = match &link.entry {
        ChainEntry::Official => request.model.clone(),
        ChainEntry::Provider(provider) => provider.map_model(request.model.as_deref()),
    };
    let body = if model_sent == request.model {
        request.body.clone()
    } else {
        model_sent
            .as_deref()
            .and_then(|model| rewrite_model(&request.body, model))
            .unwrap_or_else(|| request.body.clone())
    };
    let headers = upstream_headers(
        state,
        link,
        request,
        key.as_ref().map(|key| key.value.as_str()),
        api_for_credentials,
    );
    let fail = |reason: String, status: Option<u16>, retry_after: Option<Duration>| {
        link.failed(Failure { status, retry_after, key: key.as_ref().map(|key| key.index) });
        Attempted::Failed(Attempt {
            provider: link.name.clone(),
            reason,
            status,
            sent: true,
            retry_after: retry_after.map(|duration| duration.as_secs()),
        })
    };

    let mut builder = link.client.request(request.method.clone(), &url).headers(headers);
    if request.method != Method::GET {
        builder = builder.body(body);
    }
    let sent = tokio::time::timeout(link.header_timeout, builder.send()).await;
    let response = match sent {
        Err(_) => {
            return fail(format!("no response headers within {}", human(link.header_timeout)), None, None);
        }
        Ok(Err(error)) => return fail(describe_send_error(&error), None, None),
        Ok(Ok(response)) => response,
    };
    let ttfb_ms = request.started.elapsed().as_millis() as i64;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_retry_after);
    if should_fail_over(status) {
        let text = read_error_text(response, key.as_ref().map(|key| key.value.as_str())).await;
        let mut reason = format!("HTTP {}", status.as_u16());
        if let Some(seconds) = retry_after {
            reason = format!("{reason}, retry after {}s", seconds.as_secs());
        }
        if !text.is_empty() {
            reason = format!("{reason}: {text}");
        }
        return fail(reason, Some(status.as_u16()), retry_after);
    }

    let response_headers = response.headers().clone();
    let is_sse = response_headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));
    let api = request.route.api().unwrap_or(api_for_credentials);
    let mut tap = Tap::new(api, is_sse, request.started);
    let mut upstream: Upstream = Box::pin(response.bytes_stream());
    let mut held = VecDeque::new();
    let mut ended = false;
    if is_sse && status.is_success() {
        // Hold the stream back until it shows content or an error, so that an error
        // event before any content can still fail over (cc-switch #7425).
        let deadline = tokio::time::Instant::now() + link.header_timeout;
        let mut held_bytes = 0;
        while tap.first_content.is_none() && tap.error.is_none() && held_bytes < PEEK_LIMIT {
            match tokio::time::timeout_at(deadline, upstream.next()).await {
                Err(_) => {
                    return fail(format!("no content within {}", human(link.header_timeout)), None, None);
                }
                Ok(None) => {
                    ended = true;
                    break;
                }
                Ok(Some(Err(error))) => {
                    return fail(
                        format!("stream broke before any content: {}", short_error(&error)),
                        None,
                        None,
                    );
                }
                Ok(Some(Ok(chunk))) => {
                    tap.feed(&chunk);
                    held_bytes += chunk.len();
                    held.push_back(chunk);
                }
            }
        }
        if let Some(message) = tap.error.take() {
            let message = redact(&message, key.as_ref().map(|key| key.value.as_str()));
            return fail(format!("error event before any content: {message}"), Some(status.as_u16()), None);
        }
    }
    link.succeeded();

    // With a Content-Length, hyper stops polling the body once that many bytes went out
    // and never sees its end: the record is finished when the last byte is handed over.
    let content_length = response_headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let mut response_builder = Response::builder().status(status);
    if let Some(headers) = response_builder.headers_mut() {
        *headers = response_headers;
        strip_hop_by_hop(headers);
        if let Ok(value) = HeaderValue::from_str(&link.name) {
            headers.insert(HeaderName::from_static("x-aigate-provider"), value);
        }
    }
    let row = UsageRow {
        ts_ms: request.ts_ms,
        request_id: request.request_id.clone(),
        session_id: request.session_id.clone(),
        client: request.client.clone(),
        api: Some(api.name().to_string()),
        provider: Some(link.name.clone()),
        model_requested: request.model.clone(),
        model_sent: model_sent.clone(),
        status: Some(status.as_u16()),
        stream: is_sse,
        ttfb_ms: Some(ttfb_ms),
        error_class: (!status.is_success()).then(|| format!("http_{}", status.as_u16())),
        attempts: attempts_so_far + 1,
        ..UsageRow::default()
    };
    let tapped = TappedBody {
        held,
        upstream: if ended { None } else { Some(upstream) },
        failed: None,
        tap,
        idle: link.header_timeout,
        last_chunk: Instant::now(),
        sleep: None,
        // The model list is bookkeeping, not usage.
        draft: (request.route != Route::Models).then(|| Draft {
            sink: state.usage.clone(),
            row,
            started: request.started,
        }),
        outcome: None,
        remaining: content_length,
    };
    let response = response_builder
        .body(Body::from_stream(tapped))
        .unwrap_or_else(|_| Response::new(Body::from("aigate: bad upstream response head")));
    Attempted::Committed(response)
}

/// 429, 5xx, 401 and 403 move on to the next link; other statuses are the answer.
fn should_fail_over(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 403 | 429) || status.is_server_error()
}

/// The upstream URL, and the API whose credential style applies.
fn upstream_url(state: &State, link: &Link, request: &Request) -> (String, Api) {
    let anthropic_client = request.headers.contains_key("anthropic-version");
    let (base, api) = match (&link.entry, request.route) {
        (ChainEntry::Official, Route::Messages | Route::CountTokens) => {
            (format!("{}/v1", state.official.anthropic.trim_end_matches('/')), Api::Messages)
        }
        (ChainEntry::Official, Route::Models) if anthropic_client => {
            (format!("{}/v1", state.official.anthropic.trim_end_matches('/')), Api::Messages)
        }
        (ChainEntry::Official, Route::Responses | Route::Models) => {
            let base = if state.official.codex_chatgpt_login {
                &state.official.chatgpt
            } else {
                &state.official.openai
            };
            (base.trim_end_matches('/').to_string(), Api::Responses)
        }
        (ChainEntry::Official, Route::Chat) => {
            (state.official.openai.trim_end_matches('/').to_string(), Api::Chat)
        }
        (ChainEntry::Provider(provider), route) => {
            let api = route.api().unwrap_or(if anthropic_client && provider.speaks(Api::Messages) {
                Api::Messages
            } else {
                provider.apis.first().copied().unwrap_or(Api::Chat)
            });
            (provider.base_for(api).to_string(), api)
        }
    };
    let mut url = base;
    url.push_str(&request.suffix);
    if let Some(query) = &request.query {
        url.push('?');
        url.push_str(query);
    }
    (url, api)
}

fn upstream_headers(state: &State, link: &Link, request: &Request, key: Option<&str>, api: Api) -> HeaderMap {
    let mut headers = request.headers.clone();
    match &link.entry {
        ChainEntry::Official => {}
        ChainEntry::Provider(_) => {
            // The provider's key replaces whatever the client sent; the client's login
            // (and its account id) is none of a third party's business.
            for name in ["authorization", "x-api-key", "chatgpt-account-id", "cookie"] {
                headers.remove(name);
            }
            if let Some(key) = key {
                let value = match api {
                    Api::Messages => HeaderValue::from_str(key),
                    Api::Responses | Api::Chat => HeaderValue::from_str(&format!("Bearer {key}")),
                };
                if let Ok(mut value) = value {
                    value.set_sensitive(true);
                    let name = match api {
                        Api::Messages => HeaderName::from_static("x-api-key"),
                        Api::Responses | Api::Chat => header::AUTHORIZATION,
                    };
                    headers.insert(name, value);
                }
            }
            if api == Api::Messages && !headers.contains_key("anthropic-version") {
                headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
            }
        }
    }
    // Identity, so the tap can read usage; SSE is rarely compressed anyway.
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    if link.loopback {
        // Append our id to the ids of the aigates this request already went through, so
        // that any of them recognises it coming back (A → B → A), not just the last one.
        let hops = match headers.get(HOP_HEADER).and_then(|value| value.to_str().ok()) {
            Some(earlier) => format!("{earlier},{}", state.instance_id),
            None => state.instance_id.clone(),
        };
        if let Ok(value) = HeaderValue::from_str(&hops) {
            headers.insert(HeaderName::from_static(HOP_HEADER), value);
        }
    } else {
        headers.remove(HOP_HEADER);
    }
    headers
}

/// Replace the top-level `model` of a JSON body, keeping every other byte of each field.
pub fn rewrite_model(body: &[u8], model: &str) -> Option<Bytes> {
    let raw: raw_fields::Fields = serde_json::from_slice(body).ok()?;
    let mut out = Vec::with_capacity(body.len() + model.len());
    out.push(b'{');
    let mut first = true;
    let mut wrote_model = false;
    let encoded = serde_json::to_string(model).ok()?;
    for (name, value) in &raw.0 {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(serde_json::to_string(name).ok()?.as_bytes());
        out.push(b':');
        if name == "model" {
            out.extend_from_slice(encoded.as_bytes());
            wrote_model = true;
        } else {
            out.extend_from_slice(value.get().as_bytes());
        }
    }
    if !wrote_model {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"model\":");
        out.extend_from_slice(encoded.as_bytes());
    }
    out.push(b'}');
    Some(Bytes::from(out))
}

mod raw_fields {
    //! A JSON object as an ordered list of raw fields (no re-encoding of values).
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;

    pub(super) struct Fields(pub(super) Vec<(String, Box<RawValue>)>);

    impl<'de> Deserialize<'de> for Fields {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct FieldsVisitor;
            impl<'de> Visitor<'de> for FieldsVisitor {
                type Value = Fields;
                fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    formatter.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                    let mut fields = Vec::new();
                    while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                        fields.push(entry);
                    }
                    Ok(Fields(fields))
                }
            }
            deserializer.deserialize_map(FieldsVisitor)
        }
    }
}

async fn read_error_text(response: reqwest::Response, key: Option<&str>) -> String {
    let mut stream = response.bytes_stream();
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
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect();
    redact(&text, key)
}

/// Replace a key that an upstream echoed in its error text.
fn redact(text: &str, key: Option<&str>) -> String {
    match key {
        Some(key) if key.len() >= 4 && text.contains(key) => {
            text.replace(key, &crate::output::mask_secret(key))
        }
        Some(_) | None => text.to_string(),
    }
}

fn describe_send_error(error: &reqwest::Error) -> String {
    if error.is_connect() {
        format!("connection failed: {}", short_error(error))
    } else if error.is_timeout() {
        "connect timed out".to_string()
    } else {
        format!("request failed: {}", short_error(error))
    }
}

/// The innermost cause, without the URL (which is ours anyway, but keeps messages short).
fn short_error(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

fn human(duration: Duration) -> String {
    if duration.as_millis() % 1000 == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// What the usage row of a committed response needs at the end.
struct Draft {
    sink: UsageSink,
    row: UsageRow,
    started: Instant,
}

/// The response body: held-back chunks first, then the upstream as it comes, every chunk
/// shown to the tap; the usage row is sent when the body ends or is dropped.
///
/// Chunks that are already available are sent together (up to [`COALESCE_LIMIT`]): an
/// upstream that writes one SSE event per chunk would otherwise cost one `writev` per
/// event. Nothing waits for more data, so this adds no latency.
struct TappedBody {
    held: VecDeque<Bytes>,
    upstream: Option<Upstream>,
    /// An upstream error seen after some data; reported on the next poll.
    failed: Option<reqwest::Error>,
    tap: Tap,
    idle: Duration,
    last_chunk: Instant,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    draft: Option<Draft>,
    outcome: Option<&'static str>,
    /// Bytes still to hand over when the upstream declared a Content-Length.
    remaining: Option<u64>,
}

/// Available chunks are merged up to this size.
const COALESCE_LIMIT: usize = 64 << 10;

/// One chunk, or several copied into one buffer (only when there is more than one).
#[derive(Default)]
struct Gather {
    first: Option<Bytes>,
    more: Option<bytes::BytesMut>,
}

impl Gather {
    fn push(&mut self, chunk: Bytes) {
        if let Some(more) = self.more.as_mut() {
            more.extend_from_slice(&chunk);
        } else if let Some(first) = self.first.take() {
            let mut more = bytes::BytesMut::with_capacity((first.len() + chunk.len()).max(8192));
            more.extend_from_slice(&first);
            more.extend_from_slice(&chunk);
            self.more = Some(more);
        } else {
            self.first = Some(chunk);
        }
    }

    fn len(&self) -> usize {
        self.more.as_ref().map_or_else(|| self.first.as_ref().map_or(0, Bytes::len), bytes::BytesMut::len)
    }

    fn take(self) -> Option<Bytes> {
        self.more.map(bytes::BytesMut::freeze).or(self.first)
    }
}

impl TappedBody {
    fn finish(&mut self) {
        self.upstream = None;
        let Some(Draft { sink, mut row, started }) = self.draft.take() else {
            return;
        };
        let tokens = self.tap.finish();
        row.ttft_ms = self.tap.ttft_ms();
        row.duration_ms = Some(started.elapsed().as_millis() as i64);
        row.input_tokens = tokens.input;
        row.output_tokens = tokens.output;
        row.cached_tokens = tokens.cached;
        let model = row.model_sent.clone().or_else(|| row.model_requested.clone());
        row.cost_usd = model.and_then(|model| cost(&model, tokens.input, tokens.output, tokens.cached));
        if let Some(outcome) = self.outcome {
            row.error_class = Some(outcome.to_string());
        }
        sink.record(row);
    }

    fn fail(&mut self, error: &reqwest::Error) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        self.outcome = Some("upstream_stream_error");
        let message = short_error(error);
        self.finish();
        Poll::Ready(Some(Err(std::io::Error::other(format!("upstream stream failed: {message}")))))
    }
}

impl Stream for TappedBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(error) = this.failed.take() {
            return this.fail(&error);
        }
        let mut gathered = Gather::default();
        while let Some(chunk) = this.held.pop_front() {
            gathered.push(chunk);
        }
        while gathered.len() < COALESCE_LIMIT {
            let Some(upstream) = this.upstream.as_mut() else {
                break;
            };
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.tap.feed(&chunk);
                    this.last_chunk = Instant::now();
                    gathered.push(chunk);
                }
                Poll::Ready(Some(Err(error))) => {
                    if gathered.len() == 0 {
                        return this.fail(&error);
                    }
                    this.failed = Some(error);
                    break;
                }
                Poll::Ready(None) => {
                    this.upstream = None;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if let Some(bytes) = gathered.take() {
            if let Some(remaining) = this.remaining.as_mut() {
                *remaining = remaining.saturating_sub(bytes.len() as u64);
                if *remaining == 0 {
                    this.finish();
                }
            }
            return Poll::Ready(Some(Ok(bytes)));
        }
        if this.upstream.is_none() {
            this.finish();
            return Poll::Ready(None);
        }
        // Nothing available. The idle timer is re-armed only when it fires early, so a
        // busy stream costs no timer operation per chunk.
        loop {
            let deadline = tokio::time::Instant::from_std(this.last_chunk + this.idle);
            let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            match sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if this.last_chunk.elapsed() >= this.idle => {
                    this.outcome = Some("stream_idle_timeout");
                    this.finish();
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "upstream stream went idle",
                    ))));
                }
                Poll::Ready(()) => {
                    let soonest = tokio::time::Instant::now() + Duration::from_millis(1);
                    sleep.as_mut().reset(deadline.max(soonest));
                }
            }
        }
    }
}

impl Drop for TappedBody {
    fn drop(&mut self) {
        if self.draft.is_some() {
            self.outcome.get_or_insert("client_disconnected");
            self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_other_fields_verbatim() {
        let body = br#"{"model":"gpt-5","input":[{"a": 1.50}],"stream":true}"#;
        assert_eq!(
            rewrite_model(body, "deepseek-chat").unwrap(),
            Bytes::from_static(br#"{"model":"deepseek-chat","input":[{"a": 1.50}],"stream":true}"#)
        );
        assert_eq!(rewrite_model(br#"{"x":1}"#, "m").unwrap(), Bytes::from_static(br#"{"x":1,"model":"m"}"#));
        assert!(rewrite_model(b"not json", "m").is_none());
    }

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
    }
}
