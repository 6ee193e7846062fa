//! The provider chain: which links may serve a request, in what order, and how a failed
//! link (or one of its keys) cools down.
//!
//! Invariants:
//! - Order is the configured order. A link that speaks another API than the request's is
//!   used through conversion; a link is skipped when it speaks no API at all, when the
//!   request carries images and the link cannot read them, when none of its keys is
//!   available, or while it cools down. If every usable link is cooling, they are
//!   all tried anyway (failing instantly would help nobody).
//! - Cooldown honours `Retry-After` (capped at [`RETRY_AFTER_CAP`]), else doubles from
//!   [`BACKOFF_START`] up to [`BACKOFF_CAP`]; a success clears it.
//! - A 401/403/429 cools the *key* that got it; the link itself cools only when it has no
//!   other key left to try.
//! - Keys rotate round robin over the keys not cooling.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderName, HeaderValue};

use super::ChainEntry;
use super::error::Attempt;
use super::transport::{H1Client, Transport};
use crate::error::{Error, Result};
use crate::providers::{Api, KeySource};

/// A streamed request's upstream gets this long to send response headers (streaming APIs
/// send them at once), unless its provider says otherwise; then the next link is tried.
pub const DEFAULT_STREAM_HEADER_TIMEOUT: Duration = Duration::from_secs(45);
/// A non-streamed request's upstream may compute the whole answer before its headers.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(300);
/// Between two chunks of an answer, and from the headers to the first content.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// TCP (and TLS) connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const RETRY_AFTER_CAP: Duration = Duration::from_secs(600);
const BACKOFF_START: Duration = Duration::from_secs(2);
const BACKOFF_CAP: Duration = Duration::from_secs(120);

/// One link of the chain, with its HTTP client and cooldown state.
#[derive(Debug)]
pub struct Link {
    pub entry: ChainEntry,
    /// Shared with every usage row of the link.
    pub name: std::sync::Arc<str>,
    pub(super) transport: super::transport::Transport,
    /// The provider's own `--timeout`, which replaces every default below.
    pub timeout: Option<Duration>,
    /// Every URL of this link is on the loopback interface.
    pub loopback: bool,
    /// `name` as the value of the `x-aigate-provider` answer header (`None` when it is no
    /// valid header value), built once.
    pub name_header: Option<HeaderValue>,
    /// The provider's keys, resolved once: nothing changes a running process's environment.
    keys: Vec<Option<String>>,
    /// Per key, its credential header for each API ([`Api::ALL`] order), built once and
    /// marked sensitive ([`super::upstream::credential_header`]).
    credentials: Vec<[Option<(HeaderName, HeaderValue)>; 4]>,
    /// The base URL for each API ([`Api::ALL`] order), parsed once.
    bases: [Base; 4],
    state: Mutex<LinkState>,
    key_cursor: AtomicUsize,
}

#[derive(Debug, Default)]
struct LinkState {
    until: Option<Instant>,
    failures: u32,
    key_until: Vec<Option<Instant>>,
}

/// How one attempt failed, for cooldown.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    pub key: Option<usize>,
}

/// A key picked for one attempt.
#[derive(Debug)]
pub struct PickedKey<'a> {
    pub index: usize,
    pub value: &'a str,
}

/// A link's base URL for one API: the configured text (trailing `/` trimmed) and, when it
/// is a plain base (it parses, with no query or fragment), the parsed URL, so a request's
/// URL is the base with its path extended instead of a whole new parse.
#[derive(Debug)]
pub(super) struct Base {
    text: String,
    parsed: Option<(reqwest::Url, usize)>,
    /// The first few distinct paths and queries joined onto the parsed base, with their
    /// URLs: an agent asks for the same few routes over and over, and `Url::set_path`
    /// parses the path again each time (1.75k of the ~67k instructions of a small request).
    joined: Mutex<Vec<Joined>>,
}

#[derive(Debug)]
struct Joined {
    path: String,
    query: Option<String>,
    url: reqwest::Url,
}

