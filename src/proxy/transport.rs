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
//! polls its body (the task of the client's connection, `inbound.rs`). The bytes one read
//! brought are handed over as they are (split off the read buffer, not copied), with no
//! task switch and no channel between two tasks per chunk (reqwest's pool runs each
//! connection in a task of its own, and hyper's own client a dispatcher per connection).
//! Its connections and their pool are `pool.rs`; one request over them, `exchange.rs`.
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

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{HeaderMap, Method, StatusCode};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::failover::UpstreamUrl;

mod exchange;
mod pool;
#[cfg(test)]
mod tests;

pub(super) use pool::H1Client;

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
    /// `headers` may hold a hop-by-hop header (`error::strip_hop_by_hop` is needed before
    /// they go on); `false` only when the head's parse saw none.
    pub(super) hop_by_hop: bool,
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
                    hop_by_hop: true,
                    body: Box::pin(response.bytes_stream().map(|chunk| chunk.map_err(UpstreamError::from))),
                })
            }
        }
    }
}
