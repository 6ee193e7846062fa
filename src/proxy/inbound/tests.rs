use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use bytes::Bytes;

use super::head::{
    BodyFraming, Framing, MAX_HEAD, RequestHead, answer_framing, chunk_line, encode_answer_head,
    parse_request, refusal_answer, scan_request,
};

/// The head at the start of `text`, read as the connection reads it.
fn read(text: &str) -> Result<RequestHead, (StatusCode, &'static str)> {
    let bytes = Bytes::copy_from_slice(text.as_bytes());
    let (taken, spans) =
        scan_request(&bytes).map_err(|refusal| (refusal.status, refusal.reason))?.expect("a whole head");
    parse_request(&bytes.slice(..taken), spans).map_err(|refusal| (refusal.status, refusal.reason))
}

fn status_of(text: &str) -> StatusCode {
    read(text).expect_err("refused").0
}

#[test]
fn a_request_head_is_read_with_its_values_sliced_from_the_bytes() {
    let text = "POST /v1/responses?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8\r\nContent-Type: application/json\r\n\
                X-Multi: a\r\nx-multi: b\r\nContent-Length: 12\r\n\r\n{\"model\":1}\n";
    let bytes = Bytes::copy_from_slice(text.as_bytes());
    let (taken, spans) = scan_request(&bytes).unwrap().unwrap();
    assert_eq!(&bytes[taken..], b"{\"model\":1}\n");
    let head = bytes.slice(..taken);
    let request = parse_request(&head, spans).unwrap();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.uri.path(), "/v1/responses");
    assert_eq!(request.uri.query(), Some("x=1"));
    assert_eq!(request.version, Version::HTTP_11);
    assert_eq!(request.framing, BodyFraming::Length(12));
    assert!(request.keep_alive);
    assert!(!request.expect_continue);
    let multi: Vec<_> =
        request.headers.get_all("x-multi").iter().map(|value| value.to_str().unwrap()).collect();
    assert_eq!(multi, ["a", "b"]);
    let value = request.headers.get(header::CONTENT_TYPE).unwrap().as_bytes();
    let within = head.as_ptr() as usize..head.as_ptr() as usize + head.len();
    assert!(within.contains(&(value.as_ptr() as usize)), "the value is a slice of the head, not a copy");
    // The framing was read from its headers; they go no further.
    let names: Vec<&str> = request.headers.keys().map(HeaderName::as_str).collect();
    assert_eq!(names, ["content-type", "x-multi"]);
}

#[test]
fn the_headers_of_this_hop_stay_here_but_a_connection_that_names_others() {
    let read = |extra: &str| {
        let text = format!(
            "POST /v1/responses HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\
             TE: trailers\r\nTrailer: x-t\r\nUpgrade: h2c\r\nKeep-Alive: timeout=5\r\nx-kept: 1\r\n{extra}\r\n"
        );
        let bytes = Bytes::copy_from_slice(text.as_bytes());
        let (taken, spans) = scan_request(&bytes).unwrap().unwrap();
        parse_request(&bytes.slice(..taken), spans).unwrap()
    };
    let plain = read("Connection: keep-alive\r\n");
    assert_eq!(plain.headers.keys().map(HeaderName::as_str).collect::<Vec<_>>(), ["x-kept"]);
    assert!(plain.keep_alive);
    assert!(plain.expect_continue);
    assert_eq!(plain.framing, BodyFraming::Chunked);
    // `close` is an option and a name: a header called so goes with the `Connection`.
    let mut closing = read("Connection: close\r\nClose: x\r\n");
    assert!(!closing.keep_alive);
    crate::proxy::error::strip_hop_by_hop(&mut closing.headers);
    assert_eq!(closing.headers.keys().map(HeaderName::as_str).collect::<Vec<_>>(), ["x-kept"]);
    // Its reader removes the names it lists, and it with them.
    let listing = read("Connection: keep-alive, x-kept\r\n");
    assert_eq!(listing.headers.keys().map(HeaderName::as_str).collect::<Vec<_>>(), ["x-kept", "connection"]);
    assert!(listing.keep_alive);
}

