//! `aigate provider add|list|show|remove|test`: upstream providers in the db, and the
//! hidden `aigate proxy-bench-serve` used by `bench/proxy_bench.sh`.
//!
//! Invariants: a key is never printed (every view goes through [`KeySource::masked`]);
//! keys never come from argv (`--key-env` names a variable, `--key-stdin` reads stdin);
//! mutations print one summary line on stderr; read commands take `--json`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Ctx;
use super::stats::table;
use crate::error::{Error, Result};
use crate::providers::{self, Api, KeySource, Provider, presets, store};

#[derive(Debug, clap::Subcommand)]
pub enum ProviderCommand {
    /// Register an upstream provider
    #[command(after_long_help = "Examples:
  aigate provider add deepseek --preset deepseek --key-env DEEPSEEK_API_KEY
  aigate provider add work --preset openai --key-env OPENAI_API_KEY --model-map gpt-5=gpt-5-mini
  echo \"$KEY\" | aigate provider add local --base-url http://127.0.0.1:8000/v1 --api chat --key-stdin")]
    Add(ProviderAddArgs),
    /// List providers (keys masked)
    #[command(after_long_help = "Examples:
  aigate provider list
  aigate provider list --json")]
    List,
    /// Show one provider (keys masked)
    #[command(after_long_help = "Examples:
  aigate provider show deepseek --json")]
    Show { name: String },
    /// Remove a provider
    #[command(after_long_help = "Examples:
  aigate provider remove deepseek")]
    Remove { name: String },
    /// Send one minimal request per wire API and report status and latency
    #[command(after_long_help = "Examples:
  aigate provider test deepseek
  aigate provider test work --model gpt-5-mini --json")]
    Test {
        name: String,
        /// Model to test with (default: the provider's default model)
        #[arg(long)]
        model: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ProviderAddArgs {
    /// A name for this provider (letters, digits, `-`, `_`, `.`; `official` is reserved)
    pub name: String,
    /// Start from a preset: openai, anthropic, deepseek, openrouter, kimi, glm, qwen,
    /// minimax, groq, mistral, xai, together, gemini, ollama, lmstudio, custom
    #[arg(long)]
    pub preset: Option<String>,
    /// The API base URL, to which `/chat/completions` etc. is appended (overrides the preset's)
    #[arg(long)]
    pub base_url: Option<String>,
    /// A wire API it speaks natively (repeat): responses, chat, messages
    #[arg(long = "api", value_name = "API")]
    pub apis: Vec<String>,
    /// A different base URL for one API (repeat), e.g. `messages=https://api.deepseek.com/anthropic/v1`
    #[arg(long = "api-base-url", value_name = "API=URL")]
    pub api_base_urls: Vec<String>,
    /// Name of the environment variable holding the key (preferred: nothing secret is stored)
    #[arg(long, value_name = "VAR", action = clap::ArgAction::Append, conflicts_with = "key_stdin")]
    pub key_env: Vec<String>,
    /// Read the key from stdin (one per line; stored in the 0600 db)
    #[arg(long)]
    pub key_stdin: bool,
    /// Map a requested model to the provider's model (repeat; `*=M` maps every model)
    #[arg(long, value_name = "FROM=TO")]
    pub model_map: Vec<String>,
    /// Model to use when the client names none
    #[arg(long)]
    pub default_model: Option<String>,
    /// Lower runs first in the default chain
    #[arg(long)]
    pub priority: Option<i64>,
    /// Seconds to wait for response headers (and between stream chunks)
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Outbound proxy for this provider: http://, https:// or socks5://
    #[arg(long)]
    pub proxy: Option<String>,
    /// The provider cannot read images (requests with images skip it)
    #[arg(long)]
    pub no_vision: bool,
    /// Replace an existing provider of the same name
    #[arg(long)]
    pub force: bool,
}

/// `aigate proxy-bench-serve`: the proxy alone with one provider, for benchmarks.
#[derive(Debug, clap::Args)]
pub struct BenchServeArgs {
    /// Port on 127.0.0.1 (0 picks one; it is printed on stderr)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The upstream base URL, e.g. `http://127.0.0.1:18080/v1`
    #[arg(long)]
    pub upstream: String,
    /// APIs the upstream speaks (repeat; default all three)
    #[arg(long = "api", value_name = "API")]
    pub apis: Vec<String>,
    /// Write the local token here (mode 0600)
    #[arg(long)]
    pub token_file: PathBuf,
}

/// A provider as shown by `list`/`show` (keys masked).
#[derive(Debug, Serialize)]
pub(crate) struct ProviderView {
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
pub(crate) struct KeyView {
    /// `env` or `stored`.
    pub source: &'static str,
    /// `$VAR`, or the stored key masked (`sk-…1234`).
    pub display: String,
    /// Whether the key can be used now (the variable is set).
    pub available: bool,
}

#[derive(Debug, Serialize)]
struct ListReport {
    providers: Vec<ProviderView>,
}

#[derive(Debug, Serialize)]
struct ChangeReport {
    action: &'static str,
    provider: ProviderView,
}

#[derive(Debug, Serialize)]
struct RemoveReport {
    action: &'static str,
    name: String,
}

/// The result of probing one API.
#[derive(Debug, Serialize)]
pub(crate) struct ProbeResult {
    pub api: Api,
    /// The provider is registered as speaking it.
    pub claimed: bool,
    pub url: String,
    pub status: Option<u16>,
    pub latency_ms: Option<u64>,
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
struct TestReport {
    provider: String,
    model: String,
    results: Vec<ProbeResult>,
}

pub(crate) fn run(ctx: &Ctx, command: ProviderCommand) -> Result<u8> {
    match command {
        ProviderCommand::Add(args) => add(ctx, args),
        ProviderCommand::List => list(ctx),
        ProviderCommand::Show { name } => show(ctx, &name),
        ProviderCommand::Remove { name } => remove(ctx, &name),
        ProviderCommand::Test { name, model } => test(ctx, &name, model),
    }
}

fn add(ctx: &Ctx, args: ProviderAddArgs) -> Result<u8> {
    let mut keys: Vec<KeySource> = args.key_env.iter().map(|name| KeySource::Env(name.clone())).collect();
    if args.key_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| Error::refused("Failed to read the key from stdin").cause(error))?;
        keys.extend(parse_stdin_keys(&text)?.into_iter().map(KeySource::Stored));
    }
    let provider = build_provider(&args, keys)?;
    refuse_own_listener(ctx, &provider)?;
    let connection = ctx.db()?;
    let existed = store::exists(&connection, &provider.name)?;
    if existed && !args.force {
        return Err(Error::refused(format!("A provider named `{}` already exists", provider.name))
            .hint(format!("add `--force` to replace it, or `aigate provider show {}`", provider.name)));
    }
    store::save(&connection, &provider, true)?;
    for key in &provider.keys {
        if let KeySource::Env(name) = key {
            if crate::env_vars::var(name).is_none() {
                ctx.out.warn(&format!(
                    "`${name}` is not set in this shell; set it before using `{}`",
                    provider.name
                ));
            }
        }
    }
    let preset = provider.preset.as_deref().and_then(presets::find);
    if provider.keys.is_empty() && preset.is_none_or(|preset| preset.needs_key) {
        let hint = preset.and_then(|preset| preset.key_env).unwrap_or("API_KEY");
        ctx.out.warn(&format!(
            "`{}` has no key; add one with `aigate provider add {} --force --key-env {hint} …`",
            provider.name, provider.name
        ));
    }
    let action = if existed { "replaced" } else { "added" };
    ctx.out.info(&format!(
        "{} provider `{}`: {} ({}), key {}",
        if existed { "Replaced" } else { "Added" },
        provider.name,
        provider.base_url,
        provider.apis.iter().map(|api| api.name()).collect::<Vec<_>>().join("+"),
        describe_keys(&provider.keys),
    ));
    if ctx.json() {
        ctx.out.json(&ChangeReport { action, provider: view(&provider) })?;
    }
    Ok(0)
}

/// Everything `add` decides from its flags (pure apart from reading the environment for
/// nothing: keys are passed in).
fn build_provider(args: &ProviderAddArgs, keys: Vec<KeySource>) -> Result<Provider> {
    if !providers::valid_name(&args.name) {
        let why = if args.name == providers::OFFICIAL {
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

fn parse_stdin_keys(text: &str) -> Result<Vec<String>> {
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

fn parse_api(name: &str) -> Result<Api> {
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

fn check_url<'a>(url: &'a str, flag: &str) -> Result<&'a str> {
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

/// Refuse a provider whose URL is the persistent gateway's own listener (`serve.json`).
fn refuse_own_listener(ctx: &Ctx, provider: &Provider) -> Result<()> {
    let Some(info) = crate::gateway_info::read_serve_info(&ctx.paths) else {
        return Ok(());
    };
    let Ok(address) = info.address.parse::<std::net::SocketAddr>() else {
        return Ok(());
    };
    for url in provider.all_base_urls() {
        if crate::proxy::failover::points_at_port(url, address.port()) {
            return Err(Error::refused(format!("`{url}` is aigate's own gateway; that would loop"))
                .hint("give the real upstream's URL"));
        }
    }
    Ok(())
}

fn list(ctx: &Ctx) -> Result<u8> {
    let providers = store::load_all(&ctx.db()?)?;
    if ctx.json() {
        ctx.out.json(&ListReport { providers: providers.iter().map(view).collect() })?;
        return Ok(0);
    }
    if providers.is_empty() {
        ctx.out.info("No providers yet\n\nhint: `aigate provider add NAME --preset P --key-env VAR`");
        return Ok(0);
    }
    let header: Vec<String> =
        ["NAME", "PRESET", "PRIORITY", "APIS", "BASE URL", "KEYS"].map(str::to_string).to_vec();
    let rows: Vec<Vec<String>> = providers
        .iter()
        .map(|provider| {
            vec![
                provider.name.clone(),
                provider.preset.clone().unwrap_or_else(|| "-".to_string()),
                provider.priority.to_string(),
                provider.apis.iter().map(|api| api.name()).collect::<Vec<_>>().join(","),
                provider.base_url.clone(),
                describe_keys(&provider.keys),
            ]
        })
        .collect();
    ctx.out.data(&table(&header, &rows));
    Ok(0)
}

fn load_named(ctx: &Ctx, name: &str) -> Result<Provider> {
    store::load(&ctx.db()?, name)?.ok_or_else(|| {
        Error::refused(format!("No provider named `{name}`"))
            .hint("run `aigate provider list` to see the registered ones")
    })
}

fn show(ctx: &Ctx, name: &str) -> Result<u8> {
    let provider = load_named(ctx, name)?;
    let view = view(&provider);
    if ctx.json() {
        ctx.out.json(&view)?;
        return Ok(0);
    }
    let mut lines = vec![
        format!("name:          {}", view.name),
        format!("preset:        {}", view.preset.as_deref().unwrap_or("-")),
        format!("base url:      {}", view.base_url),
    ];
    for (api, url) in &view.api_base_urls {
        lines.push(format!("  {api} at:   {url}"));
    }
    lines.push(format!(
        "apis:          {}",
        view.apis.iter().map(|api| api.name()).collect::<Vec<_>>().join(", ")
    ));
    lines.push(format!("keys:          {}", describe_keys(&provider.keys)));
    let map: Vec<String> = view.model_map.iter().map(|(from, to)| format!("{from}={to}")).collect();
    lines.push(format!("model map:     {}", if map.is_empty() { "-".to_string() } else { map.join(", ") }));
    lines.push(format!("default model: {}", view.default_model.as_deref().unwrap_or("-")));
    lines.push(format!("priority:      {}", view.priority));
    lines.push(format!(
        "timeout:       {}",
        view.timeout_secs.map_or_else(|| "default".to_string(), |s| format!("{s}s"))
    ));
    lines.push(format!("proxy:         {}", view.proxy.as_deref().unwrap_or("-")));
    let vision = match view.vision {
        Some(true) => "yes",
        Some(false) => "no",
        None => "model-dependent",
    };
    lines.push(format!("vision:        {vision}"));
    ctx.out.data(&lines.join("\n"));
    Ok(0)
}

fn remove(ctx: &Ctx, name: &str) -> Result<u8> {
    if !store::remove(&ctx.db()?, name)? {
        return Err(Error::refused(format!("No provider named `{name}`"))
            .hint("run `aigate provider list` to see the registered ones"));
    }
    ctx.out.info(&format!("Removed provider `{name}`"));
    if ctx.json() {
        ctx.out.json(&RemoveReport { action: "removed", name: name.to_string() })?;
    }
    Ok(0)
}

fn test(ctx: &Ctx, name: &str, model: Option<String>) -> Result<u8> {
    let provider = load_named(ctx, name)?;
    let model = model
        .or_else(|| provider.default_model.clone())
        .or_else(|| provider.model_map.values().next().cloned())
        .ok_or_else(|| {
            Error::refused(format!("`{name}` has no default model to test with"))
                .hint(format!("run `aigate provider test {name} --model MODEL`"))
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::internal("Failed to start the async runtime").cause(error))?;
    let results = runtime.block_on(probe_all(&provider, &model))?;
    let failed: Vec<&str> =
        results.iter().filter(|result| result.claimed && !result.ok).map(|r| r.api.name()).collect();
    let extra: Vec<&str> =
        results.iter().filter(|result| !result.claimed && result.ok).map(|r| r.api.name()).collect();
    if ctx.json() {
        ctx.out.json(&TestReport { provider: provider.name.clone(), model, results })?;
    } else {
        let header: Vec<String> =
            ["API", "CLAIMED", "STATUS", "LATENCY", "RESULT"].map(str::to_string).to_vec();
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|result| {
                vec![
                    result.api.name().to_string(),
                    if result.claimed { "yes" } else { "no" }.to_string(),
                    result.status.map_or_else(|| "-".to_string(), |status| status.to_string()),
                    result.latency_ms.map_or_else(|| "-".to_string(), |ms| format!("{ms}ms")),
                    if result.ok {
                        "ok".to_string()
                    } else {
                        result.error.clone().unwrap_or_else(|| "failed".into())
                    },
                ]
            })
            .collect();
        ctx.out.data(&table(&header, &rows));
    }
    if !extra.is_empty() {
        let apis: Vec<String> = provider
            .apis
            .iter()
            .map(|api| api.name().to_string())
            .chain(extra.iter().map(|api| (*api).to_string()))
            .collect();
        ctx.out.info(&format!(
            "hint: `{name}` also answered {}; to use it run `aigate provider add {name} --force --api {}` with the other flags as before",
            extra.join(", "),
            apis.join(" --api ")
        ));
    }
    if failed.is_empty() {
        return Ok(0);
    }
    Err(Error::internal(format!("`{name}` did not answer on: {}", failed.join(", ")))
        .hint(format!("check its key and base URL with `aigate provider show {name}`")))
}

/// One minimal request per API (claimed or not), one after another.
async fn probe_all(provider: &Provider, model: &str) -> Result<Vec<ProbeResult>> {
    let official = crate::proxy::OfficialUpstreams::from_env(false);
    let chain = crate::proxy::failover::Chain::new(
        &[crate::proxy::ChainEntry::Provider(provider.clone())],
        &official,
    )?;
    let Some(link) = chain.links.first() else {
        return Ok(Vec::new());
    };
    let key = link.pick_key().map(|key| key.value);
    let timeout = provider.timeout.unwrap_or(Duration::from_secs(30));
    let mut results = Vec::new();
    for api in Api::ALL {
        let url = format!("{}{}", provider.base_for(api), api.path());
        let body = match api {
            Api::Responses => serde_json::json!({"model": model, "input": "ping", "max_output_tokens": 16}),
            Api::Chat => {
                serde_json::json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1})
            }
            Api::Messages => {
                serde_json::json!({"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]})
            }
        };
        let mut request =
            link.client.post(&url).header("content-type", "application/json").body(body.to_string());
        if let Some(key) = &key {
            let mut value = match api {
                Api::Messages => reqwest::header::HeaderValue::from_str(key),
                Api::Responses | Api::Chat => {
                    reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
                }
            }
            .map_err(|_| {
                Error::refused(format!("The key of `{}` is not a valid header value", provider.name))
            })?;
            value.set_sensitive(true);
            request = match api {
                Api::Messages => request.header("x-api-key", value),
                Api::Responses | Api::Chat => request.header("authorization", value),
            };
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

fn view(provider: &Provider) -> ProviderView {
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

fn describe_keys(keys: &[KeySource]) -> String {
    if keys.is_empty() {
        return "none".to_string();
    }
    keys.iter().map(KeySource::masked).collect::<Vec<_>>().join(", ")
}

/// `aigate proxy-bench-serve`: serve until SIGINT/SIGTERM.
pub(crate) fn run_bench_serve(ctx: &Ctx, args: &BenchServeArgs) -> Result<u8> {
    let apis = if args.apis.is_empty() {
        Api::ALL.to_vec()
    } else {
        args.apis.iter().map(|name| parse_api(name)).collect::<Result<Vec<_>>>()?
    };
    check_url(&args.upstream, "--upstream")?;
    let provider = Provider::new("bench", args.upstream.trim_end_matches('/'), apis);
    let token = crate::random::hex(24)?;
    crate::fsx::write_atomic(&args.token_file, token.as_bytes(), 0o600)?;
    let mut config = crate::proxy::ProxyConfig::new(
        token,
        vec![crate::proxy::ChainEntry::Provider(provider)],
        ctx.paths.aigate_home.clone(),
    );
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::internal("Failed to start the async runtime").cause(error))?;
    runtime.block_on(async {
        let handle = crate::proxy::start(config).await?;
        ctx.out.info(&format!("aigate proxy-bench-serve listening on {}", handle.base_url()));
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|error| Error::internal("Failed to watch SIGTERM").cause(error))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        handle.shutdown(Duration::from_secs(2)).await;
        Ok::<_, Error>(())
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str) -> ProviderAddArgs {
        ProviderAddArgs {
            name: name.to_string(),
            preset: None,
            base_url: None,
            apis: vec![],
            api_base_urls: vec![],
            key_env: vec![],
            key_stdin: false,
            model_map: vec![],
            default_model: None,
            priority: None,
            timeout: None,
            proxy: None,
            no_vision: false,
            force: false,
        }
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
        let refused = |add: &ProviderAddArgs| build_provider(add, vec![]).unwrap_err().exit_code();
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
