//! The proxy end to end, in-process: `aigate::proxy::start` against a scripted axum
//! upstream on 127.0.0.1:0. Synchronisation is by channels only; timeouts are safety nets.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aigate::providers::{Api, KeySource, Provider};
use aigate::proxy::{ChainEntry, OfficialUpstreams, ProxyConfig, ProxyHandle};
use axum::body::Body;
use axum::http::{HeaderMap, Response};
use bytes::Bytes;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

const TOKEN: &str = "local-token-0123456789abcdef";
const KEY: &str = "sk-provider-key-abcdefghijklmnop";
/// Safety net only: no test waits on it when things work.
const NET: Duration = Duration::from_secs(20);

// ---------- the scripted upstream ----------

#[derive(Debug, Clone)]
struct Recorded {
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

type Chunk = Result<Bytes, std::io::Error>;

enum Script {
    /// A whole answer.
    Full { status: u16, headers: Vec<(&'static str, String)>, body: String },
    /// Headers at once, then whatever the test sends; `dropped` fires when the body stream is dropped.
    Stream { chunks: mpsc::UnboundedReceiver<Chunk>, dropped: Option<oneshot::Sender<()>> },
    /// No headers until the test releases (or drops) the sender; then the inner script.
    After(oneshot::Receiver<()>, Box<Script>),
    /// Never answers.
    Hang,
    /// These chunks with this content type and no length (the body ends when they do, as
    /// a close-delimited body cut by a FIN).
    Chunks { content_type: &'static str, chunks: Vec<&'static str> },
}

#[derive(Clone)]
struct Upstream {
    addr: SocketAddr,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    scripts: Arc<Mutex<VecDeque<Script>>>,
}

impl Upstream {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = Upstream {
            addr: listener.local_addr().unwrap(),
            recorded: Arc::default(),
            scripts: Arc::default(),
        };
        let app = axum::Router::new().fallback(upstream_handler).with_state(upstream.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        upstream
    }

    /// `http://127.0.0.1:PORT/v1`
    fn v1(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn push(&self, script: Script) {
        self.scripts.lock().unwrap().push_back(script);
    }

    fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    /// Script a stream and return its sender and the "dropped" signal.
    fn push_stream(&self) -> (mpsc::UnboundedSender<Chunk>, oneshot::Receiver<()>) {
        let (sender, chunks) = mpsc::unbounded_channel();
        let (dropped_sender, dropped) = oneshot::channel();
        self.push(Script::Stream { chunks, dropped: Some(dropped_sender) });
        (sender, dropped)
    }
}

struct GuardedStream {
    chunks: mpsc::UnboundedReceiver<Chunk>,
    dropped: Option<oneshot::Sender<()>>,
}

impl futures_util::Stream for GuardedStream {
    type Item = Chunk;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Chunk>> {
        self.chunks.poll_recv(cx)
    }
}

impl Drop for GuardedStream {
    fn drop(&mut self) {
        if let Some(dropped) = self.dropped.take() {
            let _ = dropped.send(());
        }
    }
}

async fn upstream_handler(
    axum::extract::State(upstream): axum::extract::State<Upstream>,
    request: axum::extract::Request,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let path_and_query = parts.uri.path_and_query().map(ToString::to_string).unwrap_or_default();
    upstream.recorded.lock().unwrap().push(Recorded { path_and_query, headers: parts.headers, body });
    let script = upstream.scripts.lock().unwrap().pop_front();
    let script = script.unwrap_or(Script::Full {
        status: 200,
        headers: vec![],
        body: json!({"id": "default", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).to_string(),
    });
    play(script).await
}

async fn play(script: Script) -> Response<Body> {
    match script {
        Script::Full { status, headers, body } => {
            let mut builder = Response::builder().status(status).header("content-type", "application/json");
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::from(body)).unwrap()
        }
        Script::Stream { chunks, dropped } => Response::builder()
            .status(200)
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(GuardedStream { chunks, dropped }))
            .unwrap(),
        Script::After(release, inner) => {
            let _ = release.await;
            Box::pin(play(*inner)).await
        }
        Script::Hang => std::future::pending().await,
        Script::Chunks { content_type, chunks } => {
            let stream = futures_util::stream::iter(
                chunks.into_iter().map(|chunk| Ok::<_, std::io::Error>(Bytes::from_static(chunk.as_bytes()))),
            );
            Response::builder()
                .status(200)
                .header("content-type", content_type)
                .body(Body::from_stream(stream))
                .unwrap()
        }
    }
}

fn sse(event: &str, data: &Value) -> Chunk {
    Ok(Bytes::from(format!("event: {event}\ndata: {data}\n\n")))
}

fn json_reply(status: u16, body: &Value) -> Script {
    Script::Full { status, headers: vec![], body: body.to_string() }
}

// ---------- the proxy under test ----------

fn provider(name: &str, upstream: &Upstream, apis: &[Api]) -> Provider {
    let mut provider = Provider::new(name, upstream.v1(), apis.to_vec());
    provider.keys = vec![KeySource::Stored(KEY.to_string())];
    provider
}

fn official_at(upstream: &Upstream, chatgpt: bool) -> OfficialUpstreams {
    OfficialUpstreams {
        openai: upstream.v1(),
        chatgpt: format!("http://{}/backend-api/codex", upstream.addr),
        anthropic: format!("http://{}", upstream.addr),
        codex_chatgpt_login: chatgpt,
    }
}

struct Proxy {
    handle: ProxyHandle,
    home: tempfile::TempDir,
    http: reqwest::Client,
}

async fn start_with(chain: Vec<ChainEntry>, tweak: impl FnOnce(&mut ProxyConfig)) -> Proxy {
    let home = tempfile::tempdir().unwrap();
    let mut config = ProxyConfig::new(TOKEN, chain, home.path().join("aigate"));
    config.official = OfficialUpstreams {
        openai: "http://127.0.0.1:9/v1".into(),
        chatgpt: "http://127.0.0.1:9/c".into(),
        anthropic: "http://127.0.0.1:9".into(),
        codex_chatgpt_login: false,
    };
    tweak(&mut config);
    let handle = aigate::proxy::start(config).await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Proxy { handle, home, http }
}

async fn start(chain: Vec<ChainEntry>) -> Proxy {
    start_with(chain, |_| {}).await
}

impl Proxy {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(TOKEN).json_body(body).send().await.unwrap()
    }

    /// Shut down (flushing usage) and return the usage rows, oldest first.
    async fn rows(self) -> Vec<Value> {
        self.handle.shutdown(Duration::from_secs(5)).await;
        let connection = aigate::db::open(&self.home.path().join("aigate")).unwrap();
        let mut statement = connection
            .prepare(
                "SELECT api, provider, model_requested, model_sent, status, stream, input_tokens, output_tokens,
                        cached_tokens, error_class, attempts, cost_usd IS NOT NULL, ttfb_ms IS NOT NULL
                 FROM usage ORDER BY id",
            )
            .unwrap();
        statement
            .query_map([], |row| {
                Ok(json!({
                    "api": row.get::<_, Option<String>>(0)?,
                    "provider": row.get::<_, Option<String>>(1)?,
                    "model_requested": row.get::<_, Option<String>>(2)?,
                    "model_sent": row.get::<_, Option<String>>(3)?,
                    "status": row.get::<_, Option<i64>>(4)?,
                    "stream": row.get::<_, Option<bool>>(5)?,
                    "input": row.get::<_, Option<i64>>(6)?,
                    "output": row.get::<_, Option<i64>>(7)?,
                    "cached": row.get::<_, Option<i64>>(8)?,
                    "error_class": row.get::<_, Option<String>>(9)?,
                    "attempts": row.get::<_, Option<i64>>(10)?,
                    "priced": row.get::<_, bool>(11)?,
                    "has_ttfb": row.get::<_, bool>(12)?,
                }))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

fn served_by(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-aigate-provider")
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn next_chunk(response: &mut reqwest::Response) -> String {
    let chunk = tokio::time::timeout(NET, response.chunk()).await.expect("chunk in time").unwrap();
    String::from_utf8(chunk.expect("a chunk").to_vec()).unwrap()
}

fn no_token_anywhere(recorded: &Recorded) {
    for (name, value) in &recorded.headers {
        assert!(
            !value.as_bytes().windows(TOKEN.len()).any(|window| window == TOKEN.as_bytes()),
            "{name} leaked"
        );
    }
    assert!(recorded.headers.get("x-aigate-token").is_none());
}

trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json").body(body.to_string())
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

// ---------- tests ----------

#[tokio::test]
async fn health_is_open_and_everything_else_needs_the_token() {
    let proxy = start(vec![]).await;
    let health = proxy.http.get(proxy.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));

    let no_token = proxy.http.post(proxy.url("/v1/responses")).json_body(&json!({})).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    assert!(no_token.headers().contains_key("x-request-id"));
    let body: Value = json_of(no_token).await;
    assert_eq!(body["error"]["type"], "authentication_error");

    let wrong = proxy
        .http
        .post(proxy.url("/v1/messages"))
        .header("x-api-key", "nope")
        .json_body(&json!({}))
        .send()
        .await;
    let wrong = wrong.unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = json_of(wrong).await;
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");

    let unknown = proxy.http.post(proxy.url("/v1/admin")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn first_sse_chunk_reaches_the_client_before_the_upstream_finishes() {
    let upstream = Upstream::start().await;
    let (sender, _dropped) = upstream.push_stream();
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Responses]))]).await;

    let request = proxy
        .http
        .post(proxy.url("/v1/responses"))
        .bearer_auth(TOKEN)
        .header("session-id", "sess-1")
        .json_body(&json!({"model": "gpt-5", "input": "hi", "stream": true}))
        .send();
    sender.send(sse("response.created", &json!({"type": "response.created"}))).unwrap();
    sender
        .send(sse(
            "response.output_text.delta",
            &json!({"type": "response.output_text.delta", "delta": "Hel"}),
        ))
        .unwrap();
    let mut response = tokio::time::timeout(NET, request).await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    while !seen.contains("Hel") {
        seen.push_str(&next_chunk(&mut response).await);
    }
    assert!(seen.contains("response.created"), "held preamble comes first: {seen}");
    // The upstream is still open: now finish it.
    sender
        .send(sse(
            "response.completed",
            &json!({"type": "response.completed", "response": {"usage": {"input_tokens": 11, "output_tokens": 7, "input_tokens_details": {"cached_tokens": 3}}}}),
        ))
        .unwrap();
    drop(sender);
    let rest = response.text().await.unwrap();
    assert!(rest.contains("response.completed"));

    let recorded = upstream.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].path_and_query, "/v1/responses");
    assert_eq!(recorded[0].headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(recorded[0].headers["session-id"], "sess-1");
    no_token_anywhere(&recorded[0]);

    let rows = proxy.rows().await;
    assert_eq!(
        rows,
        vec![json!({"api": "responses", "provider": "up", "model_requested": "gpt-5", "model_sent": "gpt-5",
            "status": 200, "stream": true, "input": 11, "output": 7, "cached": 3, "error_class": null,
            "attempts": 1, "priced": true, "has_ttfb": true})]
    );
}

#[tokio::test]
async fn official_pass_through_keeps_the_clients_login_and_drops_the_token() {
    let upstream = Upstream::start().await;
    let proxy =
        start_with(vec![ChainEntry::Official], |config| config.official = official_at(&upstream, true)).await;

    upstream
        .push(json_reply(200, &json!({"type": "message", "usage": {"input_tokens": 2, "output_tokens": 1}})));
    let response = proxy
        .http
        .post(proxy.url("/v1/messages?beta=true"))
        .header("authorization", "Bearer oauth-access-token")
        .header("x-aigate-token", TOKEN)
        .header("anthropic-beta", "oauth-2025-04-20")
        .header("anthropic-version", "2023-06-01")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "1")
        .json_body(&json!({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let codex = proxy
        .http
        .post(proxy.url("/responses"))
        .header("authorization", "Bearer chatgpt-access")
        .header("chatgpt-account-id", "acct-1")
        .header("x-aigate-token", TOKEN)
        .json_body(&json!({"model": "gpt-5", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(codex.status(), 200);

    let recorded = upstream.requests();
    assert_eq!(recorded[0].path_and_query, "/v1/messages?beta=true");
    assert_eq!(recorded[0].headers["authorization"], "Bearer oauth-access-token");
    assert_eq!(recorded[0].headers["anthropic-beta"], "oauth-2025-04-20");
    assert_eq!(recorded[0].headers["anthropic-version"], "2023-06-01");
    assert!(recorded[0].headers.get("x-hop").is_none(), "hop-by-hop header named by Connection");
    no_token_anywhere(&recorded[0]);
    assert_eq!(recorded[1].path_and_query, "/backend-api/codex/responses");
    assert_eq!(recorded[1].headers["authorization"], "Bearer chatgpt-access");
    assert_eq!(recorded[1].headers["chatgpt-account-id"], "acct-1");
    no_token_anywhere(&recorded[1]);
}

#[tokio::test]
async fn messages_provider_gets_x_api_key_and_the_token_in_x_api_key_is_removed() {
    let upstream = Upstream::start().await;
    let proxy = start(vec![ChainEntry::Provider(provider("ant", &upstream, &[Api::Messages]))]).await;
    let response = proxy
        .http
        .post(proxy.url("/v1/messages/count_tokens"))
        .header("x-api-key", TOKEN)
        .json_body(&json!({"model": "claude-haiku-4-5", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let recorded = upstream.requests();
    assert_eq!(recorded[0].path_and_query, "/v1/messages/count_tokens");
    assert_eq!(recorded[0].headers["x-api-key"], KEY);
    assert_eq!(recorded[0].headers["anthropic-version"], "2023-06-01");
    assert!(recorded[0].headers.get("authorization").is_none());
    no_token_anywhere(&recorded[0]);
}

#[tokio::test]
async fn model_mapping_rewrites_only_the_model() {
    let upstream = Upstream::start().await;
    let mut mapped = provider("ds", &upstream, &[Api::Chat]);
    mapped.model_map.insert("gpt-5".into(), "deepseek-chat".into());
    let proxy = start(vec![ChainEntry::Provider(mapped)]).await;
    upstream.push(json_reply(
        200,
        &json!({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 50}}}),
    ));
    let response = proxy
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt-5", "messages": [{"role": "user", "content": "x"}], "temperature": 0.5}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let recorded = upstream.requests();
    let sent: Value = serde_json::from_slice(&recorded[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}], "temperature": 0.5})
    );
    let rows = proxy.rows().await;
    assert_eq!(rows[0]["model_requested"], "gpt-5");
    assert_eq!(rows[0]["model_sent"], "deepseek-chat");
    assert_eq!(
        (rows[0]["input"].clone(), rows[0]["output"].clone(), rows[0]["cached"].clone()),
        (json!(100), json!(20), json!(50))
    );
    assert_eq!(rows[0]["stream"], false);
    assert_eq!(rows[0]["priced"], true);
}

/// Chain `[a, b]` where `a` fails as `script` says; `b` must serve.
async fn fails_over(
    a_url: String,
    script: Option<Script>,
    tweak: impl FnOnce(&mut Provider),
) -> (Upstream, Upstream, Proxy) {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    if let Some(script) = script {
        a.push(script);
    }
    let mut first = provider("a", &a, &[Api::Chat]);
    if !a_url.is_empty() {
        first.base_url = a_url;
    }
    tweak(&mut first);
    let proxy =
        start(vec![ChainEntry::Provider(first), ChainEntry::Provider(provider("b", &b, &[Api::Chat]))]).await;
    let response = proxy.post("/v1/chat/completions", &json!({"model": "m", "messages": []})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(served_by(&response), "b");
    (a, b, proxy)
}

fn refused_url() -> String {
    format!("http://127.0.0.1:{}/v1", crate::common::refused_port())
}

#[tokio::test]
async fn fails_over_on_connection_refused() {
    let (_, b, proxy) = fails_over(refused_url(), None, |_| {}).await;
    assert_eq!(b.requests().len(), 1);
    let rows = proxy.rows().await;
    assert_eq!(rows[0]["provider"], "b");
    assert_eq!(rows[0]["attempts"], 2);
}

#[tokio::test]
async fn fails_over_when_headers_do_not_come_in_time() {
    let (a, _, _) =
        fails_over(String::new(), Some(Script::Hang), |p| p.timeout = Some(Duration::from_millis(300))).await;
    assert_eq!(a.requests().len(), 1);
}

#[tokio::test]
async fn fails_over_on_429_and_honours_retry_after() {
    let script = Script::Full {
        status: 429,
        headers: vec![("retry-after", "120".into())],
        body: json!({"error": {"message": "slow down"}}).to_string(),
    };
    let (a, b, proxy) = fails_over(String::new(), Some(script), |_| {}).await;
    // `a` now cools down: the next request goes straight to `b`.
    let response = proxy.post("/v1/chat/completions", &json!({"model": "m", "messages": []})).await;
    assert_eq!(served_by(&response), "b");
    assert_eq!(a.requests().len(), 1);
    assert_eq!(b.requests().len(), 2);
}

#[tokio::test]
async fn fails_over_on_500() {
    fails_over(String::new(), Some(json_reply(500, &json!({"error": {"message": "boom"}}))), |_| {}).await;
}

#[tokio::test]
async fn fails_over_on_401() {
    fails_over(String::new(), Some(json_reply(401, &json!({"error": {"message": "bad key"}}))), |_| {}).await;
}

#[tokio::test]
async fn fails_over_on_an_sse_error_before_content() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    let (sender, _dropped) = a.push_stream();
    sender
        .send(sse(
            "message_start",
            &json!({"type": "message_start", "message": {"usage": {"input_tokens": 1}}}),
        ))
        .unwrap();
    sender
        .send(sse(
            "error",
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ))
        .unwrap();
    let (b_sender, _b_dropped) = b.push_stream();
    b_sender
        .send(sse(
            "message_start",
            &json!({"type": "message_start", "message": {"usage": {"input_tokens": 4}}}),
        ))
        .unwrap();
    b_sender
        .send(sse("content_block_delta", &json!({"type": "content_block_delta", "delta": {"text": "ok"}})))
        .unwrap();
    b_sender
        .send(sse("message_delta", &json!({"type": "message_delta", "usage": {"output_tokens": 9}})))
        .unwrap();
    drop(b_sender);
    let proxy = start(vec![
        ChainEntry::Provider(provider("a", &a, &[Api::Messages])),
        ChainEntry::Provider(provider("b", &b, &[Api::Messages])),
    ])
    .await;
    let response = proxy.post("/v1/messages", &json!({"model": "claude-sonnet-4-5", "stream": true})).await;
    assert_eq!(served_by(&response), "b");
    let text = response.text().await.unwrap();
    assert!(!text.contains("Overloaded"), "nothing of `a` reached the client: {text}");
    assert!(text.contains("\"ok\""));
    let rows = proxy.rows().await;
    assert_eq!((rows[0]["input"].clone(), rows[0]["output"].clone()), (json!(4), json!(9)));
    assert_eq!(rows[0]["api"], "messages");
}

#[tokio::test]
async fn no_failover_once_a_byte_has_reached_the_client() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    let (sender, _dropped) = a.push_stream();
    sender
        .send(Ok(Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n")))
        .unwrap();
    sender.send(Ok(Bytes::from_static(b"data: {\"error\":{\"message\":\"late failure\"}}\n\n"))).unwrap();
    drop(sender);
    let proxy = start(vec![
        ChainEntry::Provider(provider("a", &a, &[Api::Chat])),
        ChainEntry::Provider(provider("b", &b, &[Api::Chat])),
    ])
    .await;
    let response = proxy.post("/v1/chat/completions", &json!({"model": "m", "stream": true})).await;
    assert_eq!(served_by(&response), "a");
    let text = response.text().await.unwrap();
    assert!(text.contains("hi") && text.contains("late failure"), "{text}");
    assert!(b.requests().is_empty());
}

#[tokio::test]
async fn slow_headers_still_arrive_and_a_mid_stream_reset_reaches_the_client() {
    let upstream = Upstream::start().await;
    let (release, released) = oneshot::channel();
    upstream
        .push(Script::After(released, Box::new(json_reply(200, &json!({"usage": {"prompt_tokens": 1}})))));
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    {
        let small = json!({"model": "m"});
        let pending = proxy.post("/v1/chat/completions", &small);
        tokio::pin!(pending);
        // The request is parked upstream until released.
        tokio::select! {
            _ = &mut pending => panic!("answered before the upstream did"),
            () = async { while upstream.requests().is_empty() { tokio::task::yield_now().await; } } => {}
        }
        release.send(()).unwrap();
        assert_eq!(tokio::time::timeout(NET, &mut pending).await.unwrap().status(), 200);
    }

    let (sender, _dropped) = upstream.push_stream();
    sender
        .send(Ok(Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"part\"}}]}\n\n")))
        .unwrap();
    let mut response = proxy.post("/v1/chat/completions", &json!({"model": "m", "stream": true})).await;
    assert_eq!(response.status(), 200);
    assert!(next_chunk(&mut response).await.contains("part"));
    sender.send(Err(std::io::Error::other("reset"))).unwrap();
    assert!(response.text().await.is_err(), "the broken stream is passed on as broken");
    let rows = proxy.rows().await;
    assert_eq!(rows[1]["error_class"], "upstream_stream_error");
}

#[tokio::test]
async fn an_upstream_that_goes_silent_mid_stream_is_cut_off() {
    let upstream = Upstream::start().await;
    let (sender, _dropped) = upstream.push_stream();
    sender
        .send(Ok(Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")))
        .unwrap();
    let mut silent = provider("up", &upstream, &[Api::Chat]);
    silent.timeout = Some(Duration::from_millis(300));
    let proxy = start(vec![ChainEntry::Provider(silent)]).await;
    let response = proxy.post("/v1/chat/completions", &json!({"model": "m", "stream": true})).await;
    assert!(tokio::time::timeout(NET, response.text()).await.unwrap().is_err());
    drop(sender);
    let rows = proxy.rows().await;
    assert_eq!(rows[0]["error_class"], "stream_idle_timeout");
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream() {
    let upstream = Upstream::start().await;
    let (sender, dropped) = upstream.push_stream();
    sender
        .send(Ok(Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")))
        .unwrap();
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let mut response = proxy.post("/v1/chat/completions", &json!({"model": "m", "stream": true})).await;
    assert!(next_chunk(&mut response).await.contains('x'));
    drop(response);
    drop(proxy.http.clone());
    tokio::time::timeout(NET, dropped).await.expect("upstream body dropped").unwrap();
    let rows = proxy.rows().await;
    assert_eq!(rows[0]["error_class"], "client_disconnected");
    drop(sender);
}

#[tokio::test]
async fn exhausted_chain_answers_in_the_clients_shape_and_names_every_provider() {
    let a = Upstream::start().await;
    a.push(json_reply(500, &json!({"error": {"message": "boom"}})));
    a.push(json_reply(500, &json!({"error": {"message": "boom again"}})));
    a.push(json_reply(500, &json!({"error": {"message": "boom"}})));
    a.push(json_reply(500, &json!({"error": {"message": "boom again"}})));
    // Speaks only Chat: tried through conversion (issue 11), and named with how.
    let chat_only = provider("chatty", &a, &[Api::Chat]);
    let proxy = start(vec![
        ChainEntry::Provider(provider("a", &a, &[Api::Responses, Api::Messages])),
        ChainEntry::Provider({
            let mut refused = provider("dead", &a, &[Api::Responses, Api::Messages]);
            refused.base_url = refused_url();
            refused
        }),
        ChainEntry::Provider(chat_only),
    ])
    .await;

    let response = proxy.post("/v1/responses", &json!({"model": "gpt-5", "input": "hi"})).await;
    assert_eq!(response.status(), 502);
    let body: Value = json_of(response).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("a: HTTP 500: boom"), "{message}");
    assert!(message.contains("dead: connection failed"), "{message}");
    assert!(message.contains("chatty: HTTP 500: boom again (converted to Chat Completions)"), "{message}");
    assert!(!message.contains(KEY));
    assert_eq!(body["error"]["code"], "exhausted");

    let response = proxy
        .post(
            "/v1/messages",
            &json!({"model": "claude-opus-4-1", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), 502);
    let body: Value = json_of(response).await;
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "api_error");
    let rows = proxy.rows().await;
    assert_eq!(rows[0]["error_class"], "exhausted");
    assert_eq!(rows[0]["status"], 502);
}

#[tokio::test]
async fn every_provider_rate_limited_gives_429_with_retry_after() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    for upstream in [&a, &b] {
        upstream.push(Script::Full {
            status: 429,
            headers: vec![("retry-after", "30".into())],
            body: "{}".into(),
        });
    }
    let proxy = start(vec![
        ChainEntry::Provider(provider("a", &a, &[Api::Messages])),
        ChainEntry::Provider(provider("b", &b, &[Api::Messages])),
    ])
    .await;
    let response = proxy.post("/v1/messages", &json!({"model": "m"})).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "30");
    let body: Value = json_of(response).await;
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn images_skip_providers_without_vision() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    let mut blind = provider("blind", &a, &[Api::Chat]);
    blind.vision = Some(false);
    let proxy =
        start(vec![ChainEntry::Provider(blind), ChainEntry::Provider(provider("b", &b, &[Api::Chat]))]).await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:"}}]}]});
    let response = proxy.post("/v1/chat/completions", &body).await;
    assert_eq!(served_by(&response), "b");
    assert!(a.requests().is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let upstream = Upstream::start().await;
    let proxy = start_with(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))], |config| {
        config.body_limit = 1024;
    })
    .await;
    let big = json!({"model": "m", "pad": "x".repeat(4096)});
    let response = proxy.post("/v1/chat/completions", &big).await;
    assert_eq!(response.status(), 413);
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_provider_pointing_at_the_proxy_itself_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let looped = Provider::new("loop", format!("http://127.0.0.1:{}/v1", addr.port()), vec![Api::Chat]);
    let home = tempfile::tempdir().unwrap();
    let mut config = ProxyConfig::new(TOKEN, vec![ChainEntry::Provider(looped)], home.path().to_path_buf());
    config.listen = addr;
    let error = aigate::proxy::start(config).await.unwrap_err();
    assert!(error.message.contains("own listener"), "{}", error.message);
}

#[tokio::test]
async fn models_route_and_usage_for_each_api() {
    let upstream = Upstream::start().await;
    let proxy = start(vec![ChainEntry::Provider(provider(
        "up",
        &upstream,
        &[Api::Responses, Api::Chat, Api::Messages],
    ))])
    .await;
    upstream.push(json_reply(200, &json!({"object": "list", "data": []})));
    let models = proxy.http.get(proxy.url("/v1/models")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(models.status(), 200);
    upstream.push(json_reply(200, &json!({"output": [], "usage": {"input_tokens": 5, "output_tokens": 2}})));
    proxy.post("/v1/responses", &json!({"model": "gpt-5-mini", "input": "x"})).await.text().await.unwrap();
    upstream.push(json_reply(
        200,
        &json!({"content": [], "usage": {"input_tokens": 3, "cache_read_input_tokens": 10, "output_tokens": 4}}),
    ));
    proxy.post("/v1/messages", &json!({"model": "claude-haiku-4-5"})).await.text().await.unwrap();
    let (sender, _dropped) = upstream.push_stream();
    sender
        .send(Ok(Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")))
        .unwrap();
    sender
        .send(Ok(Bytes::from_static(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":6}}\n\ndata: [DONE]\n\n")))
        .unwrap();
    drop(sender);
    proxy
        .post("/v1/chat/completions", &json!({"model": "gpt-4o", "stream": true}))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(upstream.requests()[0].path_and_query, "/v1/models");
    let rows = proxy.rows().await;
    let summary: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!([row["api"], row["stream"], row["input"], row["output"], row["cached"], row["error_class"]])
        })
        .collect();
    // Completed answers carry no error class, also when the upstream sent a Content-Length
    // (hyper then stops reading the body at that length, never seeing its end).
    assert_eq!(
        summary,
        vec![
            json!(["responses", false, 5, 2, null, null]),
            json!(["messages", false, 13, 4, 10, null]),
            json!(["chat", true, 8, 6, null, null]),
        ]
    );
}

#[tokio::test]
async fn two_aigates_pointing_at_each_other_stop_the_loop() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a_addr = listener.local_addr().unwrap();
    drop(listener);
    // B forwards to A (with A's token as its key); A forwards to B (with B's token).
    let mut to_a = Provider::new("to-a", format!("http://{a_addr}/v1"), vec![Api::Chat]);
    to_a.keys = vec![KeySource::Stored(TOKEN.to_string())];
    let b = start(vec![ChainEntry::Provider(to_a)]).await;
    let mut to_b = Provider::new("to-b", format!("{}/v1", b.handle.base_url()), vec![Api::Chat]);
    to_b.keys = vec![KeySource::Stored(TOKEN.to_string())];
    let a = start_with(vec![ChainEntry::Provider(to_b)], |config| config.listen = a_addr).await;
    let response =
        tokio::time::timeout(NET, a.post("/v1/chat/completions", &json!({"model": "m"}))).await.unwrap();
    // A sees its own id come back and answers 508; B and then A pass that status on.
    assert_eq!(response.status(), 508);
    let body = json_of(response).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("to-b: HTTP 508"), "{message}");
}

// ---------- issue 10: nothing recorded wrong, nothing leaked ----------

/// One request through a one-link chain that answers `chunks`; the usage row's error class.
async fn error_class_after(
    api: Api,
    path: &str,
    content_type: &'static str,
    chunks: Vec<&'static str>,
) -> Value {
    let upstream = Upstream::start().await;
    upstream.push(Script::Chunks { content_type, chunks });
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[api]))]).await;
    let response = proxy.post(path, &json!({"model": "m", "stream": true})).await;
    assert_eq!(response.status(), 200);
    let _ = response.text().await;
    let rows = proxy.rows().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0]["error_class"].clone()
}

