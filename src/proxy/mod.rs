//! The loopback proxy behind `aigate run` and `aigate serve` (product.md §6).
//!
//! `start` binds, serves in the background and returns a [`ProxyHandle`];
//! [`ProxyHandle::shutdown`] stops accepting, drains open streams for a bounded time,
//! flushes the usage rows, then stops. This file is the contract `run` and `serve` build on.
//!
//! Pipeline of one request (server/ → failover.rs → forward.rs): route and token check,
//! read the bounded body, plan the chain (skip links that do not speak the API, cannot
//! read images, have no key, or cool down), then for each link: map the model, swap the
//! credentials, send, judge the status, peek the SSE stream until content, and commit.
//! Protocol conversion (a later issue) slots in between "plan" and "send".
//!
//! Invariants: binds where it is told (callers pass loopback); refuses a chain entry that
//! points back at its own listener; the local token never leaves; no buffering of
//! responses; usage rows are written off the request path.

pub mod body;
pub mod converted;
pub mod counts;
pub mod error;
pub mod failover;
pub mod forward;
mod inbound;
pub mod probe;
pub mod server;
mod skim;
pub mod streamed;
pub mod tap;
pub mod transport;
pub mod upstream;
pub mod usage;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method};
use bytes::Bytes;

use crate::error::{Error, Result};
use crate::providers::Api;

pub use crate::providers::ChainEntry;

/// The header carrying the ids of the aigate instances a request to a loopback upstream
/// went through, comma-separated.
pub const HOP_HEADER: &str = "x-aigate-hop";

/// What every request handler shares.
#[derive(Debug)]
pub struct State {
    pub token: String,
    /// A searcher for `token` inside header values, built by the first request (building
    /// one probes the CPU's features, which start-up need not wait for).
    token_finder: std::sync::OnceLock<memchr::memmem::Finder<'static>>,
    pub chain: failover::Chain,
    pub official: OfficialUpstreams,
    pub usage: usage::UsageSink,
    pub body_limit: usize,
    pub body_timeouts: server::BodyTimeouts,
    pub client: Option<&'static str>,
    pub session_id: Option<std::sync::Arc<str>>,
    /// A random id sent to loopback upstreams to recognise our own requests coming back.
    pub instance_id: String,
    /// `instance_id` as the hop header's value, for a request that went through no other
    /// aigate (built once).
    pub hop: axum::http::HeaderValue,
    /// Converted Responses turns, for `previous_response_id` (bounded).
    pub responses: crate::convert::ResponseCache,
    /// Requests seen so far (the request id counter).
    pub requests: std::sync::atomic::AtomicU64,
}

impl State {
    /// The searcher for the token inside header values.
    pub fn token_finder(&self) -> &memchr::memmem::Finder<'static> {
        self.token_finder.get_or_init(|| memchr::memmem::Finder::new(self.token.as_bytes()).into_owned())
    }
}

