//! The loopback proxy behind `aigate run` and `aigate serve` (product.md §6).
//!
//! `start` binds, serves in the background and returns a [`ProxyHandle`];
//! [`ProxyHandle::shutdown`] stops accepting, drains open streams for a bounded time,
//! then stops. This file is the contract `run` and `serve` build on.
//!
//! STUB: only `GET /health` is served until the proxy lands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::clients::Client;
use crate::error::{Error, Result};
use crate::providers::Provider;

/// One link of the provider chain, tried in order.
#[derive(Debug, Clone)]
pub enum ChainEntry {
    /// Forward the client's own credentials to the client's official upstream.
    Official,
    /// A registered provider; its key replaces the client's credentials.
    Provider(Provider),
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
    pub client: Option<Client>,
    /// Recorded in usage rows.
    pub session_id: Option<String>,
    /// `AIGATE_HOME`, where usage rows and cooldown state are written.
    pub aigate_home: PathBuf,
    pub official: OfficialUpstreams,
    /// Request bodies over this many bytes get 413 (default 64 MiB).
    pub body_limit: usize,
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
}

/// A running proxy.
#[derive(Debug)]
pub struct ProxyHandle {
    pub addr: SocketAddr,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ProxyHandle {
    /// `http://127.0.0.1:PORT` (no `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, let open streams finish for at most `drain`, then stop.
    pub async fn shutdown(self, drain: Duration) {
        let _ = self.shutdown.send(());
        let _ = tokio::time::timeout(drain, self.task).await;
    }
}

/// Bind and serve in the background.
pub async fn start(config: ProxyConfig) -> Result<ProxyHandle> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| Error::internal(format!("Failed to listen on {}", config.listen)).cause(error))?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = signal.await;
            })
            .await;
    });
    Ok(ProxyHandle { addr, shutdown, task })
}
