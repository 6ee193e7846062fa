//! `aigate run`: launch an agent behind a proxy that lives exactly as long as it does
//! (product.md §6 "Lifecycle of `run`", §7).
//!
//! The shape follows `mise exec`'s Windows half: aigate cannot `exec` (its proxy must stay
//! alive), so it spawns the agent, lets it own the terminal, and waits. How each agent is
//! pointed at the proxy is `clients::launch`.
//!
//! Invariants:
//! - **A run never nests**: `AIGATE_SESSION` in the environment refuses a second `run`.
//! - While the agent runs, SIGINT and SIGQUIT are caught and dropped (the terminal delivers
//!   them to the agent, which is in the same process group); SIGTERM and SIGHUP are
//!   forwarded to the agent. aigate exits with the agent's code, 128 + N when signal N
//!   killed it.
//! - Start-up stays cheap: the db is opened read-only and only when it exists; nothing
//!   else is read on the path to `spawn` except what the agent needs.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clients::Client;
use crate::clients::gemini_home::{self, AuthPlan, Overlay};
use crate::clients::launch::{
    AgentLaunch, Session, codex_chatgpt_login, default_model, find_agent, opencode_model, plan_agent,
};
use crate::env_vars;
use crate::error::{Error, Result};
use crate::output::Printer;
use crate::paths::Paths;
use crate::providers::{ChainEntry, ChainFor, LinkUse, check_chain, resolve_chain};
use crate::proxy::{OfficialUpstreams, ProxyConfig};

/// How long open streams may drain after the agent exits.
const DRAIN: Duration = Duration::from_secs(2);

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

/// Run the agent behind a session proxy and return its exit code.
pub fn run(out: &Printer, paths: &Paths, options: RunOptions) -> Result<u8> {
    if std::env::var_os(env_vars::AIGATE_SESSION).is_some_and(|value| !value.is_empty()) {
        return Err(Error::refused("Already inside an `aigate run` session (`AIGATE_SESSION` is set)")
            .hint("run the agent directly here; it already talks to the session proxy"));
    }
    let program = find_agent(options.client, options.bin.as_deref())?;
    let target = ChainFor {
        client: Some(options.client.title()),
        has_official_login: options.client.has_official_login(),
    };
    let chain = resolve_chain(&paths.aigate_home, target, &options.providers)?;
    let uses = check_chain(
        &chain,
        options.client.title(),
        options.client.api(),
        options.client.has_official_login(),
    )?;
    report_chain(out, options.client.title(), &uses);
    let official = chain.iter().any(|entry| matches!(entry, ChainEntry::Official));
    let model = match options.client {
        Client::OpenCode => Some(opencode_model(options.model.as_deref(), &chain)?),
        // Gemini CLI's own model names mean nothing to most providers: the first provider's
        // default model unless one is given (Gemini CLI then skips its model router).
        Client::Gemini => {
            let model = options.model.clone().or_else(|| default_model(&chain));
            let first_speaks_gemini = chain.iter().find_map(|entry| match entry {
                ChainEntry::Provider(provider) => Some(provider.speaks(crate::providers::Api::Gemini)),
                ChainEntry::Official => None,
            });
            if model.is_none() && first_speaks_gemini == Some(false) {
                out.warn(
                    "Gemini CLI will ask for its own model names (gemini-…), which a provider without the Gemini API may not know; pass `--model`, or give the provider a default model",
                );
            }
            model
        }
        Client::Codex | Client::Claude => options.model.clone(),
    };
    let codex_chatgpt_login = options.client == Client::Codex && official && codex_chatgpt_login(paths);
    let images = chain.iter().any(|entry| match entry {
        ChainEntry::Official => true,
        ChainEntry::Provider(provider) => provider.vision != Some(false),
    });
    let key_variables: Vec<String> = chain
        .iter()
        .filter_map(|entry| match entry {
            ChainEntry::Provider(provider) => Some(&provider.keys),
            ChainEntry::Official => None,
        })
        .flatten()
        .filter_map(|key| match key {
            crate::providers::KeySource::Env(name) => Some(name.clone()),
            crate::providers::KeySource::Stored(_) => None,
        })
        .collect();
    let token = crate::random::hex(32)?;
    let session_id = session_id()?;
    let overlay = match options.client {
        Client::Gemini => {
            let cwd = std::env::current_dir()?;
            match gemini_home::plan_auth(paths, &cwd, &|name| std::env::var(name).ok())? {
                AuthPlan::EnvOnly => None,
                AuthPlan::Overlay { settings } => {
                    let sessions = paths.aigate_home.join("sessions");
                    for note in gemini_home::sweep(&sessions) {
                        out.warn(&note);
                    }
                    Some(Overlay::create(paths, &sessions, &session_id, settings)?)
                }
            }
        }
        Client::Codex | Client::Claude | Client::OpenCode => None,
    };

    // One thread: a session proxy serves one agent, and start-up spawns no workers.
    let runtime = super::runtime(Some(1))?;
    let code = runtime.block_on(async {
        let config = ProxyConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: token.clone(),
            chain,
            client: Some(options.client.name()),
            session_id: Some(session_id.clone()),
            aigate_home: paths.aigate_home.clone(),
            official: OfficialUpstreams::from_env(codex_chatgpt_login),
            body_limit: crate::proxy::DEFAULT_BODY_LIMIT,
            idle_timeout: crate::proxy::DEFAULT_IDLE_TIMEOUT,
            body_timeouts: crate::proxy::server::BodyTimeouts::default(),
        };
        let handle = crate::proxy::start(config).await?;
        let base_url = handle.base_url();
        let session = Session {
            client: options.client,
            base_url: &base_url,
            token: &token,
            session_id: &session_id,
            official,
            model: model.as_deref(),
            key_variables: &key_variables,
            images,
        };
        let mut launch = plan_agent(&session, &options.agent_args, &|name| std::env::var_os(name))?;
        if let Some(overlay) = &overlay {
            launch.env.push((env_vars::GEMINI_CLI_HOME.into(), overlay.home.clone().into()));
        }
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
    if let Some(overlay) = overlay {
        for note in overlay.finish() {
            out.warn(&note);
        }
    }
    code
}

/// Say how the chain serves the client: a warning for each unusable link, and one line
/// with the links in order (`-v` shows it when every link passes through).
pub fn report_chain(out: &Printer, client: &str, uses: &[(String, LinkUse)]) {
    for (name, use_) in uses {
        if let LinkUse::Unusable(reason) = use_ {
            out.warn(&format!("provider `{name}` cannot serve {client}: {reason}"));
        }
    }
    let line = uses
        .iter()
        .filter(|(_, use_)| use_.usable())
        .map(|(name, use_)| format!("{name} ({})", use_.describe()))
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!("aigate: {client} uses {line}");
    if uses.iter().any(|(_, use_)| matches!(use_, LinkUse::Converted(_))) {
        out.info(&message);
    } else {
        out.verbose(&message);
    }
}

/// A random id shaped like a UUID (8-4-4-4-12 hex).
pub fn session_id() -> Result<String> {
    let hex = crate::random::hex(16)?;
    Ok(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
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
    for name in &launch.unset {
        command.env_remove(name);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_look_like_uuids_and_tokens_are_long() {
        let id = session_id().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(crate::random::hex(32).unwrap().len(), 64);
    }
}