/// At most this many joined URLs are kept per base, each of a path and query of at most
/// [`JOINED_TEXT`] bytes: later ones are joined every time.
const JOINED: usize = 8;
const JOINED_TEXT: usize = 512;

/// The upstream URL of one attempt: parsed from the base, or text that reqwest parses
/// (and reports) itself.
#[derive(Debug, PartialEq)]
pub(super) enum UpstreamUrl {
    Parsed(reqwest::Url),
    Text(String),
}

impl Base {
    fn new(text: &str) -> Self {
        let text = text.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&text)
            .ok()
            .filter(|url| url.query().is_none() && url.fragment().is_none() && !url.cannot_be_a_base())
            .map(|url| {
                // `http://host` parses to the path `/`, which the joined path replaces.
                let kept = if url.path() == "/" { 0 } else { url.path().len() };
                (url, kept)
            });
        let mut base = Self { text, parsed, joined: Mutex::default() };
        // A base whose path the parser rewrites (`/v1/.`, say) would join differently from
        // its text: such a base is joined as text, as it always was.
        if base.parsed.is_some() {
            let probe = format!("{}/p/q?r=s", base.text);
            let same = match (&base.parsed, reqwest::Url::parse(&probe)) {
                (Some((parsed, kept)), Ok(expected)) => {
                    extend(parsed, *kept, "/p/q", Some("r=s")) == expected
                }
                _ => false,
            };
            if !same {
                base.parsed = None;
            }
        }
        base
    }

    /// The base followed by `path` (which starts with `/`) and `?query`: the same URL as
    /// parsing the concatenated text.
    pub(super) fn join(&self, path: &str, query: Option<&str>) -> UpstreamUrl {
        if let Some((base, kept)) = &self.parsed {
            let Ok(mut cache) = self.joined.lock() else {
                return UpstreamUrl::Parsed(extend(base, *kept, path, query));
            };
            if let Some(joined) =
                cache.iter().find(|joined| joined.path == path && joined.query.as_deref() == query)
            {
                return UpstreamUrl::Parsed(joined.url.clone());
            }
            let url = extend(base, *kept, path, query);
            if cache.len() < JOINED && path.len() + query.map_or(0, str::len) <= JOINED_TEXT {
                cache.push(Joined {
                    path: path.to_string(),
                    query: query.map(str::to_string),
                    url: url.clone(),
                });
            }
            return UpstreamUrl::Parsed(url);
        }
        let mut url = String::with_capacity(self.text.len() + path.len() + 1 + query.map_or(0, str::len));
        url.push_str(&self.text);
        url.push_str(path);
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        UpstreamUrl::Text(url)
    }
}

/// `base` (whose path is `kept` bytes long, 0 for `/`) followed by `path` and `?query`.
fn extend(base: &reqwest::Url, kept: usize, path: &str, query: Option<&str>) -> reqwest::Url {
    let mut url = base.clone();
    if kept == 0 {
        url.set_path(path);
    } else {
        let mut full = String::with_capacity(kept + path.len());
        full.push_str(&base.path()[..kept]);
        full.push_str(path);
        url.set_path(&full);
    }
    url.set_query(query);
    url
}

/// Where `api` sits in [`Api::ALL`].
pub(super) fn api_slot(api: Api) -> usize {
    match api {
        Api::Responses => 0,
        Api::Chat => 1,
        Api::Messages => 2,
        Api::Gemini => 3,
    }
}

/// The ordered chain.
#[derive(Debug)]
pub struct Chain {
    pub links: Vec<Link>,
    /// Some link cannot read images (`vision = false`): only then does a request's body
    /// need looking through for images.
    pub any_blind: bool,
}

