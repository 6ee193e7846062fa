//! How one attempt's request reaches its upstream: [`Transport`], either aigate's own
//! HTTP/1.1 client ([`H1Client`]) or reqwest, and what either gives back
//! ([`UpstreamResponse`], [`UpstreamError`]).
//!
//! The own client is used for every link that reaches its upstream directly (no proxy of
//! its own, and no `*_PROXY` variable that reqwest would honour); reqwest serves the links
//! that go through a proxy (HTTP CONNECT or SOCKS). The own client keeps idle keep-alive
//! connections per origin and speaks HTTP/1.1 itself ([`super::wire`]: the head written
//! in one buffer, the answer's head parsed with httparse): a connection is read and written
//! by the task that uses it, the one that waits for the answer's head, then the one that
//! polls its body (hyper's server task of the client's connection). The bytes one read
//! brought are handed over as they are (split off the read buffer, not copied), with no
//! task switch and no channel between two tasks per chunk (reqwest's pool runs each
//! connection in a task of its own, and hyper's own client a dispatcher per connection).
//!
//! Invariants:
//! - A connection returns to the pool only after its answer's body was read to its end
//!   and nothing past it; a body dropped before (the client went away) closes its
//!   connection. One whose answer came before its request's body was all sent is closed
//!   (the rest of the body still goes out while the answer is read: an upstream may answer
//!   before it reads the body; a body that breaks then ends the answer with an error).
//! - A request is sent again on a fresh connection only when not one byte of it was
//!   written to the one it was tried on, or when a pooled connection closed (end of stream
//!   or reset) within [`STALE_WITHIN`] of the request being put on it, before one byte of
//!   the answer came, and the request can be sent whole again (the upstream closed it
//!   while idle, its close not yet seen when it was taken): what the failover chain would
//!   do with the next link, done on the same one first.
//! - While a request's body goes out, the answer is read too: an upstream that refuses a
//!   large body early is heard, not written at until a timeout.
//! - TLS is rustls with the webpki roots, as reqwest's `rustls-tls` (HTTP/1.1 by ALPN).

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use hyper::body::Body as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::failover::UpstreamUrl;
use super::wire::{Chunks, Framing, Head};

/// A request's body on its way upstream: whole, or the client's as it arrives.
#[derive(Debug)]
pub(super) enum OutBody {
    Whole(Option<Bytes>),
    Streamed(Box<super::streamed::StreamedBody>),
}

impl hyper::body::Body for OutBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            OutBody::Whole(bytes) => {
                Poll::Ready(bytes.take().map(|bytes| Ok(hyper::body::Frame::data(bytes))))
            }
            OutBody::Streamed(body) => Pin::new(body.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            OutBody::Whole(bytes) => bytes.is_none(),
            OutBody::Streamed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            OutBody::Whole(bytes) => {
                hyper::body::SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
            OutBody::Streamed(body) => body.size_hint(),
        }
    }
}

/// An upstream answer's body as a stream of chunks.
pub(super) type Upstream = Pin<Box<dyn Stream<Item = Result<Bytes, UpstreamError>> + Send>>;

/// An upstream's answer: its head, and its body still to be read.
pub(super) struct UpstreamResponse {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Upstream,
}

/// Why a request got no answer, or a body broke.
#[derive(Debug)]
pub(super) struct UpstreamError {
    pub(super) kind: ErrorKind,
    /// The innermost cause, without the URL (ours anyway).
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrorKind {
    /// No connection could be made (refused, DNS, TLS, connect timeout).
    Connect,
    /// Anything after the connection was made.
    Other,
}

impl UpstreamError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    fn innermost(kind: ErrorKind, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut source = error;
        while let Some(next) = source.source() {
            source = next;
        }
        Self::new(kind, source.to_string())
    }

    /// The cause, short.
    pub(super) fn short(&self) -> &str {
        &self.message
    }
}

impl From<reqwest::Error> for UpstreamError {
    fn from(error: reqwest::Error) -> Self {
        let kind = if error.is_connect() { ErrorKind::Connect } else { ErrorKind::Other };
        Self::innermost(kind, &error)
    }
}

impl From<hyper::Error> for UpstreamError {
    fn from(error: hyper::Error) -> Self {
        Self::innermost(ErrorKind::Other, &error)
    }
}

