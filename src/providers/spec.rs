//! A provider from what the user typed: validation of a plain [`ProviderSpec`] (no clap
//! type here), and the masked views `list` and `show` print.
//!
//! Invariants: a key is never shown (every view goes through [`KeySource::masked`]); a URL
//! carrying credentials, a key given as a variable name, or a reserved name is refused.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::{Api, KeySource, Provider, presets};
use crate::error::{Error, Result};

/// What `aigate provider add` was given, as plain data.
#[derive(Debug, Clone, Default)]
pub struct ProviderSpec {
    pub name: String,
    pub preset: Option<String>,
    pub base_url: Option<String>,
    pub apis: Vec<String>,
    pub api_base_urls: Vec<String>,
    pub key_env: Vec<String>,
    pub model_map: Vec<String>,
    pub default_model: Option<String>,
    pub priority: Option<i64>,
    pub timeout: Option<u64>,
    pub proxy: Option<String>,
    pub no_vision: bool,
}

/// Validate a spec into a provider (pure: the keys are passed in).
pub fn build_provider(args: &ProviderSpec, keys: Vec<KeySource>) -> Result<Provider> {
    if !super::valid_name(&args.name) {
        let why = if args.name == super::OFFICIAL {
            "`official` is reserved for the client's own login".to_string()
        } else {
            "use 1-64 letters, digits, `-`, `_` or `.`".to_string()
        };
        return Err(Error::refused(format!("Invalid provider name `{}`", args.name)).cause(why));
    }
    let preset = match &args.preset {
        Some(name) => Some(presets::find(name).ok_or_else(|| {
            Error::refused(format!("Unknown preset `{name}`"))
                .hint(format!("choose one of: {}", presets::names()))
        })?),
        None => None,
    };
    let base_url = match (&args.base_url, preset) {
        (Some(url), _) => url.clone(),
        (None, Some(preset)) if !preset.base_url.is_empty() => preset.base_url.to_string(),
        (None, Some(_) | None) => {
            return Err(Error::refused(format!("`{}` needs a base URL", args.name)).hint(
                "give `--preset NAME` or `--base-url URL` (the URL `/chat/completions` is appended to)",
            ));
        }
    };
    let base_url = check_url(&base_url, "--base-url")?.trim_end_matches('/').to_string();
    let apis: Vec<Api> = if args.apis.is_empty() {
        preset.map(|preset| preset.apis.to_vec()).unwrap_or_default()
    } else {
        let mut apis = args.apis.iter().map(|name| parse_api(name)).collect::<Result<Vec<_>>>()?;
        apis.sort();
        apis.dedup();
        apis
    };
    if apis.is_empty() {
        return Err(Error::refused(format!("Say which wire APIs `{}` speaks", args.name))
            .hint("add `--api chat` (and/or `--api responses`, `--api messages`)"));
    }
    let mut api_base_urls = BTreeMap::new();
    if let Some(preset) = preset {
        if args.base_url.is_none() {
            for (api, url) in preset.api_base_urls {
                api_base_urls.insert(*api, (*url).to_string());
            }
        }
    }
    for pair in &args.api_base_urls {
        let (api, url) = split_pair(pair, "--api-base-url", "API=URL")?;
        let url = check_url(url, "--api-base-url")?;
        api_base_urls.insert(parse_api(api)?, url.trim_end_matches('/').to_string());
    }
    let mut model_map = BTreeMap::new();
    for pair in &args.model_map {
        let (from, to) = split_pair(pair, "--model-map", "FROM=TO")?;
        model_map.insert(from.to_string(), to.to_string());
    }
    for name in &args.key_env {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Error::refused(format!("Invalid variable name `{name}` for --key-env")).hint(
                "pass the variable's *name*, e.g. `--key-env DEEPSEEK_API_KEY`, never the key itself",
            ));
        }
    }
    let timeout = match args.timeout {
        Some(0) => return Err(Error::refused("--timeout must be at least 1 second")),
        Some(seconds) => Some(Duration::from_secs(seconds)),
        None => None,
    };
    if let Some(proxy) = &args.proxy {
        let scheme_ok =
            ["http://", "https://", "socks5://", "socks5h://"].iter().any(|scheme| proxy.starts_with(scheme));
        if !scheme_ok || reqwest::Proxy::all(proxy.as_str()).is_err() {
            return Err(Error::refused("Invalid --proxy URL")
                .hint("use http://HOST:PORT, https://… or socks5://HOST:PORT"));
        }
    }
    Ok(Provider {
        name: args.name.clone(),
        preset: preset.map(|preset| preset.name.to_string()),
        base_url,
        apis,
        keys,
        model_map,
        default_model: args
            .default_model
            .clone()
            .or_else(|| preset.and_then(|p| p.default_model).map(str::to_string)),
        priority: args.priority.unwrap_or(100),
        timeout,
        proxy_url: args.proxy.clone(),
        vision: if args.no_vision { Some(false) } else { preset.and_then(|preset| preset.vision) },
        api_base_urls,
    })
}

pub fn parse_stdin_keys(text: &str) -> Result<Vec<String>> {
    let keys: Vec<String> =
        text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_string).collect();
    if keys.is_empty() {
        return Err(Error::refused("No key on stdin")
            .hint("pipe the key in: `echo \"$KEY\" | aigate provider add …`"));
    }
    if keys.iter().any(|key| key.chars().any(|c| c.is_whitespace() || c.is_control())) {
        return Err(Error::refused("A key on stdin contains spaces or control characters")
            .hint("give one key per line, nothing else"));
    }
    Ok(keys)
}

