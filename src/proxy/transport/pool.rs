//! The own HTTP/1.1 client's connections: [`H1Client`] and its pool of idle keep-alive
//! connections per origin ([`Pool`], closed by a reaper when they expire or the upstream
//! closes them), a connection and what was read from it ([`Conn`]), how one is made (TCP,
//! then rustls with the webpki roots), and the URL's parts the client needs ([`Target`]).
//! How a request goes over a connection is [`super::exchange`].

use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::{ErrorKind, UpstreamError};

/// Idle connections are closed after this long (reqwest's pool: the same).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// At most this many idle connections are kept per origin.
const IDLE_PER_ORIGIN: usize = 256;

/// aigate's HTTP/1.1 client: idle keep-alive connections per origin.
#[derive(Clone)]
pub(in crate::proxy) struct H1Client {
    pub(super) pool: Arc<Pool>,
    pub(super) connect_timeout: Duration,
    /// TLS with other roots than the webpki ones (tests).
    pub(super) tls: Option<tokio_rustls::TlsConnector>,
}

#[derive(Debug, Default)]
pub(super) struct Pool {
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
pub(super) struct Origin {
    tls: bool,
    /// A domain name, or an IP address without brackets.
    host: String,
    port: u16,
    pub(super) host_header: HeaderValue,
}

impl Origin {
    fn matches(&self, target: &Target<'_>) -> bool {
        self.tls == target.tls && self.port == target.port && self.host == target.host
    }
}

/// One keep-alive connection: its stream, and what was read from it and not yet used.
pub(super) struct Conn {
    pub(super) io: Io,
    pub(super) read: BytesMut,
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
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
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
pub(super) struct Target<'a> {
    tls: bool,
    pub(super) host: &'a str,
    pub(super) port: u16,
    /// `host[:port]` as written in the URL (the `Host` header).
    pub(super) authority: &'a str,
    /// Path and query.
    pub(super) path_and_query: &'a str,
}

impl<'a> Target<'a> {
    /// What the connector is given: `http://host:port` with the port always written (the
    /// connector takes 80 for a port-less `http` URI, and an `https` URL's authority has
    /// none when its port is 443).
    pub(super) fn connect_to(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }

    pub(super) fn of(url: &'a reqwest::Url) -> Result<Self, UpstreamError> {
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
    pub(in crate::proxy) fn new(connect_timeout: Duration) -> Self {
        Self { pool: Arc::new(Pool::default()), connect_timeout, tls: None }
    }

    /// Whether the URL can go through this client: `http` or `https`, no user name or
    /// password in it (reqwest turns those into an `Authorization` header).
    pub(in crate::proxy) fn serves(url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https") && url.username().is_empty() && url.password().is_none()
        })
    }

    /// An idle connection to the target's origin that is still open and ready, and the
    /// origin (made at the first request to it).
    pub(super) fn checkout(&self, target: &Target<'_>) -> Result<(Option<Conn>, Arc<Origin>), UpstreamError> {
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

    pub(super) async fn connect(&self, target: &Target<'_>) -> Result<Conn, UpstreamError> {
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
    pub(super) fn put(self: &Arc<Self>, origin: &Arc<Origin>, mut conn: Conn) {
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

/// How often idle connections are looked at.
const REAP_EVERY: Duration = Duration::from_secs(30);

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
pub(super) fn connector_with(roots: rustls::RootCertStore) -> Result<tokio_rustls::TlsConnector, String> {
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
pub(super) enum Io {
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
