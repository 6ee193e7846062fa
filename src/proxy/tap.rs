//! Watching a response as it passes: an incremental server-sent-events parser over the
//! byte chunks, the classification the failover peek needs (preamble, content, error), and
//! token usage for the three APIs.
//!
//! Invariants: the tap only *reads* the bytes it is shown and never holds more than one
//! partial SSE event (plus a bounded copy of a JSON body, [`JSON_KEEP`], after which only a
//! tail is kept). JSON is parsed only for the few events that can carry usage or an error,
//! so a long stream of deltas costs a string compare per event.

use std::time::Instant;

use bytes::Bytes;
use memchr::memmem;
use serde_json::Value;

use super::counts::{Counts, Field, counts_at, counts_of, skim_counts, top_counts};
use crate::providers::Api;

/// A non-streamed JSON body is copied up to this size for its usage; beyond that only the
/// last [`JSON_TAIL`] bytes are kept (the usage object sits at the end of every API's body).
const JSON_KEEP: usize = 1 << 20;
const JSON_TAIL: usize = 64 << 10;
/// A single SSE event larger than this is not inspected (it still passes through).
const EVENT_LIMIT: usize = 4 << 20;

/// Token counts; `input` includes cached input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub cached: Option<i64>,
    /// Anthropic's cache writes, counted as input.
    pub cache_creation: Option<i64>,
}

impl Tokens {
    /// Apply one usage object (any API's field names); fields present replace earlier ones.
    fn apply(&mut self, usage: &Counts) {
        if let Some(value) = usage.input_tokens.or(usage.prompt_tokens) {
            self.input = Some(value);
        }
        if let Some(value) = usage.output_tokens.or(usage.completion_tokens) {
            self.output = Some(value);
        }
        if let Some(value) = usage
            .input_cached_tokens
            .or(usage.prompt_cached_tokens)
            .or(usage.cache_read_input_tokens)
            .or(usage.prompt_cache_hit_tokens)
        {
            self.cached = Some(value);
        }
        if let Some(value) = usage.cache_creation_input_tokens {
            self.cache_creation = Some(value);
        }
        // Gemini `usageMetadata` (output counts thoughts, as OpenAI's counts reasoning).
        if let Some(value) = usage.prompt_token_count {
            self.input = Some(value);
        }
        if let Some(value) = usage.candidates_token_count {
            self.output = Some(value + usage.thoughts_token_count.unwrap_or(0));
        }
        if let Some(value) = usage.cached_content_token_count {
            self.cached = Some(value);
        }
    }

    /// The final counts: Anthropic reports cache reads and writes beside `input_tokens`.
    #[must_use]
    pub fn finish(self, api: Api) -> Tokens {
        match api {
            Api::Messages => {
                let parts = [self.input, self.cached, self.cache_creation];
                let input = if parts.iter().any(Option::is_some) {
                    Some(parts.iter().map(|part| part.unwrap_or(0)).sum())
                } else {
                    None
                };
                Tokens { input, ..self }
            }
            Api::Responses | Api::Chat | Api::Gemini => self,
        }
    }
}

/// What one SSE event means for failover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// Metadata before any output (`response.created`, `message_start`, `ping`).
    Preamble,
    /// Output has started: commit the response to the client.
    Content,
    /// The upstream failed inside a 200 stream.
    Error(String),
}

/// Everything the tap has seen so far.
#[derive(Debug)]
pub struct Tap {
    api: Api,
    sse: bool,
    started: Instant,
    line: Vec<u8>,
    event: Option<String>,
    data: Vec<u8>,
    data_lines: usize,
    oversized: bool,
    /// A JSON body that came as one chunk: that chunk (shared, not copied).
    json_chunk: Option<Bytes>,
    /// A JSON body of more chunks: a copy of them (bounded, [`JSON_KEEP`]).
    json: Vec<u8>,
    json_truncated: bool,
    tokens: Tokens,
    pub first_content: Option<Instant>,
    /// The first error the upstream reported inside a 200 answer (before or after content).
    pub error: Option<String>,
    /// The stream's terminal event was seen (`response.completed|incomplete|failed`,
    /// `message_stop`, `[DONE]` or a `finish_reason`), or the JSON body is whole.
    pub terminal: bool,
    pub bytes: u64,
}