/// The allow-listed routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/responses` (and `/v1/responses/compact`).
    Responses,
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/messages`.
    Messages,
    /// `POST /v1/messages/count_tokens`.
    CountTokens,
    /// `GET /v1/models` and `GET /v1/models/{id}`.
    Models,
    /// Gemini API `POST /v1beta/models/{model}:generateContent` and
    /// `:streamGenerateContent` (the model and the stream flag are in the path).
    Gemini,
    /// Gemini API `POST /v1beta/models/{model}:countTokens`.
    GeminiCountTokens,
    /// Gemini API `GET /v1beta/models` and `GET /v1beta/models/{model}`.
    GeminiModels,
}

impl Route {
    /// The wire API of the route (`None` for the model list, which every API has).
    pub fn api(self) -> Option<Api> {
        match self {
            Route::Responses => Some(Api::Responses),
            Route::Chat => Some(Api::Chat),
            Route::Messages | Route::CountTokens => Some(Api::Messages),
            Route::Gemini | Route::GeminiCountTokens | Route::GeminiModels => Some(Api::Gemini),
            Route::Models => None,
        }
    }
}

/// A request as the chain sees it.
#[derive(Debug)]
pub struct Request {
    pub route: Route,
    pub method: Method,
    /// The path after `/v1`, e.g. `/messages/count_tokens` (Gemini API: after its version,
    /// e.g. `/models/gemini-2.5-pro:streamGenerateContent`).
    pub suffix: String,
    /// The query string, without a Gemini API `key` (the local token or a client's key).
    pub query: Option<String>,
    /// The client's headers minus hop-by-hop headers and the local token. An attempt gets
    /// its own copy (the last one takes these): read the attempt's, not these.
    pub headers: HeaderMap,
    pub body: Bytes,
    pub model: Option<String>,
    /// The body carries an image; only looked for when a link of the chain cannot read
    /// images ([`failover::Chain::any_blind`]), else `false`.
    pub has_images: bool,
    /// The client asked for a stream (`"stream": true`).
    pub stream: bool,
    pub started: Instant,
    pub ts_ms: i64,
    pub request_id: String,
    pub session_id: Option<std::sync::Arc<str>>,
    pub client: Option<&'static str>,
}

impl Request {
    /// The usage row of this request as served by `provider` (tokens, timings and the error
    /// class are filled in when the answer ends).
    #[expect(clippy::too_many_arguments, reason = "one row's facts, each named at the call")]
    pub fn usage_row(
        &self,
        api: Api,
        provider: &std::sync::Arc<str>,
        model_sent: Option<String>,
        status: u16,
        stream: bool,
        ttfb_ms: i64,
        attempts: u32,
    ) -> usage::UsageRow {
        usage::UsageRow {
            ts_ms: self.ts_ms,
            request_id: self.request_id.clone(),
            session_id: self.session_id.clone(),
            client: self.client,
            api: Some(api.name()),
            provider: Some(provider.clone()),
            model_requested: self.model.clone(),
            model_sent,
            status: Some(status),
            stream,
            ttfb_ms: Some(ttfb_ms),
            attempts,
            ..usage::UsageRow::default()
        }
    }
}

/// The official upstreams (overridable by `AIGATE_OFFICIAL_*_URL` for tests).
#[derive(Debug, Clone)]
pub struct OfficialUpstreams {
    /// Codex with an API key: `https://api.openai.com/v1`.
    pub openai: String,
    /// Codex with a ChatGPT login: `https://chatgpt.com/backend-api/codex`.
    pub chatgpt: String,
    /// Claude Code: `https://api.anthropic.com` (the path `/v1/messages` is kept).
    pub anthropic: String,
    /// Whether Codex requests go to `chatgpt` (ChatGPT login) instead of `openai`.
    pub codex_chatgpt_login: bool,
}

impl OfficialUpstreams {
    pub fn from_env(codex_chatgpt_login: bool) -> Self {
        use crate::env_vars::{
            AIGATE_OFFICIAL_ANTHROPIC_URL, AIGATE_OFFICIAL_CHATGPT_URL, AIGATE_OFFICIAL_OPENAI_URL, var,
        };
        Self {
            openai: var(AIGATE_OFFICIAL_OPENAI_URL).unwrap_or_else(|| "https://api.openai.com/v1".into()),
            chatgpt: var(AIGATE_OFFICIAL_CHATGPT_URL)
                .unwrap_or_else(|| "https://chatgpt.com/backend-api/codex".into()),
            anthropic: var(AIGATE_OFFICIAL_ANTHROPIC_URL)
                .unwrap_or_else(|| "https://api.anthropic.com".into()),
            codex_chatgpt_login,
        }
    }
}

/// Everything a proxy instance needs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `127.0.0.1:0` for `run`.
    pub listen: SocketAddr,
    /// The local token every request but `GET /health` must carry.
    pub token: String,
    /// Providers in failover order.
    pub chain: Vec<ChainEntry>,
    /// The agent this session serves (`run`), recorded in usage rows; `None` for `serve`.
    pub client: Option<&'static str>,
    /// Recorded in usage rows.
    pub session_id: Option<String>,
    /// `AIGATE_HOME`, where usage rows and cooldown state are written.
    pub aigate_home: PathBuf,
    pub official: OfficialUpstreams,
    /// Request bodies over this many bytes get 413 (default 64 MiB).
    pub body_limit: usize,
    /// A connection waiting this long for a request's headers (idle keep-alive, or a client
    /// sending them slowly) is closed.
    pub idle_timeout: Duration,
    /// How long a request body may take to arrive.
    pub body_timeouts: server::BodyTimeouts,
}

