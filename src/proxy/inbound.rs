//! One client's connection, served as HTTP/1.1: requests read off it one after another,
//! each handed to [`server::handle`] and its answer written back (the head and the first
//! piece of the body in one write). The bytes on the wire are `inbound/head.rs`, pure.
//!
//! Invariants:
//! - A request's head must be whole within `head_timeout` of the connection's start or
//!   of the previous answer, else the connection closes (an idle keep-alive connection as
//!   well as a slow one).
//! - A refused head ([`head::Refusal`]) is answered with its status, then the connection
//!   closes.
//! - A body is delivered exactly as it is framed: no byte past its end is read as body
//!   (what follows is the next request's), and a body that ends early is an error.
//! - The connection carries another request only when the client asked to keep it, the
//!   answer went out whole and said where it ends, and the request's body was read to
//!   its end. Else it closes, after reading off for a short while what the client still
//!   sends (closing with bytes unread would reset it and could lose the answer).
//! - An answer whose body breaks off, or ends short of the length it declared, ends the
//!   connection there: the client sees it cut, not a clean end.
//! - Draining: an idle connection closes at once, a busy one after its answer.

mod head;
#[cfg(test)]
mod tests;

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, Response, Version};
use bytes::{Buf, Bytes, BytesMut};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{oneshot, watch};

use self::head::{BodyFraming, Framing, Refusal};
use super::State;
use super::server;
use super::wire::{Chunks, take_length};

/// The read buffer grows by this much when it is full.
const READ_CHUNK: usize = 8 * 1024;
/// A body piece up to this size is copied in with the framing around it (one write);
/// a larger one goes out as its own slice.
const COPY_UP_TO: usize = 16 * 1024;
/// What is gathered for one write at most.
const GATHER: usize = 64 * 1024;
/// A closing connection reads off what the client still sends for this long at most.
const LINGER: Duration = Duration::from_secs(1);
/// ... and this much of it at most.
const LINGER_BYTES: usize = 4 * 1024 * 1024;

/// Serve `stream` until the client closes it, it breaks, or `drain` turns true.
pub(super) async fn serve(
    stream: TcpStream,
    state: Arc<State>,
    head_timeout: Duration,
    drain: watch::Receiver<bool>,
) {
    let (read, write) = stream.into_split();
    let mut connection = Connection {
        read: Some(read),
        write,
        buf: BytesMut::new(),
        out: Vec::new(),
        lent: None,
        complete: true,
        continue_owed: None,
    };
    let draining = drain.clone();
    let mut drained = std::pin::pin!(async move {
        let mut drain = drain;
        let _ = drain.wait_for(|draining| *draining).await;
    });
    let mut drained_seen = false;
    // One timer for the connection, moved on for each head (a later deadline costs no
    // timer-wheel work).
    let mut head_timer = std::pin::pin!(tokio::time::sleep(head_timeout));
    loop {
        head_timer.as_mut().reset(tokio::time::Instant::now() + head_timeout);
        let (taken, spans) =
            match connection.next_head(&mut head_timer, &mut drained, &mut drained_seen).await {
                Next::Head(taken, spans) => (taken, spans),
                Next::Refused(refusal) => return connection.refuse(refusal).await,
                Next::Closed => return,
            };
        let bytes = connection.buf.split_to(taken).freeze();
        let request_head = match head::parse_request(&bytes, spans) {
            Ok(request_head) => request_head,
            Err(refusal) => return connection.refuse(refusal).await,
        };
        drop(bytes);
        let method = request_head.method.clone();
        let version = request_head.version;
        let expects = request_head.expect_continue && version == Version::HTTP_11;
        let body = connection.body(request_head.framing, expects);
        let mut request = Request::new(body);
        *request.method_mut() = request_head.method;
        *request.uri_mut() = request_head.uri;
        *request.version_mut() = version;
        *request.headers_mut() = request_head.headers;
        // A client that goes away while its answer is awaited ends the request (and with it
        // the upstream's).
        let response = {
            let mut handled = std::pin::pin!(server::handle(state.clone(), request));
            poll_fn(|cx| match handled.as_mut().poll(cx) {
                Poll::Ready(response) => Poll::Ready(Some(response)),
                Poll::Pending => connection.poll_gone(cx).map(|()| None),
            })
            .await
        };
        let Some(response) = response else { return };
        // An interim answer not begun by now is not sent at all; one begun is finished
        // before the answer.
        if let Some(owed) = connection.continue_owed.take() {
            let sent = loop {
                let sent = owed.load(Ordering::Acquire);
                if sent & WRITING != 0 {
                    // The body is inside one write (from a task of its own): a moment.
                    tokio::task::yield_now().await;
                } else if owed.compare_exchange(sent, LATE, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    break sent;
                }
            };
            if (1..CONTINUE.len()).contains(&sent)
                && connection.write.write_all(&CONTINUE[sent..]).await.is_err()
            {
                return;
            }
        }
        connection.take_back();
        let close = !request_head.keep_alive || !connection.complete || *draining.borrow();
        let clean = connection.answer(response, &method, version, close).await;
        if close || !clean {
            return connection.close().await;
        }
    }
}

