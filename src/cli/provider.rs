//! `aigate provider add|list|show|remove|test`: upstream providers in the db, and the
//! hidden `aigate proxy-bench-serve` used by `bench/proxy_bench.sh`.
//!
//! Invariants: a key is never printed (every view goes through [`KeySource::masked`]);
//! keys never come from argv (`--key-env` names a variable, `--key-stdin` reads stdin);
//! mutations print one summary line on stderr; read commands take `--json`.

use std::io::Read;
use std::path::PathBuf;

use serde::Serialize;

use super::Ctx;
use super::stats::table;
use crate::error::{Error, Result};
use crate::output::Unit;
use crate::providers::spec::{
    ProviderSpec, ProviderView, build_provider, check_url, describe_keys, parse_api, parse_stdin_keys, view,
};
use crate::providers::{Api, KeySource, Provider, presets, store};
use crate::proxy::probe::{self, ProbeResult};

#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
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
  aigate provider remove deepseek
  aigate provider remove deepseek --dry-run")]
    Remove {
        name: String,
        /// Say what would be removed and remove nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Send one minimal request per wire API to providers and report status and latency
    ///
    /// With no NAME, every provider, in the order of `aigate provider list`. Several are
    /// tested one after another; each one's tables come under a heading line
    /// `NAME (BASE URL)`, with a blank line between providers. A provider that cannot be
    /// tested (no model to test with, say) gets its error and the others are still tested.
    ///
    /// `--json`: one provider prints its report, an object with `version`, `provider`,
    /// `model`, `results` (its own endpoints) and `as_clients` (each API through aigate).
    /// Several print `{"version":1,"providers":[…]}`: one such report each, without
    /// `version`; one that could not be tested has `error`, empty `results` and
    /// `as_clients`, and `model` null when it had none.
    ///
    /// Exit 2 when a provider did not answer on an API it claims, 1 when one could not be
    /// tested for its settings; over several providers the highest of these. Unknown names
    /// are refused (exit 1) before anything is sent.
    ///
    /// On a terminal one progress bar on stderr counts the probes of every provider; it is
    /// cleared before the results are printed, and never drawn when stderr is piped, with
    /// `--json` or `-q`.
    #[command(after_long_help = "Examples:
  aigate provider test deepseek
  aigate provider test work --model gpt-5-mini --json
  aigate provider test deepseek kimi
  aigate provider test")]
    Test {
        /// Providers to test (none: every provider)
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// Model to test with (default: each provider's default model)
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
    /// Check everything and show the provider that would be stored; store nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl ProviderAddArgs {
    /// The flags as a plain spec for [`build_provider`].
    fn spec(&self) -> ProviderSpec {
        ProviderSpec {
            name: self.name.clone(),
            preset: self.preset.clone(),
            base_url: self.base_url.clone(),
            apis: self.apis.clone(),
            api_base_urls: self.api_base_urls.clone(),
            key_env: self.key_env.clone(),
            model_map: self.model_map.clone(),
            default_model: self.default_model.clone(),
            priority: self.priority,
            timeout: self.timeout,
            proxy: self.proxy.clone(),
            no_vision: self.no_vision,
        }
    }
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

#[derive(Debug, Serialize)]
struct TestReport<'a> {
    provider: &'a str,
    /// Always set for a provider that was tested.
    model: Option<&'a str>,
    /// The provider's own endpoints, one per API.
    results: &'a [ProbeResult],
    /// Each client's API through aigate (pass-through or converted).
    as_clients: &'a [probe::ClientProbe],
    /// Why the provider could not be tested (only in a report of several providers).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct TestReports<'a> {
    providers: Vec<TestReport<'a>>,
}

pub(crate) fn run(ctx: &Ctx, command: ProviderCommand) -> Result<u8> {
    match command {
        ProviderCommand::Add(args) => add(ctx, args),
        ProviderCommand::List => list(ctx),
        ProviderCommand::Show { name } => show(ctx, &name),
        ProviderCommand::Remove { name, dry_run } => remove(ctx, &name, dry_run),
        ProviderCommand::Test { names, model } => test(ctx, &names, model.as_deref()),
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
    let provider = build_provider(&args.spec(), keys)?;
    refuse_own_listener(ctx, &provider)?;
    // A dry run creates nothing, not even the db.
    let existing = crate::db::open_existing(&ctx.paths.aigate_home)?;
    let existed = match &existing {
        Some(connection) => store::exists(connection, &provider.name)?,
        None => false,
    };
    if existed && !args.force {
        return Err(Error::refused(format!("A provider named `{}` already exists", provider.name))
            .hint(format!("add `--force` to replace it, or `aigate provider show {}`", provider.name)));
    }
    if args.dry_run {
        ctx.out.info(&format!(
            "Would {} provider `{}`: {} ({}), key {} (dry run, nothing written)",
            if existed { "replace" } else { "add" },
            provider.name,
            provider.base_url,
            provider.apis.iter().map(|api| api.name()).collect::<Vec<_>>().join("+"),
            describe_keys(&provider.keys),
        ));
        if ctx.json() {
            let action = if existed { "would_replace" } else { "would_add" };
            ctx.out.json(&ChangeReport { action, provider: view(&provider) })?;
        }
        return Ok(0);
    }
    drop(existing);
    let connection = ctx.db()?;
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

/// Refuse a provider whose URL is the persistent gateway's own listener (`serve.json`).
fn refuse_own_listener(ctx: &Ctx, provider: &Provider) -> Result<()> {
    let Some(info) = crate::session::state::read_serve_info(&ctx.paths) else {
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

fn remove(ctx: &Ctx, name: &str, dry_run: bool) -> Result<u8> {
    if dry_run {
        let found = match crate::db::open_existing(&ctx.paths.aigate_home)? {
            Some(connection) => store::exists(&connection, name)?,
            None => false,
        };
        if !found {
            return Err(Error::refused(format!("No provider named `{name}`"))
                .hint("run `aigate provider list` to see the registered ones"));
        }
        ctx.out.info(&format!("Would remove provider `{name}` (dry run, nothing written)"));
        if ctx.json() {
            ctx.out.json(&RemoveReport { action: "would_remove", name: name.to_string() })?;
        }
        return Ok(0);
    }
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

/// The providers `provider test` names, in the order given (each once), or every provider
/// in `provider list` order; every unknown name is refused before anything is sent.
fn providers_to_test(ctx: &Ctx, names: &[String]) -> Result<Vec<Provider>> {
    let all = store::load_all(&ctx.db()?)?;
    if names.is_empty() {
        if all.is_empty() {
            return Err(Error::refused("No providers to test")
                .hint("add one with `aigate provider add NAME --preset P --key-env VAR`"));
        }
        return Ok(all);
    }
    let mut chosen: Vec<Provider> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for name in names {
        if chosen.iter().any(|provider| &provider.name == name) || unknown.contains(name) {
            continue;
        }
        match all.iter().find(|provider| &provider.name == name) {
            Some(provider) => chosen.push(provider.clone()),
            None => unknown.push(name.clone()),
        }
    }
    if !unknown.is_empty() {
        let listed: Vec<String> = unknown.iter().map(|name| format!("`{name}`")).collect();
        let message = if unknown.len() == 1 {
            format!("No provider named {}", listed[0])
        } else {
            format!("No providers named {}", listed.join(", "))
        };
        return Err(Error::refused(message)
            .hint("run `aigate provider list` to see the registered ones; nothing was tested"));
    }
    Ok(chosen)
}

/// The model to test `provider` with: `--model`, else its default model, else the target of
/// one of its model mappings.
fn model_to_test(provider: &Provider, model: Option<&str>) -> Result<String> {
    let name = &provider.name;
    model
        .map(str::to_string)
        .or_else(|| provider.default_model.clone())
        .or_else(|| provider.model_map.values().next().cloned())
        .ok_or_else(|| {
            Error::refused(format!("`{name}` has no default model to test with"))
                .hint(format!("run `aigate provider test {name} --model MODEL`"))
        })
}

fn test(ctx: &Ctx, names: &[String], model: Option<&str>) -> Result<u8> {
    let providers = providers_to_test(ctx, names)?;
    match providers.as_slice() {
        [provider] => test_one(ctx, provider, model),
        several => test_several(ctx, several, model),
    }
}

/// Every probe of `targets` under one progress bar labelled `prefix`, cleared (dropped)
/// before anything else is printed.
fn run_probes(ctx: &Ctx, targets: &[probe::Target<'_>], prefix: &str) -> Result<Vec<Result<probe::Probes>>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::internal("Failed to start the async runtime").cause(error))?;
    let bar = ctx.out.progress(prefix, Unit::Steps);
    Ok(runtime.block_on(probe::probe_providers(targets, &ctx.paths.aigate_home, &|event| {
        bar.report(event);
    })))
}

/// One provider, as `provider test NAME` has always been: no model to test with is refused
/// before anything is sent, and its report is the whole JSON document.
fn test_one(ctx: &Ctx, provider: &Provider, model: Option<&str>) -> Result<u8> {
    let model = model_to_test(provider, model)?;
    let targets = [probe::Target { provider, model: &model }];
    let probes = run_probes(ctx, &targets, &format!("testing `{}`", provider.name))?
        .pop()
        .ok_or_else(|| Error::internal(format!("`{}` was not tested", provider.name)))??;
    if ctx.json() {
        ctx.out.json(&test_report(provider, Some(&model), Ok(&probes)))?;
    } else {
        print_tables(ctx, &probes);
    }
    match talk_about(ctx, provider, &probes) {
        Some(error) => Err(error),
        None => Ok(0),
    }
}

/// Several providers, one after another: a heading above each one's tables (or the JSON
/// document of every report), each one's talk and error as if it were tested alone, then
/// one error naming every provider that failed, exiting with the highest code of theirs.
fn test_several(ctx: &Ctx, providers: &[Provider], model: Option<&str>) -> Result<u8> {
    let models: Vec<Result<String>> =
        providers.iter().map(|provider| model_to_test(provider, model)).collect();
    let targets: Vec<probe::Target<'_>> = providers
        .iter()
        .zip(&models)
        .filter_map(|(provider, model)| model.as_ref().ok().map(|model| probe::Target { provider, model }))
        .collect();
    let mut probed =
        run_probes(ctx, &targets, &format!("testing {} providers", providers.len()))?.into_iter();
    // Each provider's probes, or why it was not tested, in order.
    let outcomes: Vec<(&Provider, Option<String>, Result<probe::Probes>)> = providers
        .iter()
        .zip(models)
        .map(|(provider, model)| match model {
            Ok(model) => {
                let probes = probed
                    .next()
                    .unwrap_or_else(|| Err(Error::internal(format!("`{}` was not tested", provider.name))));
                (provider, Some(model), probes)
            }
            Err(error) => (provider, None, Err(error)),
        })
        .collect();
    if ctx.json() {
        let providers = outcomes
            .iter()
            .map(|(provider, model, probes)| test_report(provider, model.as_deref(), probes.as_ref()))
            .collect();
        ctx.out.json(&TestReports { providers })?;
    }
    let mut failed: Vec<(&str, crate::error::Kind)> = Vec::new();
    for (index, (provider, _, probes)) in outcomes.iter().enumerate() {
        if !ctx.json() {
            let blank = if index == 0 { "" } else { "\n" };
            ctx.out.data(&format!("{blank}{} ({})", provider.name, provider.base_url));
            match probes {
                Ok(probes) => print_tables(ctx, probes),
                Err(error) => ctx.out.data(&format!("not tested: {}", error.message)),
            }
        }
        let talked;
        let error = match probes {
            Ok(probes) => {
                talked = talk_about(ctx, provider, probes);
                talked.as_ref()
            }
            Err(error) => Some(error),
        };
        if let Some(error) = error {
            ctx.out.error(error);
            failed.push((&provider.name, error.kind));
        }
    }
    if failed.is_empty() {
        return Ok(0);
    }
    let names: Vec<String> = failed.iter().map(|(name, _)| format!("`{name}`")).collect();
    let message =
        format!("{} of {} providers failed the test: {}", failed.len(), providers.len(), names.join(", "));
    if failed.iter().any(|(_, kind)| *kind == crate::error::Kind::Internal) {
        Err(Error::internal(message))
    } else {
        Err(Error::refused(message))
    }
}

/// One provider's JSON report: its probes, or why it was not tested.
fn test_report<'a>(
    provider: &'a Provider,
    model: Option<&'a str>,
    probes: Result<&'a probe::Probes, &Error>,
) -> TestReport<'a> {
    let (results, as_clients, error): (&[ProbeResult], &[probe::ClientProbe], _) = match probes {
        Ok(probes) => (&probes.native, &probes.as_clients, None),
        Err(error) => (&[], &[], Some(error.to_string())),
    };
    TestReport { provider: &provider.name, model, results, as_clients, error }
}

/// The two tables of one provider's probes on stdout.
fn print_tables(ctx: &Ctx, probes: &probe::Probes) {
    let header: Vec<String> = ["API", "CLAIMED", "STATUS", "LATENCY", "RESULT"].map(str::to_string).to_vec();
    let rows: Vec<Vec<String>> = probes
        .native
        .iter()
        .map(|result| {
            let mut row =
                vec![result.api.name().to_string(), if result.claimed { "yes" } else { "no" }.to_string()];
            row.extend(outcome_cells(result.status, result.latency_ms, result.ok, result.error.as_deref()));
            row
        })
        .collect();
    ctx.out.data(&table(&header, &rows));
    let header: Vec<String> =
        ["AS A CLIENT OF", "HOW", "STATUS", "LATENCY", "RESULT"].map(str::to_string).to_vec();
    let rows: Vec<Vec<String>> = probes
        .as_clients
        .iter()
        .map(|probe| {
            let mut row = vec![probe.api.name().to_string(), probe.how.clone()];
            row.extend(outcome_cells(probe.status, probe.latency_ms, probe.ok, probe.error.as_deref()));
            row
        })
        .collect();
    ctx.out.data(&format!("\n{}", table(&header, &rows)));
}

/// The STATUS, LATENCY and RESULT cells of one probe.
fn outcome_cells(status: Option<u16>, latency_ms: Option<u64>, ok: bool, error: Option<&str>) -> [String; 3] {
    [
        status.map_or_else(|| "-".to_string(), |status| status.to_string()),
        latency_ms.map_or_else(|| "-".to_string(), |ms| format!("{ms}ms")),
        if ok { "ok".to_string() } else { error.unwrap_or("failed").to_string() },
    ]
}

/// The warning and hint about one provider's probes on stderr, and the error when it did
/// not answer on an API it claims.
fn talk_about(ctx: &Ctx, provider: &Provider, probes: &probe::Probes) -> Option<Error> {
    let name = &provider.name;
    let failed: Vec<&str> =
        probes.native.iter().filter(|result| result.claimed && !result.ok).map(|r| r.api.name()).collect();
    let failed_as_client: Vec<&str> =
        probes.as_clients.iter().filter(|probe| !probe.ok).map(|probe| probe.api.name()).collect();
    let extra: Vec<&str> =
        probes.native.iter().filter(|result| !result.claimed && result.ok).map(|r| r.api.name()).collect();
    if !failed_as_client.is_empty() {
        ctx.out.warn(&format!("through aigate, `{name}` did not serve: {}", failed_as_client.join(", ")));
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
        return None;
    }
    Some(
        Error::internal(format!("`{name}` did not answer on: {}", failed.join(", ")))
            .hint(format!("check its key and base URL with `aigate provider show {name}`")),
    )
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
    crate::session::bench::serve(&ctx.out, &ctx.paths, provider, args.port, &args.token_file)
}
