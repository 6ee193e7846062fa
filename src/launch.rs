//! `aigate run`: launch an agent behind a proxy that lives exactly as long as it does
//! (product.md §6 "Lifecycle of `run`", §7).
//!
//! The shape follows `mise exec`'s Windows half: aigate cannot `exec` (its proxy must stay
//! alive), so it spawns the agent, lets it own the terminal, and waits.
//!
//! Invariants:
//! - **No file is written** for the agent: Codex gets `-c` overrides, Claude Code and
//!   OpenCode get environment variables. The only file read besides the db is Codex's
//!   `auth.json` (read only, to know whether it holds a ChatGPT login).
//! - **The session token never goes on argv** (it would show in `ps`): it reaches the agent
//!   only through its environment (`AIGATE_TOKEN`, `ANTHROPIC_AUTH_TOKEN`,
//!   `ANTHROPIC_CUSTOM_HEADERS`), and OpenCode's config names it as `{env:AIGATE_TOKEN}`.
//! - **A run never nests**: `AIGATE_SESSION` in the environment refuses a second `run`.
//! - While the agent runs, SIGINT and SIGQUIT are caught and dropped (the terminal delivers
//!   them to the agent, which is in the same process group); SIGTERM and SIGHUP are
//!   forwarded to the agent. aigate exits with the agent's code, 128 + N when signal N
//!   killed it.
//! - Start-up stays cheap: the db is opened read-only and only when it exists; nothing
//!   else is read on the path to `spawn` except what the agent needs.

use std::ffi::{OsStr, OsString};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clients::Client;
use crate::env_vars;
use crate::error::{Error, Result};
use crate::output::Printer;
use crate::paths::Paths;
use crate::providers::Provider;
use crate::proxy::{self, ChainEntry, OfficialUpstreams, ProxyConfig};

/// The provider id aigate uses in every client's config (never `openai` & co., which newer
/// Codex rejects; one stable id keeps Codex's resume history together).
pub const PROVIDER_ID: &str = "aigate";

/// How long open streams may drain after the agent exits.
const DRAIN: Duration = Duration::from_secs(2);

/// Loopback hosts added to `NO_PROXY`/`no_proxy` so a system proxy cannot hijack them.
const LOOPBACK_NO_PROXY: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// What `aigate run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub client: Client,
    /// `--provider` names in order; empty means the default chain.
    pub providers: Vec<String>,
    pub model: Option<String>,
    pub bin: Option<PathBuf>,
    pub agent_args: Vec<OsString>,
}

/// How the agent is started: the program, its argv (after argv\[0\]) and the variables
/// set in its environment on top of aigate's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLaunch {
    pub args: Vec<OsString>,
    pub env: Vec<(String, OsString)>,
    /// Notes for stderr (never holding a secret).
    pub warnings: Vec<String>,
}

/// The facts [`plan_agent`] needs about one session.
#[derive(Debug, Clone)]
pub struct Session<'a> {
    pub client: Client,
    /// `http://127.0.0.1:PORT` (no `/v1`).
    pub base_url: &'a str,
    pub token: &'a str,
    pub session_id: &'a str,
    /// Whether the chain has the `official` link (the agent keeps its own login).
    pub official: bool,
    /// The model to ask for (already resolved for OpenCode).
    pub model: Option<&'a str>,
}

/// Run the agent behind a session proxy and return its exit code.
pub fn run(out: &Printer, paths: &Paths, options: RunOptions) -> Result<u8> {
    if std::env::var_os(env_vars::AIGATE_SESSION).is_some_and(|value| !value.is_empty()) {
        return Err(Error::refused("Already inside an `aigate run` session (`AIGATE_SESSION` is set)")
            .hint("run the agent directly here; it already talks to the session proxy"));
    }
    let program = find_agent(options.client, options.bin.as_deref())?;
    let chain = resolve_chain(paths, Some(options.client), &options.providers)?;
    let official = chain.iter().any(|entry| matches!(entry, ChainEntry::Official));
    let model = match options.client {
        Client::OpenCode => Some(opencode_model(options.model.as_deref(), &chain)?),
        Client::Codex | Client::Claude => options.model.clone(),
    };
    let codex_chatgpt_login = options.client == Client::Codex && official && codex_chatgpt_login(paths);
    let token = random_hex(32)?;
    let session_id = session_id()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| Error::internal("Failed to start the async runtime").cause(error))?;
    let code = runtime.block_on(async {
        let config = ProxyConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: token.clone(),
            chain,
            client: Some(options.client),
            session_id: Some(session_id.clone()),
            aigate_home: paths.aigate_home.clone(),
            official: OfficialUpstreams::from_env(codex_chatgpt_login),
            body_limit: crate::proxy::DEFAULT_BODY_LIMIT,
            idle_timeout: crate::proxy::DEFAULT_IDLE_TIMEOUT,
        };
        let handle = proxy::start(config).await?;
        let base_url = handle.base_url();
        let session = Session {
            client: options.client,
            base_url: &base_url,
            token: &token,
            session_id: &session_id,
            official,
            model: model.as_deref(),
        };
        let launch = plan_agent(&session, &options.agent_args, &|name| std::env::var_os(name))?;
        for warning in &launch.warnings {
            out.warn(warning);
        }
        out.verbose(&format!("aigate: session {session_id} proxy {base_url}"));
        let code = supervise(&program, &launch).await;
        handle.shutdown(DRAIN).await;
        code
    });
    // The proxy has drained and stopped; do not wait for idle workers to be joined.
    runtime.shutdown_background();
    code
}