impl ProxyConfig {
    /// A loopback config on a free port with the defaults: 64 MiB body limit, 5 min idle
    /// timeout, official upstreams from the environment (API-key Codex login).
    pub fn new(token: impl Into<String>, chain: Vec<ChainEntry>, aigate_home: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: token.into(),
            chain,
            client: None,
            session_id: None,
            aigate_home,
            official: OfficialUpstreams::from_env(false),
            body_limit: DEFAULT_BODY_LIMIT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_timeouts: server::BodyTimeouts::default(),
        }
    }
}

/// Request bodies over this many bytes get 413.
pub const DEFAULT_BODY_LIMIT: usize = 64 << 20;
/// Connections waiting this long for a request's headers are closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A running proxy.
#[derive(Debug)]
pub struct ProxyHandle {
    pub addr: SocketAddr,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    usage: usage::UsageSink,
}

impl ProxyHandle {
    /// `http://127.0.0.1:PORT` (no `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, let open streams finish for at most `drain`, flush the usage rows
    /// written so far, then stop.
    pub async fn shutdown(self, drain: Duration) {
        let _ = self.shutdown.send(());
        let _ = tokio::time::timeout(drain, self.task).await;
        self.usage.flush().await;
    }
}

/// Bind and serve in the background. An empty chain means `[Official]`.
pub async fn start(config: ProxyConfig) -> Result<ProxyHandle> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| Error::internal(format!("Failed to listen on {}", config.listen)).cause(error))?;
    let addr = listener.local_addr()?;
    let chain_entries = if config.chain.is_empty() { vec![ChainEntry::Official] } else { config.chain };
    refuse_loops(&chain_entries, &config.official, addr)?;
    let chain = failover::Chain::new(&chain_entries, &config.official)?;
    let usage = usage::UsageSink::start(config.aigate_home.clone());
    let instance_id = crate::random::hex(8)?;
    let state = std::sync::Arc::new(State {
        token_finder: std::sync::OnceLock::new(),
        token: config.token,
        chain,
        official: config.official,
        usage: usage.clone(),
        body_limit: config.body_limit,
        body_timeouts: config.body_timeouts,
        client: config.client,
        session_id: config.session_id.map(Into::into),
        hop: axum::http::HeaderValue::from_str(&instance_id)
            .map_err(|_| Error::internal("the instance id is no header value"))?,
        instance_id,
        responses: crate::convert::ResponseCache::new(),
        requests: std::sync::atomic::AtomicU64::new(0),
    });
    let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(accept_loop(listener, state, config.idle_timeout, signal));
    Ok(ProxyHandle { addr, shutdown, task, usage })
}

/// A chain entry whose URL is this very listener would send requests round in a circle.
fn refuse_loops(chain: &[ChainEntry], official: &OfficialUpstreams, addr: SocketAddr) -> Result<()> {
    for entry in chain {
        let (name, urls): (&str, Vec<&str>) = match entry {
            ChainEntry::Official => (
                crate::providers::OFFICIAL,
                vec![official.openai.as_str(), official.chatgpt.as_str(), official.anthropic.as_str()],
            ),
            ChainEntry::Provider(provider) => (provider.name.as_str(), provider.all_base_urls()),
        };
        for url in urls {
            if failover::points_at_listener(url, addr) {
                return Err(Error::refused(format!(
                    "Provider `{name}` points at aigate's own listener ({url}); that would loop"
                ))
                .hint(format!(
                    "give `{name}` the real upstream URL with `aigate provider add {name} --force …`"
                )));
            }
        }
    }
    Ok(())
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: std::sync::Arc<State>,
    idle_timeout: Duration,
    mut signal: tokio::sync::oneshot::Receiver<()>,
) {
    let (drain_trigger, drain_watch) = tokio::sync::watch::channel(false);
    // Every connection task holds a clone; `recv` returns `None` once all are gone.
    let (alive, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        tokio::select! {
            _ = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(
                        stream,
                        state.clone(),
                        idle_timeout,
                        drain_watch.clone(),
                        alive.clone(),
                    ));
                }
                // Out of file descriptors and the like: back off a little, keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
    drop(listener);
    let _ = drain_trigger.send(true);
    drop(alive);
    let _ = all_closed.recv().await;
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    state: std::sync::Arc<State>,
    idle_timeout: Duration,
    drain: tokio::sync::watch::Receiver<bool>,
    _alive: tokio::sync::mpsc::Sender<()>,
) {
    inbound::serve(stream, state, idle_timeout, drain).await;
}
