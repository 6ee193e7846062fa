//! A request body passed upstream as it arrives, for a request that only one link can serve
//! (no failover can need the body again): the body deadlines are kept as the bytes pass,
//! and a top-level scan of the JSON ([`TopScan`]) finds `model` and `stream` on the way.
//! Only a body of a declared length within the body limit is streamed (the limit was
//! checked against it, and the connection delivers no more than it declares).
//!
//! Invariants:
//! - The bytes go upstream unchanged, in order; nothing is gathered.
//! - A body that stalls, or one the client breaks off, ends the upstream request with an
//!   error and its reason is kept ([`Scan::refused`]): the client gets 408 or 400, as with
//!   a buffered body.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::error::ProxyError;
use super::inbound::RequestBody;
use super::server::BodyTimeouts;

/// What the scan found, shared between the body (the writer) and the attempt (the reader).
#[derive(Debug, Default)]
pub struct Scan {
    pub model: Option<String>,
    pub stream: Option<bool>,
    /// Why the body was cut (408, or the client's own error).
    pub refused: Option<ProxyError>,
}

/// The attempt's side of a [`StreamedBody`]: when it ended, what its scan found, and when
/// it must have arrived whole.
#[derive(Debug, Clone)]
pub struct BodyWatch {
    ended: Arc<tokio::sync::Notify>,
    scan: Arc<Mutex<Scan>>,
    pub deadline: tokio::time::Instant,
}

impl BodyWatch {
    /// Once the body has ended, was cut, or is no longer read.
    pub async fn ended(&self) {
        self.ended.notified().await;
    }

    /// The top-level `model`, once the body has ended.
    pub fn model(&self) -> Option<String> {
        self.scan.lock().ok().and_then(|scan| scan.model.clone())
    }

    /// The top-level `stream` flag, once the body has ended.
    pub fn stream(&self) -> Option<bool> {
        self.scan.lock().ok().and_then(|scan| scan.stream)
    }

    /// Why the body was cut, if it was (the client's error to answer).
    pub fn take_refused(&self) -> Option<ProxyError> {
        self.scan.lock().ok().and_then(|mut scan| scan.refused.take())
    }
}

/// The client's body on its way upstream.
pub struct StreamedBody {
    incoming: RequestBody,
    scan: TopScan,
    shared: Arc<Mutex<Scan>>,
    ended: Arc<tokio::sync::Notify>,
    declared: u64,
    idle: std::time::Duration,
    deadline: tokio::time::Instant,
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// The scan's results were handed over ([`StreamedBody::end`]).
    ended_once: bool,
}

impl std::fmt::Debug for StreamedBody {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("StreamedBody").field("declared", &self.declared).finish_non_exhaustive()
    }
}

impl StreamedBody {
    /// `declared` is the client's Content-Length, already checked against the body limit.
    pub fn new(incoming: RequestBody, declared: u64, timeouts: &BodyTimeouts) -> Self {
        let now = tokio::time::Instant::now();
        let deadline = now + timeouts.total;
        Self {
            incoming,
            scan: TopScan::default(),
            shared: Arc::new(Mutex::new(Scan::default())),
            ended: Arc::new(tokio::sync::Notify::new()),
            declared,
            idle: timeouts.idle,
            deadline,
            sleep: Box::pin(tokio::time::sleep_until((now + timeouts.idle).min(deadline))),
            ended_once: false,
        }
    }

    /// What the attempt watches while the body is on its way.
    pub fn watch(&self) -> BodyWatch {
        BodyWatch { ended: self.ended.clone(), scan: self.shared.clone(), deadline: self.deadline }
    }

    /// Hand the scan's results over, once: at the body's end, when it was cut, or when
    /// the upstream client stops polling it (its declared length went out, or the answer
    /// came first).
    fn end(&mut self, refused: Option<ProxyError>) {
        if self.ended_once {
            return;
        }
        self.ended_once = true;
        if let Ok(mut shared) = self.shared.lock() {
            shared.model = self.scan.model.take();
            shared.stream = self.scan.stream;
            shared.refused = refused;
        }
        self.ended.notify_one();
    }
}

