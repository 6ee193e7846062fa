//! Building the upstream request of one attempt: the URL, the headers with the link's
//! credentials in place of the client's, and the body with the mapped model.
//!
//! Invariants:
//! - A provider link never sees the client's credentials or login cookies: they are
//!   removed before the provider's key goes in.
//! - A provider key is only ever put in a header marked sensitive ([`credential_header`]).
//! - The model rewrite keeps every other byte of the body.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use bytes::Bytes;

use super::failover::{Link, PickedKey, UpstreamUrl};
use super::{ChainEntry, HOP_HEADER, Request, Route, State};
use crate::providers::Api;

/// Headers that carry a client's credentials or account, removed before a request goes
/// to a provider (which gets only its own key): OpenAI, Anthropic, Azure, Google, cookies.
pub const CLIENT_CREDENTIAL_HEADERS: [HeaderName; 9] = [
    header::AUTHORIZATION,
    X_API_KEY,
    HeaderName::from_static("api-key"),
    X_GOOG_API_KEY,
    HeaderName::from_static("openai-organization"),
    HeaderName::from_static("openai-project"),
    HeaderName::from_static("chatgpt-account-id"),
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
];

/// Anthropic's key header, and Google's.
pub(super) const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
pub(super) const X_GOOG_API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");
pub(super) const ANTHROPIC_VERSION: HeaderName = HeaderName::from_static("anthropic-version");
const HOP: HeaderName = HeaderName::from_static(HOP_HEADER);