/// How a link's requests travel.
#[derive(Debug)]
pub(super) enum Transport {
    /// Straight to the upstream, over aigate's own pooled HTTP/1.1 connections.
    Direct(H1Client),
    /// Through reqwest (a link with a proxy).
    Reqwest(reqwest::Client),
}

impl Transport {
    /// Whether a request body can be streamed over this transport.
    pub(super) fn streams(&self) -> bool {
        matches!(self, Transport::Direct(_))
    }

    /// Send one request and wait for the answer's head. `body` is `None` for a GET; a
    /// streamed body goes only over [`Transport::Direct`] ([`Transport::streams`]).
    pub(super) async fn send(
        &self,
        method: Method,
        url: UpstreamUrl,
        headers: HeaderMap,
        body: Option<OutBody>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        match self {
            Transport::Direct(client) => {
                let url = match url {
                    UpstreamUrl::Parsed(url) => url,
                    UpstreamUrl::Text(text) => reqwest::Url::parse(&text).map_err(|error| {
                        UpstreamError::new(ErrorKind::Other, format!("bad upstream URL: {error}"))
                    })?,
                };
                client.send(method, &url, headers, body).await
            }
            Transport::Reqwest(client) => {
                let builder = match url {
                    UpstreamUrl::Parsed(url) => client.request(method, url),
                    UpstreamUrl::Text(url) => client.request(method, url),
                };
                let builder = builder.headers(headers);
                let builder = match body {
                    Some(OutBody::Whole(Some(body))) => builder.body(body),
                    Some(OutBody::Whole(None)) | None => builder,
                    Some(OutBody::Streamed(_)) => {
                        return Err(UpstreamError::new(
                            ErrorKind::Other,
                            "a streamed body needs the own client",
                        ));
                    }
                };
                let mut response = builder.send().await?;
                Ok(UpstreamResponse {
                    status: response.status(),
                    headers: std::mem::take(response.headers_mut()),
                    body: Box::pin(response.bytes_stream().map(|chunk| chunk.map_err(UpstreamError::from))),
                })
            }
        }
    }
}

/// Idle connections are closed after this long (reqwest's pool: the same).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// At most this many idle connections are kept per origin.
const IDLE_PER_ORIGIN: usize = 256;

/// aigate's HTTP/1.1 client: idle keep-alive connections per origin.
#[derive(Clone)]
pub(super) struct H1Client {
    pool: Arc<Pool>,
    connect_timeout: Duration,
    /// TLS with other roots than the webpki ones (tests).
    tls: Option<tokio_rustls::TlsConnector>,
}

#[derive(Debug, Default)]
struct Pool {
    origins: Mutex<Vec<OriginSlot>>,
    /// A task closes idle connections that expired or that the upstream closed.
    reaper: std::sync::atomic::AtomicBool,
}

/// One origin's idle connections, oldest first. Slots are never removed, so an origin is
/// made once and shared by every request to it.
#[derive(Debug)]
struct OriginSlot {
    origin: Arc<Origin>,
    idle: Vec<Conn>,
}

/// Scheme, host and port of a URL, and its `Host` value (the URL's own authority).
#[derive(Debug)]
struct Origin {
    tls: bool,
    /// A domain name, or an IP address without brackets.
    host: String,
    port: u16,
    host_header: HeaderValue,
}

impl Origin {
    fn matches(&self, target: &Target<'_>) -> bool {
        self.tls == target.tls && self.port == target.port && self.host == target.host
    }
}

/// One keep-alive connection: its stream, and what was read from it and not yet used.
struct Conn {
    io: Io,
    read: BytesMut,
    /// How much the next read asks for: grows while reads fill it (a large body).
    read_size: usize,
    idle_since: Instant,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Conn").field("buffered", &self.read.len()).finish_non_exhaustive()
    }
}

/// The first read of an answer asks for this much; later ones up to [`READ_MAX`].
const READ_MIN: usize = 16 * 1024;
const READ_MAX: usize = 64 * 1024;
/// An idle connection keeps a read buffer of at most this size.
const IDLE_BUFFER_MAX: usize = 64 * 1024;