/// A connection's two halves and its buffers. The read half is lent to a request's body
/// while that body is read off it (`read` is then `None`).
struct Connection {
    read: Option<OwnedReadHalf>,
    write: OwnedWriteHalf,
    /// What was read and not yet taken: the start of the next request.
    buf: BytesMut,
    /// An answer's head and small pieces of body, gathered for one write.
    out: Vec<u8>,
    /// Where the read half comes back from the request's body it was lent to.
    lent: Option<oneshot::Receiver<Returned>>,
    /// The request's body was read to its end (the next request's bytes follow).
    complete: bool,
    /// A `100 Continue` the body sends when it is first read, unless the answer began
    /// first: how much of it went out ([`CONTINUE`]).
    continue_owed: Option<Arc<AtomicUsize>>,
}

/// An owed `100 Continue` is the count of its bytes written, with [`WRITING`] set while
/// the body is inside a write of it, or [`LATE`] once the answer began (the connection
/// then writes what a begun one still lacks, and the body writes no more of it).
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
const WRITING: usize = 1 << (usize::BITS - 1);
const LATE: usize = 1 << (usize::BITS - 2);

/// What comes next while an answer is written.
enum Piece {
    Frame(Option<Result<Frame<Bytes>, axum::Error>>),
    /// Nothing at once: what is gathered goes out first.
    Flush,
    /// The client went away.
    Gone,
}

enum Next {
    Head(usize, head::Spans),
    Refused(Refusal),
    Closed,
}

impl Connection {
    /// Wait for the next request's head: read until it is whole, refused, the client
    /// closes, its time is up, or (before any byte of it) the proxy drains.
    async fn next_head(
        &mut self,
        head_timer: &mut Pin<&mut tokio::time::Sleep>,
        drained: &mut Pin<&mut impl Future<Output = ()>>,
        drained_seen: &mut bool,
    ) -> Next {
        loop {
            if !self.buf.is_empty() {
                match head::scan_request(&self.buf) {
                    Ok(Some((taken, spans))) => return Next::Head(taken, spans),
                    Ok(None) => {}
                    Err(refusal) => return Next::Refused(refusal),
                }
            } else if *drained_seen {
                return Next::Closed;
            }
            let Some(read) = self.read.as_mut() else { return Next::Closed };
            make_room(&mut self.buf, READ_CHUNK);
            // Draining closes a connection between requests, not one inside a head.
            let between = self.buf.is_empty();
            let outcome = tokio::select! {
                biased;
                outcome = read.read_buf(&mut self.buf) => outcome,
                () = head_timer.as_mut() => return Next::Closed,
                () = drained.as_mut(), if between && !*drained_seen => {
                    *drained_seen = true;
                    return Next::Closed;
                }
            };
            match outcome {
                Ok(0) | Err(_) => return Next::Closed,
                Ok(_) => {}
            }
        }
    }

