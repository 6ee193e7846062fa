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

use super::failover::Link;
use super::{ChainEntry, HOP_HEADER, Request, Route, State};
use crate::providers::Api;

/// Headers that carry a client's credentials or account, removed before a request goes
/// to a provider (which gets only its own key): OpenAI, Anthropic, Azure, Google, cookies.
pub const CLIENT_CREDENTIAL_HEADERS: [&str; 9] = [
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "openai-organization",
    "openai-project",
    "chatgpt-account-id",
    "cookie",
    "proxy-authorization",
];

/// The header carrying a provider key for `api`, marked sensitive: `x-api-key` for
/// Messages, `x-goog-api-key` for Gemini (never `?key=` in the URL), `Authorization:
/// Bearer` for the OpenAI APIs.
pub fn credential_header(api: Api, key: &str) -> Option<(HeaderName, HeaderValue)> {
    let (name, value) = match api {
        Api::Messages => (HeaderName::from_static("x-api-key"), HeaderValue::from_str(key)),
        Api::Gemini => (HeaderName::from_static("x-goog-api-key"), HeaderValue::from_str(key)),
        Api::Responses | Api::Chat => {
            (header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {key}")))
        }
    };
    let mut value = value.ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

/// The upstream URL, and the API whose credential style applies. `model` is the model to
/// send, which the Gemini API has in the path.
pub(super) fn upstream_url(
    state: &State,
    link: &Link,
    request: &Request,
    model: Option<&str>,
) -> (String, Api) {
    let anthropic_client = request.headers.contains_key("anthropic-version");
    let (base, api) = match (&link.entry, request.route) {
        (ChainEntry::Official, Route::Messages | Route::CountTokens) => {
            (format!("{}/v1", state.official.anthropic.trim_end_matches('/')), Api::Messages)
        }
        (ChainEntry::Official, Route::Models) if anthropic_client => {
            (format!("{}/v1", state.official.anthropic.trim_end_matches('/')), Api::Messages)
        }
        (ChainEntry::Official, Route::Responses | Route::Models) => {
            let base = if state.official.codex_chatgpt_login {
                &state.official.chatgpt
            } else {
                &state.official.openai
            };
            (base.trim_end_matches('/').to_string(), Api::Responses)
        }
        // Never planned (a Google login cannot be proxied); the OpenAI base is a placeholder.
        (
            ChainEntry::Official,
            Route::Chat | Route::Gemini | Route::GeminiCountTokens | Route::GeminiModels,
        ) => (state.official.openai.trim_end_matches('/').to_string(), Api::Chat),
        (ChainEntry::Provider(provider), route) => {
            let api = route.api().unwrap_or(if anthropic_client && provider.speaks(Api::Messages) {
                Api::Messages
            } else {
                provider.apis.first().copied().unwrap_or(Api::Chat)
            });
            (provider.base_for(api).to_string(), api)
        }
    };
    let mut url = base;
    match crate::convert::gemini_path(&request.suffix) {
        Some((requested, method)) if api == Api::Gemini && model.is_some_and(|model| model != requested) => {
            url.push_str(&crate::convert::gemini_method_path(model.unwrap_or(requested), method));
        }
        _ => url.push_str(&request.suffix),
    }
    if let Some(query) = &request.query {
        url.push('?');
        url.push_str(query);
    }
    (url, api)
}

pub(super) fn upstream_headers(
    state: &State,
    link: &Link,
    request: &Request,
    key: Option<&str>,
    api: Api,
) -> HeaderMap {
    let mut headers = request.headers.clone();
    match &link.entry {
        ChainEntry::Official => {}
        ChainEntry::Provider(_) => {
            // The provider's key replaces whatever the client sent; the client's login, its
            // other credentials and its account ids are none of a third party's business.
            for name in CLIENT_CREDENTIAL_HEADERS {
                headers.remove(name);
            }
            if let Some((name, value)) = key.and_then(|key| credential_header(api, key)) {
                headers.insert(name, value);
            }
            if api == Api::Messages && !headers.contains_key("anthropic-version") {
                headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
            }
        }
    }
    // Identity, so the tap can read usage; SSE is rarely compressed anyway.
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    if link.loopback {
        // Append our id to the ids of the aigates this request already went through, so
        // that any of them recognises it coming back (A → B → A), not just the last one.
        let hops = match headers.get(HOP_HEADER).and_then(|value| value.to_str().ok()) {
            Some(earlier) => format!("{earlier},{}", state.instance_id),
            None => state.instance_id.clone(),
        };
        if let Ok(value) = HeaderValue::from_str(&hops) {
            headers.insert(HeaderName::from_static(HOP_HEADER), value);
        }
    } else {
        headers.remove(HOP_HEADER);
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