impl Chain {
    /// Build the links and their HTTP clients.
    pub fn new(entries: &[ChainEntry], official: &super::OfficialUpstreams) -> Result<Self> {
        // reqwest clients are built only for the links that need one (building one costs
        // start-up time), and shared between them: [system, no proxy].
        let shared: [std::cell::OnceCell<reqwest::Client>; 2] = Default::default();
        let reqwest_client = |no_proxy: bool| -> Result<reqwest::Client> {
            let cell = &shared[usize::from(no_proxy)];
            if let Some(client) = cell.get() {
                return Ok(client.clone());
            }
            let builder = if no_proxy { client_builder().no_proxy() } else { client_builder() };
            let client = builder.build().map_err(client_error)?;
            Ok(cell.get_or_init(|| client).clone())
        };
        let own = H1Client::new(CONNECT_TIMEOUT);
        let mut links = Vec::with_capacity(entries.len());
        for entry in entries {
            let (name, urls, proxy_url, timeout, keys) = match entry {
                ChainEntry::Official => (
                    crate::providers::OFFICIAL.to_string(),
                    vec![official.openai.clone(), official.chatgpt.clone(), official.anthropic.clone()],
                    None,
                    None,
                    Vec::new(),
                ),
                ChainEntry::Provider(provider) => (
                    provider.name.clone(),
                    provider.all_base_urls().into_iter().map(str::to_string).collect(),
                    provider.proxy_url.clone(),
                    provider.timeout,
                    provider.keys.iter().map(KeySource::resolve).collect(),
                ),
            };
            let loopback = urls.iter().all(|url| is_loopback_url(url));
            let bases = Api::ALL.map(|api| match entry {
                // The official upstream of each API (Chat and Gemini are never planned for
                // it: the OpenAI base stands in).
                ChainEntry::Official => match api {
                    Api::Messages => Base::new(&format!("{}/v1", official.anthropic.trim_end_matches('/'))),
                    Api::Responses if official.codex_chatgpt_login => Base::new(&official.chatgpt),
                    Api::Responses | Api::Chat | Api::Gemini => Base::new(&official.openai),
                },
                ChainEntry::Provider(provider) => Base::new(provider.base_for(api)),
            });
            let credentials = keys
                .iter()
                .map(|key: &Option<String>| {
                    Api::ALL.map(|api| {
                        key.as_deref().and_then(|key| super::upstream::credential_header(api, key))
                    })
                })
                .collect();
            // aigate's own client wherever reqwest would connect directly: no proxy of the
            // provider's, and no proxy variable that applies (reqwest honours them).
            let transport = match proxy_url {
                Some(proxy_url) => {
                    let proxy = reqwest::Proxy::all(&proxy_url).map_err(|error| {
                        Error::refused(format!("Provider `{name}` has an unusable proxy URL")).cause(error)
                    })?;
                    Transport::Reqwest(client_builder().proxy(proxy).build().map_err(client_error)?)
                }
                None if !urls.iter().all(|url| H1Client::serves(url)) => {
                    Transport::Reqwest(reqwest_client(loopback)?)
                }
                None if loopback || !proxy_variables_set() => Transport::Direct(own.clone()),
                None => Transport::Reqwest(reqwest_client(false)?),
            };
            links.push(Link {
                entry: entry.clone(),
                name_header: HeaderValue::from_str(&name).ok(),
                name: name.into(),
                transport,
                timeout,
                loopback,
                state: Mutex::new(LinkState { key_until: vec![None; keys.len()], ..LinkState::default() }),
                keys,
                credentials,
                bases,
                key_cursor: AtomicUsize::new(0),
            });
        }
        let any_blind = entries
            .iter()
            .any(|entry| matches!(entry, ChainEntry::Provider(provider) if provider.vision == Some(false)));
        Ok(Self { links, any_blind })
    }

