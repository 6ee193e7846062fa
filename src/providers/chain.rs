//! The provider chain of a session: which links, in which order (product.md §6).
//!
//! Invariants: `official` is the built-in pass-through and never a stored provider; an
//! absent db means no registered provider (nothing is created).

use std::path::Path;

use super::{Api, OFFICIAL, Provider};
use crate::error::{Error, Result};

/// One link of the provider chain, tried in order.
#[derive(Debug, Clone)]
pub enum ChainEntry {
    /// Forward the client's own credentials to the client's official upstream.
    Official,
    /// A registered provider; its key replaces the client's credentials.
    Provider(Provider),
}

impl ChainEntry {
    /// The name shown to the user: `official` or the provider's name.
    pub fn name(&self) -> &str {
        match self {
            ChainEntry::Official => OFFICIAL,
            ChainEntry::Provider(provider) => &provider.name,
        }
    }
}

/// Who the chain is for, as far as choosing it goes.
#[derive(Debug, Clone, Copy)]
pub struct ChainFor<'a> {
    /// The agent's name for messages (`OpenCode`), `None` for `serve` (any agent).
    pub client: Option<&'a str>,
    /// Whether the agent has an official login aigate can pass through.
    pub has_official_login: bool,
}

impl ChainFor<'_> {
    /// `aigate serve`: any client, official allowed.
    pub const ANY: ChainFor<'static> = ChainFor { client: None, has_official_login: true };
}

/// The provider chain: `names` in order (`official` is the built-in pass-through), else
/// every registered provider by priority (ascending, then name), else `official`.
///
/// A client without an official login aigate can pass through (OpenCode) gets `official`
/// refused, and an empty registry is an error for it.
pub fn resolve_chain(aigate_home: &Path, target: ChainFor<'_>, names: &[String]) -> Result<Vec<ChainEntry>> {
    let registered = load_providers(aigate_home)?;
    let client = target.client.unwrap_or("this client");
    if names.is_empty() {
        if registered.is_empty() {
            if !target.has_official_login {
                return Err(Error::refused(format!(
                    "No provider is registered, and {client} has no official login aigate can pass through"
                ))
                .hint(
                    "register one with `aigate provider add NAME --base-url URL --api chat --key-env VAR`",
                ));
            }
            return Ok(vec![ChainEntry::Official]);
        }
        return Ok(registered.into_iter().map(ChainEntry::Provider).collect());
    }
    let mut chain = Vec::with_capacity(names.len());
    for name in names {
        if name == OFFICIAL {
            if !target.has_official_login {
                return Err(Error::refused(format!(
                    "{client} has no official login aigate can pass through"
                ))
                .hint("use a registered provider with `--provider NAME`"));
            }
            chain.push(ChainEntry::Official);
            continue;
        }
        let Some(provider) = registered.iter().find(|provider| &provider.name == name) else {
            let mut known: Vec<&str> = registered.iter().map(|provider| provider.name.as_str()).collect();
            known.push(OFFICIAL);
            return Err(Error::refused(format!("Unknown provider `{name}`"))
                .cause(format!("known providers: {}", known.join(", ")))
                .hint("list them with `aigate provider list`, or add one with `aigate provider add`"));
        };
        chain.push(ChainEntry::Provider(provider.clone()));
    }
    Ok(chain)
}

/// Every registered provider, by priority (ascending, then name). An absent db means none
/// (nothing is created).
pub fn load_providers(aigate_home: &Path) -> Result<Vec<Provider>> {
    match crate::db::open_existing(aigate_home)? {
        Some(connection) => super::store::load_all(&connection),
        None => Ok(Vec::new()),
    }
}

/// How one link serves requests of one wire API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkUse {
    /// The link speaks the API: the bytes pass through.
    PassThrough,
    /// The link speaks another API: requests and streams are converted to and from it.
    Converted(Api),
    /// The link cannot serve (why, for the user).
    Unusable(String),
}

impl LinkUse {
    pub fn usable(&self) -> bool {
        !matches!(self, LinkUse::Unusable(_))
    }

    /// `pass-through`, `converted via Chat Completions`, or the reason.
    pub fn describe(&self) -> String {
        match self {
            LinkUse::PassThrough => "pass-through".to_string(),
            LinkUse::Converted(api) => format!("converted via {}", api.title()),
            LinkUse::Unusable(reason) => format!("unusable: {reason}"),
        }
    }
}

/// The API a provider is sent requests of `client_api` in: the same one when it speaks
/// it, else the one conversion keeps most of (Chat Completions, the common ground, then
/// the other); `None` when it speaks none.
pub fn upstream_api(provider: &Provider, client_api: Api) -> Option<Api> {
    if provider.speaks(client_api) {
        return Some(client_api);
    }
    let preference: &[Api] = match client_api {
        Api::Responses => &[Api::Chat, Api::Messages, Api::Gemini],
        Api::Messages => &[Api::Chat, Api::Responses, Api::Gemini],
        Api::Chat => &[Api::Responses, Api::Messages, Api::Gemini],
        Api::Gemini => &[Api::Chat, Api::Responses, Api::Messages],
    };
    preference.iter().copied().find(|api| provider.speaks(*api)).or_else(|| provider.apis.first().copied())
}

