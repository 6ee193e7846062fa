//! How `aigate run` points each agent at its session proxy: the argv and environment
//! each client gets (product.md §7). Pure: the environment is read through `lookup`.
//!
//! Invariants:
//! - **No file is written** for the agent: Codex gets `-c` overrides, Claude Code,
//!   OpenCode and Gemini CLI get environment variables (Gemini CLI, when its settings do not
//!   already select the API-key login, also a private session home: `gemini_home`).
//! - **The session token never goes on argv** (it would show in `ps`): it reaches the agent
//!   only through its environment (`AIGATE_TOKEN`, `ANTHROPIC_AUTH_TOKEN`,
//!   `ANTHROPIC_CUSTOM_HEADERS`), and OpenCode's config names it as `{env:AIGATE_TOKEN}`.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::{Client, PROVIDER_ID};
use crate::env_vars;
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::providers::ChainEntry;

/// Loopback hosts added to `NO_PROXY`/`no_proxy` so a system proxy cannot hijack them.
const LOOPBACK_NO_PROXY: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// Variables that would take Gemini CLI to Vertex AI or a Google login, around the proxy
/// (when no settings layer selects a login; the session's always does, so they are
/// cleared for the agent's tools' sake and said so).
const GEMINI_DETOURS: [&str; 3] =
    ["GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_GCA", "GOOGLE_VERTEX_BASE_URL"];

/// How the agent is started: the program, its argv (after argv\[0\]) and the variables
/// set in its environment on top of aigate's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLaunch {
    pub args: Vec<OsString>,
    pub env: Vec<(String, OsString)>,
    /// Variables removed from the agent's environment: the chain's key variables, which
    /// the agent (and every tool it runs) has no use for; it needs only the session token.
    pub unset: Vec<String>,
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
    /// The environment variables the chain's provider keys are read from.
    pub key_variables: &'a [String],
    /// Some link of the chain can read images.
    pub images: bool,
}

/// The variables a client's own login reads, which stay when the chain has `official`.
fn login_variables(client: Client) -> &'static [&'static str] {
    match client {
        Client::Codex => &["OPENAI_API_KEY", "CODEX_API_KEY"],
        Client::Claude => &[env_vars::ANTHROPIC_API_KEY, "CLAUDE_CODE_OAUTH_TOKEN"],
        Client::OpenCode | Client::Gemini => &[],
    }
}

/// Find the agent executable: `--bin`, else `AIGATE_<AGENT>_BIN`, else `PATH`.
pub fn find_agent(client: Client, bin: Option<&Path>) -> Result<PathBuf> {
    let (variable, package) = match client {
        Client::Codex => (env_vars::AIGATE_CODEX_BIN, "@openai/codex"),
        Client::Claude => (env_vars::AIGATE_CLAUDE_BIN, "@anthropic-ai/claude-code"),
        Client::OpenCode => (env_vars::AIGATE_OPENCODE_BIN, "opencode-ai"),
        Client::Gemini => (env_vars::AIGATE_GEMINI_BIN, "@google/gemini-cli"),
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
            let (content, warning) =
                opencode_config(session.base_url, model, session.images, existing.as_deref());
            warnings.extend(warning);
            env.push((env_vars::OPENCODE_CONFIG_CONTENT.into(), content.into()));
        }
        Client::Gemini => {
            // The Gemini API path goes after the base (`/v1beta/models/...`); the key is the
            // session token, sent as `x-goog-api-key`. The auth type comes from a settings
            // layer (see `gemini_home`), whose home `run` adds as `GEMINI_CLI_HOME`.
            env.push((env_vars::GOOGLE_GEMINI_BASE_URL.into(), session.base_url.into()));
            env.push((env_vars::GEMINI_API_KEY.into(), session.token.into()));
            if let Some(model) = session.model {
                env.push((env_vars::GEMINI_MODEL.into(), model.into()));
            }
            for name in GEMINI_DETOURS {
                if lookup(name).is_some_and(|value| !value.is_empty()) {
                    warnings.push(format!("`{name}` is set; the session unsets it for Gemini CLI"));
                }
            }
        }
    }
    args.extend(user_args.iter().cloned());
    let mut unset: Vec<String> = session
        .key_variables
        .iter()
        .filter(|name| !(session.official && login_variables(session.client).contains(&name.as_str())))
        .filter(|name| !env.iter().any(|(set, _)| set == *name))
        .cloned()
        .collect();
    if session.client == Client::Gemini {
        // They would take Gemini CLI to Vertex AI or a Google login, around the proxy.
        unset.extend(GEMINI_DETOURS.map(String::from));
    }
    unset.sort();
    unset.dedup();
    Ok(AgentLaunch { args, env, unset, warnings })
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
/// `images`: the chain can read images, so the model is declared able to take them
/// (OpenCode refuses to attach an image to a model it thinks cannot).
pub fn opencode_config(
    base_url: &str,
    model: &str,
    images: bool,
    existing: Option<&OsStr>,
) -> (String, Option<String>) {
    let model_entry = if images {
        serde_json::json!({"attachment": true, "modalities": {"input": ["text", "image"], "output": ["text"]}})
    } else {
        serde_json::json!({})
    };
    let provider = serde_json::json!({
        "npm": "@ai-sdk/openai-compatible",
        "name": "aigate",
        "options": {
            "baseURL": format!("{base_url}/v1"),
            "apiKey": format!("{{env:{}}}", env_vars::AIGATE_TOKEN),
        },
        "models": { model: model_entry },
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

/// The model OpenCode asks for: `--model`, else the first provider's default model.
pub fn opencode_model(model: Option<&str>, chain: &[ChainEntry]) -> Result<String> {
    if let Some(model) = model {
        return Ok(model.to_string());
    }
    default_model(chain).ok_or_else(|| {
        Error::refused("OpenCode needs a model, and the first provider has no default model")
            .hint("pass `--model MODEL`, or set one with `aigate provider add NAME --default-model MODEL`")
    })
}

/// The first provider's default model.
pub fn default_model(chain: &[ChainEntry]) -> Option<String> {
    chain.iter().find_map(|entry| match entry {
        ChainEntry::Provider(provider) => provider.default_model.clone(),
        ChainEntry::Official => None,
    })
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