    /// The one link a request of `api` goes to when no other could take over from it, if
    /// that link can take the body as it arrives: it speaks `api` itself (no conversion),
    /// sends the model as asked (no `model_map`, no `default_model`; the Gemini API maps
    /// it in the path), and its transport streams; and no link of the chain needs the body
    /// looked through for images.
    pub fn streams_to(&self, api: Option<Api>) -> Option<usize> {
        let api = api?;
        if self.any_blind {
            return None;
        }
        let (order, _) = self.plan(Some(api), false);
        let [index] = order[..] else {
            return None;
        };
        let link = &self.links[index];
        if !link.transport.streams() {
            return None;
        }
        match &link.entry {
            ChainEntry::Official => Some(index),
            ChainEntry::Provider(provider) => (provider.speaks(api)
                && (api == Api::Gemini
                    || (provider.model_map.is_empty() && provider.default_model.is_none())))
            .then_some(index),
        }
    }

    /// The links to try, in order, and the ones skipped with why.
    pub fn plan(&self, api: Option<Api>, has_images: bool) -> (Vec<usize>, Vec<Attempt>) {
        let now = Instant::now();
        let mut skipped = Vec::new();
        let mut ready = Vec::new();
        let mut cooling = Vec::new();
        for (index, link) in self.links.iter().enumerate() {
            let skip = |reason: String| Attempt {
                provider: link.name.clone(),
                reason,
                status: None,
                sent: false,
                retry_after: None,
            };
            if matches!(link.entry, ChainEntry::Official) && api == Some(Api::Gemini) {
                skipped.push(skip(
                    "Gemini CLI's Google login cannot go through a proxy; add a provider".to_string(),
                ));
                continue;
            }
            if let ChainEntry::Provider(provider) = &link.entry {
                if let Some(api) = api {
                    // A link that speaks another API is served through the conversion
                    // stage; only one that speaks none is skipped.
                    if crate::providers::chain::upstream_api(provider, api).is_none() {
                        skipped.push(skip(format!("speaks no wire API, so not the {} API", api.title())));
                        continue;
                    }
                }
                if has_images && provider.vision == Some(false) {
                    skipped.push(skip("cannot read images".to_string()));
                    continue;
                }
                if !link.keys.is_empty() && link.keys.iter().all(Option::is_none) {
                    let names: Vec<String> = provider.keys.iter().map(KeySource::masked).collect();
                    skipped.push(skip(format!("no key available ({} not set)", names.join(", "))));
                    continue;
                }
            }
            match link.cooling_for(now) {
                Some(left) => cooling.push((index, left)),
                None => ready.push(index),
            }
        }
        if ready.is_empty() {
            // Everyone is cooling: try them anyway, in order.
            ready = cooling.iter().map(|(index, _)| *index).collect();
        } else {
            for (index, left) in cooling {
                skipped.push(Attempt {
                    provider: self.links[index].name.clone(),
                    reason: format!("cooling down for {}s after an error", left.as_secs().max(1)),
                    status: None,
                    sent: false,
                    retry_after: None,
                });
            }
        }
        (ready, skipped)
    }
}

impl Link {
    /// How long to wait for response headers before trying the next link.
    pub fn headers_within(&self, stream: bool) -> Duration {
        self.timeout.unwrap_or(if stream { DEFAULT_STREAM_HEADER_TIMEOUT } else { DEFAULT_HEADER_TIMEOUT })
    }

