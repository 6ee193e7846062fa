//! Clients that speak HTTP/1.1 on the raw socket, as a careless or hostile one would:
//! pipelined requests, chunked bodies, bodies longer than a read, framing meant to be read
//! two ways, heads that never end, `Expect: 100-continue`, HTTP/1.0.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use pretty_assertions::assert_eq;

/// A raw connection to the proxy and what was read off it and not yet taken.
struct Raw {
    stream: TcpStream,
    read: Vec<u8>,
}

/// One answer as read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Header lines, lowercased names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(seen, _)| seen == name).map(|(_, value)| value.as_str())
    }
}

impl Raw {
    async fn connect(proxy: &Proxy) -> Self {
        Raw { stream: TcpStream::connect(proxy.handle.addr).await.unwrap(), read: Vec::new() }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Read more; `false` at the end of the stream.
    async fn fill(&mut self) -> bool {
        let mut chunk = vec![0u8; 16 * 1024];
        let count =
            tokio::time::timeout(NET, self.stream.read(&mut chunk)).await.expect("bytes in time").unwrap();
        self.read.extend_from_slice(&chunk[..count]);
        count > 0
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(end) = self.read.windows(2).position(|pair| pair == b"\r\n") {
                let line = String::from_utf8(self.read[..end].to_vec()).unwrap();
                self.read.drain(..end + 2);
                return line;
            }
            assert!(
                self.fill().await,
                "the connection ended inside a line: {:?}",
                String::from_utf8_lossy(&self.read)
            );
        }
    }

    async fn exactly(&mut self, count: usize) -> Vec<u8> {
        while self.read.len() < count {
            assert!(self.fill().await, "the connection ended inside a body");
        }
        self.read.drain(..count).collect()
    }

    /// The next answer, framed as its head says.
    async fn answer(&mut self) -> Answer {
        let status_line = self.line().await;
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let line = self.line().await;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        let mut answer = Answer { status, headers, body: Vec::new() };
        if status == 100 || status == 204 || status == 304 {
            return answer;
        }
        if answer.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(&self.line().await, 16).unwrap();
                if size == 0 {
                    assert_eq!(self.line().await, "");
                    break;
                }
                let data = self.exactly(size).await;
                answer.body.extend_from_slice(&data);
                assert_eq!(self.line().await, "");
            }
        } else if let Some(length) = answer.header("content-length") {
            answer.body = self.exactly(length.parse().unwrap()).await;
        } else {
            while self.fill().await {}
            answer.body = std::mem::take(&mut self.read);
        }
        answer
    }

    /// The proxy closed the connection, with nothing more said.
    async fn closed(&mut self) {
        while self.fill().await {}
        assert_eq!(String::from_utf8_lossy(&self.read), "", "nothing after the last answer");
    }
}

fn chat_request(body: &str) -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

const CHAT_ANSWER: &str = r#"{"id":"c","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#;

async fn chat_upstream(answers: usize) -> Upstream {
    let upstream = Upstream::start().await;
    for _ in 0..answers {
        upstream.push(json_reply(200, &serde_json::from_str(CHAT_ANSWER).unwrap()));
    }
    upstream
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let upstream = chat_upstream(1).await;
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let mut raw = Raw::connect(&proxy).await;
    let body = r#"{"model":"m","messages":[]}"#;
    let all = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\n\r\n{}GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
        chat_request(body)
    );
    raw.send(all.as_bytes()).await;
    let first = raw.answer().await;
    assert_eq!((first.status, first.body.as_slice()), (200, b"ok".as_slice()));
    let second = raw.answer().await;
    assert_eq!(second.status, 200);
    assert_eq!(serde_json::from_slice::<Value>(&second.body).unwrap()["id"], "c");
    let third = raw.answer().await;
    assert_eq!((third.status, third.body.as_slice()), (200, b"ok".as_slice()));
    assert_eq!(upstream.requests()[0].body, body.as_bytes());
}

