//! The client's side of HTTP/1.1 as pure functions over bytes: a request's head, read
//! strictly (its framing is what request smuggling plays on), and an answer's head.
//!
//! Invariants:
//! - A request's body is framed by `Content-Length` (every value of it the same number) or
//!   by `Transfer-Encoding: chunked` alone; a request with both, with another transfer
//!   coding, or an HTTP/1.0 one with any, is refused and its connection closed, so no two
//!   readers can see a different end of it.
//! - An HTTP/1.1 request names exactly one `Host`.
//! - Heads have limits on their size and number of lines.
//! - An answer's head has its framing and connection headers from here, never the
//!   handler's: `content-length` or `transfer-encoding: chunked` as [`Framing`] says,
//!   `connection: close` when the connection ends after it, and a `date` when none is given.

use std::ops::Range;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version, header};
use bytes::Bytes;

use super::super::wire::{
    Lengths, connection_closes, decimal, header_spans, merge_lengths, parse_length, span_of,
};

/// A request's head longer than this is refused (431).
pub(super) const MAX_HEAD: usize = 128 * 1024;
/// At most this many header lines in a request's head (else 431).
const MAX_HEADERS: usize = 128;

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFraming {
    /// This many bytes (0: no body).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
}

/// A request's head, checked.
#[derive(Debug)]
pub(super) struct RequestHead {
    pub(super) method: Method,
    pub(super) uri: Uri,
    pub(super) version: Version,
    /// The end-to-end headers: not those of this hop's framing and connection, read here
    /// (`host`, `content-length`, `transfer-encoding`, `connection`, `expect`, and
    /// [`HOP_ONLY`]), but a `Connection` that names other headers of this hop (which its
    /// reader removes with it).
    pub(super) headers: HeaderMap,
    pub(super) framing: BodyFraming,
    /// The client would send another request on this connection after the answer.
    pub(super) keep_alive: bool,
    /// `Expect: 100-continue`: the client waits for a `100 Continue` before its body.
    pub(super) expect_continue: bool,
}

/// Why bytes from a client are no request this proxy takes: the status it is answered
/// with (the connection then closes) and the reason, said in the answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) status: StatusCode,
    pub(super) reason: &'static str,
}

const fn refused(status: StatusCode, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// Where the request line's parts and each header line are in a request's head.
#[derive(Debug)]
pub(super) struct Spans {
    method: Range<usize>,
    target: Range<usize>,
    http11: bool,
    headers: Vec<(Range<usize>, Range<usize>)>,
}

/// Find the request's head at the start of `buf`: `Ok(None)` when it is not all there
/// yet, else how many bytes it takes and where its parts are (read by [`parse_request`]).
pub(super) fn scan_request(buf: &[u8]) -> Result<Option<(usize, Spans)>, Refusal> {
    // Slots left uninitialised: filling 128 of them on every parse cost more than the parse.
    let mut slots = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let taken = match request.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(taken)) => taken,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(refused(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request's head is too large",
            ));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refused(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request has too many headers",
            ));
        }
        Err(httparse::Error::Version) => {
            return Err(refused(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "only HTTP/1.0 and HTTP/1.1 are served",
            ));
        }
        Err(_) => return Err(refused(StatusCode::BAD_REQUEST, "the request is no HTTP/1.1")),
    };
    if taken > MAX_HEAD {
        return Err(refused(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "the request's head is too large"));
    }
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Err(refused(StatusCode::BAD_REQUEST, "the request is no HTTP/1.1"));
    };
    let spans = Spans {
        method: span_of(buf, method.as_bytes()),
        target: span_of(buf, target.as_bytes()),
        http11: request.version == Some(1),
        headers: header_spans(buf, request.headers),
    };
    Ok(Some((taken, spans)))
}

/// Read the request's head that `head` holds whole, at the `spans` [`scan_request`] found
/// in it: the target and the header values are slices of `head`, not copies.
pub(super) fn parse_request(head: &Bytes, spans: Spans) -> Result<RequestHead, Refusal> {
    let bad = |reason| refused(StatusCode::BAD_REQUEST, reason);
    let method =
        Method::from_bytes(&head[spans.method]).map_err(|_| bad("the request's method is invalid"))?;
    let uri = Uri::from_maybe_shared(head.slice(spans.target))
        .map_err(|_| bad("the request's target is invalid"))?;
    let http11 = spans.http11;
    let mut headers = HeaderMap::with_capacity(spans.headers.len());
    let mut lengths = Lengths::Unsaid;
    let mut chunked = false;
    let mut coded = false;
    let mut hosts = 0;
    let mut close = !http11;
    let mut expect_continue = false;
    for (name, value) in spans.headers {
        // The two framing headers every request has are told by their bytes (checked by
        // httparse), without a name and a value built for the map they do not go in.
        let raw = &head[name.clone()];
        if raw.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            continue;
        }
        if raw.eq_ignore_ascii_case(b"content-length") {
            lengths = merge_lengths(lengths, &head[value]);
            continue;
        }
        let name = HeaderName::from_bytes(raw).map_err(|_| bad("a header name is invalid"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(value))
            .map_err(|_| bad("a header value is invalid"))?;
        let bytes = value.as_bytes();
        // Whether the header goes on past this hop.
        let passed = if name == header::TRANSFER_ENCODING {
            // Only `chunked`, once: any other coding would reach the upstream undone.
            for coding in bytes.split(|byte| *byte == b',').map(<[u8]>::trim_ascii) {
                if coding.eq_ignore_ascii_case(b"chunked") && !chunked && !coded {
                    chunked = true;
                } else if !coding.is_empty() {
                    coded = true;
                }
            }
            false
        } else if name == header::CONNECTION {
            close = connection_closes(bytes, http11, close);
            names_others(bytes)
        } else if name == header::EXPECT {
            expect_continue = bytes.trim_ascii().eq_ignore_ascii_case(b"100-continue");
            false
        } else {
            !HOP_ONLY.contains(&name)
        };
        if passed {
            headers.append(name, value);
        }
    }
    if http11 && hosts != 1 {
        return Err(bad("an HTTP/1.1 request names exactly one host"));
    }
    let framing = match (chunked || coded, lengths) {
        (true, _) if !http11 => return Err(bad("an HTTP/1.0 request has a transfer-encoding")),
        (true, Lengths::Said(_) | Lengths::Invalid) => {
            return Err(bad("the request has both a content-length and a transfer-encoding"));
        }
        (true, Lengths::Unsaid) if coded => {
            return Err(refused(StatusCode::NOT_IMPLEMENTED, "only the chunked transfer coding is served"));
        }
        (true, Lengths::Unsaid) => BodyFraming::Chunked,
        (false, Lengths::Said(length)) => BodyFraming::Length(length),
        (false, Lengths::Invalid) => return Err(bad("the request's content-length is invalid")),
        (false, Lengths::Unsaid) => BodyFraming::Length(0),
    };
    let version = if http11 { Version::HTTP_11 } else { Version::HTTP_10 };
    Ok(RequestHead { method, uri, version, headers, framing, keep_alive: !close, expect_continue })
}

