//! The committed response body: held-back chunks first, then the upstream as it comes,
//! every chunk shown to the [`Watch`]: the tap of a pass-through body, or the converter of
//! a converted one (whose output goes to the client instead of the upstream's bytes); the
//! usage row is sent when the body ends or is dropped.
//!
//! Invariants: nothing is collected whole; a dropped body (the client went away) drops the
//! upstream stream, which closes the upstream connection; exactly one usage row per body;
//! a converted body always ends with a well-formed terminal event in the client's API,
//! also when the upstream breaks or goes silent.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;

use super::error::short_error;
use super::tap::{Tap, Tokens};
use super::usage::{UsageRow, UsageSink, cost};
use crate::convert::StreamConverter;

/// The upstream body as a stream of chunks.
pub(super) type Upstream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// What the usage row of a committed response needs at the end.
pub(super) struct Draft {
    pub(super) sink: UsageSink,
    pub(super) row: UsageRow,
    pub(super) started: Instant,
}

/// The response body: held-back chunks first, then the upstream as it comes, every chunk
/// shown to the tap; the usage row is sent when the body ends or is dropped.
///
/// Chunks that are already available are sent together (up to [`COALESCE_LIMIT`]): an
/// upstream that writes one SSE event per chunk would otherwise cost one `writev` per
/// event. Nothing waits for more data, so this adds no latency.
pub(super) struct TappedBody {
    pub(super) held: VecDeque<Bytes>,
    pub(super) upstream: Option<Upstream>,
    /// An upstream error seen after some data; reported on the next poll.
    pub(super) failed: Option<reqwest::Error>,
    pub(super) watch: Watch,
    pub(super) idle: Duration,
    pub(super) last_chunk: Instant,
    pub(super) sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    pub(super) draft: Option<Draft>,
    pub(super) outcome: Option<&'static str>,
    /// Bytes still to hand over when the upstream declared a Content-Length.
    pub(super) remaining: Option<u64>,
    /// Everything, terminal included, has been handed over.
    pub(super) done: bool,
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

/// What looks at the upstream's bytes on their way.
pub(super) enum Watch {
    /// Pass-through: the bytes go to the client as they are; the tap reads usage.
    Tap(Tap),
    /// Conversion: the converter's output goes to the client.
    Convert { converter: Box<StreamConverter>, started: Instant, first_content: Option<Instant> },
}

impl Watch {
    /// A converted body's watch; `started` is when the request arrived.
    pub(super) fn convert(converter: StreamConverter, started: Instant) -> Self {
        let first_content = converter.content_started().then(Instant::now);
        Watch::Convert { converter: Box::new(converter), started, first_content }
    }

    /// Show one upstream chunk; what the client gets goes into `gathered`.
    fn pass(&mut self, chunk: Bytes, gathered: &mut Gather) {
        match self {
            Watch::Tap(tap) => {
                tap.feed(&chunk);
                gathered.push(chunk);
            }
            Watch::Convert { converter, first_content, .. } => {
                let mut out = Vec::new();
                converter.feed(&chunk, &mut out);
                if first_content.is_none() && converter.content_started() {
                    *first_content = Some(Instant::now());
                }
                if !out.is_empty() {
                    gathered.push(Bytes::from(out));
                }
            }
        }
    }

    /// The upstream ended: a converted body's last bytes (its terminal event).
    fn end(&mut self) -> Option<Bytes> {
        match self {
            Watch::Tap(_) => None,
            Watch::Convert { converter, .. } => {
                let mut out = Vec::new();
                converter.finish(&mut out);
                (!out.is_empty()).then(|| Bytes::from(out))
            }
        }
    }

    /// The upstream broke or went silent: a converted body ends with a well-formed error
    /// in the client's API (`Some`); a pass-through body passes the break on (`None`).
    fn fail(&mut self, message: &str) -> Option<Bytes> {
        match self {
            Watch::Tap(_) => None,
            Watch::Convert { converter, .. } => {
                let mut out = Vec::new();
                converter.fail(message, &mut out);
                Some(Bytes::from(out))
            }
        }
    }

    /// Tokens, time to first content and how the answer ended, for the usage row.
    fn finish(&mut self) -> (Tokens, Option<i64>, Option<&'static str>) {
        match self {
            Watch::Tap(tap) => {
                let tokens = tap.finish();
                (tokens, tap.ttft_ms(), tap.ending())
            }
            Watch::Convert { converter, started, first_content } => {
                let outcome = converter.outcome();
                let count = |value: u64| i64::try_from(value).ok();
                let tokens = Tokens {
                    input: count(outcome.usage.input),
                    output: count(outcome.usage.output),
                    cached: count(outcome.usage.cached),
                    cache_creation: None,
                };
                let ttft = first_content.map(|at| at.duration_since(*started).as_millis() as i64);
                (tokens, ttft, outcome.error_class)
            }
        }
    }
}

impl TappedBody {
    fn finish(&mut self) {
        self.upstream = None;
        let Some(Draft { sink, mut row, started }) = self.draft.take() else {
            return;
        };
        let (tokens, ttft_ms, ending) = self.watch.finish();
        row.ttft_ms = ttft_ms;
        row.duration_ms = Some(started.elapsed().as_millis() as i64);
        row.input_tokens = tokens.input;
        row.output_tokens = tokens.output;
        row.cached_tokens = tokens.cached;
        let model = row.model_sent.clone().or_else(|| row.model_requested.clone());
        row.cost_usd = model.and_then(|model| cost(&model, tokens.input, tokens.output, tokens.cached));
        // An error inside the answer or an answer without its end is not a success, even
        // with a 200 (cc-switch #7425, #3493).
        let ending = if row.error_class.is_none() { ending } else { None };
        if let Some(outcome) = self.outcome.or(ending) {
            row.error_class = Some(outcome.to_string());
        }
        sink.record(row);
    }

    /// The upstream broke (`outcome`): a converted body gets its error terminal, then ends;
    /// a pass-through body passes the break on.
    fn fail(&mut self, outcome: &'static str, message: &str) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        self.outcome = Some(outcome);
        let tail = self.watch.fail(message);
        self.finish();
        match tail {
            Some(bytes) => {
                self.done = true;
                Poll::Ready(Some(Ok(bytes)))
            }
            None => Poll::Ready(Some(Err(std::io::Error::other(message.to_string())))),
        }
    }
}

impl Stream for TappedBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(error) = this.failed.take() {
            return this
                .fail("upstream_stream_error", &format!("upstream stream failed: {}", short_error(&error)));
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
                    this.watch.pass(chunk, &mut gathered);
                    this.last_chunk = Instant::now();
                }
                Poll::Ready(Some(Err(error))) => {
                    if gathered.len() == 0 {
                        let message = format!("upstream stream failed: {}", short_error(&error));
                        return this.fail("upstream_stream_error", &message);
                    }
                    this.failed = Some(error);
                    break;
                }
                Poll::Ready(None) => {
                    this.upstream = None;
                    if let Some(tail) = this.watch.end() {
                        gathered.push(tail);
                    }
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
                    return this.fail("stream_idle_timeout", "upstream stream went idle");
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