#[tokio::test]
async fn a_chunked_body_goes_upstream_whole_with_its_length_and_the_connection_stays() {
    let upstream = chat_upstream(2).await;
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let mut raw = Raw::connect(&proxy).await;
    raw.send(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-api-key: {TOKEN}\r\n\
             transfer-encoding: chunked\r\n\r\n5;ext=1\r\n{{\"mod\r\n"
        )
        .as_bytes(),
    )
    .await;
    raw.send(b"16\r\nel\":\"m\",\"messages\":[]}\r\n0\r\nx-trailer: t\r\n\r\n").await;
    raw.send(chat_request(r#"{"model":"n","messages":[]}"#).as_bytes()).await;
    assert_eq!(raw.answer().await.status, 200);
    assert_eq!(raw.answer().await.status, 200);
    let requests = upstream.requests();
    assert_eq!(requests[0].body, r#"{"model":"m","messages":[]}"#.as_bytes());
    assert_eq!(requests[0].headers["content-length"], "27");
    assert!(requests[0].headers.get("transfer-encoding").is_none());
    assert_eq!(requests[1].body, r#"{"model":"n","messages":[]}"#.as_bytes());
}

#[tokio::test]
async fn a_body_longer_than_a_read_is_read_to_its_end_and_the_next_request_follows() {
    let upstream = chat_upstream(2).await;
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let mut raw = Raw::connect(&proxy).await;
    let long =
        format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#, "x".repeat(200_000));
    let request = chat_request(&long);
    for piece in request.as_bytes().chunks(7_000) {
        raw.send(piece).await;
    }
    raw.send(chat_request(r#"{"model":"n","messages":[]}"#).as_bytes()).await;
    let first = raw.answer().await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("connection"), None, "kept alive");
    assert_eq!(raw.answer().await.status, 200);
    let requests = upstream.requests();
    assert_eq!(requests[0].body, long.as_bytes());
    assert_eq!(requests[1].body, r#"{"model":"n","messages":[]}"#.as_bytes());
}

#[tokio::test]
async fn framing_meant_to_be_read_two_ways_is_refused_and_nothing_behind_it_is_served() {
    let upstream = chat_upstream(0).await;
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let smuggled = chat_request(r#"{"model":"smuggled","messages":[]}"#);
    for (framing, status) in [
        ("content-length: 4\r\ntransfer-encoding: chunked", 400),
        ("transfer-encoding: chunked\r\ncontent-length: 4", 400),
        ("content-length: 4\r\ncontent-length: 40", 400),
        ("transfer-encoding: gzip, chunked", 501),
        ("transfer-encoding: chunked, identity", 501),
    ] {
        let mut raw = Raw::connect(&proxy).await;
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n{framing}\r\n\r\n0\r\n\r\n{smuggled}"
        );
        raw.send(request.as_bytes()).await;
        let answer = raw.answer().await;
        assert_eq!((answer.status, answer.header("connection")), (status, Some("close")), "{framing}");
        raw.closed().await;
    }
    assert!(upstream.requests().is_empty(), "no request reached the upstream");
}

#[tokio::test]
async fn a_head_too_large_gets_431_and_one_that_never_ends_is_cut_off() {
    let proxy = start_with(vec![], |config| config.idle_timeout = Duration::from_millis(200)).await;
    let mut raw = Raw::connect(&proxy).await;
    let huge = format!("GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "a".repeat(200 * 1024));
    raw.send(huge.as_bytes()).await;
    let answer = raw.answer().await;
    assert_eq!((answer.status, answer.header("connection")), (431, Some("close")));
    raw.closed().await;

    let mut slow = Raw::connect(&proxy).await;
    slow.send(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n").await;
    slow.closed().await;
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let upstream = chat_upstream(1).await;
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let mut raw = Raw::connect(&proxy).await;
    let body = r#"{"model":"m","messages":[]}"#;
    let request = chat_request(body).replace("\r\n\r\n", "\r\nexpect: 100-continue\r\n\r\n");
    let head = request.strip_suffix(body).unwrap();
    raw.send(head.as_bytes()).await;
    let interim = raw.answer().await;
    assert_eq!(interim.status, 100);
    raw.send(body.as_bytes()).await;
    assert_eq!(raw.answer().await.status, 200);
    assert_eq!(upstream.requests()[0].body, body.as_bytes());
}

#[tokio::test]
async fn a_request_refused_before_its_body_gets_no_100_continue() {
    let proxy = start_with(vec![], |config| config.body_limit = 1000).await;
    let mut raw = Raw::connect(&proxy).await;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n\
         expect: 100-continue\r\ncontent-length: 5000\r\n\r\n"
    );
    raw.send(head.as_bytes()).await;
    let answer = raw.answer().await;
    assert_eq!(answer.status, 413, "the refusal, not an invitation to send the body");
}

#[tokio::test]
async fn a_connection_idle_past_its_time_is_closed_before_and_after_a_request() {
    let proxy = start_with(vec![], |config| config.idle_timeout = Duration::from_millis(200)).await;
    let mut silent = Raw::connect(&proxy).await;
    silent.closed().await;
    let mut kept = Raw::connect(&proxy).await;
    kept.send(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(kept.answer().await.status, 200);
    kept.closed().await;
}

#[tokio::test]
async fn an_http10_client_is_answered_and_the_connection_closes() {
    let proxy = start(vec![]).await;
    let mut raw = Raw::connect(&proxy).await;
    raw.send(b"GET /health HTTP/1.0\r\n\r\n").await;
    let answer = raw.answer().await;
    assert_eq!(
        (answer.status, answer.header("connection"), answer.body.as_slice()),
        (200, Some("close"), b"ok".as_slice())
    );
    raw.closed().await;
    let mut kept = Raw::connect(&proxy).await;
    kept.send(b"GET /health HTTP/1.0\r\nconnection: keep-alive\r\n\r\nGET /health HTTP/1.0\r\n\r\n").await;
    assert_eq!(kept.answer().await.header("connection"), Some("keep-alive"));
    assert_eq!(kept.answer().await.header("connection"), Some("close"));
    kept.closed().await;
}

#[tokio::test]
async fn a_body_cut_short_by_the_client_never_reaches_the_upstream() {
    let upstream = chat_upstream(1).await;
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let mut raw = Raw::connect(&proxy).await;
    let request = chat_request(r#"{"model":"m","messages":[]}"#);
    raw.send(&request.as_bytes()[..request.len() - 10]).await;
    raw.stream.shutdown().await.unwrap();
    let answer = raw.answer().await;
    assert_eq!((answer.status, answer.header("connection")), (400, Some("close")));
    raw.closed().await;
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_streamed_answer_is_chunked_and_ends_with_its_last_chunk() {
    let upstream = Upstream::start().await;
    upstream.push(Script::Chunks {
        content_type: "text/event-stream",
        chunks: vec![
            "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}\n\n",
            "data: [DONE]\n\n",
        ],
    });
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let mut raw = Raw::connect(&proxy).await;
    raw.send(chat_request(r#"{"model":"m","messages":[],"stream":true}"#).as_bytes()).await;
    let answer = raw.answer().await;
    assert_eq!((answer.status, answer.header("transfer-encoding")), (200, Some("chunked")));
    assert!(String::from_utf8(answer.body).unwrap().ends_with("data: [DONE]\n\n"));
    raw.send(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(raw.answer().await.status, 200, "the connection is kept after the last chunk");
}

#[tokio::test]
async fn an_answer_in_pieces_larger_than_the_copy_limit_arrives_whole_in_both_framings() {
    let upstream = Upstream::start().await;
    let big: &'static str = Box::leak(
        format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{}\"}}}}]}}\n\n", "y".repeat(100_000))
            .into_boxed_str(),
    );
    upstream
        .push(Script::Chunks { content_type: "text/event-stream", chunks: vec![big, "data: [DONE]\n\n"] });
    let long = format!(r#"{{"id":"c","choices":[],"pad":"{}"}}"#, "z".repeat(100_000));
    upstream.push(Script::Full { status: 200, headers: vec![], body: long.clone() });
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let mut raw = Raw::connect(&proxy).await;
    raw.send(chat_request(r#"{"model":"m","messages":[],"stream":true}"#).as_bytes()).await;
    let streamed = raw.answer().await;
    assert_eq!(streamed.header("transfer-encoding"), Some("chunked"));
    assert_eq!(String::from_utf8(streamed.body).unwrap(), format!("{big}data: [DONE]\n\n"));
    raw.send(chat_request(r#"{"model":"m","messages":[]}"#).as_bytes()).await;
    let whole = raw.answer().await;
    assert_eq!(whole.header("content-length"), Some(long.len().to_string().as_str()));
    assert_eq!(String::from_utf8(whole.body).unwrap(), long);
}