    /// How long an answer may stay silent (before its first content, or between chunks).
    pub fn idle_within(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT)
    }

    /// Send one request over this link's transport and wait for the answer's head.
    pub(super) async fn send(
        &self,
        method: axum::http::Method,
        url: UpstreamUrl,
        headers: axum::http::HeaderMap,
        body: Option<super::transport::OutBody>,
    ) -> std::result::Result<super::transport::UpstreamResponse, super::transport::UpstreamError> {
        self.transport.send(method, url, headers, body).await
    }

    /// The base URL for `api`.
    pub(super) fn base(&self, api: Api) -> &Base {
        &self.bases[api_slot(api)]
    }

    /// The credential header of `key` for `api` (sensitive), built at start-up; `None`
    /// when the key is no valid header value.
    pub(super) fn credential(&self, key: &PickedKey<'_>, api: Api) -> Option<(HeaderName, HeaderValue)> {
        self.credentials.get(key.index).and_then(|slots| slots[api_slot(api)].clone())
    }

    fn cooling_for(&self, now: Instant) -> Option<Duration> {
        let state = self.state.lock().ok()?;
        state.until.and_then(|until| until.checked_duration_since(now)).filter(|left| !left.is_zero())
    }

    /// The next key, round robin over keys that resolve and are not cooling (any key that
    /// resolves when all are cooling). `None` when the provider has no keys.
    pub fn pick_key(&self) -> Option<PickedKey<'_>> {
        let count = self.keys.len();
        if count == 0 {
            return None;
        }
        let now = Instant::now();
        let start = self.key_cursor.fetch_add(1, Ordering::Relaxed);
        let state = self.state.lock().ok();
        let cooling = |index: usize| {
            state
                .as_ref()
                .and_then(|state| state.key_until.get(index).copied().flatten())
                .is_some_and(|until| until > now)
        };
        let mut fallback = None;
        for offset in 0..count {
            let index = (start + offset) % count;
            if let Some(value) = &self.keys[index] {
                if !cooling(index) {
                    return Some(PickedKey { index, value });
                }
                if fallback.is_none() {
                    fallback = Some(PickedKey { index, value });
                }
            }
        }
        fallback
    }

    pub fn succeeded(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.until = None;
            state.failures = 0;
        }
    }

    pub fn failed(&self, failure: Failure) {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.failures = state.failures.saturating_add(1);
        let backoff = BACKOFF_START.saturating_mul(1u32 << (state.failures - 1).min(16)).min(BACKOFF_CAP);
        let wait = failure.retry_after.map_or(backoff, |retry| retry.min(RETRY_AFTER_CAP));
        let key_problem = matches!(failure.status, Some(401 | 403 | 429));
        if key_problem {
            if let Some(index) = failure.key {
                if let Some(slot) = state.key_until.get_mut(index) {
                    *slot = Some(now + wait);
                }
                let other_key_ready = state
                    .key_until
                    .iter()
                    .enumerate()
                    .any(|(other, until)| other != index && until.is_none_or(|until| until <= now));
                if other_key_ready {
                    return;
                }
            }
        }
        state.until = Some(now + wait);
    }
}

/// Parse `Retry-After`: delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let parser = jiff::fmt::rfc2822::DateTimeParser::new();
    let when = parser.parse_timestamp(value).ok()?;
    let seconds = when.as_second() - jiff::Timestamp::now().as_second();
    Some(Duration::from_secs(seconds.max(0) as u64))
}

/// Whether `url` is this very listener (`addr`): same port, and a host that is or resolves
/// to a loopback or unspecified address (also IPv4-mapped, `[::ffff:127.0.0.1]`), or to the
/// listener's own address. Names are resolved once, here, and only when the port matches
/// (a loop needs the same port), so start-up waits on no DNS otherwise.
pub fn points_at_listener(url: &str, addr: std::net::SocketAddr) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let (Some(host), Some(port)) = (parsed.host(), parsed.port_or_known_default()) else {
        return false;
    };
    if port != addr.port() {
        return false;
    }
    let ours = |ip: std::net::IpAddr| is_local_ip(ip) || canonical(ip) == canonical(addr.ip());
    match host {
        url::Host::Ipv4(ip) => ours(ip.into()),
        url::Host::Ipv6(ip) => ours(ip.into()),
        url::Host::Domain(name) => {
            use std::net::ToSocketAddrs;
            is_localhost_name(name)
                || (name, port).to_socket_addrs().is_ok_and(|mut found| found.any(|found| ours(found.ip())))
        }
    }
}

/// Whether `url` is on this machine at `port` (loopback names and addresses only; no DNS).
pub fn points_at_port(url: &str, port: u16) -> bool {
    let url_port = reqwest::Url::parse(url).ok().and_then(|parsed| parsed.port_or_known_default());
    is_loopback_url(url) && url_port == Some(port)
}

