//! One request over the own client's connections: [`H1Client::send`] takes a pooled
//! connection or makes one, writes the request ([`Outgoing`]: the head and body, the answer
//! read meanwhile), sends it again where the module's invariants allow, and hands the
//! answer's body over as [`LeanBody`], which gives the connection back to the pool at its
//! end.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method};
use bytes::{Buf, Bytes};
use futures_util::Stream;
use hyper::body::Body as _;
use tokio::io::AsyncWrite;

use super::pool::{Conn, H1Client, Io, Origin, Pool, Target};
use super::{ErrorKind, OutBody, UpstreamError, UpstreamResponse};
use crate::proxy::wire::{self, Chunks, Framing, Head};

/// A pooled connection that closes this soon after a request was put on it, before one
/// byte of the answer, was closed by the upstream while idle (its close crossed the
/// request): later, the upstream may have taken the request and dropped it while working.
const STALE_WITHIN: Duration = Duration::from_secs(1);

impl H1Client {
    pub(in crate::proxy) async fn send(
        &self,
        method: Method,
        url: &reqwest::Url,
        headers: HeaderMap,
        body: Option<OutBody>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let target = Target::of(url)?;
        let (mut conn, origin) = self.checkout(&target)?;
        let length = body.as_ref().map(|body| body.size_hint().exact().unwrap_or_default());
        let mut head = Vec::with_capacity(256 + headers.len() * 48);
        wire::encode_head(&method, target.path_and_query, &origin.host_header, &headers, length, &mut head);
        drop(headers);
        let mut out = Outgoing::new(head, body.unwrap_or(OutBody::Whole(None)), length.unwrap_or_default());
        // A request none of whose bytes reached a connection goes again on another one (at
        // most twice: a fresh connection that closes at once is not tried forever).
        let mut retries = 0;
        loop {
            let (mut current, reused) = match conn.take() {
                Some(found) => (found, true),
                None => (self.connect(&target).await?, false),
            };
            let sent_at = Instant::now();
            let error = match poll_fn(|cx| out.exchange(&mut current, &method, cx)).await {
                Ok(answer) => {
                    let mut body = LeanBody {
                        framing: match answer.framing {
                            Framing::Length(length) => Reading::Length(length),
                            Framing::Chunked => Reading::Chunked(Chunks::Size),
                            Framing::Close => Reading::Close,
                        },
                        conn: Some(current),
                        reuse: answer.reuse,
                        // An answer that came before the request's body was all sent: the
                        // rest still goes out while the answer is read (an upstream may
                        // start answering before it has read the body).
                        upload: (!out.finished()).then_some(out),
                        pool: self.pool.clone(),
                        origin,
                    };
                    if matches!(body.framing, Reading::Length(0)) {
                        body.release();
                    }
                    return Ok(UpstreamResponse {
                        status: answer.status,
                        headers: answer.headers,
                        hop_by_hop: answer.hop_by_hop,
                        body: Box::pin(body),
                    });
                }
                Err(error) => error,
            };
            match error {
                Exchange::Unsent(_) if reused || retries < 2 => {
                    retries += 1;
                    conn = self.checkout(&target)?.0;
                }
                // Another pooled connection may be as stale: a fresh one.
                Exchange::Closed(_) if reused && sent_at.elapsed() < STALE_WITHIN && out.rewind() => {
                    conn = None;
                }
                Exchange::Unsent(error) | Exchange::Closed(error) | Exchange::Failed(error) => {
                    return Err(error);
                }
            }
        }
    }
}

/// Why an exchange gave no answer.
enum Exchange {
    /// No byte of the request reached the connection: it may go on another one.
    Unsent(UpstreamError),
    /// The connection closed before one byte of the answer came.
    Closed(UpstreamError),
    /// The request may have reached the upstream.
    Failed(UpstreamError),
}

/// A request on its way out: its head, then its body, with the answer read meanwhile (an
/// upstream may answer before it has read the whole body).
struct Outgoing {
    head: Vec<u8>,
    body: OutBody,
    /// How much of the head went out (all of it is kept, to send it again).
    head_at: usize,
    /// A whole body as it was before sending, to send it again.
    replay: Option<Bytes>,
    /// A frame of a streamed body was taken: the request cannot be sent again.
    streamed_taken: bool,
    /// A byte of the answer was read.
    heard: bool,
    /// Bytes were written since the last flush.
    unflushed: bool,
    /// The body's bytes still owed by its declared length.
    owed: u64,
    /// The body piece being written.
    piece: Bytes,
    body_ended: bool,
    written: usize,
    /// Writing stopped on this error; the answer may still come.
    broken: Option<std::io::Error>,
    /// The request's own body broke (the client's upload stalled or fell short): the
    /// exchange ends at once.
    body_broke: bool,
}