/// Find the agent executable: `--bin`, else `AIGATE_<AGENT>_BIN`, else `PATH`.
pub fn find_agent(client: Client, bin: Option<&Path>) -> Result<PathBuf> {
    let (variable, package) = match client {
        Client::Codex => (env_vars::AIGATE_CODEX_BIN, "@openai/codex"),
        Client::Claude => (env_vars::AIGATE_CLAUDE_BIN, "@anthropic-ai/claude-code"),
        Client::OpenCode => (env_vars::AIGATE_OPENCODE_BIN, "opencode-ai"),
    };
    let hint = format!("install it with `npm i -g {package}`, or pass `--bin PATH`");
    let explicit = bin
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(variable).filter(|v| !v.is_empty()).map(PathBuf::from));
    if let Some(path) = explicit {
        // A bare name is looked up on PATH; a path must exist.
        if path.components().count() == 1 {
            return which::which(&path).map_err(|error| {
                Error::internal(format!("`{}` was not found on `PATH`", path.display()))
                    .cause(error)
                    .hint(hint)
            });
        }
        if path.is_file() {
            return Ok(path);
        }
        return Err(Error::internal(format!("The {client} executable `{}` does not exist", path.display()))
            .hint(hint));
    }
    which::which(client.name()).map_err(|_| {
        Error::internal(format!("`{}` was not found on `PATH`", client.name()))
            .hint(format!("{hint}, or set `{variable}`"))
    })
}