impl Tap {
    pub fn new(api: Api, sse: bool, started: Instant) -> Self {
        Self {
            api,
            sse,
            started,
            line: Vec::new(),
            event: None,
            data: Vec::new(),
            data_lines: 0,
            oversized: false,
            json_chunk: None,
            json: Vec::new(),
            json_truncated: false,
            tokens: Tokens::default(),
            first_content: None,
            error: None,
            terminal: false,
            bytes: 0,
        }
    }

    pub fn is_sse(&self) -> bool {
        self.sse
    }

    /// Look at the next chunk.
    pub fn feed(&mut self, chunk: &Bytes) {
        self.bytes += chunk.len() as u64;
        if !self.sse {
            if self.first_content.is_none() && !chunk.is_empty() {
                self.first_content = Some(Instant::now());
            }
            self.keep_json(chunk);
            return;
        }
        let mut rest: &[u8] = chunk;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(newline);
            rest = &tail[1..];
            if self.line.is_empty() {
                self.line_done(head);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(head);
                self.line_done(&line);
                line.clear();
                self.line = line;
            }
        }
        if self.line.len() + rest.len() <= EVENT_LIMIT {
            self.line.extend_from_slice(rest);
        } else {
            self.oversized = true;
        }
    }

    /// The end of the body: parse a JSON body's usage and return the final counts.
    pub fn finish(&mut self) -> Tokens {
        if self.sse {
            if !self.line.is_empty() {
                let line = std::mem::take(&mut self.line);
                self.line_done(&line);
            }
            self.dispatch();
        } else {
            let body = match &self.json_chunk {
                Some(chunk) => chunk,
                None => &self.json[..],
            };
            let (complete, usage) = json_body(body, self.json_truncated);
            self.terminal = complete;
            if let Some(usage) = usage {
                self.tokens.apply(&usage);
            }
        }
        self.tokens.finish(self.api)
    }

    /// How the answer ended, for the usage row: `None` when it ended as it should, else
    /// `upstream_error_event` (an error inside a 200 answer, also after content) or
    /// `stream_truncated` (no terminal event, or a JSON body cut short). Call after
    /// [`Tap::finish`].
    pub fn ending(&self) -> Option<&'static str> {
        if self.error.is_some() {
            Some("upstream_error_event")
        } else if !self.terminal {
            Some("stream_truncated")
        } else {
            None
        }
    }

    /// Milliseconds from the start of the request to the first content.
    pub fn ttft_ms(&self) -> Option<i64> {
        self.first_content.map(|at| at.duration_since(self.started).as_millis() as i64)
    }

    fn keep_json(&mut self, chunk: &Bytes) {
        if chunk.is_empty() {
            return;
        }
        // (A truncated copy is never empty.)
        if self.json.is_empty() && self.json_chunk.is_none() {
            self.json_chunk = Some(chunk.clone());
            return;
        }
        if let Some(first) = self.json_chunk.take() {
            self.json.extend_from_slice(&first);
        }
        self.json.extend_from_slice(chunk);
        if self.json.len() > JSON_KEEP {
            let cut = self.json.len() - JSON_TAIL;
            self.json.drain(..cut);
            self.json_truncated = true;
        }
    }

    fn line_done(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if let Some(value) = line.strip_prefix(b"data:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if self.data_lines > 0 {
                self.data.push(b'\n');
            }
            if self.data.len() + value.len() <= EVENT_LIMIT {
                self.data.extend_from_slice(value);
            } else {
                self.oversized = true;
            }
            self.data_lines += 1;
        } else if let Some(value) = line.strip_prefix(b"event:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            self.event = Some(String::from_utf8_lossy(value).into_owned());
        }
    }

    fn dispatch(&mut self) {
        if self.data_lines == 0 && self.event.is_none() {
            return;
        }
        let event = self.event.take();
        let data = std::mem::take(&mut self.data);
        self.data_lines = 0;
        if std::mem::take(&mut self.oversized) {
            self.mark(EventKind::Content);
        } else {
            let kind = self.inspect(event.as_deref(), &data);
            self.mark(kind);
        }
        let mut data = data;
        data.clear();
        self.data = data;
    }

    fn mark(&mut self, kind: EventKind) {
        match kind {
            EventKind::Preamble => {}
            EventKind::Content => {
                if self.first_content.is_none() {
                    self.first_content = Some(Instant::now());
                }
            }
            EventKind::Error(message) => {
                if self.error.is_none() {
                    self.error = Some(message);
                }
            }
        }
    }

    /// Classify one event and take any usage it carries.
    fn inspect(&mut self, event: Option<&str>, data: &[u8]) -> EventKind {
        let name: Option<std::borrow::Cow<'_, str>> = match event {
            Some(name) => Some(name.into()),
            None if matches!(self.api, Api::Responses | Api::Messages) => type_field(data).map(Into::into),
            None => None,
        };
        match self.api {
            Api::Responses => match name.as_deref() {
                Some("response.created" | "response.in_progress") => EventKind::Preamble,
                Some("response.completed" | "response.incomplete") => {
                    self.terminal = true;
                    if let Some(usage) = counts_at(data, &[Field::Response, Field::Usage]) {
                        self.tokens.apply(&usage);
                    }
                    EventKind::Content
                }
                Some("response.failed" | "error") => {
                    self.terminal = true;
                    let value = parse(data);
                    if let Some(usage) = value.as_ref().and_then(|value| value.pointer("/response/usage")) {
                        self.tokens.apply(&counts_of(usage));
                    }
                    EventKind::Error(error_message(value.as_ref(), data))
                }
                Some(_) | None => EventKind::Content,
            },
            Api::Messages => match name.as_deref() {
                Some("ping") => EventKind::Preamble,
                Some("message_start") => {
                    if let Some(usage) = counts_at(data, &[Field::Message, Field::Usage]) {
                        self.tokens.apply(&usage);
                    }
                    EventKind::Preamble
                }
                Some("message_delta") => {
                    if let Some(usage) = counts_at(data, &[Field::Usage]) {
                        self.tokens.apply(&usage);
                    }
                    EventKind::Content
                }
                Some("error") => {
                    self.terminal = true;
                    EventKind::Error(error_message(parse(data).as_ref(), data))
                }
                Some("message_stop") => {
                    self.terminal = true;
                    EventKind::Content
                }
                Some(_) | None => EventKind::Content,
            },
            Api::Gemini => {
                let value = parse(data);
                let Some(value) = value else {
                    return EventKind::Content;
                };
                if value.get("error").is_some_and(|error| !error.is_null()) {
                    self.terminal = true;
                    return EventKind::Error(error_message(Some(&value), data));
                }
                if let Some(usage) = value.get("usageMetadata") {
                    self.tokens.apply(&counts_of(usage));
                }
                let candidate = value.pointer("/candidates/0");
                if candidate
                    .and_then(|candidate| candidate.get("finishReason"))
                    .is_some_and(|reason| !reason.is_null())
                {
                    self.terminal = true;
                    return EventKind::Content;
                }
                let has_parts = candidate
                    .and_then(|candidate| candidate.pointer("/content/parts"))
                    .and_then(Value::as_array)
                    .is_some_and(|parts| !parts.is_empty());
                if has_parts || self.first_content.is_some() {
                    EventKind::Content
                } else {
                    EventKind::Preamble
                }
            }
            Api::Chat => {
                if data == b"[DONE]" {
                    // The end, not content: a stream of nothing but `[DONE]` can fail over.
                    self.terminal = true;
                    return EventKind::Preamble;
                }
                if has_finish_reason(data) {
                    self.terminal = true;
                }
                let has_usage = memmem::find(data, b"\"usage\"").is_some();
                let has_error = memmem::find(data, b"\"error\"").is_some();
                if !has_usage && !has_error && name.as_deref() != Some("error") {
                    // Before the first content, a chunk with only a role (or nothing) is
                    // preamble: a stream that ends there can still fail over.
                    if self.first_content.is_none() && !chat_chunk_has_content(data) {
                        return EventKind::Preamble;
                    }
                    return EventKind::Content;
                }
                let value = parse(data);
                if let Some(usage) = value.as_ref().and_then(|value| value.get("usage")) {
                    if usage.is_object() {
                        self.tokens.apply(&counts_of(usage));
                    }
                }
                let is_error = name.as_deref() == Some("error")
                    || value
                        .as_ref()
                        .is_some_and(|value| value.get("error").is_some_and(|error| !error.is_null()));
                if is_error {
                    self.terminal = true;
                    EventKind::Error(error_message(value.as_ref(), data))
                } else if self.first_content.is_none() && !chat_chunk_has_content(data) {
                    EventKind::Preamble
                } else {
                    EventKind::Content
                }
            }
        }
    }
}

