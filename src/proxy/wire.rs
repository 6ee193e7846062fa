//! HTTP/1.1 on the wire for the own upstream client ([`super::transport::H1Client`]): a
//! request's head, an answer's head and how its body is framed (RFC 9112), as pure
//! functions over bytes.
//!
//! Invariants:
//! - A request always says how long its body is (`Content-Length`); the framing and
//!   connection headers are ours, never the client's.
//! - An answer's body length follows RFC 9112 §6.3: none after `HEAD`, 1xx, 204 or 304;
//!   chunked when `Transfer-Encoding` ends in `chunked` (any `Content-Length` beside it is
//!   ignored and the connection is not used again); else `Content-Length`, every value of
//!   it the same number; else until the connection closes.
//! - A connection is used again only after an HTTP/1.1 answer without `Connection: close`
//!   (or an HTTP/1.0 one with `Connection: keep-alive`) whose body ended where its framing
//!   said.
//! - Heads, chunk-size lines and trailers have size limits: an upstream cannot make the
//!   proxy buffer without end.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

/// At most this many header lines in an answer's head.
const MAX_HEADERS: usize = 128;
/// An answer's head longer than this is refused.
pub(super) const MAX_HEAD: usize = 64 * 1024;
/// A chunk-size line (with its extensions) longer than this is refused.
const MAX_CHUNK_LINE: usize = 4096;
/// Trailers longer than this in all are refused.
const MAX_TRAILERS: usize = 16 * 1024;

/// Why bytes from the upstream are no HTTP/1.1 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WireError(pub(super) &'static str);