/// The headers about this hop's framing and connection that a request's head is not read
/// for and that go no further either, besides the five it is read for (`host`,
/// `content-length`, `transfer-encoding`, `connection`, `expect`): none of them is among
/// its [`RequestHead::headers`].
static HOP_ONLY: [HeaderName; 4] =
    [header::TE, header::TRAILER, header::UPGRADE, HeaderName::from_static("keep-alive")];

/// A `Connection` value names a header besides `keep-alive` (its option and, as a header,
/// one of [`HOP_ONLY`]): then the `Connection` goes into the map for its reader to remove
/// what it lists. `close` is a name too here: a header called `close` must not pass.
fn names_others(value: &[u8]) -> bool {
    value
        .split(|byte| *byte == b',')
        .map(<[u8]>::trim_ascii)
        .any(|token| !token.is_empty() && !token.eq_ignore_ascii_case(b"keep-alive"))
}

/// How an answer's body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body follows the head (an answer to `HEAD`, 1xx, 204, 304); a length the
    /// handler gave is still said, as it would have been.
    Bodiless(Option<u64>),
    /// This many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client, no length known).
    Close,
}

/// The framing of an answer with `status` and `headers` to a `method` request of
/// `version`, the body's exact length being `exact` when known.
pub(super) fn answer_framing(
    method: &Method,
    version: Version,
    status: StatusCode,
    headers: &HeaderMap,
    exact: Option<u64>,
) -> Framing {
    let length = declared_length(headers).or(exact);
    if status.is_informational() || status == StatusCode::NO_CONTENT {
        return Framing::Bodiless(None);
    }
    if *method == Method::HEAD || status == StatusCode::NOT_MODIFIED {
        return Framing::Bodiless(length);
    }
    match length {
        Some(length) => Framing::Length(length),
        None if version == Version::HTTP_11 => Framing::Chunked,
        None => Framing::Close,
    }
}

/// The one length every `Content-Length` value of `headers` says, if they say one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(header::CONTENT_LENGTH).iter();
    let first = parse_length(values.next()?.as_bytes().trim_ascii())?;
    values.all(|value| parse_length(value.as_bytes().trim_ascii()) == Some(first)).then_some(first)
}

/// The headers an answer's head never takes from the handler: the framing and the
/// connection are the connection's own.
fn written_here(name: &HeaderName) -> bool {
    *name == header::CONTENT_LENGTH
        || *name == header::TRANSFER_ENCODING
        || *name == header::CONNECTION
        || name.as_str() == "keep-alive"
}

/// Write an answer's head: the status line, the handler's headers but the framing and
/// connection ones, the framing's own, `connection: close` when `close` (or
/// `connection: keep-alive` to an HTTP/1.0 client kept), and `date` (given, as HTTP
/// dates are made once a second) when the handler gave none.
pub(super) fn encode_answer_head(
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    version: Version,
    close: bool,
    date: &[u8],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if written_here(name) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::Length(length) | Framing::Bodiless(Some(length)) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(decimal(length, &mut [0; 20]));
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Bodiless(None) | Framing::Close => {}
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if version == Version::HTTP_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    if !headers.contains_key(header::DATE) {
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A chunk's size line (hex, CRLF) written into `scratch`.
pub(super) fn chunk_line(size: usize, scratch: &mut [u8; 18]) -> &[u8] {
    let mut at = scratch.len() - 2;
    scratch[at..].copy_from_slice(b"\r\n");
    let mut left = size;
    loop {
        at -= 1;
        scratch[at] = b"0123456789abcdef"[left % 16];
        left /= 16;
        if left == 0 {
            break;
        }
    }
    &scratch[at..]
}

/// The answer to a request refused before it was read: its status, its reason as text,
/// and the connection closed after it.
pub(super) fn refusal_answer(refusal: Refusal, date: &[u8], out: &mut Vec<u8>) {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    let body_length = refusal.reason.len() + "aigate: \n".len();
    let framing = Framing::Length(body_length as u64);
    encode_answer_head(refusal.status, &headers, framing, Version::HTTP_11, true, date, out);
    out.extend_from_slice(b"aigate: ");
    out.extend_from_slice(refusal.reason.as_bytes());
    out.push(b'\n');
}
