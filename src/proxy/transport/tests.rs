//! Tests of the own HTTP/1.1 client against upstreams on 127.0.0.1, plain and TLS.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};

use super::pool::*;
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
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                                .to_string()
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

const CA: &[u8] = include_bytes!("../../../tests/fixtures/tls/ca.pem");
const CERT: &[u8] = include_bytes!("../../../tests/fixtures/tls/localhost.pem");
const KEY: &[u8] = include_bytes!("../../../tests/fixtures/tls/localhost.key");

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

/// A client that trusts the test CA (and no other).
fn trusting_the_test_ca() -> H1Client {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from_pem_slice(CA).unwrap()).unwrap();
    H1Client { tls: Some(connector_with(roots).unwrap()), ..H1Client::new(Duration::from_secs(5)) }
}

#[tokio::test(flavor = "current_thread")]
async fn https_upstreams_are_verified_and_kept_alive() {
    let (url, accepted) = upstream_with(After::KeepAlive, 5, Some(acceptor())).await;
    let trusting = trusting_the_test_ca();
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
    const SIZE: usize = 16 << 20;
    for tls in [None, Some(acceptor())] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let scheme = if tls.is_some() { "https://localhost" } else { "http://127.0.0.1" };
        let url = reqwest::Url::parse(&format!("{scheme}:{port}/v1/x")).unwrap();
        let client = trusting_the_test_ca();
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
            stream.write_all(format!("{:x}\r\n{said}\r\n0\r\n\r\n", said.len()).as_bytes()).await.unwrap();
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