impl Conn {
    fn new(io: Io) -> Self {
        Self { io, read: BytesMut::new(), read_size: READ_MIN, idle_since: Instant::now() }
    }

    /// Read what the stream has into the buffer: the bytes read, 0 at its end.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        self.read.reserve(self.read_size);
        let read =
            std::task::ready!(tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read))?;
        if read >= self.read_size {
            self.read_size = (self.read_size * 2).min(READ_MAX);
        }
        Poll::Ready(Ok(read))
    }

    /// Whether an idle connection can take a request: the upstream has neither closed it
    /// nor sent anything unasked.
    fn usable(&mut self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let waker = futures_util::task::noop_waker();
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        matches!(
            Pin::new(&mut self.io).poll_read(&mut Context::from_waker(&waker), &mut probe),
            Poll::Pending
        )
    }
}

/// The split views of a URL the client needs.
struct Target<'a> {
    tls: bool,
    host: &'a str,
    port: u16,
    /// `host[:port]` as written in the URL (the `Host` header).
    authority: &'a str,
    /// Path and query.
    path_and_query: &'a str,
}

impl<'a> Target<'a> {
    /// What the connector is given: `http://host:port` with the port always written (the
    /// connector takes 80 for a port-less `http` URI, and an `https` URL's authority has
    /// none when its port is 443).
    fn connect_to(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }

    fn of(url: &'a reqwest::Url) -> Result<Self, UpstreamError> {
        use url::Position;
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(UpstreamError::new(
                    ErrorKind::Connect,
                    format!("unsupported URL scheme `{other}`"),
                ));
            }
        };
        let host = match url.host() {
            Some(url::Host::Domain(domain)) => domain,
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
                url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']')
            }
            None => return Err(UpstreamError::new(ErrorKind::Connect, "the URL has no host")),
        };
        let port = url.port_or_known_default().unwrap_or(if tls { 443 } else { 80 });
        let path_and_query = &url[Position::BeforePath..Position::AfterQuery];
        Ok(Self {
            tls,
            host,
            port,
            authority: &url[Position::BeforeHost..Position::AfterPort],
            path_and_query: if path_and_query.is_empty() { "/" } else { path_and_query },
        })
    }
}

impl std::fmt::Debug for H1Client {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("H1Client")
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl H1Client {
    pub(super) fn new(connect_timeout: Duration) -> Self {
        Self { pool: Arc::new(Pool::default()), connect_timeout, tls: None }
    }

    /// Whether the URL can go through this client: `http` or `https`, no user name or
    /// password in it (reqwest turns those into an `Authorization` header).
    pub(super) fn serves(url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https") && url.username().is_empty() && url.password().is_none()
        })
    }

    async fn send(
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
        super::wire::encode_head(
            &method,
            target.path_and_query,
            &origin.host_header,
            &headers,
            length,
            &mut head,
        );
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

    /// An idle connection to the target's origin that is still open and ready, and the
    /// origin (made at the first request to it).
    fn checkout(&self, target: &Target<'_>) -> Result<(Option<Conn>, Arc<Origin>), UpstreamError> {
        loop {
            let (candidate, origin) = {
                let mut origins =
                    self.pool.origins.lock().map_err(|_| {
                        UpstreamError::new(ErrorKind::Other, "the connection pool is unusable")
                    })?;
                if !origins.iter().any(|slot| slot.origin.matches(target)) {
                    let host_header = HeaderValue::from_str(target.authority).map_err(|_| {
                        UpstreamError::new(ErrorKind::Connect, "the URL's host is no valid header")
                    })?;
                    let origin = Origin {
                        tls: target.tls,
                        host: target.host.to_string(),
                        port: target.port,
                        host_header,
                    };
                    origins.push(OriginSlot { origin: Arc::new(origin), idle: Vec::new() });
                }
                let Some(slot) = origins.iter_mut().find(|slot| slot.origin.matches(target)) else {
                    return Err(UpstreamError::new(ErrorKind::Other, "the connection pool lost an origin"));
                };
                let now = Instant::now();
                let expired = slot
                    .idle
                    .iter()
                    .take_while(|conn| now.duration_since(conn.idle_since) >= IDLE_TIMEOUT)
                    .count();
                slot.idle.drain(..expired);
                (slot.idle.pop(), slot.origin.clone())
            };
            let Some(mut conn) = candidate else {
                return Ok((None, origin));
            };
            // A look (outside the lock) at whether the upstream closed it meanwhile.
            if conn.usable() {
                return Ok((Some(conn), origin));
            }
        }
    }

    async fn connect(&self, target: &Target<'_>) -> Result<Conn, UpstreamError> {
        let within = self.connect_timeout;
        let timed_out = || {
            UpstreamError::new(ErrorKind::Connect, format!("connect timed out after {}s", within.as_secs()))
        };
        let deadline = tokio::time::Instant::now() + within;
        // hyper-util's connector, as reqwest's: DNS off the runtime, every address tried,
        // IPv6 and IPv4 raced (happy eyeballs), TCP_NODELAY.
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.enforce_http(false);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(within));
        let address: hyper::Uri = target
            .connect_to()
            .parse()
            .map_err(|_| UpstreamError::new(ErrorKind::Connect, "the URL's host is no valid authority"))?;
        let tcp = tokio::time::timeout_at(deadline, tower_service::Service::call(&mut connector, address))
            .await
            .map_err(|_| timed_out())?
            .map_err(|error| UpstreamError::innermost(ErrorKind::Connect, &error))?
            .into_inner();
        let io = if target.tls {
            let name = rustls::pki_types::ServerName::try_from(target.host.to_string()).map_err(|error| {
                UpstreamError::new(ErrorKind::Connect, format!("bad TLS server name: {error}"))
            })?;
            let connector = match &self.tls {
                Some(connector) => connector.clone(),
                None => tls_connector()?,
            };
            let stream = tokio::time::timeout_at(deadline, connector.connect(name, tcp))
                .await
                .map_err(|_| timed_out())?
                .map_err(|error| UpstreamError::innermost(ErrorKind::Connect, &error))?;
            Io::Tls(Box::new(stream))
        } else {
            Io::Plain(tcp)
        };
        Ok(Conn::new(io))
    }
}