/// The headers a request's head never takes from the client's: ours to write (`host`,
/// the body's length), about this one connection, or `expect` (the body goes out at
/// once, it does not wait for a `100 Continue`).
const NOT_PASSED: [HeaderName; 8] = [
    header::HOST,
    header::EXPECT,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Write a request's head: the request line, `host`, the client's headers but the ones in
/// [`NOT_PASSED`] (and `keep-alive`), `accept: */*` when there is none (what reqwest
/// sends), and `content-length` when `length` is given.
pub(super) fn encode_head(
    method: &Method,
    path_and_query: &str,
    host: &HeaderValue,
    headers: &HeaderMap,
    length: Option<u64>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if NOT_PASSED.contains(name) || name.as_str() == "keep-alive" {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !headers.contains_key(header::ACCEPT) {
        out.extend_from_slice(b"accept: */*\r\n");
    }
    if let Some(length) = length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(decimal(length, &mut [0; 20]));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// `value` in decimal, written into `scratch`.
pub(super) fn decimal(value: u64, scratch: &mut [u8; 20]) -> &[u8] {
    let mut at = scratch.len();
    let mut left = value;
    loop {
        at -= 1;
        scratch[at] = b'0' + (left % 10) as u8;
        left /= 10;
        if left == 0 {
            break;
        }
    }
    &scratch[at..]
}

/// How an answer's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// This many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the upstream closes the connection.
    Close,
}

/// An answer's head.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) framing: Framing,
    /// The connection may carry another request after this answer's body.
    pub(super) reuse: bool,
    /// A header of the answer is hop-by-hop (`error::is_hop_by_hop`): the answer's headers
    /// need `strip_hop_by_hop` before they go on (most answers have none).
    pub(super) hop_by_hop: bool,
}

/// Where a part of `buf` (a slice httparse gave of it) is in it.
pub(super) fn span_of(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

/// Where each header line's name and value are in `buf`.
pub(super) fn header_spans(buf: &[u8], lines: &[httparse::Header<'_>]) -> Vec<(Range<usize>, Range<usize>)> {
    lines.iter().map(|line| (span_of(buf, line.name.as_bytes()), span_of(buf, line.value))).collect()
}

/// Parse an answer's head at the start of `buf`: `Ok(None)` when it is not all there yet,
/// else the head, taken off `buf` (its header values are slices of those bytes, not
/// copies). An informational answer (1xx) is returned as it is; the caller skips it and
/// parses the next.
pub(super) fn parse_head(buf: &mut BytesMut, method: &Method) -> Result<Option<Head>, WireError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let (taken, code, http11, spans) = {
        // Slots left uninitialised: filling 128 of them on every parse cost more than the parse.
        let mut slots = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            buf,
            &mut slots,
        );
        let taken = match parsed {
            Ok(httparse::Status::Complete(taken)) => taken,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                return Err(WireError("the answer's head is too large"));
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(WireError("the answer has too many headers")),
            Err(_) => return Err(WireError("the answer is no HTTP/1.1")),
        };
        if taken > MAX_HEAD {
            return Err(WireError("the answer's head is too large"));
        }
        (
            taken,
            response.code.unwrap_or_default(),
            response.version == Some(1),
            header_spans(buf, response.headers),
        )
    };
    let bytes = buf.split_to(taken).freeze();
    let status = StatusCode::from_u16(code).map_err(|_| WireError("the answer's status is invalid"))?;
    if code == 101 {
        return Err(WireError("the upstream switched protocols"));
    }
    let mut headers = HeaderMap::with_capacity(spans.len());
    let mut lengths = Lengths::Unsaid;
    let mut chunked = None;
    let mut close = !http11;
    let mut hop_by_hop = false;
    for (name, value) in spans {
        let name = HeaderName::from_bytes(&bytes[name])
            .map_err(|_| WireError("the answer has an invalid header name"))?;
        hop_by_hop |= super::error::is_hop_by_hop(name.as_str());
        let value = HeaderValue::from_maybe_shared(bytes.slice(value))
            .map_err(|_| WireError("the answer has an invalid header value"))?;
        let line_value = value.as_bytes();
        if name == header::CONTENT_LENGTH {
            lengths = merge_lengths(lengths, line_value);
        } else if name == header::TRANSFER_ENCODING {
            // The last coding of the last line is the one that frames the body.
            let last = line_value.rsplit(|byte| *byte == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name == header::CONNECTION {
            close = connection_closes(line_value, http11, close);
        }
        headers.append(name, value);
    }
    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if !http11 && chunked.is_some() {
        return Err(WireError("an HTTP/1.0 answer has a transfer-encoding"));
    }
    let bodiless = *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let (framing, reuse) = if bodiless {
        (Framing::Length(0), !close)
    } else {
        match (chunked, lengths) {
            (Some(true), lengths) => (Framing::Chunked, !close && lengths == Lengths::Unsaid),
            // A coding that is not chunked, or no length at all: until the close.
            (Some(false), _) | (None, Lengths::Unsaid) => (Framing::Close, false),
            (None, Lengths::Said(length)) => (Framing::Length(length), !close),
            (None, Lengths::Invalid) => return Err(WireError("the answer's content-length is invalid")),
        }
    };
    Ok(Some(Head { status, headers, framing, reuse, hop_by_hop }))
}

/// What a message's `Content-Length` lines say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lengths {
    /// No such line.
    Unsaid,
    /// Every value of every line is this length.
    Said(u64),
    /// Two disagree, or one is no length.
    Invalid,
}

/// Fold one `Content-Length` line into what the lines before it said (a list in one
/// line counts as its items).
pub(super) fn merge_lengths(lengths: Lengths, line: &[u8]) -> Lengths {
    line.split(|byte| *byte == b',').fold(lengths, |lengths, part| {
        match (lengths, parse_length(part.trim_ascii())) {
            (Lengths::Unsaid, Some(length)) => Lengths::Said(length),
            (Lengths::Said(seen), Some(length)) if seen == length => lengths,
            _ => Lengths::Invalid,
        }
    })
}

/// Whether a message's connection closes after it, given one `Connection` line and what
/// was known before it (`close`): `close` closes; `keep-alive` keeps an HTTP/1.0 one.
pub(super) fn connection_closes(line: &[u8], http11: bool, close: bool) -> bool {
    line.split(|byte| *byte == b',').map(<[u8]>::trim_ascii).fold(close, |close, token| {
        if token.eq_ignore_ascii_case(b"close") {
            true
        } else if token.eq_ignore_ascii_case(b"keep-alive") && !http11 {
            false
        } else {
            close
        }
    })
}

/// A `Content-Length` value: digits only, no sign, no overflow.
pub(super) fn parse_length(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u64, |total, digit| total.checked_mul(10)?.checked_add(u64::from(digit - b'0')))
}

/// The next piece of a body of which `left` bytes are still to come: what `buf` holds of
/// it, taken out of `buf` (`None` when `buf` is empty).
pub(super) fn take_length(buf: &mut BytesMut, left: &mut u64) -> Option<Bytes> {
    if buf.is_empty() {
        return None;
    }
    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
    *left -= take as u64;
    Some(buf.split_to(take).freeze())
}

/// Where a chunked body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunks {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes to go.
    Data(u64),
    /// After a chunk's data, before its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines, this many bytes of them so far.
    Trailers(usize),
    /// The body has ended.
    Done,
}