    /// The request's body as its head frames it: the read half is lent to it when it
    /// has to be read off the connection (with the `100 Continue` a client that `expects`
    /// one waits for, sent when the body is first read).
    fn body(&mut self, framing: BodyFraming, expects: bool) -> RequestBody {
        self.complete = true;
        let left = match framing {
            BodyFraming::Length(0) => return RequestBody(Inner::Whole(None)),
            BodyFraming::Length(length) if length <= self.buf.len() as u64 => {
                return RequestBody(Inner::Whole(Some(self.buf.split_to(length as usize).freeze())));
            }
            BodyFraming::Length(length) => Left::Length(length),
            BodyFraming::Chunked => Left::Chunks(Chunks::Size),
        };
        let Some(read) = self.read.take() else {
            return RequestBody(Inner::Whole(None));
        };
        let (back, lent) = oneshot::channel();
        self.lent = Some(lent);
        self.complete = false;
        let owed = expects.then(|| Arc::new(AtomicUsize::new(0)));
        self.continue_owed.clone_from(&owed);
        RequestBody(Inner::Reading(Reader {
            read: Some(read),
            buf: std::mem::take(&mut self.buf),
            left,
            back: Some(back),
            owed,
        }))
    }

    /// The read half back from the body it was lent to, if that body has given it back
    /// (once read to its end, or dropped).
    fn take_back(&mut self) {
        let Some(lent) = self.lent.as_mut() else { return };
        match lent.try_recv() {
            Ok(back) => self.returned(back),
            Err(oneshot::error::TryRecvError::Empty) => {}
            Err(oneshot::error::TryRecvError::Closed) => self.lent = None,
        }
    }

    fn returned(&mut self, back: Returned) {
        self.lent = None;
        self.read = Some(back.read);
        self.buf = back.buf;
        self.complete = back.complete;
    }

    /// Ready once the client has gone (its side closed or broke) while a request is
    /// served. What it sends meanwhile (a next request) is kept in the buffer, up to a
    /// head's limit; then it is no longer watched.
    fn poll_gone(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(lent) = self.lent.as_mut() {
            match Pin::new(lent).poll(cx) {
                Poll::Ready(Ok(back)) => self.returned(back),
                Poll::Ready(Err(_)) => self.lent = None,
                Poll::Pending => return Poll::Pending,
            }
        }
        let Some(read) = self.read.as_mut() else { return Poll::Pending };
        loop {
            if self.buf.len() >= head::MAX_HEAD {
                return Poll::Pending;
            }
            make_room(&mut self.buf, READ_CHUNK);
            match tokio_util::io::poll_read_buf(Pin::new(&mut *read), cx, &mut self.buf) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(_)) => {}
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Answer a refused request and close.
    async fn refuse(mut self, refusal: Refusal) {
        self.out.clear();
        head::refusal_answer(refusal, &http_date(), &mut self.out);
        if self.flush().await.is_ok() {
            self.close().await;
        }
    }

    /// Write `response`: its head, then its body as it comes, framed as the head says.
    /// `false` when it did not go out whole (the connection must end).
    async fn answer(
        &mut self,
        response: Response<Body>,
        method: &Method,
        version: Version,
        close: bool,
    ) -> bool {
        let (parts, mut body) = response.into_parts();
        let framing =
            head::answer_framing(method, version, parts.status, &parts.headers, body.size_hint().exact());
        let close = close || framing == Framing::Close;
        self.out.clear();
        head::encode_answer_head(
            parts.status,
            &parts.headers,
            framing,
            version,
            close,
            &http_date(),
            &mut self.out,
        );
        drop(parts);
        if let Framing::Bodiless(_) = framing {
            return self.flush().await.is_ok();
        }
        let chunked = framing == Framing::Chunked;
        let mut left = match framing {
            Framing::Length(length) => Some(length),
            _ => None,
        };
        loop {
            let gathered = !self.out.is_empty();
            // A frame at once is gathered with what is waiting; else what is waiting goes
            // out before the body is waited for, and the client is watched meanwhile.
            let next = poll_fn(|cx: &mut Context<'_>| match Pin::new(&mut body).poll_frame(cx) {
                Poll::Ready(frame) => Poll::Ready(Piece::Frame(frame)),
                Poll::Pending if gathered => Poll::Ready(Piece::Flush),
                Poll::Pending => self.poll_gone(cx).map(|()| Piece::Gone),
            })
            .await;
            let data = match next {
                Piece::Flush => {
                    if self.flush().await.is_err() {
                        return false;
                    }
                    continue;
                }
                Piece::Gone => return false,
                Piece::Frame(None) => break,
                Piece::Frame(Some(Err(_))) => {
                    let _ = self.flush().await;
                    return false;
                }
                Piece::Frame(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => data,
                    _ => continue,
                },
            };
            let mut data = data;
            let mut over = false;
            if let Some(left) = left.as_mut() {
                if data.len() as u64 > *left {
                    data.truncate(*left as usize);
                    over = true;
                }
                *left -= data.len() as u64;
            }
            if chunked {
                self.out.extend_from_slice(head::chunk_line(data.len(), &mut [0; 18]));
            }
            let tail: &[u8] = if chunked { b"\r\n" } else { b"" };
            if data.len() <= COPY_UP_TO {
                self.out.extend_from_slice(&data);
                self.out.extend_from_slice(tail);
                if self.out.len() >= GATHER && self.flush().await.is_err() {
                    return false;
                }
            } else {
                let mut pieces = Buf::chain(&self.out[..], &data[..]).chain(tail);
                if self.write.write_all_buf(&mut pieces).await.is_err() {
                    return false;
                }
                self.out.clear();
            }
            if over {
                let _ = self.flush().await;
                return false;
            }
            // All it declared went out: the body is polled no further.
            if left == Some(0) {
                break;
            }
        }
        if left.is_some_and(|left| left > 0) {
            let _ = self.flush().await;
            return false;
        }
        if chunked {
            self.out.extend_from_slice(b"0\r\n\r\n");
        }
        self.flush().await.is_ok()
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.write.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// End the connection: no more is written, and what the client still sends is read
    /// off for a short while, so the close does not reset what was answered.
    async fn close(mut self) {
        // A body dropped with the answer (an upload the answer came before) gave the read
        // half back only now.
        self.take_back();
        let _ = self.write.shutdown().await;
        let Some(mut read) = self.read.take() else { return };
        let mut read_off = 0;
        let _ = tokio::time::timeout(LINGER, async {
            let mut sink = [0u8; 8192];
            while read_off < LINGER_BYTES {
                match read.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(count) => read_off += count,
                }
            }
        })
        .await;
    }
}