impl Pool {
    /// Keep a connection whose answer was read to its end.
    fn put(self: &Arc<Self>, origin: &Arc<Origin>, mut conn: Conn) {
        if conn.read.capacity() > IDLE_BUFFER_MAX {
            conn.read = BytesMut::new();
        }
        conn.read_size = READ_MIN;
        conn.idle_since = Instant::now();
        let Ok(mut origins) = self.origins.lock() else {
            return;
        };
        if let Some(slot) = origins.iter_mut().find(|slot| Arc::ptr_eq(&slot.origin, origin)) {
            if slot.idle.len() < IDLE_PER_ORIGIN {
                slot.idle.push(conn);
            }
        }
        drop(origins);
        if !self.reaper.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tokio::spawn(reap(Arc::downgrade(self)));
        }
    }
}

/// Every [`REAP_EVERY`], close the idle connections that expired or that the upstream
/// closed, until the pool is gone.
async fn reap(pool: std::sync::Weak<Pool>) {
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        let idle: Vec<(usize, Vec<Conn>)> = match pool.origins.lock() {
            Ok(mut origins) => origins
                .iter_mut()
                .enumerate()
                .map(|(at, slot)| (at, std::mem::take(&mut slot.idle)))
                .collect(),
            Err(_) => return,
        };
        let now = Instant::now();
        let kept: Vec<(usize, Vec<Conn>)> = idle
            .into_iter()
            .map(|(at, conns)| {
                let open = conns
                    .into_iter()
                    .filter_map(|mut conn| {
                        let fresh = now.duration_since(conn.idle_since) < IDLE_TIMEOUT;
                        (fresh && conn.usable()).then_some(conn)
                    })
                    .collect();
                (at, open)
            })
            .collect();
        if let Ok(mut origins) = pool.origins.lock() {
            for (at, mut conns) in kept {
                if let Some(slot) = origins.get_mut(at) {
                    // Oldest first: the kept ones go before those returned meanwhile.
                    conns.append(&mut slot.idle);
                    slot.idle = conns;
                }
            }
        }
    }
}

/// A pooled connection that closes this soon after a request was put on it, before one
/// byte of the answer, was closed by the upstream while idle (its close crossed the
/// request): later, the upstream may have taken the request and dropped it while working.
const STALE_WITHIN: Duration = Duration::from_secs(1);

