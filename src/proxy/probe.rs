//! `aigate provider test`: one minimal request per wire API to a provider, over the same
//! link (HTTP client, proxy, credentials) the proxy would use, so a probe that answers
//! means the proxy can too.
//!
//! Then, as each client would: one minimal request per client API through an in-process
//! proxy whose chain is just this provider, so the conversion stage is exercised for every
//! API the provider does not speak ([`probe_as_clients`]).
//!
//! [`probe_providers`] runs both for each provider in turn and reports each probe as one
//! step of its progress (`Expect` the count of every probe first, then `Begin` and
//! `Advance(1)` per probe); it draws nothing itself.
//!
//! Invariants: the key goes only into the sensitive credential header; nothing of the
//! answer but its status is kept.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::progress::{Progress, Report};
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

/// Every probe of `provider`: its own endpoints, then each client API through aigate.
#[derive(Debug)]
pub struct Probes {
    pub native: Vec<ProbeResult>,
    pub as_clients: Vec<ClientProbe>,
}

/// How many probes [`probe_providers`] makes of one provider: each API's own endpoint, then
/// each API as a client through aigate.
pub const PROBES_PER_PROVIDER: u64 = 2 * Api::ALL.len() as u64;

/// One provider to probe, and the model to probe it with.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub provider: &'a Provider,
    pub model: &'a str,
}

/// `aigate provider test`: each target in turn, [`probe_all`] then [`probe_as_clients`],
/// one progress step per probe. The count of every probe of every target comes first (one
/// `Expect`, so the bar never moves back); with more than one target each label starts
/// with the provider's name (`` `deepseek`: chat endpoint ``). A target whose probing
/// fails does not stop the others: its error takes its place in the answer (one per
/// target, in order), and the steps it did not take are advanced at once.
pub async fn probe_providers(
    targets: &[Target<'_>],
    aigate_home: &std::path::Path,
    progress: Report<'_>,
) -> Vec<Result<Probes>> {
    progress(Progress::Expect(PROBES_PER_PROVIDER * targets.len() as u64));
    let several = targets.len() > 1;
    let mut all = Vec::with_capacity(targets.len());
    for target in targets {
        let name = &target.provider.name;
        let done = std::cell::Cell::new(0_u64);
        let report = |event: Progress<'_>| match event {
            Progress::Begin(label) if several => progress(Progress::Begin(&format!("`{name}`: {label}"))),
            Progress::Advance(units) => {
                done.set(done.get() + units);
                progress(event);
            }
            other => progress(other),
        };
        let probes = probe_provider(target.provider, target.model, aigate_home, &report).await;
        let left = PROBES_PER_PROVIDER.saturating_sub(done.get());
        if left > 0 {
            progress(Progress::Advance(left));
        }
        all.push(probes);
    }
    all
}

/// Every probe of one provider, counted by the caller.
async fn probe_provider(
    provider: &Provider,
    model: &str,
    aigate_home: &std::path::Path,
    progress: Report<'_>,
) -> Result<Probes> {
    let native = probe_all(provider, model, progress).await?;
    let as_clients = probe_as_clients(provider, model, aigate_home, progress).await?;
    Ok(Probes { native, as_clients })
}