/// Whether `url` names a loopback host (`127.0.0.0/8`, `::1`, `::ffff:127.x`, `localhost`,
/// or the unspecified address, which reaches this machine).
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    match parsed.host() {
        Some(url::Host::Domain(name)) => is_localhost_name(name),
        Some(url::Host::Ipv4(ip)) => is_local_ip(ip.into()),
        Some(url::Host::Ipv6(ip)) => is_local_ip(ip.into()),
        None => false,
    }
}

/// `localhost`, `LOCALHOST.`, `anything.localhost` (RFC 6761: always loopback).
fn is_localhost_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Loopback or unspecified, looking through IPv4-mapped IPv6 addresses.
fn is_local_ip(ip: std::net::IpAddr) -> bool {
    let ip = canonical(ip);
    ip.is_loopback() || ip.is_unspecified()
}

/// `::ffff:a.b.c.d` as `a.b.c.d`.
fn canonical(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        std::net::IpAddr::V4(_) => ip,
    }
}

/// Whether a proxy variable reqwest would honour is set (then links that are not on the
/// loopback interface go through reqwest, which applies it and `NO_PROXY`).
fn proxy_variables_set() -> bool {
    ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

fn client_builder() -> reqwest::ClientBuilder {
    // No overall timeout: streams may run for many minutes. Connect and time-to-headers
    // are bounded instead (the latter per attempt, in forward.rs).
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(reqwest::redirect::Policy::none())
}

fn client_error(error: reqwest::Error) -> Error {
    Error::internal("Failed to set up the HTTP client").cause(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Provider;

    fn official() -> super::super::OfficialUpstreams {
        super::super::OfficialUpstreams {
            openai: "http://127.0.0.1:1/v1".into(),
            chatgpt: "http://127.0.0.1:1/c".into(),
            anthropic: "http://127.0.0.1:1".into(),
            codex_chatgpt_login: false,
        }
    }

    #[test]
    fn plan_skips_by_api_vision_and_cooldown() {
        let mut chat_only = Provider::new("chat", "http://127.0.0.1:9/v1", vec![Api::Chat]);
        chat_only.vision = Some(false);
        let messages = Provider::new("msg", "http://127.0.0.1:9/v1", vec![Api::Messages, Api::Chat]);
        let chain = Chain::new(
            &[ChainEntry::Provider(chat_only), ChainEntry::Provider(messages), ChainEntry::Official],
            &official(),
        )
        .unwrap();
        // The Chat-only link serves Messages through conversion; one that speaks nothing
        // is skipped.
        let (order, skipped) = chain.plan(Some(Api::Messages), false);
        assert_eq!(order, vec![0, 1, 2]);
        assert!(skipped.is_empty());
        let silent = Chain::new(
            &[ChainEntry::Provider(Provider::new("none", "http://127.0.0.1:9/v1", vec![]))],
            &official(),
        )
        .unwrap();
        // Only a chain with a link that cannot read images looks through bodies for them.
        assert!(chain.any_blind && !silent.any_blind);
        let (order, skipped) = silent.plan(Some(Api::Messages), false);
        assert!(order.is_empty());
        assert_eq!(skipped[0].reason, "speaks no wire API, so not the Messages API");
        let (order, skipped) = chain.plan(Some(Api::Chat), true);
        assert_eq!(order, vec![1, 2]);
        assert_eq!(skipped[0].reason, "cannot read images");
        // With images, link 0 (no vision) stays out of the cooldown checks below.
        chain.links[1].failed(Failure { status: Some(500), retry_after: None, key: None });
        let (order, skipped) = chain.plan(Some(Api::Messages), true);
        assert_eq!(order, vec![2]);
        assert!(skipped[1].reason.starts_with("cooling down"), "{skipped:?}");
        chain.links[2].failed(Failure {
            status: Some(429),
            retry_after: Some(Duration::from_secs(9999)),
            key: None,
        });
        let (order, _) = chain.plan(Some(Api::Messages), true);
        assert_eq!(order, vec![1, 2], "all cooling: try them anyway");
        chain.links[1].succeeded();
        assert_eq!(chain.plan(Some(Api::Messages), true).0, vec![1]);
    }

    #[test]
    fn links_that_reach_their_upstream_directly_use_the_own_client() {
        let direct = Provider::new("direct", "http://127.0.0.1:9/v1", vec![Api::Chat]);
        let mut proxied = Provider::new("proxied", "https://api.example/v1", vec![Api::Chat]);
        proxied.proxy_url = Some("socks5://127.0.0.1:1080".into());
        let userinfo = Provider::new("userinfo", "http://user:pw@127.0.0.1:9/v1", vec![Api::Chat]);
        let chain = Chain::new(
            &[ChainEntry::Provider(direct), ChainEntry::Provider(proxied), ChainEntry::Provider(userinfo)],
            &official(),
        )
        .unwrap();
        let kinds: Vec<bool> =
            chain.links.iter().map(|link| matches!(link.transport, Transport::Direct(_))).collect();
        assert_eq!(kinds, [true, false, false]);
    }

    #[test]
    fn keys_rotate_and_a_429_key_cools() {
        let mut provider = Provider::new("p", "http://127.0.0.1:9/v1", vec![Api::Chat]);
        provider.keys = vec![KeySource::Stored("k0".into()), KeySource::Stored("k1".into())];
        let chain = Chain::new(&[ChainEntry::Provider(provider)], &official()).unwrap();
        let link = &chain.links[0];
        let first = link.pick_key().unwrap();
        let second = link.pick_key().unwrap();
        assert_ne!(first.index, second.index);
        link.failed(Failure { status: Some(429), retry_after: None, key: Some(0) });
        assert!(link.cooling_for(Instant::now()).is_none(), "the other key is still fine");
        for _ in 0..4 {
            assert_eq!(link.pick_key().unwrap().value, "k1");
        }
        link.failed(Failure { status: Some(401), retry_after: None, key: Some(1) });
        assert!(link.cooling_for(Instant::now()).is_some(), "no key left");
    }

    #[test]
    fn retry_after_and_loopback() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
        assert!(is_loopback_url("http://127.0.0.1:8080/v1"));
        assert!(is_loopback_url("http://localhost/v1"));
        assert!(is_loopback_url("http://[::1]:1/v1"));
        assert!(!is_loopback_url("https://api.openai.com/v1"));
        assert!(is_loopback_url("http://[::ffff:127.0.0.1]:1/v1"));
        assert!(is_loopback_url("http://0.0.0.0:1/v1"));
    }

    #[test]
    fn a_loop_through_any_name_or_form_of_this_listener_is_seen() {
        let addr: std::net::SocketAddr = "127.0.0.1:4555".parse().unwrap();
        for url in [
            "http://127.0.0.1:4555/v1",
            "http://127.9.9.9:4555/v1",
            "http://[::ffff:127.0.0.1]:4555/v1",
            "http://[::1]:4555/v1",
            "http://0.0.0.0:4555",
            "http://localhost:4555/v1",
            "http://LOCALHOST.:4555/v1",
            "http://api.localhost:4555/v1",
        ] {
            assert!(points_at_listener(url, addr), "{url}");
        }
        assert!(!points_at_listener("http://127.0.0.1:4556/v1", addr));
        // The machine's own name resolves to one of its addresses.
        if let Ok(name) = nix::unistd::gethostname() {
            if let Some(name) = name.to_str().filter(|name| !name.is_empty()) {
                use std::net::ToSocketAddrs;
                let resolves_local = (name, 4555)
                    .to_socket_addrs()
                    .is_ok_and(|mut found| found.any(|found| canonical(found.ip()).is_loopback()));
                if resolves_local {
                    assert!(points_at_listener(&format!("http://{name}:4555/v1"), addr), "{name}");
                }
            }
        }
    }
}