impl Body for StreamedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let Some(data) = frame.data_ref() else {
                    return Poll::Ready(Some(Ok(frame)));
                };
                this.scan.feed(data);
                if this.incoming.is_end_stream() {
                    // Its declared length is in: it is polled no further.
                    this.end(None);
                } else {
                    let next = (tokio::time::Instant::now() + this.idle).min(this.deadline);
                    this.sleep.as_mut().reset(next);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                let message = error.to_string();
                this.end(Some(ProxyError::BadRequest(message.clone())));
                Poll::Ready(Some(Err(std::io::Error::other(message))))
            }
            Poll::Ready(None) => {
                this.end(None);
                Poll::Ready(None)
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.end(Some(ProxyError::RequestTimeout));
                    Poll::Ready(Some(Err(std::io::Error::other("the request body stalled"))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // The declared length goes upstream as Content-Length.
        SizeHint::with_exact(self.declared)
    }
}

impl Drop for StreamedBody {
    fn drop(&mut self) {
        self.end(None);
    }
}

/// An incremental scan of a JSON object's top level for `"model"` (a string) and
/// `"stream"` (a boolean), chunk by chunk; nested values are skipped.
#[derive(Debug, Default)]
pub struct TopScan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// At depth 1: what the next string or literal is.
    expect: Expect,
    /// The key being read (only its first bytes are kept) and the last key read.
    key: Vec<u8>,
    /// The raw text of the `model` string being read (escapes included), when short.
    raw: Vec<u8>,
    /// The literal being read for `stream`.
    literal: Vec<u8>,
    current: Field,
    pub model: Option<String>,
    pub stream: Option<bool>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Expect {
    #[default]
    Key,
    Colon,
    Value,
    /// After a value: a comma or the end.
    Next,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Field {
    #[default]
    Other,
    Model,
    Stream,
}

/// Keys and literals longer than this are of no interest.
const SHORT: usize = 16;
/// A model id longer than this is not kept.
const MODEL_LIMIT: usize = 512;

impl TopScan {
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut at = 0;
        while at < chunk.len() {
            // Inside a string nothing is kept: skip to its next quote or backslash.
            if self.in_string && !self.escaped && !self.collecting() {
                match memchr::memchr2(b'"', b'\\', &chunk[at..]) {
                    Some(offset) => at += offset,
                    None => return,
                }
            }
            self.byte(chunk[at]);
            at += 1;
        }
    }

    /// Whether the string being read is kept: a top-level key, or the `model` value.
    fn collecting(&self) -> bool {
        self.depth == 1
            && (self.expect == Expect::Key || (self.expect == Expect::Value && self.current == Field::Model))
    }

    fn byte(&mut self, byte: u8) {
        if self.in_string {
            let keep = self.depth == 1;
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
                if keep {
                    self.string_done();
                }
                return;
            }
            if keep {
                match self.expect {
                    Expect::Key if self.key.len() <= SHORT => self.key.push(byte),
                    Expect::Value if self.current == Field::Model && self.raw.len() <= MODEL_LIMIT => {
                        self.raw.push(byte);
                    }
                    _ => {}
                }
            }
            return;
        }
        match byte {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 {
                    match self.expect {
                        Expect::Key => self.key.clear(),
                        Expect::Value => self.raw.clear(),
                        Expect::Colon | Expect::Next => {}
                    }
                }
            }
            b'{' | b'[' => {
                if self.depth == 1 && self.expect == Expect::Value {
                    self.expect = Expect::Next;
                }
                self.depth += 1;
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 1 {
                    self.expect = Expect::Next;
                }
            }
            b':' if self.depth == 1 && self.expect == Expect::Colon => {
                self.expect = Expect::Value;
                self.literal.clear();
            }
            b',' if self.depth == 1 => {
                self.literal_done();
                self.expect = Expect::Key;
                self.current = Field::Other;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ if self.depth == 1 && matches!(self.expect, Expect::Value | Expect::Next) => {
                // A number or a literal at the top level.
                if self.literal.len() <= SHORT {
                    self.literal.push(byte);
                }
                self.expect = Expect::Next;
            }
            _ => {}
        }
        if self.depth == 0 {
            self.literal_done();
        }
    }

    fn string_done(&mut self) {
        match self.expect {
            Expect::Key => {
                self.current = match self.key.as_slice() {
                    b"model" => Field::Model,
                    b"stream" => Field::Stream,
                    _ => Field::Other,
                };
                self.expect = Expect::Colon;
            }
            Expect::Value => {
                if self.current == Field::Model && self.raw.len() <= MODEL_LIMIT {
                    // The raw text, escapes and all, decoded as JSON does.
                    let mut quoted = Vec::with_capacity(self.raw.len() + 2);
                    quoted.push(b'"');
                    quoted.extend_from_slice(&self.raw);
                    quoted.push(b'"');
                    self.model = serde_json::from_slice::<String>(&quoted).ok();
                }
                self.expect = Expect::Next;
            }
            Expect::Colon | Expect::Next => {}
        }
    }

    fn literal_done(&mut self) {
        if self.current == Field::Stream && !self.literal.is_empty() {
            self.stream = match self.literal.as_slice() {
                b"true" => Some(true),
                b"false" => Some(false),
                _ => None,
            };
        }
        self.literal.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_pieces(text: &str, piece: usize) -> (Option<String>, Option<bool>) {
        let mut scan = TopScan::default();
        for chunk in text.as_bytes().chunks(piece) {
            scan.feed(chunk);
        }
        (scan.model, scan.stream)
    }

    #[test]
    fn the_top_level_model_and_stream_are_found_across_chunk_boundaries() {
        let cases = [
            (r#"{"model":"gpt-5","input":"hi","stream":true}"#, Some("gpt-5"), Some(true)),
            (
                r#"{ "input" : [{"model":"inner","stream":false}], "stream" : false , "model" : "a\"b\u00e9" }"#,
                Some("a\"bé"),
                Some(false),
            ),
            (
                r#"{"messages":[{"content":"{\"model\":\"x\"}"}],"model":"claude","max_tokens":5}"#,
                Some("claude"),
                None,
            ),
            (r#"{"metadata":{"stream":true},"contents":[]}"#, None, None),
            (r#"{"stream":true}"#, None, Some(true)),
            (r#"{"model":null,"stream":1}"#, None, None),
        ];
        for (text, model, stream) in cases {
            let whole: (Option<String>, Option<bool>) = {
                #[derive(serde::Deserialize)]
                struct Peek {
                    model: Option<serde_json::Value>,
                    stream: Option<serde_json::Value>,
                }
                let peek: Peek = serde_json::from_str(text).unwrap();
                (
                    peek.model.and_then(|value| value.as_str().map(str::to_string)),
                    peek.stream.and_then(|value| value.as_bool()),
                )
            };
            assert_eq!(whole, (model.map(str::to_string), stream), "serde agrees: {text}");
            for piece in [1, 2, 3, 7, 1000] {
                assert_eq!(scan_in_pieces(text, piece), whole, "{text} in pieces of {piece}");
            }
        }
    }
}
