//! Upstream providers: presets, the stored registry in the db, key rotation.
//!
//! Owned by the `aigate run` work (issue 4). The types here are the contract the proxy
//! and `aigate run`/`serve` build on.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A wire API an upstream speaks natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// OpenAI Responses: `POST /v1/responses` (Codex).
    Responses,
    /// OpenAI Chat Completions: `POST /v1/chat/completions` (OpenCode).
    Chat,
    /// Anthropic Messages: `POST /v1/messages` (Claude Code).
    Messages,
}

/// Where a provider's key comes from. Stored keys live only in the 0600 db.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// The name of an environment variable, read when a request is sent.
    Env(String),
    /// A key given on stdin and stored in the db.
    Stored(String),
}

/// One upstream provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    pub name: String,
    pub preset: Option<String>,
    /// Base URL including any version prefix, e.g. `https://api.deepseek.com/v1`.
    pub base_url: String,
    pub apis: Vec<Api>,
    pub keys: Vec<KeySource>,
    pub model_map: BTreeMap<String, String>,
    pub default_model: Option<String>,
    pub priority: i64,
    pub timeout: Option<Duration>,
    pub proxy_url: Option<String>,
    /// `Some(false)` when the provider cannot read images.
    pub vision: Option<bool>,
}