/// The provider chain: `names` in order (`official` is the built-in pass-through), else
/// every registered provider by priority (ascending, then name), else `official`.
///
/// `client` is the agent a `run` session serves (`None` for `serve`, which serves any).
/// OpenCode has no official login aigate can pass through, so for it `official` is refused
/// and an empty registry is an error.
pub fn resolve_chain(paths: &Paths, client: Option<Client>, names: &[String]) -> Result<Vec<ChainEntry>> {
    let registered = load_providers(&paths.aigate_home)?;
    if names.is_empty() {
        if registered.is_empty() {
            return match client {
                Some(Client::OpenCode) => Err(Error::refused(
                    "No provider is registered, and OpenCode has no official login aigate can pass through",
                )
                .hint(
                    "register one with `aigate provider add NAME --base-url URL --api chat --key-env VAR`",
                )),
                Some(Client::Codex | Client::Claude) | None => Ok(vec![ChainEntry::Official]),
            };
        }
        return Ok(registered.into_iter().map(ChainEntry::Provider).collect());
    }
    let mut chain = Vec::with_capacity(names.len());
    for name in names {
        if name == crate::providers::OFFICIAL {
            if client == Some(Client::OpenCode) {
                return Err(Error::refused("OpenCode has no official login aigate can pass through")
                    .hint("use a registered provider with `--provider NAME`"));
            }
            chain.push(ChainEntry::Official);
            continue;
        }
        let Some(provider) = registered.iter().find(|provider| &provider.name == name) else {
            let mut known: Vec<&str> = registered.iter().map(|provider| provider.name.as_str()).collect();
            known.push(crate::providers::OFFICIAL);
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
        Some(connection) => crate::providers::store::load_all(&connection),
        None => Ok(Vec::new()),
    }
}

/// Whether `$CODEX_HOME/auth.json` holds a ChatGPT login (read only).
pub fn codex_chatgpt_login(paths: &Paths) -> bool {
    let Ok(text) = fs_err::read_to_string(paths.codex_auth()) else {
        return false;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    value.get("auth_mode").and_then(serde_json::Value::as_str) == Some("chatgpt")
        || value.get("tokens").is_some_and(|tokens| !tokens.is_null())
}

pub use crate::random::hex as random_hex;

/// A random id shaped like a UUID (8-4-4-4-12 hex).
pub fn session_id() -> Result<String> {
    let hex = random_hex(16)?;
    Ok(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
}

/// How to point the agent at the session proxy: argv and environment (pure; `lookup`
/// reads the current environment).
pub fn plan_agent(
    session: &Session<'_>,
    user_args: &[OsString],
    lookup: &dyn Fn(&str) -> Option<OsString>,
) -> Result<AgentLaunch> {
    let mut args: Vec<OsString> = Vec::new();
    let mut env: Vec<(String, OsString)> = vec![
        (env_vars::AIGATE_BASE_URL.into(), session.base_url.into()),
        (env_vars::AIGATE_TOKEN.into(), session.token.into()),
        (env_vars::AIGATE_SESSION.into(), session.session_id.into()),
    ];
    for name in [env_vars::NO_PROXY, env_vars::NO_PROXY_LOWER] {
        env.push((name.into(), extend_no_proxy(lookup(name).as_deref()).into()));
    }
    let mut warnings = Vec::new();
    match session.client {
        Client::Codex => {
            args.extend(
                codex_overrides(session).into_iter().flat_map(|value| [OsString::from("-c"), value.into()]),
            );
        }
        Client::Claude => {
            env.push((env_vars::ANTHROPIC_BASE_URL.into(), session.base_url.into()));
            if session.official {
                let header = format!("x-aigate-token: {}", session.token);
                let value = match lookup(env_vars::ANTHROPIC_CUSTOM_HEADERS).filter(|value| !value.is_empty())
                {
                    Some(existing) => {
                        let mut joined = existing;
                        joined.push("\n");
                        joined.push(&header);
                        joined
                    }
                    None => header.into(),
                };
                env.push((env_vars::ANTHROPIC_CUSTOM_HEADERS.into(), value));
            } else {
                env.push((env_vars::ANTHROPIC_AUTH_TOKEN.into(), session.token.into()));
                if lookup(env_vars::ANTHROPIC_API_KEY).is_some_and(|value| !value.is_empty()) {
                    warnings.push(
                        "`ANTHROPIC_API_KEY` is set: Claude Code will send it to the session proxy next to aigate's token, and may ask to approve it; unset it to use only the provider chain".into(),
                    );
                }
            }
            if let Some(model) = session.model {
                env.push((env_vars::ANTHROPIC_MODEL.into(), model.into()));
            }
        }
        Client::OpenCode => {
            let model = session.model.ok_or_else(|| Error::internal("OpenCode needs a model"))?;
            let existing = lookup(env_vars::OPENCODE_CONFIG_CONTENT).filter(|value| !value.is_empty());
            let (content, warning) = opencode_config(session.base_url, model, existing.as_deref());
            warnings.extend(warning);
            env.push((env_vars::OPENCODE_CONFIG_CONTENT.into(), content.into()));
        }
    }
    args.extend(user_args.iter().cloned());
    Ok(AgentLaunch { args, env, warnings })
}

/// The `-c key=value` overrides (TOML values) that point Codex at the proxy. They go
/// before the user's arguments: Codex takes `-c` as a global option before a subcommand.
pub fn codex_overrides(session: &Session<'_>) -> Vec<String> {
    let base_url = format!("{}/v1", session.base_url);
    let auth = if session.official {
        // The login keeps its own `Authorization`; aigate's token rides in its own header.
        format!(
            "requires_openai_auth=true, env_http_headers={{\"x-aigate-token\"=\"{}\"}}",
            env_vars::AIGATE_TOKEN
        )
    } else {
        format!("env_key=\"{}\"", env_vars::AIGATE_TOKEN)
    };
    let mut overrides = vec![
        format!("model_provider=\"{PROVIDER_ID}\""),
        format!(
            "model_providers.{PROVIDER_ID}={{name=\"aigate\", base_url=\"{}\", wire_api=\"responses\", {auth}}}",
            toml_escape(&base_url)
        ),
    ];
    if let Some(model) = session.model {
        overrides.push(format!("model=\"{}\"", toml_escape(model)));
    }
    overrides
}

/// `OPENCODE_CONFIG_CONTENT`: `provider.aigate` and `model`, merged into an existing inline
/// config when it is a JSON object (else replacing it, with a warning). The key is
/// `{env:AIGATE_TOKEN}`, which OpenCode substitutes from its environment (verified with
/// OpenCode 1.18.33), so the token is not even in this variable.
pub fn opencode_config(base_url: &str, model: &str, existing: Option<&OsStr>) -> (String, Option<String>) {
    let provider = serde_json::json!({
        "npm": "@ai-sdk/openai-compatible",
        "name": "aigate",
        "options": {
            "baseURL": format!("{base_url}/v1"),
            "apiKey": format!("{{env:{}}}", env_vars::AIGATE_TOKEN),
        },
        "models": { model: {} },
    });
    let mut warning = None;
    let mut root = match existing
        .map(|value| serde_json::from_str::<serde_json::Value>(&value.to_string_lossy()))
    {
        Some(Ok(serde_json::Value::Object(map))) => map,
        Some(Ok(_) | Err(_)) => {
            warning = Some(
                "`OPENCODE_CONFIG_CONTENT` is not a JSON object; aigate replaced it for this session".into(),
            );
            serde_json::Map::new()
        }
        None => serde_json::Map::new(),
    };
    let providers = root.entry("provider").or_insert_with(|| serde_json::json!({}));
    if !providers.is_object() {
        *providers = serde_json::json!({});
    }
    if let Some(map) = providers.as_object_mut() {
        map.insert(PROVIDER_ID.into(), provider);
    }
    root.insert("model".into(), serde_json::Value::String(format!("{PROVIDER_ID}/{model}")));
    (serde_json::Value::Object(root).to_string(), warning)
}

/// `NO_PROXY` with the loopback hosts appended (existing entries kept, no duplicates).
pub fn extend_no_proxy(existing: Option<&OsStr>) -> String {
    let existing = existing.map(|value| value.to_string_lossy().into_owned()).unwrap_or_default();
    let mut entries: Vec<String> =
        existing.split(',').map(str::trim).filter(|entry| !entry.is_empty()).map(String::from).collect();
    for host in LOOPBACK_NO_PROXY {
        if !entries.iter().any(|entry| entry == host) {
            entries.push(host.to_string());
        }
    }
    entries.join(",")
}

/// The exit code for a finished child: its own code, or 128 + N when signal N killed it.
pub fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => (128 + signal).min(255) as u8,
        (None, None) => 1,
    }
}

// ---------------------------------------------------------------------------------------

/// The model OpenCode asks for: `--model`, else the first provider's default model.
fn opencode_model(model: Option<&str>, chain: &[ChainEntry]) -> Result<String> {
    if let Some(model) = model {
        return Ok(model.to_string());
    }
    chain
        .iter()
        .find_map(|entry| match entry {
            ChainEntry::Provider(provider) => provider.default_model.clone(),
            ChainEntry::Official => None,
        })
        .ok_or_else(|| {
            Error::refused("OpenCode needs a model, and the first provider has no default model").hint(
                "pass `--model MODEL`, or set one with `aigate provider add NAME --default-model MODEL`",
            )
        })
}

/// Spawn the agent on the inherited terminal, relay signals, and wait for it.
async fn supervise(program: &Path, launch: &AgentLaunch) -> Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    // Handlers (not SIG_IGN) are installed before the spawn, so the agent starts with the
    // default dispositions after exec, and Ctrl-C from the terminal reaches it alone.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;

    let mut command = tokio::process::Command::new(program);
    command.args(&launch.args);
    for (name, value) in &launch.env {
        command.env(name, value);
    }
    let mut child = command.spawn().map_err(|error| {
        Error::internal(format!("Failed to start `{}`", program.display()))
            .cause(error)
            .hint("check the executable with `--bin PATH`")
    })?;
    let pid = child.id().map(|pid| nix::unistd::Pid::from_raw(pid as i32));
    let forward = |signal: nix::sys::signal::Signal| {
        if let Some(pid) = pid {
            let _ = nix::sys::signal::kill(pid, signal);
        }
    };
    loop {
        tokio::select! {
            status = child.wait() => {
                let status = status.map_err(|error| Error::internal("Failed to wait for the agent").cause(error))?;
                return Ok(exit_code(status));
            }
            _ = interrupt.recv() => {}
            _ = quit.recv() => {}
            _ = terminate.recv() => forward(nix::sys::signal::Signal::SIGTERM),
            _ = hangup.recv() => forward(nix::sys::signal::Signal::SIGHUP),
        }
    }
}

/// Escape a string for a TOML basic string.
fn toml_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other if other.is_control() => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04X}", other as u32);
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
#[path = "launch_tests.rs"]
mod tests;