impl Outgoing {
    fn new(head: Vec<u8>, body: OutBody, length: u64) -> Self {
        let body_ended = matches!(body, OutBody::Whole(None));
        let whole = match &body {
            OutBody::Whole(bytes) => bytes.clone(),
            OutBody::Streamed(_) => None,
        };
        Self {
            head_at: 0,
            replay: whole,
            streamed_taken: false,
            heard: false,
            unflushed: false,
            head,
            body,
            owed: length,
            piece: Bytes::new(),
            body_ended,
            written: 0,
            broken: None,
            body_broke: false,
        }
    }

    /// Make the request ready to be sent again from its first byte, if it can be: a whole
    /// body, or a streamed one none of whose frames was taken.
    fn rewind(&mut self) -> bool {
        if self.streamed_taken || self.body_broke {
            return false;
        }
        if let OutBody::Whole(body) = &mut self.body {
            let whole = &self.replay;
            self.owed = whole.as_ref().map_or(0, |whole| whole.len() as u64);
            self.body_ended = whole.is_none();
            body.clone_from(whole);
        }
        self.head_at = 0;
        self.piece = Bytes::new();
        self.written = 0;
        self.broken = None;
        self.heard = false;
        self.unflushed = false;
        true
    }

    fn head_sent(&self) -> bool {
        self.head_at == self.head.len()
    }

    /// The whole request went out.
    fn finished(&self) -> bool {
        self.head_sent() && self.piece.is_empty() && self.body_ended && self.broken.is_none()
    }

    /// Write what can be written: `Ready` once everything is out or writing broke.
    fn poll_write(&mut self, io: &mut Io, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.broken.is_some() {
                return Poll::Ready(());
            }
            // The body's first piece is asked for before the head is written, so that a
            // whole body goes out with its head in one write: an upstream that answers
            // without reading the body (a 404) then has it all, and keeps the connection.
            if self.piece.is_empty() && !self.body_ended {
                match Pin::new(&mut self.body).poll_frame(cx) {
                    // Waiting for the client's next piece: what was written goes out now.
                    Poll::Pending if self.head_sent() => {
                        return match self.poll_flushed(io, cx) {
                            Poll::Ready(()) if self.broken.is_some() => Poll::Ready(()),
                            _ => Poll::Pending,
                        };
                    }
                    // A streamed body not there yet: the head goes out meanwhile.
                    Poll::Pending => {}
                    Poll::Ready(frame) => {
                        self.take_frame(frame);
                        continue;
                    }
                }
            }
            if self.head_sent() && self.piece.is_empty() {
                return self.poll_flushed(io, cx);
            }
            let slices =
                [std::io::IoSlice::new(&self.head[self.head_at..]), std::io::IoSlice::new(&self.piece)];
            match Pin::new(&mut *io).poll_write_vectored(cx, &slices) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => self.broken = Some(std::io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(mut wrote)) => {
                    self.written += wrote;
                    self.unflushed = true;
                    let from_head = wrote.min(self.head.len() - self.head_at);
                    self.head_at += from_head;
                    wrote -= from_head;
                    self.piece.advance(wrote.min(self.piece.len()));
                }
                Poll::Ready(Err(error)) => self.broken = Some(error),
            }
        }
    }

    /// Flush what was written: TLS holds bytes it took while the socket was full until
    /// it is flushed (a plain socket has nothing to flush). `Ready` once flushed or broken.
    fn poll_flushed(&mut self, io: &mut Io, cx: &mut Context<'_>) -> Poll<()> {
        if self.unflushed {
            match Pin::new(&mut *io).poll_flush(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(error)) => self.broken = Some(error),
            }
        }
        Poll::Ready(())
    }

    /// Take the body's next frame: its data becomes the piece to write, or the body ended
    /// or broke.
    fn take_frame(&mut self, frame: Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>) {
        self.streamed_taken |= matches!(self.body, OutBody::Streamed(_));
        match frame {
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else { return };
                if data.len() as u64 > self.owed {
                    self.broken = Some(std::io::Error::other("the request body is longer than declared"));
                    self.body_broke = true;
                    return;
                }
                self.owed -= data.len() as u64;
                self.piece = data;
            }
            Some(Err(error)) => {
                self.broken = Some(error);
                self.body_broke = true;
            }
            None if self.owed > 0 => {
                self.broken = Some(std::io::Error::other("the request body is shorter than declared"));
                self.body_broke = true;
            }
            None => self.body_ended = true,
        }
    }

    /// Send the request on `conn` and read the answer's head (informational answers skipped).
    fn exchange(
        &mut self,
        conn: &mut Conn,
        method: &Method,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Head, Exchange>> {
        let writing = self.poll_write(&mut conn.io, cx);
        let failed = |message: String| {
            Poll::Ready(Err(Exchange::Failed(UpstreamError::new(ErrorKind::Other, message))))
        };
        if self.body_broke {
            return failed(self.broken.as_ref().map(ToString::to_string).unwrap_or_default());
        }
        if self.written == 0 {
            if let Some(error) = self.broken.take() {
                return Poll::Ready(Err(Exchange::Unsent(UpstreamError::new(
                    ErrorKind::Other,
                    error.to_string(),
                ))));
            }
        }
        loop {
            match wire::parse_head(&mut conn.read, method) {
                Ok(Some(head)) => {
                    if head.status.is_informational() {
                        continue;
                    }
                    return Poll::Ready(Ok(head));
                }
                Ok(None) => {}
                Err(error) => return failed(error.0.to_string()),
            }
            let read_error = match conn.poll_fill(cx) {
                Poll::Ready(Ok(0)) => None,
                Poll::Ready(Ok(_)) => {
                    self.heard = true;
                    continue;
                }
                Poll::Ready(Err(error)) => Some(error),
                // Writing broke and no answer is there: none is coming.
                Poll::Pending if writing.is_ready() && self.broken.is_some() => None,
                // Waiting to write, or for the answer: the wakers are set.
                Poll::Pending => return Poll::Pending,
            };
            // Closed, not broken: the end of the stream, or a reset, a broken pipe.
            let gone = [self.broken.as_ref(), read_error.as_ref()].into_iter().flatten().all(|error| {
                use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
                matches!(error.kind(), BrokenPipe | ConnectionReset | ConnectionAborted)
            });
            // The cause of writing's end says most; then the read's.
            let cause = match self.broken.as_ref().or(read_error.as_ref()) {
                Some(error) => error.to_string(),
                None => "the connection closed before the answer".to_string(),
            };
            let error = UpstreamError::new(ErrorKind::Other, cause);
            return Poll::Ready(Err(if gone && !self.heard && conn.read.is_empty() {
                Exchange::Closed(error)
            } else {
                Exchange::Failed(error)
            }));
        }
    }
}