/// How `entry` serves requests of `client_api`. `has_official_login`: the client has a
/// login `official` can pass through.
pub fn link_use(entry: &ChainEntry, client_api: Api, has_official_login: bool) -> LinkUse {
    match entry {
        ChainEntry::Official if has_official_login => LinkUse::PassThrough,
        ChainEntry::Official => LinkUse::Unusable("this client has no official login to pass through".into()),
        ChainEntry::Provider(provider) => {
            if !provider.keys.is_empty() && provider.keys.iter().all(|key| key.resolve().is_none()) {
                let names: Vec<String> = provider.keys.iter().map(super::KeySource::masked).collect();
                return LinkUse::Unusable(format!("no key ({} not set)", names.join(", ")));
            }
            match upstream_api(provider, client_api) {
                None => LinkUse::Unusable("it speaks no wire API (`aigate provider add … --api`)".into()),
                Some(api) if api == client_api => LinkUse::PassThrough,
                Some(api) => LinkUse::Converted(api),
            }
        }
    }
}

/// The chain as one client will use it: each link and how, checked at start. Refused when
/// no link can serve the client at all (every request would fail); the unusable links
/// come back for a warning each.
pub fn check_chain(
    chain: &[ChainEntry],
    client: &str,
    client_api: Api,
    has_official_login: bool,
) -> Result<Vec<(String, LinkUse)>> {
    let uses: Vec<(String, LinkUse)> = chain
        .iter()
        .map(|entry| (entry.name().to_string(), link_use(entry, client_api, has_official_login)))
        .collect();
    if !uses.iter().any(|(_, use_)| use_.usable()) {
        let mut error = Error::refused(format!(
            "No provider in the chain can serve {client} (it speaks {})",
            client_api.title()
        ));
        for (name, use_) in &uses {
            error = error.cause(format!("{name}: {}", use_.describe()));
        }
        return Err(
            error.hint("set the missing key variables, or choose other providers with `--provider NAME`")
        );
    }
    Ok(uses)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::providers::{Api, KeySource};

    #[test]
    fn provider_rows_decode_the_store_format() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_providers(dir.path()).unwrap().is_empty());
        assert!(!dir.path().join("aigate.db").exists(), "an absent db is not created");
        let connection = crate::db::open(dir.path()).unwrap();
        connection
        .execute_batch(
            r#"INSERT INTO providers (name, base_url, apis, key_env, keys, model_map, default_model, priority, timeout_ms, vision, created_at)
               VALUES ('b', 'http://127.0.0.1:1/v1', '["chat"]', '["K1","K2"]', '["sk-stored"]', '{"a":"b"}', 'm', 5, 1500, 0, 0);
               INSERT INTO providers (name, base_url, apis, key_env, priority, created_at)
               VALUES ('a', 'http://127.0.0.1:2/v1', '["responses","messages"]', '["PLAIN"]', 5, 0);
               INSERT INTO providers (name, base_url, apis, priority, created_at)
               VALUES ('z', 'http://127.0.0.1:3', '[]', 1, 0);"#,
        )
        .unwrap();
        drop(connection);
        let providers = load_providers(dir.path()).unwrap();
        let names: Vec<&str> = providers.iter().map(|provider| provider.name.as_str()).collect();
        assert_eq!(names, vec!["z", "a", "b"]);
        let b = &providers[2];
        assert_eq!(
            b.keys,
            vec![
                KeySource::Env("K1".into()),
                KeySource::Env("K2".into()),
                KeySource::Stored("sk-stored".into())
            ]
        );
        assert_eq!(b.apis, vec![Api::Chat]);
        assert_eq!(b.model_map.get("a").map(String::as_str), Some("b"));
        assert_eq!(b.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(b.vision, Some(false));
        assert_eq!(providers[1].keys, vec![KeySource::Env("PLAIN".into())]);
        assert_eq!(providers[1].apis, vec![Api::Responses, Api::Messages]);
    }

    #[test]
    fn each_link_serves_each_api_directly_converted_or_not_at_all() {
        let chat = Provider::new("chat", "http://127.0.0.1:1/v1", vec![Api::Chat]);
        let both = Provider::new("both", "http://127.0.0.1:1/v1", vec![Api::Messages, Api::Responses]);
        let mut keyless = Provider::new("keyless", "http://127.0.0.1:1/v1", vec![Api::Responses]);
        keyless.keys = vec![KeySource::Env("AIGATE_TEST_SURELY_UNSET_KEY_VAR".into())];
        let chain = vec![
            ChainEntry::Provider(chat),
            ChainEntry::Provider(both.clone()),
            ChainEntry::Provider(keyless.clone()),
            ChainEntry::Official,
        ];
        let uses = check_chain(&chain, "Codex", Api::Responses, true).unwrap();
        let described: Vec<String> =
            uses.iter().map(|(name, use_)| format!("{name}: {}", use_.describe())).collect();
        assert_eq!(
            described,
            vec![
                "chat: converted via Chat Completions",
                "both: pass-through",
                "keyless: unusable: no key ($AIGATE_TEST_SURELY_UNSET_KEY_VAR not set)",
                "official: pass-through",
            ]
        );
        assert_eq!(upstream_api(&both, Api::Chat), Some(Api::Responses));
        assert_eq!(upstream_api(&both, Api::Messages), Some(Api::Messages));
        let only_bad = vec![ChainEntry::Provider(keyless), ChainEntry::Official];
        let error = check_chain(&only_bad, "OpenCode", Api::Chat, false).unwrap_err();
        assert_eq!(error.exit_code(), 1);
    }
}