impl Chunks {
    /// Take from `buf` what can be decoded: `Ok(Some(data))` a piece of the body,
    /// `Ok(None)` when more input is needed or the body has ended ([`Chunks::Done`]).
    pub(super) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, WireError> {
        loop {
            match *self {
                Chunks::Size => {
                    let Some(line) = take_line(buf, MAX_CHUNK_LINE, "a chunk-size line is too long")? else {
                        return Ok(None);
                    };
                    let size = chunk_size(&line)?;
                    *self = if size == 0 { Chunks::Trailers(0) } else { Chunks::Data(size) };
                }
                Chunks::Data(mut left) => {
                    let Some(data) = take_length(buf, &mut left) else { return Ok(None) };
                    *self = if left == 0 { Chunks::DataEnd } else { Chunks::Data(left) };
                    return Ok(Some(data));
                }
                Chunks::DataEnd => match buf.first() {
                    None => return Ok(None),
                    Some(b'\n') => {
                        buf.advance(1);
                        *self = Chunks::Size;
                    }
                    Some(b'\r') => match buf.get(1) {
                        None => return Ok(None),
                        Some(b'\n') => {
                            buf.advance(2);
                            *self = Chunks::Size;
                        }
                        Some(_) => return Err(WireError("a chunk does not end where its size said")),
                    },
                    Some(_) => return Err(WireError("a chunk does not end where its size said")),
                },
                Chunks::Trailers(seen) => {
                    let limit = MAX_TRAILERS.saturating_sub(seen);
                    let Some(line) = take_line(buf, limit, "the answer's trailers are too long")? else {
                        return Ok(None);
                    };
                    if !line.is_empty() && (!line.contains(&b':') || line.contains(&b'\r')) {
                        return Err(WireError("a trailer line is invalid"));
                    }
                    *self =
                        if line.is_empty() { Chunks::Done } else { Chunks::Trailers(seen + line.len() + 2) };
                }
                Chunks::Done => return Ok(None),
            }
        }
    }
}

/// The next line of `buf` without its line end (CRLF or LF), taken out of `buf`; `None`
/// when no whole line is there yet. A line longer than `limit` is an error.
fn take_line(buf: &mut BytesMut, limit: usize, too_long: &'static str) -> Result<Option<Bytes>, WireError> {
    let Some(end) = memchr::memchr(b'\n', buf) else {
        return if buf.len() > limit { Err(WireError(too_long)) } else { Ok(None) };
    };
    if end > limit {
        return Err(WireError(too_long));
    }
    let mut line = buf.split_to(end + 1).freeze();
    line.truncate(end - usize::from(end > 0 && line[end - 1] == b'\r'));
    Ok(Some(line))
}

