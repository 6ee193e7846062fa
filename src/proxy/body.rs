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
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;

use super::tap::{Tap, Tokens};
use super::usage::{UsageRow, UsageSink, cost};
use crate::convert::StreamConverter;

pub(super) use super::transport::Upstream;
use super::transport::UpstreamError;

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
/// event. hyper's client hands a body over one chunk per run of its connection task, so
/// while chunks keep coming the body waits one scheduler round (a deferred yield, at most
/// [`MAX_ROUNDS`] per batch) for the next; nothing waits for the network, so a paced
/// stream's event goes out after one round.
pub(super) struct TappedBody {
    pub(super) held: VecDeque<Bytes>,
    pub(super) upstream: Option<Upstream>,
    /// An upstream error seen after some data; reported on the next poll.
    pub(super) failed: Option<UpstreamError>,
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
    /// Chunks gathered by earlier polls of this batch, not yet handed over.
    pub(super) carry: Gather,
    /// Scheduler rounds this batch has waited for more chunks ([`MAX_ROUNDS`]).
    pub(super) rounds: u8,
    /// Tells when the last round has passed (made once per body, on its first wait).
    pub(super) round: Option<Arc<RoundWaker>>,
}

/// The waker of a deferred yield: set once the runtime ran the tasks that were ready.
#[derive(Default)]
pub(super) struct RoundWaker {
    passed: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl RoundWaker {
    /// A new round: `task` is woken when it has passed.
    fn arm(&self, task: &Waker) {
        self.passed.store(false, Ordering::Release);
        if let Ok(mut slot) = self.task.lock() {
            *slot = Some(task.clone());
        }
    }

    /// Whether the round has passed; if not, `task` is the one to wake.
    fn passed(&self, task: &Waker) -> bool {
        if self.passed.load(Ordering::Acquire) {
            return true;
        }
        if let Ok(mut slot) = self.task.lock() {
            if !slot.as_ref().is_some_and(|known| known.will_wake(task)) {
                *slot = Some(task.clone());
            }
        }
        // It may have passed while the waker was swapped (it then woke the old one).
        self.passed.load(Ordering::Acquire)
    }
}

impl Wake for RoundWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.passed.store(true, Ordering::Release);
        let task = self.task.lock().ok().and_then(|mut slot| slot.take());
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// Available chunks are merged up to this size.
const COALESCE_LIMIT: usize = 64 << 10;

/// A batch waits at most this many scheduler rounds for more chunks.
const MAX_ROUNDS: u8 = 32;

/// One chunk, or several copied into one buffer (only when there is more than one).
#[derive(Default)]
pub(super) struct Gather {
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
        let model = row.model_sent.as_deref().or(row.model_requested.as_deref());
        row.cost_usd = model.and_then(|model| cost(model, tokens.input, tokens.output, tokens.cached));
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
            return this.fail("upstream_stream_error", &format!("upstream stream failed: {}", error.short()));
        }
        if let Some(round) = this.round.as_ref().filter(|_| this.rounds > 0) {
            if !round.passed(cx.waker()) {
                return Poll::Pending;
            }
        }
        let mut gathered = std::mem::take(&mut this.carry);
        while let Some(chunk) = this.held.pop_front() {
            gathered.push(chunk);
        }
        let mut got = false;
        let mut waiting = false;
        while gathered.len() < COALESCE_LIMIT {
            let Some(upstream) = this.upstream.as_mut() else {
                break;
            };
            match upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.watch.pass(chunk, &mut gathered);
                    this.last_chunk = Instant::now();
                    got = true;
                }
                Poll::Ready(Some(Err(error))) => {
                    if gathered.len() == 0 {
                        let message = format!("upstream stream failed: {}", error.short());
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
                Poll::Pending => {
                    waiting = true;
                    break;
                }
            }
        }
        // hyper's client hands the body over one chunk (one SSE event) per run of its
        // connection task. While chunks keep coming, give that task a scheduler round to
        // hand over the next one before writing: the events one upstream read brought go
        // out in one write. A round with nothing new ends the batch, so a paced stream
        // waits one round per event, never for the network.
        if waiting && got && gathered.len() > 0 && this.rounds < MAX_ROUNDS {
            this.rounds += 1;
            this.carry = gathered;
            let round = this.round.get_or_insert_with(|| Arc::new(RoundWaker::default()));
            round.arm(cx.waker());
            // `yield_now` defers its wake until the runtime has run the other ready tasks
            // (the upstream connection's among them); hyper may poll this body again before
            // that, which then waits for the round ([`RoundWaker::passed`]).
            let waker = Waker::from(round.clone());
            let yielding = std::pin::pin!(tokio::task::yield_now());
            let _ = yielding.poll(&mut Context::from_waker(&waker));
            return Poll::Pending;
        }
        this.rounds = 0;
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// An upstream that hands over its chunks the way hyper's client does: one per run of
    /// another task (here: `Pending` once, woken at once, between chunks), then optionally
    /// goes silent.
    struct Trickle {
        chunks: VecDeque<&'static str>,
        ready: bool,
        silent_after: bool,
    }

    impl Stream for Trickle {
        type Item = Result<Bytes, UpstreamError>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if self.chunks.is_empty() {
                return if self.silent_after { Poll::Pending } else { Poll::Ready(None) };
            }
            if !self.ready {
                self.ready = true;
                // Another task hands the next chunk over a little later.
                let waker = cx.waker().clone();
                tokio::spawn(async move { waker.wake() });
                return Poll::Pending;
            }
            self.ready = false;
            Poll::Ready(self.chunks.pop_front().map(|chunk| Ok(Bytes::from_static(chunk.as_bytes()))))
        }
    }

    fn body(chunks: &[&'static str], silent_after: bool) -> TappedBody {
        TappedBody {
            held: VecDeque::new(),
            upstream: Some(Box::pin(Trickle {
                chunks: chunks.iter().copied().collect(),
                ready: true,
                silent_after,
            })),
            failed: None,
            watch: Watch::Tap(Tap::new(crate::providers::Api::Chat, true, Instant::now())),
            idle: Duration::from_secs(30),
            last_chunk: Instant::now(),
            sleep: None,
            draft: None,
            outcome: None,
            remaining: None,
            done: false,
            carry: Gather::default(),
            rounds: 0,
            round: None,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn events_handed_over_one_per_round_go_out_together_and_in_order() {
        let events = ["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"];
        let frames: Vec<Bytes> = body(&events, false).map(Result::unwrap).collect().await;
        assert_eq!(frames, [Bytes::from_static(b"data: 1\n\ndata: 2\n\ndata: 3\n\n")]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stream_that_goes_quiet_gets_its_last_event_out_without_waiting_for_more() {
        let mut tapped = body(&["data: 1\n\n"], true);
        let first = tokio::time::timeout(Duration::from_secs(1), tapped.next()).await;
        assert_eq!(first.unwrap().unwrap().unwrap(), Bytes::from_static(b"data: 1\n\n"));
    }
}