/// How often idle connections are looked at.
const REAP_EVERY: Duration = Duration::from_secs(30);

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
    head: Bytes,
    body: OutBody,
    /// The head and a whole body as they were before sending, to send them again.
    replay: (Bytes, Option<Bytes>),
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
        let (piece, body_ended) = match body {
            OutBody::Whole(None) => (Bytes::new(), true),
            _ => (Bytes::new(), false),
        };
        let head = Bytes::from(head);
        let whole = match &body {
            OutBody::Whole(bytes) => bytes.clone(),
            OutBody::Streamed(_) => None,
        };
        Self {
            replay: (head.clone(), whole),
            streamed_taken: false,
            heard: false,
            unflushed: false,
            head,
            body,
            owed: length,
            piece,
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
        let (head, whole) = &self.replay;
        if let OutBody::Whole(body) = &mut self.body {
            self.owed = whole.as_ref().map_or(0, |whole| whole.len() as u64);
            self.body_ended = whole.is_none();
            body.clone_from(whole);
        }
        self.head = head.clone();
        self.piece = Bytes::new();
        self.written = 0;
        self.broken = None;
        self.heard = false;
        self.unflushed = false;
        true
    }

    /// The whole request went out.
    fn finished(&self) -> bool {
        self.head.is_empty() && self.piece.is_empty() && self.body_ended && self.broken.is_none()
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
                    Poll::Pending if self.head.is_empty() => {
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
            if self.head.is_empty() && self.piece.is_empty() {
                return self.poll_flushed(io, cx);
            }
            let slices = [std::io::IoSlice::new(&self.head), std::io::IoSlice::new(&self.piece)];
            match Pin::new(&mut *io).poll_write_vectored(cx, &slices) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => self.broken = Some(std::io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(mut wrote)) => {
                    self.written += wrote;
                    self.unflushed = true;
                    let from_head = wrote.min(self.head.len());
                    self.head.advance(from_head);
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
            match super::wire::parse_head(&conn.read, method) {
                Ok(Some((taken, head))) => {
                    conn.read.advance(taken);
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
                    if !conn.read.is_empty() {
                        let take = usize::try_from(*left).unwrap_or(usize::MAX).min(conn.read.len());
                        let data = conn.read.split_to(take).freeze();
                        *left -= take as u64;
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

/// The TLS connector with the webpki roots, built at the first `https` connection.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, UpstreamError> {
    static CONNECTOR: OnceLock<Result<tokio_rustls::TlsConnector, String>> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            connector_with(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
        })
        .clone()
        .map_err(|error| UpstreamError::new(ErrorKind::Connect, format!("TLS set-up failed: {error}")))
}

/// A TLS connector trusting `roots`, offering HTTP/1.1 by ALPN.
fn connector_with(roots: rustls::RootCertStore) -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A plain or a TLS connection.
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(stream) => stream.is_write_vectored(),
            Io::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// What the test upstream does after answering.
    #[derive(Clone, Copy)]
    enum After {
        /// Keep the connection open for the next request.
        KeepAlive,
        /// Close the connection right after the answer (no `Connection: close` header):
        /// a keep-alive connection the upstream dropped while it sat idle.
        Close,
        /// Keep the connection open, but close it at the next request without answering:
        /// the upstream's close of an idle connection crossed the request on its way.
        CloseAtTheNext,
    }

    /// An upstream on 127.0.0.1 that answers every request with `body` (chunked when
    /// `chunks` > 1) and counts the connections it accepted.
    async fn upstream(after: After, chunks: usize) -> (String, Arc<AtomicUsize>) {
        upstream_with(after, chunks, None).await
    }

    /// [`upstream`], over TLS as `localhost` when `tls` is given.
    async fn upstream_with(
        after: After,
        chunks: usize,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = match tls {
            Some(_) => format!("https://localhost:{port}/v1"),
            None => format!("http://127.0.0.1:{port}/v1"),
        };
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let tls = tls.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut stream: Pin<Box<dyn Io2>> = match tls {
                        Some(acceptor) => match acceptor.accept(tcp).await {
                            Ok(stream) => Box::pin(stream),
                            Err(_) => return,
                        },
                        None => Box::pin(tcp),
                    };
                    let mut buf = vec![0u8; 65536];
                    let mut seen = Vec::new();
                    let mut answered = 0;
                    loop {
                        let Ok(read) = stream.read(&mut buf).await else { return };
                        if read == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..read]);
                        while let Some(end) = seen.windows(4).position(|window| window == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            if answered == 1 && matches!(after, After::CloseAtTheNext) {
                                return;
                            }
                            answered += 1;
                            let answer = if chunks > 1 {
                                let mut text = String::from(
                                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
                                );
                                for index in 0..chunks {
                                    let event = format!("data: {index}\n\n");
                                    text.push_str(&format!("{:x}\r\n{event}\r\n", event.len()));
                                }
                                text.push_str("0\r\n\r\n");
                                text
                            } else {
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}".to_string()
                            };
                            if stream.write_all(answer.as_bytes()).await.is_err() {
                                return;
                            }
                            if matches!(after, After::Close) {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    trait Io2: AsyncRead + AsyncWrite + Send {}
    impl<T: AsyncRead + AsyncWrite + Send> Io2 for T {}

    const CA: &[u8] = include_bytes!("../../tests/fixtures/tls/ca.pem");
    const CERT: &[u8] = include_bytes!("../../tests/fixtures/tls/localhost.pem");
    const KEY: &[u8] = include_bytes!("../../tests/fixtures/tls/localhost.key");

    fn acceptor() -> tokio_rustls::TlsAcceptor {
        use rustls::pki_types::pem::PemObject;
        let certs = vec![rustls::pki_types::CertificateDer::from_pem_slice(CERT).unwrap()];
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(KEY).unwrap();
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }

    #[tokio::test(flavor = "current_thread")]
    async fn https_upstreams_are_verified_and_kept_alive() {
        use rustls::pki_types::pem::PemObject;
        let (url, accepted) = upstream_with(After::KeepAlive, 5, Some(acceptor())).await;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(rustls::pki_types::CertificateDer::from_pem_slice(CA).unwrap()).unwrap();
        let trusting =
            H1Client { tls: Some(connector_with(roots).unwrap()), ..H1Client::new(Duration::from_secs(5)) };
        for _ in 0..3 {
            assert!(String::from_utf8(get(&trusting, &url).await).unwrap().contains("data: 4"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // The webpki roots do not know the test CA.
        let url = reqwest::Url::parse(&format!("{url}/x")).unwrap();
        let error = H1Client::new(Duration::from_secs(5))
            .send(Method::GET, &url, HeaderMap::new(), None)
            .await
            .err()
            .unwrap();
        assert_eq!(error.kind, ErrorKind::Connect);
        assert!(error.short().contains("certificate"), "{}", error.short());
    }

    async fn get(client: &H1Client, url: &str) -> Vec<u8> {
        let url = reqwest::Url::parse(&format!("{url}/chat/completions")).unwrap();
        let response = client
            .send(Method::POST, &url, HeaderMap::new(), Some(OutBody::Whole(Some(Bytes::from_static(b"{}")))))
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::OK);
        let mut body = response.body;
        let mut all = Vec::new();
        while let Some(chunk) = body.next().await {
            all.extend_from_slice(&chunk.unwrap());
        }
        all
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connections_are_kept_alive_and_reused() {
        for chunks in [1, 5] {
            let (url, accepted) = upstream(After::KeepAlive, chunks).await;
            let client = H1Client::new(Duration::from_secs(5));
            for _ in 0..3 {
                let body = get(&client, &url).await;
                assert!(!body.is_empty());
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 1, "chunks={chunks}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_the_upstream_closed_while_idle_is_not_used_again() {
        let (url, accepted) = upstream(After::Close, 1).await;
        let client = H1Client::new(Duration::from_secs(5));
        for _ in 0..3 {
            assert_eq!(get(&client, &url).await, b"{}");
            // Let the upstream's close arrive.
            tokio::task::yield_now().await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_a_pooled_connection_closed_on_unanswered_goes_again_on_a_fresh_one() {
        for chunks in [1, 3] {
            let (url, accepted) = upstream(After::CloseAtTheNext, chunks).await;
            let client = H1Client::new(Duration::from_secs(5));
            for _ in 0..3 {
                assert!(!get(&client, &url).await.is_empty());
            }
            // The second and third requests each met a closed pooled connection first.
            assert_eq!(accepted.load(Ordering::SeqCst), 3, "chunks={chunks}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_of_a_declared_length_frees_its_connection_at_its_last_byte() {
        let (url, accepted) = upstream(After::KeepAlive, 1).await;
        let client = H1Client::new(Duration::from_secs(5));
        for _ in 0..3 {
            let url = reqwest::Url::parse(&format!("{url}/x")).unwrap();
            let mut response = client.send(Method::GET, &url, HeaderMap::new(), None).await.unwrap();
            // The reader stops at the declared length and drops the body, as hyper's server does.
            assert_eq!(&response.body.next().await.unwrap().unwrap()[..], b"{}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_dropped_before_its_end_closes_its_connection() {
        let (url, accepted) = upstream(After::KeepAlive, 50).await;
        let client = H1Client::new(Duration::from_secs(5));
        let url_parsed = reqwest::Url::parse(&format!("{url}/x")).unwrap();
        let mut response = client.send(Method::GET, &url_parsed, HeaderMap::new(), None).await.unwrap();
        let _first = response.body.next().await.unwrap().unwrap();
        drop(response);
        assert!(!get(&client, &url).await.is_empty());
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_host_header_is_the_urls_authority_and_the_connection_goes_to_its_address() {
        for (url, host, port, authority) in [
            ("http://[::1]:8080/v1/x?a=1", "::1", 8080, "[::1]:8080"),
            ("https://[2001:db8::1]/v1", "2001:db8::1", 443, "[2001:db8::1]"),
            ("https://api.example:443/v1", "api.example", 443, "api.example"),
            ("http://127.0.0.1:9/v1", "127.0.0.1", 9, "127.0.0.1:9"),
        ] {
            let parsed = reqwest::Url::parse(url).unwrap();
            let target = Target::of(&parsed).unwrap();
            assert_eq!((target.host, target.port, target.authority), (host, port, authority), "{url}");
            let address: hyper::Uri = target.connect_to().parse().unwrap();
            let connect_host = address.host().map(|host| host.trim_start_matches('[').trim_end_matches(']'));
            assert_eq!((connect_host, address.port_u16()), (Some(host), Some(port)), "{url}");
        }
        let parsed = reqwest::Url::parse("http://[::1]:8080/v1/x?a=1").unwrap();
        assert_eq!(Target::of(&parsed).unwrap().path_and_query, "/v1/x?a=1");
    }

    /// An upstream that reads one request's head, writes `answer`, then closes the
    /// connection (`close`) or holds it open without reading any more.
    async fn scripted(answer: &'static [u8], close: bool) -> reqwest::Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = reqwest::Url::parse(&format!("http://{}/v1/x", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|window| window == b"\r\n\r\n") {
                let read = stream.read(&mut buf).await.unwrap();
                assert!(read > 0);
                seen.extend_from_slice(&buf[..read]);
            }
            stream.write_all(answer).await.unwrap();
            if !close {
                std::future::pending::<()>().await;
            }
        });
        url
    }

    /// The answer's status and its body's chunks joined, or the error that ended it.
    async fn fetch(url: &reqwest::Url, body: Option<OutBody>) -> Result<(StatusCode, Vec<u8>), String> {
        let client = H1Client::new(Duration::from_secs(5));
        let response = client
            .send(Method::POST, url, HeaderMap::new(), body)
            .await
            .map_err(|error| error.short().to_string())?;
        let mut body = response.body;
        let mut all = Vec::new();
        while let Some(chunk) = body.next().await {
            all.extend_from_slice(&chunk.map_err(|error| error.short().to_string())?);
        }
        Ok((response.status, all))
    }

    #[tokio::test(flavor = "current_thread")]
    async fn answers_arrive_whole_however_they_are_framed() {
        for (answer, status, body) in [
            (
                &b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end"[..],
                200,
                &b"until the end"[..],
            ),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok", 201, b"ok"),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n",
                200,
                b"abc",
            ),
            (b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy", 503, b"busy"),
        ] {
            let url = scripted(answer, true).await;
            let got = fetch(&url, Some(OutBody::Whole(Some(Bytes::from_static(b"{}"))))).await;
            assert_eq!(got, Ok((StatusCode::from_u16(status).unwrap(), body.to_vec())), "{answer:?}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_cut_short_and_an_answer_that_is_no_http_are_errors() {
        let url = scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", true).await;
        assert_eq!(fetch(&url, None).await, Err("the connection closed before the body's end".to_string()));
        let url = scripted(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc", true).await;
        assert_eq!(fetch(&url, None).await, Err("the connection closed before the body's end".to_string()));
        let url = scripted(b"220 smtp.example ESMTP\r\n\r\n", true).await;
        assert_eq!(fetch(&url, None).await, Err("the answer is no HTTP/1.1".to_string()));
        let url = scripted(b"", true).await;
        assert_eq!(fetch(&url, None).await, Err("the connection closed before the answer".to_string()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_answer_given_before_the_body_was_read_arrives() {
        // The upstream refuses after the head and reads none of the 16 MB body.
        let url = scripted(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig", false).await;
        let body = OutBody::Whole(Some(Bytes::from(vec![b'x'; 16 << 20])));
        assert_eq!(fetch(&url, Some(body)).await, Ok((StatusCode::PAYLOAD_TOO_LARGE, b"big".to_vec())));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_the_upstream_reads_after_its_answers_head_still_goes_out() {
        // The upstream answers `200` with a chunked head at once, then reads the whole
        // 16 MB body, then says how much it read; over TLS too.
        use rustls::pki_types::pem::PemObject;
        const SIZE: usize = 16 << 20;
        for tls in [None, Some(acceptor())] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let scheme = if tls.is_some() { "https://localhost" } else { "http://127.0.0.1" };
            let url = reqwest::Url::parse(&format!("{scheme}:{port}/v1/x")).unwrap();
            let mut roots = rustls::RootCertStore::empty();
            roots.add(rustls::pki_types::CertificateDer::from_pem_slice(CA).unwrap()).unwrap();
            let client = H1Client {
                tls: Some(connector_with(roots).unwrap()),
                ..H1Client::new(Duration::from_secs(5))
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let (tcp, _) = listener.accept().await.unwrap();
                let mut stream: Pin<Box<dyn Io2>> = match tls {
                    Some(acceptor) => Box::pin(acceptor.accept(tcp).await.unwrap()),
                    None => Box::pin(tcp),
                };
                let mut seen = Vec::new();
                let mut buf = vec![0u8; 1 << 16];
                let head_end = loop {
                    let read = stream.read(&mut buf).await.unwrap();
                    seen.extend_from_slice(&buf[..read]);
                    if let Some(end) = seen.windows(4).position(|window| window == b"\r\n\r\n") {
                        break end + 4;
                    }
                };
                stream.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await.unwrap();
                stream.flush().await.unwrap();
                let mut body = seen.len() - head_end;
                while body < SIZE {
                    let read = stream.read(&mut buf).await.unwrap();
                    assert!(read > 0);
                    body += read;
                }
                let said = format!("read {body}");
                stream
                    .write_all(format!("{:x}\r\n{said}\r\n0\r\n\r\n", said.len()).as_bytes())
                    .await
                    .unwrap();
                stream.flush().await.unwrap();
                std::future::pending::<()>().await;
            });
            let fetched = async {
                let body = OutBody::Whole(Some(Bytes::from(vec![b'x'; SIZE])));
                let response = client.send(Method::POST, &url, HeaderMap::new(), Some(body)).await.unwrap();
                let mut body = response.body;
                let mut all = Vec::new();
                while let Some(chunk) = body.next().await {
                    all.extend_from_slice(&chunk.unwrap());
                }
                (response.status, all)
            };
            // Were the body's rest not sent, each side would wait for the other.
            let got = tokio::time::timeout(Duration::from_secs(60), fetched).await;
            assert_eq!(got.ok(), Some((StatusCode::OK, format!("read {SIZE}").into_bytes())), "{scheme}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = reqwest::Url::parse(&format!("http://{}/v1/x", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let client = H1Client::new(Duration::from_secs(5));
        let error = client.send(Method::GET, &url, HeaderMap::new(), None).await.err().unwrap();
        assert_eq!(error.kind, ErrorKind::Connect);
    }
}
