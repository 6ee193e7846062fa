//! How one attempt's request reaches its upstream: [`Transport`], either aigate's own
//! HTTP/1.1 client ([`H1Client`]) or reqwest, and what either gives back
//! ([`UpstreamResponse`], [`UpstreamError`]).
//!
//! The own client is used for every link that reaches its upstream directly (no proxy of
//! its own, and no `*_PROXY` variable that reqwest would honour); reqwest serves the links
//! that go through a proxy (HTTP CONNECT or SOCKS). The own client keeps idle keep-alive
//! connections per origin, and a connection is driven by the task that uses it: the task
//! that waits for the answer's head, then the one that polls its body (hyper's server
//! task of the client's connection). A body's chunks are decoded in that task's poll, so
//! every chunk one read brought is handed over in one go, with no task switch and no
//! channel between two tasks per chunk (reqwest's pool runs each connection in a task of
//! its own).
//!
//! Invariants:
//! - A connection returns to the pool only after its answer's body was read to its end;
//!   a body dropped before (the client went away) closes its connection.
//! - A request is sent again on a fresh connection only when hyper gives it back unsent
//!   (a pooled connection the upstream closed while idle): never after any byte of it
//!   may have reached the upstream.
//! - TLS is rustls with the webpki roots, as reqwest's `rustls-tls` (HTTP/1.1 by ALPN).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::failover::UpstreamUrl;

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

/// One keep-alive connection: the handle requests are sent on, and the connection itself,
/// polled by whoever uses it.
struct Conn {
    sender: SendRequest<OutBody>,
    driver: Pin<Box<Connection<TokioIo<Io>, OutBody>>>,
    /// The driver has finished: the connection is closed.
    closed: bool,
    idle_since: Instant,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Conn").field("closed", &self.closed).finish_non_exhaustive()
    }
}

impl Conn {
    /// Let the connection read and write what it can; whether it has closed.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.closed && self.driver.as_mut().poll(cx).is_ready() {
            self.closed = true;
        }
        self.closed
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
        mut headers: HeaderMap,
        body: Option<OutBody>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let target = Target::of(url)?;
        let uri: hyper::Uri = target
            .path_and_query
            .parse()
            .map_err(|error| UpstreamError::new(ErrorKind::Other, format!("bad upstream URL: {error}")))?;
        let (mut conn, origin) = self.checkout(&target)?;
        headers.insert(header::HOST, origin.host_header.clone());
        if !headers.contains_key(header::ACCEPT) {
            // What reqwest sends by default.
            headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        }
        let mut request = hyper::Request::new(body.unwrap_or(OutBody::Whole(None)));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        // A request hyper gives back unsent goes again on another connection (at most
        // twice: a fresh connection that closes at once is not tried forever).
        let mut retries = 0;
        loop {
            let (mut current, reused) = match conn.take() {
                Some(found) => (found, true),
                None => (self.connect(&target).await?, false),
            };
            let answer = current.sender.try_send_request(request);
            let mut answer = std::pin::pin!(answer);
            let outcome = poll_fn(|cx| {
                let closed = current.drive(cx);
                match answer.as_mut().poll(cx) {
                    Poll::Pending if closed => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(result) => Poll::Ready(Some(result)),
                }
            })
            .await;
            let mut error = match outcome {
                Some(Ok(response)) => {
                    let (parts, body) = response.into_parts();
                    let body = DrivenBody { body, conn: Some(current), pool: self.pool.clone(), origin };
                    return Ok(UpstreamResponse {
                        status: parts.status,
                        headers: parts.headers,
                        body: Box::pin(body),
                    });
                }
                Some(Err(error)) => error,
                None => {
                    // The connection ended before it took the request: dropping it hands
                    // the request back.
                    drop(current);
                    match answer.await {
                        Ok(_) => {
                            return Err(UpstreamError::new(
                                ErrorKind::Other,
                                "the connection closed before the answer",
                            ));
                        }
                        Err(error) => error,
                    }
                }
            };
            match error.take_message() {
                Some(unsent) if reused || retries < 2 => {
                    retries += 1;
                    request = unsent;
                    conn = self.checkout(&target)?.0;
                }
                _ => return Err(UpstreamError::from(error.into_error())),
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
            // A poll (outside the lock) lets the connection notice that the upstream closed it.
            let waker = futures_util::task::noop_waker();
            let closed = conn.drive(&mut Context::from_waker(&waker));
            if !closed && !conn.sender.is_closed() && conn.sender.is_ready() {
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
        let address: hyper::Uri = format!("http://{}", target.authority)
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
        let (sender, driver) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(io))
            .await
            .map_err(|error| UpstreamError::innermost(ErrorKind::Connect, &error))?;
        Ok(Conn { sender, driver: Box::pin(driver), closed: false, idle_since: Instant::now() })
    }
}

impl Pool {
    /// Keep a connection whose answer was read to its end, if it is ready for the next
    /// request (a connection still sending its request body, after an early answer, is not).
    fn put(self: &Arc<Self>, origin: &Arc<Origin>, mut conn: Conn, cx: &mut Context<'_>) {
        // Let it finish the answer and ask for the next request.
        if conn.drive(cx) || conn.sender.is_closed() || !conn.sender.is_ready() {
            return;
        }
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
        let waker = futures_util::task::noop_waker();
        let now = Instant::now();
        let kept: Vec<(usize, Vec<Conn>)> = idle
            .into_iter()
            .map(|(at, conns)| {
                let open = conns
                    .into_iter()
                    .filter_map(|mut conn| {
                        let fresh = now.duration_since(conn.idle_since) < IDLE_TIMEOUT;
                        (fresh && !conn.drive(&mut Context::from_waker(&waker)) && !conn.sender.is_closed())
                            .then_some(conn)
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

/// How often idle connections are looked at.
const REAP_EVERY: Duration = Duration::from_secs(30);

/// An answer's body, read by polling its connection in the reader's own task; the
/// connection goes back to the pool when the body has ended.
struct DrivenBody {
    body: Incoming,
    conn: Option<Conn>,
    pool: Arc<Pool>,
    origin: Arc<Origin>,
}

impl DrivenBody {
    fn release(&mut self, cx: &mut Context<'_>) {
        if let Some(conn) = self.conn.take() {
            self.pool.put(&self.origin, conn, cx);
        }
    }
}

impl Stream for DrivenBody {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(conn) = this.conn.as_mut() {
                conn.drive(cx);
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers
                    };
                    if this.body.is_end_stream() {
                        // A body of a declared length: its reader may stop polling now.
                        this.release(cx);
                    }
                    if data.is_empty() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(data)));
                }
                Poll::Ready(Some(Err(error))) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(error.into())));
                }
                Poll::Ready(None) => {
                    this.release(cx);
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
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
                    loop {
                        let Ok(read) = stream.read(&mut buf).await else { return };
                        if read == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..read]);
                        while let Some(end) = seen.windows(4).position(|window| window == b"\r\n\r\n") {
                            seen.drain(..end + 4);
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
        }
        let parsed = reqwest::Url::parse("http://[::1]:8080/v1/x?a=1").unwrap();
        assert_eq!(Target::of(&parsed).unwrap().path_and_query, "/v1/x?a=1");
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