/// Room for a read of about `wanted` bytes: more is reserved once less than half of it
/// is left.
fn make_room(buf: &mut BytesMut, wanted: usize) {
    if buf.capacity() - buf.len() < wanted / 2 {
        buf.reserve(wanted);
    }
}

/// Now as an HTTP date, made once a second on each thread.
fn http_date() -> [u8; 29] {
    thread_local! {
        static CACHED: std::cell::Cell<(u64, [u8; 29])> = const { std::cell::Cell::new((u64::MAX, [0; 29])) };
    }
    let now = std::time::SystemTime::now();
    let second = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs());
    CACHED.with(|cached| {
        let (at, date) = cached.get();
        if at == second {
            return date;
        }
        let mut fresh = [0u8; 29];
        let text = httpdate::fmt_http_date(now);
        if text.len() == fresh.len() {
            fresh.copy_from_slice(text.as_bytes());
        }
        cached.set((second, fresh));
        fresh
    })
}

/// What a body read off the connection hands back: the read half, what was read past
/// the body's end (the next request's start), and whether the body was read to its end.
struct Returned {
    read: OwnedReadHalf,
    buf: BytesMut,
    complete: bool,
}

/// A request's body: whole when it came with the head, else read off the connection as
/// it is polled.
pub struct RequestBody(Inner);

enum Inner {
    /// All of it (`None` once taken, or for no body).
    Whole(Option<Bytes>),
    Reading(Reader),
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("RequestBody").finish_non_exhaustive()
    }
}

/// How much of a body read off the connection is still to come.
enum Left {
    Length(u64),
    Chunks(Chunks),
}

struct Reader {
    read: Option<OwnedReadHalf>,
    buf: BytesMut,
    left: Left,
    back: Option<oneshot::Sender<Returned>>,
    /// The `100 Continue` owed to the client ([`CONTINUE`]).
    owed: Option<Arc<AtomicUsize>>,
}

