//! Upstream providers: presets, the stored registry in the db, model mapping.
//!
//! The types here are the contract the proxy and `aigate run`/`serve` build on.
//!
//! Invariants:
//! - A provider's `base_url` is the URL to which `/responses`, `/chat/completions` or
//!   `/messages` is appended (so Anthropic is `https://api.anthropic.com/v1`). An API
//!   served at another base (DeepSeek's Messages at `…/anthropic/v1`) is in
//!   `api_base_urls`, stored in the db's `extra` JSON.
//! - Keys never leave this module in clear except towards the upstream: every display goes
//!   through [`KeySource::masked`].
//! - `official` is reserved for the built-in pass-through and is never a stored name.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod chain;
pub mod presets;
pub mod spec;
pub mod store;

pub use chain::{ChainEntry, ChainFor, LinkUse, check_chain, load_providers, resolve_chain};

/// The name reserved for the client's own official login (`ChainEntry::Official`).
pub const OFFICIAL: &str = "official";

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
    /// Google Gemini API: `POST /v1beta/models/{model}:generateContent` and
    /// `:streamGenerateContent?alt=sse` (Gemini CLI). The path holds the model and the
    /// stream flag ([`crate::convert::upstream_path`]).
    Gemini,
}

impl Api {
    pub const ALL: [Api; 4] = [Api::Responses, Api::Chat, Api::Messages, Api::Gemini];

    pub fn name(self) -> &'static str {
        match self {
            Api::Responses => "responses",
            Api::Chat => "chat",
            Api::Messages => "messages",
            Api::Gemini => "gemini",
        }
    }

    /// The human name used in messages ("the Messages API").
    pub fn title(self) -> &'static str {
        match self {
            Api::Responses => "Responses",
            Api::Chat => "Chat Completions",
            Api::Messages => "Messages",
            Api::Gemini => "Gemini API",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "responses" => Some(Api::Responses),
            "chat" | "chat-completions" | "chat_completions" => Some(Api::Chat),
            "messages" | "anthropic" => Some(Api::Messages),
            "gemini" | "google" | "generatecontent" => Some(Api::Gemini),
            _ => None,
        }
    }

    /// The path appended to a provider's base URL (for Gemini the part before the model;
    /// the whole path is [`crate::convert::upstream_path`]).
    pub fn path(self) -> &'static str {
        match self {
            Api::Responses => "/responses",
            Api::Chat => "/chat/completions",
            Api::Messages => "/messages",
            Api::Gemini => "/models",
        }
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a provider's key comes from. Stored keys live only in the 0600 db.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// The name of an environment variable, read when the proxy starts (a running
    /// process's environment does not change).
    Env(String),
    /// A key given on stdin and stored in the db.
    Stored(String),
}

impl KeySource {
    /// The key itself, if available now (an unset variable gives `None`).
    pub fn resolve(&self) -> Option<String> {
        match self {
            KeySource::Env(name) => crate::env_vars::var(name),
            KeySource::Stored(key) => Some(key.clone()),
        }
    }

    /// How the key is shown anywhere: `$VAR` or a masked stored key.
    pub fn masked(&self) -> String {
        match self {
            KeySource::Env(name) => format!("${name}"),
            KeySource::Stored(key) => crate::output::mask_secret(key),
        }
    }
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
    /// A base URL for one API that differs from `base_url` (ADDED: e.g. DeepSeek's
    /// Messages endpoint at `https://api.deepseek.com/anthropic/v1`).
    #[serde(default)]
    pub api_base_urls: BTreeMap<Api, String>,
}

impl Provider {
    /// A provider with nothing but a name, a base URL and the APIs it speaks.
    pub fn new(name: impl Into<String>, base_url: impl Into<String>, apis: Vec<Api>) -> Self {
        Self {
            name: name.into(),
            preset: None,
            base_url: base_url.into(),
            apis,
            keys: Vec::new(),
            model_map: BTreeMap::new(),
            default_model: None,
            priority: 100,
            timeout: None,
            proxy_url: None,
            vision: None,
            api_base_urls: BTreeMap::new(),
        }
    }