/// The header carrying a provider key for `api`, marked sensitive: `x-api-key` for
/// Messages, `x-goog-api-key` for Gemini (never `?key=` in the URL), `Authorization:
/// Bearer` for the OpenAI APIs. Built once per key and API, when the chain is built
/// ([`Link::credential`]).
pub fn credential_header(api: Api, key: &str) -> Option<(HeaderName, HeaderValue)> {
    let (name, value) = match api {
        Api::Messages => (X_API_KEY, HeaderValue::from_str(key)),
        Api::Gemini => (X_GOOG_API_KEY, HeaderValue::from_str(key)),
        Api::Responses | Api::Chat => {
            (header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {key}")))
        }
    };
    let mut value = value.ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

/// The upstream URL, and the API whose credential style applies. `model` is the model to
/// send, which the Gemini API has in the path; `anthropic_client` is whether the client
/// sent `anthropic-version` (which picks the API of the model list).
pub(super) fn upstream_url(
    link: &Link,
    request: &Request,
    anthropic_client: bool,
    model: Option<&str>,
) -> (UpstreamUrl, Api) {
    // The official link's base for each API is in its table ([`Link::base`]).
    let api = match (&link.entry, request.route) {
        (ChainEntry::Official, Route::Messages | Route::CountTokens) => Api::Messages,
        (ChainEntry::Official, Route::Models) if anthropic_client => Api::Messages,
        (ChainEntry::Official, Route::Responses | Route::Models) => Api::Responses,
        // Never planned (a Google login cannot be proxied); the OpenAI base is a placeholder.
        (
            ChainEntry::Official,
            Route::Chat | Route::Gemini | Route::GeminiCountTokens | Route::GeminiModels,
        ) => Api::Chat,
        (ChainEntry::Provider(provider), route) => {
            route.api().unwrap_or(if anthropic_client && provider.speaks(Api::Messages) {
                Api::Messages
            } else {
                provider.apis.first().copied().unwrap_or(Api::Chat)
            })
        }
    };
    let base = link.base(api);
    let query = request.query.as_deref();
    let url = match crate::convert::gemini_path(&request.suffix) {
        Some((requested, method)) if api == Api::Gemini && model.is_some_and(|model| model != requested) => {
            base.join(&crate::convert::gemini_method_path(model.unwrap_or(requested), method), query)
        }
        _ => base.join(&request.suffix, query),
    };
    (url, api)
}

/// The headers of one attempt: the client's (`headers`, already cleaned of hop-by-hop
/// headers and the local token), minus its credentials when the link is a provider, plus
/// the link's own key for `api`, identity encoding, and the hop list for a loopback link.
pub(super) fn upstream_headers(
    state: &State,
    link: &Link,
    headers: HeaderMap,
    key: Option<&PickedKey<'_>>,
    api: Api,
) -> HeaderMap {
    headers_for(link, headers, key, api, &state.instance_id, &state.hop)
}

/// [`upstream_headers`], with this instance's id and its prebuilt hop value.
fn headers_for(
    link: &Link,
    mut headers: HeaderMap,
    key: Option<&PickedKey<'_>>,
    api: Api,
    instance_id: &str,
    hop: &HeaderValue,
) -> HeaderMap {
    match &link.entry {
        ChainEntry::Official => {}
        ChainEntry::Provider(_) => {
            // The provider's key replaces whatever the client sent; the client's login, its
            // other credentials and its account ids are none of a third party's business.
            // One pass finds out whether there is anything to remove (usually not: the
            // local token, already gone, was the client's only credential).
            if headers.keys().any(|name| CLIENT_CREDENTIAL_HEADERS.contains(name)) {
                for name in &CLIENT_CREDENTIAL_HEADERS {
                    headers.remove(name);
                }
            }
            if let Some((name, value)) = key.and_then(|key| link.credential(key, api)) {
                headers.insert(name, value);
            }
            if api == Api::Messages && !headers.contains_key(ANTHROPIC_VERSION) {
                headers.insert(ANTHROPIC_VERSION, HeaderValue::from_static("2023-06-01"));
            }
        }
    }
    // Identity, so the tap can read usage; SSE is rarely compressed anyway.
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    if link.loopback {
        // Append our id to the ids of the aigates this request already went through, so
        // that any of them recognises it coming back (A → B → A), not just the last one.
        let hops = match headers.get(HOP).and_then(|value| value.to_str().ok()) {
            Some(earlier) => HeaderValue::from_str(&format!("{earlier},{instance_id}")).ok(),
            None => Some(hop.clone()),
        };
        if let Some(value) = hops {
            headers.insert(HOP, value);
        }
    } else {
        headers.remove(HOP);
    }
    headers
}

/// Replace the top-level `model` of a JSON body, keeping every other byte of each field.
pub fn rewrite_model(body: &[u8], model: &str) -> Option<Bytes> {
    let raw: raw_fields::Fields = serde_json::from_slice(body).ok()?;
    let mut out = Vec::with_capacity(body.len() + model.len());
    out.push(b'{');
    let mut first = true;
    let mut wrote_model = false;
    let encoded = serde_json::to_string(model).ok()?;
    for (name, value) in &raw.0 {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(serde_json::to_string(name).ok()?.as_bytes());
        out.push(b':');
        if name == "model" {
            out.extend_from_slice(encoded.as_bytes());
            wrote_model = true;
        } else {
            out.extend_from_slice(value.get().as_bytes());
        }
    }
    if !wrote_model {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"model\":");
        out.extend_from_slice(encoded.as_bytes());
    }
    out.push(b'}');
    Some(Bytes::from(out))
}

mod raw_fields {
    //! A JSON object as an ordered list of raw fields (no re-encoding of values).
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;

    pub(super) struct Fields(pub(super) Vec<(String, Box<RawValue>)>);

    impl<'de> Deserialize<'de> for Fields {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct FieldsVisitor;
            impl<'de> Visitor<'de> for FieldsVisitor {
                type Value = Fields;
                fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    formatter.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                    let mut fields = Vec::new();
                    while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                        fields.push(entry);
                    }
                    Ok(Fields(fields))
                }
            }
            deserializer.deserialize_map(FieldsVisitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_other_fields_verbatim() {
        let body = br#"{"model":"gpt-5","input":[{"a": 1.50}],"stream":true}"#;
        assert_eq!(
            rewrite_model(body, "deepseek-chat").unwrap(),
            Bytes::from_static(br#"{"model":"deepseek-chat","input":[{"a": 1.50}],"stream":true}"#)
        );
        assert_eq!(rewrite_model(br#"{"x":1}"#, "m").unwrap(), Bytes::from_static(br#"{"x":1,"model":"m"}"#));
        assert!(rewrite_model(b"not json", "m").is_none());
    }

    fn chain(entries: Vec<ChainEntry>) -> super::super::failover::Chain {
        let official = super::super::OfficialUpstreams {
            openai: "https://api.openai.example/v1".into(),
            chatgpt: "https://chatgpt.example/backend-api/codex".into(),
            anthropic: "https://api.anthropic.example/".into(),
            codex_chatgpt_login: false,
        };
        super::super::failover::Chain::new(&entries, &official).unwrap()
    }

    fn client_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer client-login"),
            ("x-api-key", "client-key"),
            ("cookie", "session=1"),
            ("openai-organization", "org-1"),
            ("user-agent", "codex/1"),
            ("x-custom", "kept"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn each_attempt_carries_only_its_links_own_key_in_a_sensitive_header() {
        use crate::providers::{KeySource, Provider};
        let mut provider = Provider::new("p", "https://p.example/v1", vec![Api::Chat, Api::Messages]);
        provider.keys = vec![KeySource::Stored("sk-first".into()), KeySource::Stored("sk-second".into())];
        let chain = chain(vec![ChainEntry::Provider(provider)]);
        let link = &chain.links[0];
        let hop = HeaderValue::from_static("me");
        let mut seen = Vec::new();
        for _ in 0..2 {
            let key = link.pick_key().unwrap();
            let headers = headers_for(link, client_headers(), Some(&key), Api::Chat, "me", &hop);
            let values: Vec<_> = headers.get_all(header::AUTHORIZATION).iter().collect();
            assert_eq!(values.len(), 1);
            assert!(values[0].is_sensitive());
            assert_eq!(values[0].to_str().unwrap(), format!("Bearer {}", key.value));
            seen.push(key.value.to_string());
            for gone in ["x-api-key", "cookie", "openai-organization"] {
                assert!(!headers.contains_key(gone), "{gone}");
            }
            assert_eq!(headers["x-custom"], "kept");
            assert_eq!(headers[header::ACCEPT_ENCODING], "identity");
            assert!(!headers.contains_key(HOP_HEADER), "not a loopback link");
        }
        assert_eq!(seen, ["sk-first", "sk-second"], "round robin, each its own key");
        // Messages: `x-api-key`, sensitive, and an `anthropic-version` when the client sent none.
        let key = link.pick_key().unwrap();
        let headers = headers_for(link, client_headers(), Some(&key), Api::Messages, "me", &hop);
        assert!(!headers.contains_key(header::AUTHORIZATION));
        assert_eq!(headers["x-api-key"], key.value);
        assert!(headers["x-api-key"].is_sensitive());
        assert_eq!(headers["anthropic-version"], "2023-06-01");
        // No key: nothing of the client's goes up in its place.
        let headers = headers_for(link, client_headers(), None, Api::Chat, "me", &hop);
        assert!(!headers.contains_key(header::AUTHORIZATION) && !headers.contains_key("x-api-key"));
    }

    #[test]
    fn the_official_link_keeps_the_clients_login_and_a_loopback_link_appends_the_hop() {
        let official = chain(vec![ChainEntry::Official]);
        let headers = headers_for(
            &official.links[0],
            client_headers(),
            None,
            Api::Responses,
            "me",
            &HeaderValue::from_static("me"),
        );
        assert_eq!(headers[header::AUTHORIZATION], "Bearer client-login");
        assert_eq!(headers["cookie"], "session=1");

        let provider = crate::providers::Provider::new("local", "http://127.0.0.1:9/v1", vec![Api::Chat]);
        let chain = chain(vec![ChainEntry::Provider(provider)]);
        let link = &chain.links[0];
        let hop = HeaderValue::from_static("me");
        let headers = headers_for(link, HeaderMap::new(), None, Api::Chat, "me", &hop);
        assert_eq!(headers[HOP_HEADER], "me");
        let mut earlier = HeaderMap::new();
        earlier.insert(HOP_HEADER, HeaderValue::from_static("a,b"));
        let headers = headers_for(link, earlier, None, Api::Chat, "me", &hop);
        assert_eq!(headers.get_all(HOP_HEADER).iter().collect::<Vec<_>>(), ["a,b,me"]);
    }

    #[test]
    fn the_url_is_the_base_and_the_path_as_if_parsed_whole() {
        use crate::providers::Provider;
        // The official table: Messages under `{anthropic}/v1`, the others under OpenAI.
        let official = chain(vec![ChainEntry::Official]);
        let link = &official.links[0];
        assert_eq!(
            link.base(Api::Messages).join("/messages", None),
            UpstreamUrl::Parsed("https://api.anthropic.example/v1/messages".parse().unwrap())
        );
        assert_eq!(
            link.base(Api::Responses).join("/responses", Some("a=1")),
            UpstreamUrl::Parsed("https://api.openai.example/v1/responses?a=1".parse().unwrap())
        );
        let bases = [
            "http://127.0.0.1:9/v1",
            "http://127.0.0.1:9",
            "https://h.example/v1/",
            "https://h.example/openai/deployments/d%20x",
            "http://h.example/a b/",
            "http://[::1]:8080/v1beta",
            "http://user:pw@h.example/v1",
            "http://h.example/v1/.",
            "http://h.example/v1/..",
            "http://h.example/v1?api-version=1",
            "http://h.example/v1#frag",
            "not a url",
        ];
        let paths = ["/responses", "/models/openai/gpt-4o:streamGenerateContent", "/a b/%2F/../c", "/ü/x"];
        let queries = [None, Some("alt=sse"), Some("a=%20b&c=d e")];
        for base in bases {
            let chain = chain(vec![ChainEntry::Provider(Provider::new("p", base, vec![Api::Chat]))]);
            let base_of_link = chain.links[0].base(Api::Chat);
            // Twice: the second round reads the URLs the base kept (the first eight of the
            // twelve) and joins the rest again.
            for (round, path, query) in (0..2).flat_map(|round| {
                paths.iter().flat_map(move |path| queries.map(|query| (round, *path, query)))
            }) {
                let text = format!(
                    "{}{path}{}",
                    base.trim_end_matches('/'),
                    query.map(|query| format!("?{query}")).unwrap_or_default()
                );
                match base_of_link.join(path, query) {
                    UpstreamUrl::Parsed(url) => {
                        assert_eq!(
                            url,
                            reqwest::Url::parse(&text).unwrap(),
                            "{base} {path} {query:?} {round}"
                        );
                    }
                    UpstreamUrl::Text(joined) => assert_eq!(joined, text),
                }
            }
        }
        // A plain base is joined parsed; one with a query or one the parser rewrites, as text.
        let parsed = |base: &str| {
            let chain = chain(vec![ChainEntry::Provider(Provider::new("p", base, vec![Api::Chat]))]);
            matches!(chain.links[0].base(Api::Chat).join("/x", None), UpstreamUrl::Parsed(_))
        };
        assert!(parsed("http://127.0.0.1:9/v1") && parsed("https://h.example"));
        assert!(!parsed("http://h.example/v1?api-version=1") && !parsed("http://h.example/v1/."));
    }

    #[test]
    fn credentials_are_sensitive_and_per_api() {
        let (name, value) = credential_header(Api::Messages, "sk-ant").unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("x-api-key", "sk-ant"));
        assert!(value.is_sensitive());
        let (name, value) = credential_header(Api::Chat, "sk-1").unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("authorization", "Bearer sk-1"));
        assert!(value.is_sensitive());
    }
}