impl Reader {
    fn ended(&self) -> bool {
        matches!(self.left, Left::Length(0) | Left::Chunks(Chunks::Done))
    }

    /// Hand the read half back to the connection (`complete`: the body was read whole).
    fn give_back(&mut self, complete: bool) {
        if let (Some(back), Some(read)) = (self.back.take(), self.read.take()) {
            let _ = back.send(Returned { read, buf: std::mem::take(&mut self.buf), complete });
        }
    }

    /// Send the owed `100 Continue` before the first read, unless the answer began.
    fn poll_continue(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let Some(owed) = self.owed.as_ref() else { return Poll::Ready(Ok(())) };
        let Some(read) = self.read.as_ref() else { return Poll::Ready(Ok(())) };
        let stream: &TcpStream = read.as_ref();
        loop {
            let sent = owed.load(Ordering::Acquire);
            if sent & LATE != 0 || sent == CONTINUE.len() {
                self.owed = None;
                return Poll::Ready(Ok(()));
            }
            std::task::ready!(stream.poll_write_ready(cx))?;
            // Marked as inside a write, so the connection does not begin its answer
            // meanwhile; refused when the answer began since.
            if owed.compare_exchange(sent, sent | WRITING, Ordering::AcqRel, Ordering::Acquire).is_err() {
                continue;
            }
            let written = stream.try_write(&CONTINUE[sent..]);
            let count = match &written {
                Ok(count) => *count,
                Err(_) => 0,
            };
            owed.store(sent + count, Ordering::Release);
            match written {
                Err(error) if error.kind() != std::io::ErrorKind::WouldBlock => {
                    return Poll::Ready(Err(error));
                }
                _ => {}
            }
        }
    }

    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        loop {
            match &mut self.left {
                Left::Length(0) => {
                    self.give_back(true);
                    return Poll::Ready(None);
                }
                Left::Length(left) => {
                    if let Some(data) = take_length(&mut self.buf, left) {
                        if *left == 0 {
                            self.give_back(true);
                        }
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Left::Chunks(chunks) => match chunks.decode(&mut self.buf) {
                    Ok(Some(data)) => return Poll::Ready(Some(Ok(data))),
                    Ok(None) if *chunks == Chunks::Done => {
                        self.give_back(true);
                        return Poll::Ready(None);
                    }
                    Ok(None) => {}
                    Err(error) => {
                        return Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            error.0,
                        ))));
                    }
                },
            }
            if let Err(error) = std::task::ready!(self.poll_continue(cx)) {
                return Poll::Ready(Some(Err(error)));
            }
            let Some(read) = self.read.as_mut() else { return Poll::Ready(None) };
            let wanted = match self.left {
                Left::Length(left) => {
                    usize::try_from(left).unwrap_or(usize::MAX).clamp(READ_CHUNK, 64 * 1024)
                }
                Left::Chunks(_) => READ_CHUNK,
            };
            make_room(&mut self.buf, wanted);
            match std::task::ready!(tokio_util::io::poll_read_buf(Pin::new(read), cx, &mut self.buf)) {
                Ok(0) => {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the client closed the connection before its body ended",
                    ))));
                }
                Ok(_) => {}
                Err(error) => return Poll::Ready(Some(Err(error))),
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let complete = self.ended();
        self.give_back(complete);
    }
}

impl RequestBody {
    /// The body's length as its head declared it (`None` for a chunked one).
    pub fn declared_length(&self) -> Option<u64> {
        self.size_hint().exact()
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match &mut self.get_mut().0 {
            Inner::Whole(whole) => Poll::Ready(whole.take().map(|bytes| Ok(Frame::data(bytes)))),
            Inner::Reading(reader) => reader.poll_data(cx).map(|data| data.map(|data| data.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Whole(whole) => whole.is_none(),
            Inner::Reading(reader) => reader.ended(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Whole(whole) => SizeHint::with_exact(whole.as_ref().map_or(0, |bytes| bytes.len() as u64)),
            Inner::Reading(Reader { left: Left::Length(left), .. }) => SizeHint::with_exact(*left),
            Inner::Reading(_) => SizeHint::default(),
        }
    }
}