#[tokio::test]
async fn an_error_event_after_content_is_recorded_as_an_error() {
    let responses = error_class_after(
        Api::Responses,
        "/v1/responses",
        "text/event-stream",
        vec![
            "data: {\"type\":\"response.created\"}\n\n",
            "data: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n",
            "data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"message\":\"boom\"}}}\n\n",
        ],
    )
    .await;
    assert_eq!(responses, "upstream_error_event");
    let chat = error_class_after(
        Api::Chat,
        "/v1/chat/completions",
        "text/event-stream",
        vec![
            "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n",
            "data: {\"error\":{\"message\":\"late failure\"}}\n\n",
        ],
    )
    .await;
    assert_eq!(chat, "upstream_error_event");
    let messages = error_class_after(
        Api::Messages,
        "/v1/messages",
        "text/event-stream",
        vec![
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        ],
    )
    .await;
    assert_eq!(messages, "upstream_error_event");
}

#[tokio::test]
async fn a_stream_without_its_terminal_event_is_recorded_as_truncated() {
    let responses = error_class_after(
        Api::Responses,
        "/v1/responses",
        "text/event-stream",
        vec!["data: {\"type\":\"response.created\"}\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n"],
    )
    .await;
    assert_eq!(responses, "stream_truncated");
    let messages = error_class_after(
        Api::Messages,
        "/v1/messages",
        "text/event-stream",
        vec!["event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\n\n"],
    )
    .await;
    assert_eq!(messages, "stream_truncated");
    let chat = error_class_after(
        Api::Chat,
        "/v1/chat/completions",
        "text/event-stream",
        vec!["data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"],
    )
    .await;
    assert_eq!(chat, "stream_truncated");
    // A close-delimited JSON body cut short.
    let json_cut = error_class_after(
        Api::Chat,
        "/v1/chat/completions",
        "application/json",
        vec!["{\"choices\":[{\"mess"],
    )
    .await;
    assert_eq!(json_cut, "stream_truncated");
    // Each ends properly: no error class.
    let whole = error_class_after(
        Api::Chat,
        "/v1/chat/completions",
        "text/event-stream",
        vec!["data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\ndata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"],
    )
    .await;
    assert_eq!(whole, Value::Null);
}