/// One minimal request per API (claimed or not), one after another.
async fn probe_all(provider: &Provider, model: &str, progress: Report<'_>) -> Result<Vec<ProbeResult>> {
    let official = super::OfficialUpstreams::from_env(false);
    let chain = super::failover::Chain::new(&[super::ChainEntry::Provider(provider.clone())], &official)?;
    let Some(link) = chain.links.first() else {
        return Ok(Vec::new());
    };
    let key = link.pick_key().map(|key| key.value.to_string());
    let timeout = provider.timeout.unwrap_or(Duration::from_secs(30));
    let mut results = Vec::new();
    for api in Api::ALL {
        progress(Progress::Begin(&format!("{} endpoint", api.name())));
        let url = format!("{}{}", provider.base_for(api), crate::convert::upstream_path(api, false, model));
        // Responses asks for at least 16 output tokens; the others take one.
        let body = minimal_request(api, model, if api == Api::Responses { 16 } else { 1 });
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        if let Some(key) = &key {
            let (name, value) = super::upstream::credential_header(api, key).ok_or_else(|| {
                Error::refused(format!("The key of `{}` is not a valid header value", provider.name))
            })?;
            headers.insert(name, value);
        }
        if api == Api::Messages {
            headers.insert("anthropic-version", axum::http::HeaderValue::from_static("2023-06-01"));
        }
        let started = Instant::now();
        let sent = link.send(
            axum::http::Method::POST,
            super::failover::UpstreamUrl::Text(url.clone()),
            headers,
            Some(super::transport::OutBody::Whole(Some(bytes::Bytes::from(body.to_string())))),
        );
        let outcome = tokio::time::timeout(timeout, sent).await;
        let latency_ms = Some(started.elapsed().as_millis() as u64);
        let (status, error) = match outcome {
            Err(_) => (None, Some(format!("no answer within {}s", timeout.as_secs()))),
            Ok(Err(error)) => (
                None,
                Some(if error.kind == super::transport::ErrorKind::Connect {
                    "connection failed".to_string()
                } else {
                    "request failed".to_string()
                }),
            ),
            Ok(Ok(response)) => {
                let status = response.status;
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
        progress(Progress::Advance(1));
    }
    Ok(results)
}

/// One client API served through the proxy.
#[derive(Debug, Serialize)]
pub struct ClientProbe {
    pub api: Api,
    /// `pass-through` or `converted via …`.
    pub how: String,
    pub status: Option<u16>,
    pub latency_ms: Option<u64>,
    pub ok: bool,
    pub error: Option<String>,
}

/// The minimal request of `api` (non-streamed, one short user turn, at most `max_tokens`).
fn minimal_request(api: Api, model: &str, max_tokens: u32) -> serde_json::Value {
    match api {
        Api::Responses => {
            serde_json::json!({"model": model, "input": "ping", "max_output_tokens": max_tokens})
        }
        Api::Chat => serde_json::json!({
            "model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": max_tokens
        }),
        Api::Messages => serde_json::json!({
            "model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "ping"}]
        }),
        Api::Gemini => serde_json::json!({
            "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
            "generationConfig": {"maxOutputTokens": max_tokens},
        }),
    }
}

/// Each client API through an in-process proxy (127.0.0.1, a fresh token) with only
/// `provider` in its chain: pass-through where it speaks the API, converted elsewhere.
async fn probe_as_clients(
    provider: &Provider,
    model: &str,
    aigate_home: &std::path::Path,
    progress: Report<'_>,
) -> Result<Vec<ClientProbe>> {
    let token = crate::random::hex(24)?;
    let config = super::ProxyConfig::new(
        token.clone(),
        vec![super::ChainEntry::Provider(provider.clone())],
        aigate_home.to_path_buf(),
    );
    let handle = super::start(config).await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|error| Error::internal("Failed to set up the HTTP client").cause(error))?;
    let timeout = provider.timeout.unwrap_or(Duration::from_secs(60));
    let mut results = Vec::new();
    for api in Api::ALL {
        let entry = super::ChainEntry::Provider(provider.clone());
        let how = crate::providers::chain::link_use(&entry, api, false).describe();
        progress(Progress::Begin(&format!("{} client through aigate ({how})", api.name())));
        let url = match api {
            Api::Gemini => format!(
                "{}/v1beta{}",
                handle.base_url(),
                crate::convert::upstream_path(Api::Gemini, false, model)
            ),
            Api::Responses | Api::Chat | Api::Messages => format!("{}/v1{}", handle.base_url(), api.path()),
        };
        let request = http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(minimal_request(api, model, 16).to_string());
        let started = Instant::now();
        let outcome = tokio::time::timeout(timeout, request.send()).await;
        let latency_ms = Some(started.elapsed().as_millis() as u64);
        let (status, error) = match outcome {
            Err(_) => (None, Some(format!("no answer within {}s", timeout.as_secs()))),
            Ok(Err(_)) => (None, Some("the proxy did not answer".to_string())),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let parses = serde_json::from_str::<serde_json::Value>(&text).is_ok();
                let error = match (status, parses) {
                    (200..=299, true) => None,
                    (200..=299, false) => Some("the answer is not JSON".to_string()),
                    (_, _) => Some(format!("HTTP {status}")),
                };
                (Some(status), error)
            }
        };
        results.push(ClientProbe { api, how, ok: error.is_none(), status, latency_ms, error });
        progress(Progress::Advance(1));
    }
    handle.shutdown(Duration::from_secs(2)).await;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::testing::{Recorder, Seen};
    use crate::providers::KeySource;

    /// A provider on a loopback port nobody listens on: every probe fails at once. The port
    /// stays bound (never listening) to the end of the test process, so that no other
    /// test's listener is given it meanwhile.
    fn unreachable_provider(name: &str) -> Provider {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let port = socket.local_addr().unwrap().port();
        std::mem::forget(socket);
        Provider::new(name, format!("http://127.0.0.1:{port}/v1"), vec![Api::Chat])
    }

    const LABELS: [&str; 8] = [
        "responses endpoint",
        "chat endpoint",
        "messages endpoint",
        "gemini endpoint",
        "responses client through aigate (converted via Chat Completions)",
        "chat client through aigate (pass-through)",
        "messages client through aigate (converted via Chat Completions)",
        "gemini client through aigate (converted via Chat Completions)",
    ];

    #[tokio::test]
    async fn each_probe_is_one_step_of_the_progress_and_the_count_comes_first() {
        let home = tempfile::tempdir().unwrap();
        let recorder = Recorder::default();
        let provider = unreachable_provider("down");
        let mut probes =
            probe_providers(&[Target { provider: &provider, model: "m" }], home.path(), &|event| {
                recorder.report(event);
            })
            .await;
        assert_eq!(probes.len(), 1);
        let probes = probes.remove(0).unwrap();
        assert_eq!(probes.native.len(), 4, "Responses, Chat, Messages and Gemini endpoints");
        assert_eq!(probes.as_clients.len(), 4, "Responses, Chat, Messages and Gemini API clients");
        let mut expected = vec![Seen::Expect(PROBES_PER_PROVIDER)];
        for label in LABELS {
            expected.push(Seen::Begin(label.to_string()));
            expected.push(Seen::Advance(1));
        }
        assert_eq!(recorder.seen(), expected, "one provider: the labels do not name it");
    }

    /// Issue 13 item 5: several providers, one after another under one count; each label
    /// names its provider.
    #[tokio::test]
    async fn several_providers_are_counted_up_front_and_named_in_each_label() {
        let home = tempfile::tempdir().unwrap();
        let recorder = Recorder::default();
        let (first, second) = (unreachable_provider("down"), unreachable_provider("gone"));
        let targets = [Target { provider: &first, model: "m" }, Target { provider: &second, model: "other" }];
        let probes = probe_providers(&targets, home.path(), &|event| recorder.report(event)).await;
        assert_eq!(probes.len(), 2);
        assert!(probes.iter().all(|probes| probes.as_ref().is_ok_and(|p| p.native.len() == 4)));
        let mut expected = vec![Seen::Expect(2 * PROBES_PER_PROVIDER)];
        for name in ["down", "gone"] {
            for label in LABELS {
                expected.push(Seen::Begin(format!("`{name}`: {label}")));
                expected.push(Seen::Advance(1));
            }
        }
        assert_eq!(recorder.seen(), expected);
    }

    /// A provider that cannot be probed (its key is no header value) gives its error and
    /// its steps; the next one is still probed.
    #[tokio::test]
    async fn a_provider_that_fails_does_not_stop_the_next() {
        let home = tempfile::tempdir().unwrap();
        let recorder = Recorder::default();
        let mut broken = unreachable_provider("broken");
        broken.keys = vec![KeySource::Stored("sk-bad\nkey".to_string())];
        let fine = unreachable_provider("fine");
        let targets = [Target { provider: &broken, model: "m" }, Target { provider: &fine, model: "m" }];
        let probes = probe_providers(&targets, home.path(), &|event| recorder.report(event)).await;
        let error = probes[0].as_ref().unwrap_err();
        assert!(error.message.contains("The key of `broken` is not a valid header value"), "{error}");
        assert_eq!(probes[1].as_ref().unwrap().as_clients.len(), 4);
        let (expected, begun, advanced) = recorder.totals();
        assert_eq!((expected, advanced), (16, 16), "the bar still ends full");
        assert_eq!(begun[0], "`broken`: responses endpoint");
        assert_eq!(begun[1], "`fine`: responses endpoint");
        assert_eq!(begun.len(), 9);
    }
}