/// Where reading an answer's body stands.
enum Reading {
    Length(u64),
    Chunked(Chunks),
    Close,
    Done,
}

/// An answer's body, read from its connection by whoever polls it; the connection goes
/// back to the pool when the body ended where its framing said (and the answer allows).
struct LeanBody {
    framing: Reading,
    conn: Option<Conn>,
    reuse: bool,
    /// The request's body still going out.
    upload: Option<Outgoing>,
    pool: Arc<Pool>,
    origin: Arc<Origin>,
}

impl LeanBody {
    fn release(&mut self) {
        self.framing = Reading::Done;
        if let Some(conn) = self.conn.take() {
            // Bytes past the body's end: the connection is out of step. A request not all
            // sent: the upstream would read its rest as the next request.
            if self.reuse && conn.read.is_empty() && self.upload.is_none() {
                self.pool.put(&self.origin, conn);
            }
        }
    }

    fn broke(&mut self, message: impl Into<String>) -> Poll<Option<Result<Bytes, UpstreamError>>> {
        self.framing = Reading::Done;
        self.conn = None;
        Poll::Ready(Some(Err(UpstreamError::new(ErrorKind::Other, message))))
    }
}

impl Stream for LeanBody {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            if let Some(upload) = this.upload.as_mut() {
                // Its wakers are set while it waits; it is polled again at every poll here.
                let _ = upload.poll_write(&mut conn.io, cx);
                if upload.body_broke {
                    let cause = upload.broken.as_ref().map(ToString::to_string).unwrap_or_default();
                    return this.broke(format!("the request's body broke: {cause}"));
                }
                if upload.finished() {
                    this.upload = None;
                } else if upload.broken.is_some() {
                    // The upstream stopped reading; its answer may still come whole. The
                    // connection is not used again.
                    this.reuse = false;
                    this.upload = None;
                }
            }
            match &mut this.framing {
                Reading::Done => return Poll::Ready(None),
                Reading::Length(0) => {
                    this.release();
                    return Poll::Ready(None);
                }
                Reading::Length(left) => {
                    if let Some(data) = wire::take_length(&mut conn.read, left) {
                        if *left == 0 {
                            // Its reader may stop polling at the declared length.
                            this.release();
                        }
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Reading::Chunked(chunks) => match chunks.decode(&mut conn.read) {
                    Ok(Some(data)) => return Poll::Ready(Some(Ok(data))),
                    Ok(None) if *chunks == Chunks::Done => {
                        this.release();
                        return Poll::Ready(None);
                    }
                    Ok(None) => {}
                    Err(error) => return this.broke(error.0),
                },
                Reading::Close => {
                    if !conn.read.is_empty() {
                        let all = conn.read.split().freeze();
                        return Poll::Ready(Some(Ok(all)));
                    }
                }
            }
            match conn.poll_fill(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) if matches!(this.framing, Reading::Close) => {
                    this.framing = Reading::Done;
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(0)) => return this.broke("the connection closed before the body's end"),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(error)) => return this.broke(error.to_string()),
            }
        }
    }
}