/// A Chat chunk with a non-null `finish_reason` (the end of the answer).
fn has_finish_reason(data: &[u8]) -> bool {
    let Some(at) = memmem::find(data, b"\"finish_reason\"") else {
        return false;
    };
    let rest = &data[at + b"\"finish_reason\"".len()..];
    let value = rest.iter().position(|byte| !matches!(byte, b' ' | b'\t' | b':')).map(|start| &rest[start..]);
    value.is_some_and(|value| !value.starts_with(b"null"))
}

/// Whether a Chat chunk carries output: text, reasoning, a tool call, a refusal, or the
/// finish of an (empty) answer.
fn chat_chunk_has_content(data: &[u8]) -> bool {
    let Some(value) = parse(data) else {
        // Not JSON: let it through as content rather than hold it.
        return true;
    };
    let Some(choices) = value.get("choices").and_then(Value::as_array) else {
        return false;
    };
    choices.iter().any(|choice| {
        let non_empty = |field: &str| {
            choice
                .pointer(&format!("/delta/{field}"))
                .or_else(|| choice.pointer(&format!("/message/{field}")))
                .is_some_and(|value| match value {
                    Value::String(text) => !text.is_empty(),
                    Value::Array(items) => !items.is_empty(),
                    Value::Null => false,
                    _ => true,
                })
        };
        non_empty("content")
            || non_empty("reasoning_content")
            || non_empty("reasoning")
            || non_empty("tool_calls")
            || non_empty("refusal")
            || choice.get("finish_reason").is_some_and(|reason| !reason.is_null())
    })
}

