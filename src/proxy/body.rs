//! The committed response body: held-back chunks first, then the upstream as it comes,
//! every chunk shown to the tap; the usage row is sent when the body ends or is dropped.
//!
//! Invariants: nothing is collected whole; a dropped body (the client went away) drops the
//! upstream stream, which closes the upstream connection; exactly one usage row per body.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;

use super::error::short_error;
use super::tap::Tap;
use super::usage::{UsageRow, UsageSink, cost};

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
    pub(super) tap: Tap,
    pub(super) idle: Duration,
    pub(super) last_chunk: Instant,
    pub(super) sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    pub(super) draft: Option<Draft>,
    pub(super) outcome: Option<&'static str>,
    /// Bytes still to hand over when the upstream declared a Content-Length.
    pub(super) remaining: Option<u64>,
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
        // An error inside the answer or an answer without its end is not a success, even
        // with a 200 (cc-switch #7425, #3493).
        let ending = if row.error_class.is_none() { self.tap.ending() } else { None };
        if let Some(outcome) = self.outcome.or(ending) {
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