#[test]
fn a_head_not_yet_whole_waits_and_one_too_large_is_431() {
    assert!(scan_request(b"POST /v1/responses HTTP/1.1\r\nhost: x\r\n").unwrap().is_none());
    let endless = format!("GET / HTTP/1.1\r\nx-long: {}", "a".repeat(MAX_HEAD));
    assert_eq!(
        scan_request(endless.as_bytes()).unwrap_err().status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let many = "x-many: v\r\n".repeat(200);
    let text = format!("GET / HTTP/1.1\r\nhost: x\r\n{many}\r\n");
    assert_eq!(status_of(&text), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

#[test]
fn framing_that_two_readers_could_read_apart_is_refused() {
    let post = |headers: &str| format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n{headers}\r\n");
    // Both a length and a coding (the classic CL.TE / TE.CL smuggling).
    let both = post("content-length: 4\r\ntransfer-encoding: chunked\r\n");
    assert_eq!(status_of(&both), StatusCode::BAD_REQUEST);
    // Lengths that disagree, or are no plain number.
    for lengths in [
        "content-length: 4\r\ncontent-length: 5\r\n",
        "content-length: 4, 5\r\n",
        "content-length: +4\r\n",
        "content-length: 0x4\r\n",
        "content-length: 4 4\r\n",
        "content-length: 99999999999999999999\r\n",
    ] {
        assert_eq!(status_of(&post(lengths)), StatusCode::BAD_REQUEST, "{lengths}");
    }
    // A coding other than chunked alone, or chunked twice.
    for codings in [
        "transfer-encoding: gzip, chunked\r\n",
        "transfer-encoding: chunked, gzip\r\n",
        "transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n",
        "transfer-encoding: identity\r\n",
    ] {
        assert_eq!(status_of(&post(codings)), StatusCode::NOT_IMPLEMENTED, "{codings}");
    }
    // A space before the colon, or a folded line: no header a peer would read alike.
    assert_eq!(status_of(&post("content-length : 4\r\n")), StatusCode::BAD_REQUEST);
    assert_eq!(status_of(&post("x-folded: a\r\n b\r\n")), StatusCode::BAD_REQUEST);
    // HTTP/1.0 knows no transfer coding.
    let old = "POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n";
    assert_eq!(status_of(old), StatusCode::BAD_REQUEST);
    // What is taken.
    assert_eq!(
        read(&post("content-length: 4\r\ncontent-length: 4\r\n")).unwrap().framing,
        BodyFraming::Length(4)
    );
    assert_eq!(read(&post("content-length: 4, 4\r\n")).unwrap().framing, BodyFraming::Length(4));
    assert_eq!(read(&post("Transfer-Encoding: Chunked\r\n")).unwrap().framing, BodyFraming::Chunked);
    assert_eq!(read(&post("")).unwrap().framing, BodyFraming::Length(0));
}

#[test]
fn an_http11_request_names_one_host_and_other_versions_are_505() {
    assert_eq!(status_of("GET /health HTTP/1.1\r\n\r\n"), StatusCode::BAD_REQUEST);
    assert_eq!(status_of("GET /health HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n"), StatusCode::BAD_REQUEST);
    assert!(read("GET /health HTTP/1.0\r\n\r\n").is_ok());
    assert_eq!(
        scan_request(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap_err().status,
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    assert_eq!(
        scan_request(b"GET /health HTTP/1.2\r\nhost: a\r\n\r\n").unwrap_err().status,
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    assert_eq!(
        scan_request(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").unwrap_err().status,
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn keep_alive_and_expect_follow_the_version_and_the_headers() {
    assert!(!read("GET / HTTP/1.1\r\nhost: x\r\nconnection: keep-alive, Close\r\n\r\n").unwrap().keep_alive);
    assert!(!read("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
    assert!(read("GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n").unwrap().keep_alive);
    let expecting =
        read("POST / HTTP/1.1\r\nhost: x\r\nexpect: 100-Continue\r\ncontent-length: 3\r\n\r\n").unwrap();
    assert!(expecting.expect_continue);
}

#[test]
fn an_answer_is_framed_by_its_length_else_chunked_and_never_as_the_handler_says() {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("7"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("gzip"));
    headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
    headers.insert("x-request-id", HeaderValue::from_static("aig-1"));
    let framing = answer_framing(&Method::POST, Version::HTTP_11, StatusCode::OK, &headers, None);
    assert_eq!(framing, Framing::Length(7));
    let date = b"Thu, 03 Dec 2026 09:00:00 GMT";
    let mut out = Vec::new();
    encode_answer_head(StatusCode::OK, &headers, framing, Version::HTTP_11, false, date, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: aig-1\r\ncontent-length: 7\r\n\
         date: Thu, 03 Dec 2026 09:00:00 GMT\r\n\r\n"
    );

    let mut streamed = HeaderMap::new();
    streamed.insert(header::DATE, HeaderValue::from_static("Wed, 02 Dec 2026 08:00:00 GMT"));
    let framing = answer_framing(&Method::POST, Version::HTTP_11, StatusCode::OK, &streamed, None);
    assert_eq!(framing, Framing::Chunked);
    let mut out = Vec::new();
    encode_answer_head(StatusCode::OK, &streamed, framing, Version::HTTP_11, true, date, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 200 OK\r\ndate: Wed, 02 Dec 2026 08:00:00 GMT\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );

    // An HTTP/1.0 client: no chunks, the body ends with the connection; kept, it is told so.
    let framing = answer_framing(&Method::GET, Version::HTTP_10, StatusCode::OK, &HeaderMap::new(), None);
    assert_eq!(framing, Framing::Close);
    let mut out = Vec::new();
    let exact = answer_framing(&Method::GET, Version::HTTP_10, StatusCode::OK, &HeaderMap::new(), Some(2));
    encode_answer_head(StatusCode::OK, &HeaderMap::new(), exact, Version::HTTP_10, false, date, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\ndate: Thu, 03 Dec 2026 09:00:00 GMT\r\n\r\n"
    );
}

#[test]
fn answers_without_a_body_say_a_length_only_where_it_is_meant() {
    let none = HeaderMap::new();
    assert_eq!(
        answer_framing(&Method::HEAD, Version::HTTP_11, StatusCode::OK, &none, Some(2)),
        Framing::Bodiless(Some(2))
    );
    assert_eq!(
        answer_framing(&Method::GET, Version::HTTP_11, StatusCode::NO_CONTENT, &none, Some(0)),
        Framing::Bodiless(None)
    );
    assert_eq!(
        answer_framing(&Method::GET, Version::HTTP_11, StatusCode::NOT_MODIFIED, &none, None),
        Framing::Bodiless(None)
    );
    let mut disagreeing = HeaderMap::new();
    disagreeing.append(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
    disagreeing.append(header::CONTENT_LENGTH, HeaderValue::from_static("4"));
    assert_eq!(
        answer_framing(&Method::GET, Version::HTTP_11, StatusCode::OK, &disagreeing, Some(4)),
        Framing::Length(4)
    );
}

#[test]
fn chunk_lines_and_refusals_are_written_whole() {
    assert_eq!(chunk_line(0x1a2b, &mut [0; 18]), b"1a2b\r\n");
    assert_eq!(chunk_line(0, &mut [0; 18]), b"0\r\n");
    assert_eq!(chunk_line(usize::MAX, &mut [0; 18]), b"ffffffffffffffff\r\n");
    let mut out = Vec::new();
    let refusal = scan_request(b"POST / HTTP/1.1\r\ncontent-length : 1\r\n\r\n").unwrap_err();
    refusal_answer(refusal, b"Thu, 03 Dec 2026 09:00:00 GMT", &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 35\r\n\
         connection: close\r\ndate: Thu, 03 Dec 2026 09:00:00 GMT\r\n\r\naigate: the request is no HTTP/1.1\n"
    );
}