fn parse(data: &[u8]) -> Option<Value> {
    serde_json::from_slice(data).ok()
}

/// The `"type"` of an event whose SSE frame had no `event:` line.
fn type_field(data: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    serde_json::from_slice::<Typed>(data).ok().and_then(|typed| typed.kind)
}

/// A description of an in-stream error, whole: the caller redacts keys *before* cutting it
/// short.
fn error_message(value: Option<&Value>, data: &[u8]) -> String {
    let found = value.and_then(|value| {
        value
            .pointer("/error/message")
            .or_else(|| value.pointer("/response/error/message"))
            .or_else(|| value.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    found.unwrap_or_else(|| String::from_utf8_lossy(data).into_owned())
}

/// Whether a non-streamed JSON body arrived whole, and its usage object (`usage`, else
/// Gemini's `usageMetadata`). A whole body is skimmed for its top-level usage
/// ([`skim_counts`]), else read in one pass that keeps only the counts ([`top_counts`]);
/// a body of which only the tail was kept ([`JSON_KEEP`]) is whole when it ends a
/// document, and its usage is the last `"usage"` object in that tail.
fn json_body(body: &[u8], truncated: bool) -> (bool, Option<Counts>) {
    if !truncated {
        if let Some(top) = skim_counts(body).or_else(|| top_counts(body).ok()) {
            return (true, top.or_else(|| tail_usage(body)));
        }
        // Not an object: the general reads.
        let complete = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
        return (complete, tail_usage(body));
    }
    let complete = body
        .iter()
        .rev()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|last| matches!(last, b'}' | b']'));
    (complete, tail_usage(body))
}

/// The last `"usage"` object in a body.
fn tail_usage(body: &[u8]) -> Option<Counts> {
    let at = memmem::rfind(body, b"\"usage\"")?;
    let rest = &body[at + b"\"usage\"".len()..];
    let colon = memchr::memchr(b':', rest)?;
    let mut values = serde_json::Deserializer::from_slice(&rest[colon + 1..]).into_iter::<Value>();
    values.next()?.ok().filter(Value::is_object).map(|usage| counts_of(&usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(api: Api, chunks: &[&[u8]]) -> (Tap, Tokens) {
        let mut tap = Tap::new(api, true, Instant::now());
        for chunk in chunks {
            tap.feed(&Bytes::copy_from_slice(chunk));
        }
        let tokens = tap.finish();
        (tap, tokens)
    }

    #[test]
    fn responses_usage_across_split_chunks() {
        let stream = b"event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.output_text.delta\ndata: {\"delta\":\"hi\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":12,\"output_tokens\":5,\"input_tokens_details\":{\"cached_tokens\":4}}}}\n\n";
        let (first, second) = stream.split_at(57);
        let (tap, tokens) = run(Api::Responses, &[first, second]);
        assert_eq!(
            tokens,
            Tokens { input: Some(12), output: Some(5), cached: Some(4), cache_creation: None }
        );
        assert!(tap.first_content.is_some());
        assert!(tap.error.is_none());
    }

    #[test]
    fn messages_usage_adds_cache_reads() {
        let stream = b"event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\r\n\r\nevent: ping\ndata: {\"type\":\"ping\"}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n";
        let (_, tokens) = run(Api::Messages, &[stream]);
        assert_eq!(
            tokens,
            Tokens { input: Some(103), output: Some(42), cached: Some(100), cache_creation: None }
        );
    }

    #[test]
    fn chat_usage_from_last_chunk_and_errors() {
        let stream = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":1}}}\n\ndata: [DONE]\n\n";
        let (_, tokens) = run(Api::Chat, &[stream]);
        assert_eq!(tokens, Tokens { input: Some(7), output: Some(2), cached: Some(1), cache_creation: None });
        let (tap, _) = run(Api::Chat, &[b"data: {\"error\":{\"message\":\"quota\"}}\n\n"]);
        assert_eq!(tap.error.as_deref(), Some("quota"));
        assert!(tap.first_content.is_none());
    }

    #[test]
    fn preamble_then_error_is_an_error_before_content() {
        let (tap, _) = run(
            Api::Messages,
            &[b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"],
        );
        assert_eq!(tap.error.as_deref(), Some("Overloaded"));
        assert!(tap.first_content.is_none());
        let (tap, _) = run(
            Api::Responses,
            &[b"data: {\"type\":\"response.created\"}\n\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"message\":\"boom\"}}}\n\n"],
        );
        assert_eq!(tap.error.as_deref(), Some("boom"));
    }

    #[test]
    fn a_json_body_in_one_chunk_or_many_gives_the_same_usage() {
        let body = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3}}"#;
        for cuts in [vec![], vec![0], vec![1], vec![20, 21], vec![40, 60, 70]] {
            let mut tap = Tap::new(Api::Chat, false, Instant::now());
            let mut at = 0;
            for cut in cuts.iter().copied().chain([body.len()]) {
                tap.feed(&Bytes::copy_from_slice(&body[at..cut]));
                at = cut;
            }
            let tokens = tap.finish();
            assert_eq!((tokens.input, tokens.output), (Some(9), Some(3)), "cut at {cuts:?}");
            assert_eq!(tap.ending(), None, "cut at {cuts:?}");
            assert_eq!(tap.bytes, body.len() as u64);
        }
        // Cut short: not whole, whichever way it came.
        for cuts in [vec![], vec![30]] {
            let mut tap = Tap::new(Api::Chat, false, Instant::now());
            let short = &body[..body.len() - 2];
            let mut at = 0;
            for cut in cuts.iter().copied().chain([short.len()]) {
                tap.feed(&Bytes::copy_from_slice(&short[at..cut]));
                at = cut;
            }
            tap.finish();
            assert_eq!(tap.ending(), Some("stream_truncated"), "cut at {cuts:?}");
        }
    }

    #[test]
    fn json_body_usage_whole_and_tail() {
        let body = br#"{"id":"x","usage":{"prompt_tokens":9,"completion_tokens":3}}"#;
        let mut tap = Tap::new(Api::Chat, false, Instant::now());
        tap.feed(&Bytes::from_static(body));
        assert_eq!(tap.finish().input, Some(9));
        assert_eq!(
            json_body(br#"xx","usage":{"input_tokens":1,"output_tokens":2}}"#, true).1,
            Some(Counts { input_tokens: Some(1), output_tokens: Some(2), ..Counts::default() })
        );
    }
}