/// The size of a chunk-size line: hex digits, then nothing or (after optional spaces or
/// tabs) extensions from a `;` on; no bare CR anywhere.
fn chunk_size(line: &[u8]) -> Result<u64, WireError> {
    let digits = line.iter().take_while(|byte| byte.is_ascii_hexdigit()).count();
    let spaces = line[digits..].iter().take_while(|byte| matches!(byte, b' ' | b'\t')).count();
    let rest = &line[digits + spaces..];
    let well_formed = (rest.is_empty() || rest[0] == b';') && !line.contains(&b'\r');
    if digits == 0 || digits > 16 || !well_formed {
        return Err(WireError("a chunk-size line is invalid"));
    }
    let mut size = 0u64;
    for byte in &line[..digits] {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            _ => byte - b'A' + 10,
        };
        size = size.checked_mul(16).ok_or(WireError("a chunk-size line is invalid"))? + u64::from(digit);
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answers_head_is_taken_off_the_buffer_with_its_values_sliced_not_copied() {
        let mut buf = BytesMut::from(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
        );
        let start = buf.as_ptr() as usize;
        let head = parse_head(&mut buf, &Method::POST).unwrap().unwrap();
        assert_eq!(&buf[..], b"{}");
        let value = head.headers[header::CONTENT_TYPE].as_bytes().as_ptr() as usize;
        assert!((start..start + 70).contains(&value), "the value points into the bytes read");
        assert_eq!(head.framing, Framing::Length(2));
    }

    #[test]
    fn lengths_are_written_in_decimal_to_the_last_digit() {
        for value in [0, 7, 10, 42, 1_000_000, u64::MAX] {
            assert_eq!(decimal(value, &mut [0; 20]), value.to_string().as_bytes());
        }
    }

    #[test]
    fn the_request_head_keeps_the_clients_headers_and_writes_its_own_framing() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        for name in
            ["host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade"]
        {
            headers.insert(HeaderName::from_static(name), HeaderValue::from_static("client's"));
        }
        let mut out = Vec::new();
        let host = HeaderValue::from_static("api.example:8443");
        encode_head(&Method::POST, "/v1/responses?x=1", &host, &headers, Some(42), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /v1/responses?x=1 HTTP/1.1\r\nhost: api.example:8443\r\ncontent-type: application/json\r\n\
             x-multi: a\r\nx-multi: b\r\naccept: */*\r\ncontent-length: 42\r\n\r\n"
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/event-stream"));
        let mut out = Vec::new();
        encode_head(&Method::GET, "/v1/models", &host, &HeaderMap::new(), None, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /v1/models HTTP/1.1\r\nhost: api.example:8443\r\naccept: */*\r\n\r\n"
        );
    }

    fn head(text: &str, method: &Method) -> Result<Option<(usize, Head)>, WireError> {
        let mut buf = BytesMut::from(text);
        let parsed = parse_head(&mut buf, method)?;
        Ok(parsed.map(|head| (text.len() - buf.len(), head)))
    }

    fn framing(text: &str) -> Result<(Framing, bool), WireError> {
        head(text, &Method::POST).map(|parsed| {
            let (_, head) = parsed.unwrap();
            (head.framing, head.reuse)
        })
    }

    #[test]
    fn an_answer_head_says_whether_it_has_a_hop_by_hop_header() {
        let hops = |lines: &str| {
            let text = format!("HTTP/1.1 200 OK\r\n{lines}content-length: 2\r\n\r\n{{}}");
            head(&text, &Method::POST).unwrap().unwrap().1.hop_by_hop
        };
        assert!(!hops("content-type: application/json\r\ndate: x\r\nx-request-id: 1\r\n"));
        for line in [
            "Connection: keep-alive",
            "keep-alive: timeout=5",
            "Transfer-Encoding: gzip",
            "upgrade: h2c",
            "TE: trailers",
        ] {
            assert!(hops(&format!("content-type: application/json\r\n{line}\r\n")), "{line}");
        }
    }

    #[test]
    fn answer_heads_are_framed_as_rfc_9112_says() {
        let ok = "HTTP/1.1 200 OK\r\n";
        for (rest, expected) in [
            ("content-length: 12\r\n\r\n", Ok((Framing::Length(12), true))),
            ("content-length: 12, 12\r\ncontent-length: 12\r\n\r\n", Ok((Framing::Length(12), true))),
            ("transfer-encoding: chunked\r\n\r\n", Ok((Framing::Chunked, true))),
            ("transfer-encoding: gzip, Chunked\r\n\r\n", Ok((Framing::Chunked, true))),
            // Both: the coding wins and the connection is not trusted again (smuggling).
            ("transfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n", Ok((Framing::Chunked, false))),
            ("transfer-encoding: gzip\r\n\r\n", Ok((Framing::Close, false))),
            ("\r\n", Ok((Framing::Close, false))),
            ("content-length: 12\r\nconnection: keep-alive, Close\r\n\r\n", Ok((Framing::Length(12), false))),
            ("content-length: 12, 13\r\n\r\n", Err(WireError("the answer's content-length is invalid"))),
            ("content-length: +12\r\n\r\n", Err(WireError("the answer's content-length is invalid"))),
            (
                "content-length: 99999999999999999999\r\n\r\n",
                Err(WireError("the answer's content-length is invalid")),
            ),
        ] {
            assert_eq!(framing(&format!("{ok}{rest}")), expected, "{rest:?}");
        }
        assert_eq!(framing("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n"), Ok((Framing::Length(2), false)));
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n"),
            Ok((Framing::Length(2), true))
        );
        for bodiless in
            ["HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n"]
        {
            assert_eq!(framing(bodiless), Ok((Framing::Length(0), true)), "{bodiless:?}");
        }
        let (_, answer) =
            head("HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", &Method::HEAD).unwrap().unwrap();
        assert_eq!(answer.framing, Framing::Length(0));
        let (_, early) =
            head("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", &Method::POST).unwrap().unwrap();
        assert!(early.status.is_informational());
        assert_eq!(
            head("HTTP/1.1 101 Switching Protocols\r\n\r\n", &Method::GET).err().unwrap().0,
            "the upstream switched protocols"
        );
    }

    #[test]
    fn answer_heads_keep_their_headers_and_say_where_the_body_starts() {
        let text = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nx-a: 1\r\nx-a: 2\r\ncontent-length: 2\r\n\r\n{}";
        let (taken, answer) = head(text, &Method::POST).unwrap().unwrap();
        assert_eq!(&text[taken..], "{}");
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answer.headers["retry-after"], "3");
        assert_eq!(answer.headers.get_all("x-a").iter().collect::<Vec<_>>(), ["1", "2"]);
        // Not all there yet, at every split.
        for cut in 0..taken {
            assert!(head(&text[..cut], &Method::POST).unwrap().is_none(), "{cut}");
        }
    }

    #[test]
    fn bad_and_oversized_heads_are_refused() {
        assert_eq!(
            head("SSH-2.0-OpenSSH\r\n\r\n", &Method::GET).err().unwrap().0,
            "the answer is no HTTP/1.1"
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nbad header\r\n\r\n", &Method::GET).err().unwrap().0,
            "the answer is no HTTP/1.1"
        );
        assert_eq!(
            head("HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", &Method::GET).err().unwrap().0,
            "an HTTP/1.0 answer has a transfer-encoding"
        );
        let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "x: y\r\n".repeat(MAX_HEADERS + 1));
        assert_eq!(head(&many, &Method::GET).err().unwrap().0, "the answer has too many headers");
        let long = format!("HTTP/1.1 200 OK\r\nx: {}", "y".repeat(MAX_HEAD + 1));
        assert_eq!(head(&long, &Method::GET).err().unwrap().0, "the answer's head is too large");
    }

    /// Decode `input` fed in pieces of `step` bytes: the data, and whether the body ended.
    fn decode(input: &[u8], step: usize) -> Result<(Vec<u8>, bool), WireError> {
        let mut chunks = Chunks::Size;
        let mut buf = BytesMut::new();
        let mut data = Vec::new();
        for piece in input.chunks(step) {
            buf.extend_from_slice(piece);
            while let Some(bytes) = chunks.decode(&mut buf)? {
                data.extend_from_slice(&bytes);
            }
        }
        Ok((data, chunks == Chunks::Done && buf.is_empty()))
    }

    #[test]
    fn chunked_bodies_decode_at_every_split() {
        let body = b"5;name=value\r\nhello\r\nA\r\n, world!!!\r\n1\nx\n0\r\nx-trailer: 1\r\n\r\n";
        for step in 1..=body.len() {
            assert_eq!(decode(body, step), Ok((b"hello, world!!!x".to_vec(), true)), "step {step}");
        }
        // Cut short: no end.
        assert_eq!(decode(&body[..body.len() - 2], 3), Ok((b"hello, world!!!x".to_vec(), false)));
    }

    #[test]
    fn bad_chunks_are_refused() {
        for (input, error) in [
            (&b"zz\r\n"[..], "a chunk-size line is invalid"),
            (b"5x\r\n", "a chunk-size line is invalid"),
            (b"\r\n", "a chunk-size line is invalid"),
            (b"10000000000000000\r\n", "a chunk-size line is invalid"),
            (b"2\r\nabc\r\n", "a chunk does not end where its size said"),
            (b"2\r\nab\rc", "a chunk does not end where its size said"),
            (b"5 garbage\r\n", "a chunk-size line is invalid"),
            (b"5;a=b\rc\r\n", "a chunk-size line is invalid"),
            (b"0\r\nno colon\r\n\r\n", "a trailer line is invalid"),
        ] {
            assert_eq!(decode(input, input.len()).err(), Some(WireError(error)), "{input:?}");
        }
        let long = vec![b'1'; MAX_CHUNK_LINE + 2];
        assert_eq!(decode(&long, long.len()).err(), Some(WireError("a chunk-size line is too long")));
        let trailers = format!("0\r\n{}", "x: y\r\n".repeat(MAX_TRAILERS / 6 + 1));
        assert_eq!(
            decode(trailers.as_bytes(), 64).err(),
            Some(WireError("the answer's trailers are too long"))
        );
    }
}
