//! `aigate provider test`: one minimal request per wire API to a provider, over the same
//! link (HTTP client, proxy, credentials) the proxy would use, so a probe that answers
//! means the proxy can too.
//!
//! Invariants: the key goes only into the sensitive credential header; nothing of the
//! answer but its status is kept.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::providers::{Api, Provider};

/// The result of probing one API.
#[derive(Debug, Serialize)]
pub struct ProbeResult {
    pub api: Api,
    /// The provider is registered as speaking it.
    pub claimed: bool,
    pub url: String,
    pub status: Option<u16>,
    pub latency_ms: Option<u64>,
    pub ok: bool,
    pub error: Option<String>,
}

/// One minimal request per API (claimed or not), one after another.
pub async fn probe_all(provider: &Provider, model: &str) -> Result<Vec<ProbeResult>> {
    let official = super::OfficialUpstreams::from_env(false);
    let chain = super::failover::Chain::new(&[super::ChainEntry::Provider(provider.clone())], &official)?;
    let Some(link) = chain.links.first() else {
        return Ok(Vec::new());
    };
    let key = link.pick_key().map(|key| key.value);
    let timeout = provider.timeout.unwrap_or(Duration::from_secs(30));
    let mut results = Vec::new();
    for api in Api::ALL {
        let url = format!("{}{}", provider.base_for(api), crate::convert::upstream_path(api, false, model));
        let body = match api {
            Api::Responses => serde_json::json!({"model": model, "input": "ping", "max_output_tokens": 16}),
            Api::Chat => {
                serde_json::json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1})
            }
            Api::Messages => {
                serde_json::json!({"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]})
            }
            Api::Gemini => serde_json::json!({
                "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
                "generationConfig": {"maxOutputTokens": 1}
            }),
        };
        let mut request =
            link.client.post(&url).header("content-type", "application/json").body(body.to_string());
        if let Some(key) = &key {
            let (name, value) = super::upstream::credential_header(api, key).ok_or_else(|| {
                Error::refused(format!("The key of `{}` is not a valid header value", provider.name))
            })?;
            request = request.header(name, value);
        }
        if api == Api::Messages {
            request = request.header("anthropic-version", "2023-06-01");
        }
        let started = Instant::now();
        let outcome = tokio::time::timeout(timeout, request.send()).await;
        let latency_ms = Some(started.elapsed().as_millis() as u64);
        let (status, error) = match outcome {
            Err(_) => (None, Some(format!("no answer within {}s", timeout.as_secs()))),
            Ok(Err(error)) => (
                None,
                Some(if error.is_connect() {
                    "connection failed".to_string()
                } else {
                    "request failed".to_string()
                }),
            ),
            Ok(Ok(response)) => {
                let status = response.status();
                let error = (!status.is_success()).then(|| match status.as_u16() {
                    401 | 403 => "key refused".to_string(),
                    404 => "not served here".to_string(),
                    429 => "rate limited".to_string(),
                    other => format!("HTTP {other}"),
                });
                (Some(status.as_u16()), error)
            }
        };
        results.push(ProbeResult {
            api,
            claimed: provider.speaks(api),
            url,
            ok: status.is_some_and(|status| (200..300).contains(&status)),
            status,
            latency_ms,
            error,
        });
    }
    Ok(results)
}