pub fn parse_api(name: &str) -> Result<Api> {
    Api::from_name(name).ok_or_else(|| {
        Error::refused(format!("Unknown API `{name}`")).hint("use `responses`, `chat` or `messages`")
    })
}

fn split_pair<'a>(pair: &'a str, flag: &str, shape: &str) -> Result<(&'a str, &'a str)> {
    match pair.split_once('=') {
        Some((left, right)) if !left.trim().is_empty() && !right.trim().is_empty() => {
            Ok((left.trim(), right.trim()))
        }
        Some(_) | None => {
            Err(Error::refused(format!("Invalid {flag} `{pair}`")).hint(format!("use {flag} {shape}")))
        }
    }
}

pub fn check_url<'a>(url: &'a str, flag: &str) -> Result<&'a str> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() => {
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(Error::refused(format!("{flag} must not carry credentials"))
                    .hint("give the key with `--key-env VAR` or `--key-stdin`"));
            }
            Ok(url)
        }
        Ok(_) | Err(_) => {
            Err(Error::refused(format!("Invalid {flag} `{url}`")).hint("use an http:// or https:// URL"))
        }
    }
}

/// A provider as shown by `list`/`show` (keys masked).
#[derive(Debug, Serialize)]
pub struct ProviderView {
    pub name: String,
    pub preset: Option<String>,
    pub base_url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub api_base_urls: BTreeMap<Api, String>,
    pub apis: Vec<Api>,
    pub keys: Vec<KeyView>,
    pub model_map: BTreeMap<String, String>,
    pub default_model: Option<String>,
    pub priority: i64,
    pub timeout_secs: Option<u64>,
    pub proxy: Option<String>,
    pub vision: Option<bool>,
}

/// A key, masked.
#[derive(Debug, Serialize)]
pub struct KeyView {
    /// `env` or `stored`.
    pub source: &'static str,
    /// `$VAR`, or the stored key masked (`sk-…1234`).
    pub display: String,
    /// Whether the key can be used now (the variable is set).
    pub available: bool,
}

/// How `list` and `show` present a provider (keys masked).
pub fn view(provider: &Provider) -> ProviderView {
    ProviderView {
        name: provider.name.clone(),
        preset: provider.preset.clone(),
        base_url: provider.base_url.clone(),
        api_base_urls: provider.api_base_urls.clone(),
        apis: provider.apis.clone(),
        keys: provider
            .keys
            .iter()
            .map(|key| KeyView {
                source: match key {
                    KeySource::Env(_) => "env",
                    KeySource::Stored(_) => "stored",
                },
                display: key.masked(),
                available: key.resolve().is_some(),
            })
            .collect(),
        model_map: provider.model_map.clone(),
        default_model: provider.default_model.clone(),
        priority: provider.priority,
        timeout_secs: provider.timeout.map(|timeout| timeout.as_secs()),
        proxy: provider.proxy_url.as_deref().map(mask_proxy),
        vision: provider.vision,
    }
}

/// A proxy URL with any password masked.
fn mask_proxy(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(_) | Err(_) => url.to_string(),
    }
}

pub fn describe_keys(keys: &[KeySource]) -> String {
    if keys.is_empty() {
        return "none".to_string();
    }
    keys.iter().map(KeySource::masked).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str) -> ProviderSpec {
        ProviderSpec { name: name.to_string(), ..ProviderSpec::default() }
    }

    #[test]
    fn preset_fills_everything() {
        let mut add = args("ds");
        add.preset = Some("deepseek".into());
        add.model_map = vec!["gpt-5=deepseek-chat".into()];
        let provider = build_provider(&add, vec![KeySource::Env("DEEPSEEK_API_KEY".into())]).unwrap();
        assert_eq!(provider.base_url, "https://api.deepseek.com/v1");
        assert_eq!(provider.base_for(Api::Messages), "https://api.deepseek.com/anthropic/v1");
        assert_eq!(provider.vision, Some(false));
        assert_eq!(provider.model_map["gpt-5"], "deepseek-chat");
    }

    #[test]
    fn refusals() {
        let refused = |add: &ProviderSpec| build_provider(add, vec![]).unwrap_err().exit_code();
        assert_eq!(refused(&args("official")), 1);
        let mut unknown = args("x");
        unknown.preset = Some("nope".into());
        assert_eq!(refused(&unknown), 1);
        let mut no_api = args("x");
        no_api.base_url = Some("http://127.0.0.1:1/v1".into());
        assert_eq!(refused(&no_api), 1);
        let mut bad_map = args("x");
        bad_map.preset = Some("openai".into());
        bad_map.model_map = vec!["nothing".into()];
        assert_eq!(refused(&bad_map), 1);
        let mut secret_in_url = args("x");
        secret_in_url.base_url = Some("https://user:pw@host/v1".into());
        secret_in_url.apis = vec!["chat".into()];
        assert_eq!(refused(&secret_in_url), 1);
        let mut key_as_name = args("x");
        key_as_name.preset = Some("openai".into());
        key_as_name.key_env = vec!["sk-123".into()];
        assert_eq!(refused(&key_as_name), 1);
    }

    #[test]
    fn stdin_keys() {
        assert_eq!(parse_stdin_keys("k1\n\n k2 \n").unwrap(), vec!["k1", "k2"]);
        assert!(parse_stdin_keys("\n").is_err());
        assert!(parse_stdin_keys("a b\n").is_err());
    }

    #[test]
    fn proxy_passwords_are_masked() {
        assert_eq!(mask_proxy("http://u:secret@proxy:3128"), "http://u:****@proxy:3128/");
        assert_eq!(mask_proxy("socks5://proxy:1080"), "socks5://proxy:1080");
    }
}