/// `a` answers `script` (200, nothing usable); `b` must serve the request.
async fn empty_answer_fails_over(api: Api, path: &str, script: Script) {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    a.push(script);
    b.push(json_reply(
        200,
        &json!({"id": "b", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
    ));
    let proxy = start(vec![
        ChainEntry::Provider(provider("a", &a, &[api])),
        ChainEntry::Provider(provider("b", &b, &[api])),
    ])
    .await;
    let response = proxy.post(path, &json!({"model": "m", "stream": true})).await;
    assert_eq!(served_by(&response), "b", "{path}");
    assert_eq!(a.requests().len(), 1);
}

#[tokio::test]
async fn a_200_that_ends_before_any_content_fails_over() {
    let preamble_only =
        |text: &'static str| Script::Chunks { content_type: "text/event-stream", chunks: vec![text] };
    empty_answer_fails_over(
        Api::Responses,
        "/v1/responses",
        preamble_only(
            "data: {\"type\":\"response.created\"}\n\ndata: {\"type\":\"response.in_progress\"}\n\n",
        ),
    )
    .await;
    empty_answer_fails_over(
        Api::Messages,
        "/v1/messages",
        preamble_only("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n"),
    )
    .await;
    empty_answer_fails_over(Api::Chat, "/v1/chat/completions", preamble_only("data: [DONE]\n\n")).await;
    empty_answer_fails_over(
        Api::Chat,
        "/v1/chat/completions",
        preamble_only("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\ndata: [DONE]\n\n"),
    )
    .await;
    empty_answer_fails_over(Api::Chat, "/v1/chat/completions", preamble_only("")).await;
    empty_answer_fails_over(
        Api::Chat,
        "/v1/chat/completions",
        Script::Full { status: 200, headers: vec![], body: String::new() },
    )
    .await;
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408_and_the_connection_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = start_with(vec![], |config| {
        config.body_timeouts = aigate::proxy::server::BodyTimeouts {
            idle: Duration::from_millis(200),
            total: Duration::from_secs(2),
        };
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(proxy.handle.addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"model\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(NET, stream.read_to_end(&mut answer)).await.expect("closed in time").unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn the_token_is_stripped_from_every_value_of_every_header() {
    let upstream = Upstream::start().await;
    let proxy =
        start_with(vec![ChainEntry::Official], |config| config.official = official_at(&upstream, false))
            .await;
    upstream.push(json_reply(200, &json!({"usage": {"input_tokens": 1, "output_tokens": 1}})));
    let response = proxy
        .http
        .post(proxy.url("/v1/messages"))
        .header("authorization", "Bearer oauth-login")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("x-api-key", "sk-ant-login")
        .header("x-api-key", TOKEN)
        .header("x-custom", format!("prefix {TOKEN}"))
        .json_body(&json!({"model": "claude-sonnet-4-5", "max_tokens": 1, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let recorded = upstream.requests();
    no_token_anywhere(&recorded[0]);
    let values = |name: &str| -> Vec<String> {
        recorded[0].headers.get_all(name).iter().map(|value| value.to_str().unwrap().to_string()).collect()
    };
    assert_eq!(values("authorization"), vec!["Bearer oauth-login"]);
    assert_eq!(values("x-api-key"), vec!["sk-ant-login"]);
}

#[tokio::test]
async fn a_provider_sees_only_its_own_key() {
    let upstream = Upstream::start().await;
    let proxy = start(vec![ChainEntry::Provider(provider("up", &upstream, &[Api::Chat]))]).await;
    let response = proxy
        .http
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .header("api-key", "azure-secret")
        .header("x-goog-api-key", "google-secret")
        .header("openai-organization", "org-secret")
        .header("openai-project", "proj-secret")
        .header("cookie", "session=secret")
        .json_body(&json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = &upstream.requests()[0].headers;
    for name in ["api-key", "x-goog-api-key", "openai-organization", "openai-project", "cookie"] {
        assert!(headers.get(name).is_none(), "{name} reached the provider");
    }
    assert_eq!(headers["authorization"], format!("Bearer {KEY}"));
}

#[tokio::test]
async fn healthz_and_the_clients_request_id_is_echoed() {
    let proxy = start(vec![]).await;
    for path in ["/healthz", "/v1/healthz", "/health"] {
        let health = proxy.http.get(proxy.url(path)).send().await.unwrap();
        assert_eq!(health.status(), 200, "{path}");
    }
    let mine =
        proxy.http.get(proxy.url("/health")).header("x-request-id", "req-abc-123").send().await.unwrap();
    assert_eq!(mine.headers()["x-request-id"], "req-abc-123");
    let made = proxy.http.get(proxy.url("/health")).send().await.unwrap();
    assert!(made.headers()["x-request-id"].to_str().unwrap().starts_with("aig-"));
}

// ---------- issue 11: the conversion stage ----------

fn sse_events(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|frame| frame.lines().find_map(|line| line.strip_prefix("data: ")))
        .filter(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

#[tokio::test]
async fn a_responses_client_is_served_by_a_chat_only_provider_with_a_tool_call() {
    let upstream = Upstream::start().await;
    upstream.push(Script::Chunks {
        content_type: "text/event-stream",
        chunks: vec![
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Let me\"}}]}\n\n",
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"exec_command\",\"arguments\":\"{\\\"cmd\\\":\"}}]}}]}\n\n",
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"ls\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7}}\n\ndata: [DONE]\n\n",
        ],
    });
    let proxy = start(vec![ChainEntry::Provider(provider("chat", &upstream, &[Api::Chat]))]).await;
    let body = json!({
        "model": "gpt-5", "instructions": "be brief", "stream": true,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]}],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}],
    });
    let response = proxy.post("/v1/responses", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = sse_events(&response.text().await.unwrap());
    let types: Vec<&str> = events.iter().filter_map(|event| event["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"response.created"));
    assert_eq!(types.last(), Some(&"response.completed"));
    let completed = events.last().unwrap();
    assert_eq!(completed["response"]["usage"]["input_tokens"], 12);
    assert_eq!(completed["response"]["usage"]["output_tokens"], 7);
    let call = completed["response"]["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "function_call")
        .expect("a function_call item");
    assert_eq!((call["name"].clone(), call["call_id"].clone()), (json!("exec_command"), json!("call_1")));
    assert_eq!(
        serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
        json!({"cmd": "ls"})
    );

    let sent = &upstream.requests()[0];
    assert_eq!(sent.path_and_query, "/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], format!("Bearer {KEY}"));
    no_token_anywhere(sent);
    let sent: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["tools"][0]["function"]["name"], "exec_command");
    let rows = proxy.rows().await;
    assert_eq!(
        (
            rows[0]["api"].clone(),
            rows[0]["input"].clone(),
            rows[0]["output"].clone(),
            rows[0]["error_class"].clone()
        ),
        (json!("responses"), json!(12), json!(7), Value::Null)
    );
}

#[tokio::test]
async fn a_messages_client_gets_a_converted_json_answer_and_errors_in_its_shape() {
    let upstream = Upstream::start().await;
    upstream.push(json_reply(
        200,
        &json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}),
    ));
    upstream.push(json_reply(
        400,
        &json!({"error": {"message": "bad temperature", "type": "invalid_request_error"}}),
    ));
    let proxy = start(vec![ChainEntry::Provider(provider("chat", &upstream, &[Api::Chat]))]).await;
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
    let answer = json_of(proxy.post("/v1/messages", &request).await).await;
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["model"], "claude-sonnet-4-5", "the requested model is echoed");
    assert_eq!(answer["content"][0], json!({"type": "text", "text": "hello"}));
    assert_eq!(answer["stop_reason"], "end_turn");
    assert_eq!(answer["usage"]["output_tokens"], 2);
    let refused = proxy.post("/v1/messages", &request).await;
    assert_eq!(refused.status(), 400);
    let body = json_of(refused).await;
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("bad temperature"));
}

#[tokio::test]
async fn a_converted_link_that_ends_before_content_fails_over() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    a.push(Script::Chunks { content_type: "text/event-stream", chunks: vec!["data: [DONE]\n\n"] });
    let (sender, _dropped) = b.push_stream();
    sender
        .send(sse(
            "message_start",
            &json!({"type": "message_start", "message": {"usage": {"input_tokens": 1}}}),
        ))
        .unwrap();
    sender
        .send(sse(
            "content_block_delta",
            &json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "ok"}}),
        ))
        .unwrap();
    sender.send(sse("message_stop", &json!({"type": "message_stop"}))).unwrap();
    drop(sender);
    let proxy = start(vec![
        ChainEntry::Provider(provider("chat", &a, &[Api::Chat])),
        ChainEntry::Provider(provider("native", &b, &[Api::Messages])),
    ])
    .await;
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let response = proxy.post("/v1/messages", &request).await;
    assert_eq!(served_by(&response), "native");
    assert!(response.text().await.unwrap().contains("\"ok\""));
}

#[tokio::test]
async fn count_tokens_is_estimated_locally_without_a_messages_endpoint() {
    let upstream = Upstream::start().await;
    let proxy = start(vec![ChainEntry::Provider(provider("chat", &upstream, &[Api::Chat]))]).await;
    let request = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hello there, how are you today?"}]});
    let response = proxy.post("/v1/messages/count_tokens", &request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-aigate-estimate"], "local");
    let body = json_of(response).await;
    assert!(body["input_tokens"].as_u64().unwrap() > 0, "{body}");
    assert!(upstream.requests().is_empty(), "nothing went upstream");
}

// ---------- the Gemini API as a client ----------

#[tokio::test]
async fn a_gemini_client_passes_through_with_the_model_mapped_in_the_path_and_its_key_swapped() {
    let upstream = Upstream::start().await;
    let gemini_sse = |data: &Value| format!("data: {data}\r\n\r\n");
    let first =
        gemini_sse(&json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "MOCK"}]}}]}));
    let last = gemini_sse(&json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "-OK"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
    }));
    let chunks: Vec<&'static str> = vec![first.leak(), last.leak()];
    upstream.push(Script::Chunks { content_type: "text/event-stream", chunks: chunks.clone() });
    upstream.push(Script::Chunks { content_type: "text/event-stream", chunks });
    let mut gemini = provider("google", &upstream, &[Api::Gemini]);
    gemini.model_map.insert("gemini-3.1-pro-preview".into(), "gemini-2.5-flash".into());
    let proxy = start(vec![ChainEntry::Provider(gemini)]).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"temperature": 0}});
    let path = "/v1beta/models/gemini-3.1-pro-preview:streamGenerateContent?alt=sse";
    // The key as Gemini CLI sends it, in `x-goog-api-key` ...
    let response = proxy
        .http
        .post(proxy.url(path))
        .header("x-goog-api-key", TOKEN)
        .header("user-agent", "GeminiCLI-tui/0.61.0/gemini-3.1-pro-preview (linux; x64; terminal)")
        .json_body(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("\"finishReason\":\"STOP\""));
    // ... and in the query, which never goes upstream.
    let response =
        proxy.http.post(proxy.url(&format!("{path}&key={TOKEN}"))).json_body(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let unauthorized =
        proxy.http.post(proxy.url(&format!("{path}&key=wrong"))).json_body(&body).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
    for sent in upstream.requests() {
        assert_eq!(sent.path_and_query, "/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
        assert_eq!(sent.headers["x-goog-api-key"], KEY);
        assert!(sent.headers.get("authorization").is_none());
        no_token_anywhere(&sent);
        assert_eq!(sent.body, body.to_string().as_bytes(), "the body passes through byte for byte");
    }
    let rows = proxy.rows().await;
    let served: Vec<Value> = rows.iter().filter(|row| row["status"] == 200).cloned().collect();
    assert_eq!(served.len(), 2);
    for row in served {
        assert_eq!(
            [
                &row["api"],
                &row["model_requested"],
                &row["model_sent"],
                &row["input"],
                &row["output"],
                &row["stream"]
            ],
            [
                &json!("gemini"),
                &json!("gemini-3.1-pro-preview"),
                &json!("gemini-2.5-flash"),
                &json!(9),
                &json!(3),
                &json!(true)
            ]
        );
        assert_eq!(row["error_class"], Value::Null);
    }
}

#[tokio::test]
async fn a_gemini_client_is_served_by_a_chat_only_provider_with_a_tool_call() {
    let upstream = Upstream::start().await;
    upstream.push(Script::Chunks {
        content_type: "text/event-stream",
        chunks: vec![
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"run_shell_command\",\"arguments\":\"{\\\"command\\\":\"}}]}}]}\n\n",
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"ls\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n",
        ],
    });
    let mut chat = provider("chat", &upstream, &[Api::Chat]);
    chat.model_map.insert("*".into(), "deepseek-chat".into());
    let proxy = start(vec![ChainEntry::Provider(chat)]).await;
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": "list files"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]}],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "tools": [{"functionDeclarations": [{"name": "run_shell_command", "parametersJsonSchema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}]}],
    });
    let response = proxy
        .http
        .post(proxy.url("/v1beta/models/gemini-3.1-pro-preview:streamGenerateContent?alt=sse"))
        .header("x-goog-api-key", TOKEN)
        .header("x-goog-api-client", "google-genai-sdk/1.30.0 gl-node/v20.20.2")
        .header("x-gemini-api-privileged-user-id", "installation-id")
        .json_body(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = sse_events(&response.text().await.unwrap());
    let call = events
        .iter()
        .flat_map(|event| event["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default())
        .find(|part| part.get("functionCall").is_some())
        .expect("a functionCall part");
    assert_eq!(call["functionCall"]["name"], "run_shell_command");
    assert_eq!(call["functionCall"]["args"], json!({"command": "ls"}));
    let last = events.last().unwrap();
    assert!(last["candidates"][0]["finishReason"].is_string(), "{last}");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 20);

    let sent = &upstream.requests()[0];
    assert_eq!(sent.path_and_query, "/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], format!("Bearer {KEY}"));
    for name in ["x-goog-api-key", "x-goog-api-client", "x-gemini-api-privileged-user-id"] {
        assert!(sent.headers.get(name).is_none(), "{name} is Gemini's own business");
    }
    no_token_anywhere(sent);
    let sent: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(sent["model"], "deepseek-chat");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(sent["messages"][1]["content"][1]["type"], "image_url");
    assert_eq!(sent["tools"][0]["function"]["name"], "run_shell_command");
    let rows = proxy.rows().await;
    assert_eq!(
        [
            &rows[0]["api"],
            &rows[0]["model_requested"],
            &rows[0]["model_sent"],
            &rows[0]["input"],
            &rows[0]["output"]
        ],
        [&json!("gemini"), &json!("gemini-3.1-pro-preview"), &json!("deepseek-chat"), &json!(20), &json!(4)]
    );
    assert_eq!(rows[0]["error_class"], Value::Null);
}

#[tokio::test]
async fn gemini_count_tokens_and_models_are_answered_locally_without_the_gemini_api() {
    let upstream = Upstream::start().await;
    let mut chat = provider("chat", &upstream, &[Api::Chat]);
    chat.default_model = Some("deepseek-chat".into());
    let proxy = start(vec![ChainEntry::Provider(chat)]).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hello there, how are you"}]}]});
    let response = proxy
        .http
        .post(proxy.url("/v1beta/models/m:countTokens"))
        .header("x-goog-api-key", TOKEN)
        .json_body(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-aigate-estimate"], "local");
    assert!(json_of(response).await["totalTokens"].as_u64().unwrap() > 0);
    let models =
        proxy.http.get(proxy.url("/v1beta/models")).header("x-goog-api-key", TOKEN).send().await.unwrap();
    assert_eq!(json_of(models).await["models"][0]["name"], "models/deepseek-chat");
    assert!(upstream.requests().is_empty());
}

mod clients;
mod streamed;