    pub fn speaks(&self, api: Api) -> bool {
        self.apis.contains(&api)
    }

    /// The base URL for `api`, without a trailing slash.
    pub fn base_for(&self, api: Api) -> &str {
        self.api_base_urls.get(&api).unwrap_or(&self.base_url).trim_end_matches('/')
    }

    /// How the provider's Chat Completions endpoint differs from plain OpenAI: its preset's
    /// quirks (custom or unknown presets get the defaults), with `vision` overridden by the
    /// provider's own setting.
    pub fn quirks(&self) -> crate::convert::Quirks {
        let mut quirks = self
            .preset
            .as_deref()
            .and_then(presets::find)
            .map_or(crate::convert::Quirks::DEFAULT, |preset| preset.quirks);
        if let Some(vision) = self.vision {
            quirks.vision = vision;
        }
        quirks
    }

    /// Every distinct base URL this provider may be called at.
    pub fn all_base_urls(&self) -> Vec<&str> {
        let mut urls: Vec<&str> = std::iter::once(self.base_url.as_str())
            .chain(self.api_base_urls.values().map(String::as_str))
            .collect();
        urls.dedup();
        urls
    }

    /// The model to send for a requested one: an exact `model_map` entry, else a `*`
    /// entry, else the request's model; `default_model` when the request names none.
    pub fn map_model(&self, requested: Option<&str>) -> Option<String> {
        match requested {
            Some(model) => self
                .model_map
                .get(model)
                .or_else(|| self.model_map.get("*"))
                .cloned()
                .or_else(|| Some(model.to_string())),
            None => self.default_model.clone(),
        }
    }
}

/// Whether `name` is usable as a provider name: 1..=64 of letters, digits, `-`, `_`, `.`,
/// and not the reserved `official`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != OFFICIAL
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_mapping_prefers_exact_then_star() {
        let mut provider = Provider::new("p", "http://x/v1", vec![Api::Chat]);
        provider.model_map.insert("gpt-5".into(), "deepseek-chat".into());
        assert_eq!(provider.map_model(Some("gpt-5")).as_deref(), Some("deepseek-chat"));
        assert_eq!(provider.map_model(Some("other")).as_deref(), Some("other"));
        provider.model_map.insert("*".into(), "fallback".into());
        assert_eq!(provider.map_model(Some("other")).as_deref(), Some("fallback"));
        assert_eq!(provider.map_model(None), None);
        provider.default_model = Some("d".into());
        assert_eq!(provider.map_model(None).as_deref(), Some("d"));
    }

    #[test]
    fn names() {
        assert!(valid_name("deep-seek_2"));
        assert!(!valid_name("official"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn quirks_come_from_the_preset() {
        let mut provider = Provider::new("k", "https://api.moonshot.ai/v1", vec![Api::Chat]);
        assert_eq!(provider.quirks(), crate::convert::Quirks::DEFAULT);
        provider.preset = Some("kimi".into());
        assert_eq!(provider.quirks(), crate::convert::Quirks::KIMI);
        provider.preset = Some("deepseek".into());
        assert!(!provider.quirks().vision);
        provider.vision = Some(true);
        assert!(provider.quirks().vision);
    }

    #[test]
    fn per_api_base() {
        let mut provider = Provider::new("d", "https://api.deepseek.com/v1/", vec![Api::Chat, Api::Messages]);
        provider.api_base_urls.insert(Api::Messages, "https://api.deepseek.com/anthropic/v1".into());
        assert_eq!(provider.base_for(Api::Chat), "https://api.deepseek.com/v1");
        assert_eq!(provider.base_for(Api::Messages), "https://api.deepseek.com/anthropic/v1");
    }
}
