//! `aigate serve`: the persistent gateway (product.md §6).
//!
//! Invariants:
//! - Listens on loopback unless `--allow-remote`; every proxied request needs the token in
//!   `AIGATE_HOME/serve.token` (0600, created on first use, never printed).
//! - `serve.json` (0600) exists exactly while the gateway listens: written once the socket
//!   is bound, removed on exit. One gateway per `AIGATE_HOME`: a live one refuses a second.
//! - SIGINT, SIGTERM and SIGHUP stop accepting and let open streams drain for a few seconds.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use super::Ctx;
use crate::error::{Error, Result};
use crate::gateway_info::{self, ServeInfo, ServeStatus};
use crate::proxy::{self, ChainEntry, OfficialUpstreams, ProxyConfig};

/// How long open streams may drain on shutdown.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate serve
  aigate serve --port 9000 --provider deepseek --provider openrouter
  aigate serve --rotate-token")]
pub struct ServeArgs {
    /// Address to listen on (loopback unless --allow-remote)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// Allow a non-loopback --host
    #[arg(long)]
    pub allow_remote: bool,
    /// A provider in the chain, in order (repeat); default: every provider by priority
    #[arg(long = "provider", value_name = "P")]
    pub providers: Vec<String>,
    /// Make a new gateway token and exit (clients in gateway mode need `aigate use gateway` again)
    #[arg(long)]
    pub rotate_token: bool,
}

/// `--json` once listening.
#[derive(Serialize)]
struct Listening<'a> {
    address: String,
    pid: u32,
    token_file: &'a std::path::Path,
}

pub(crate) fn run(ctx: &Ctx, args: &ServeArgs) -> Result<u8> {
    let paths = &ctx.paths;
    if args.rotate_token {
        gateway_info::rotate_serve_token(paths)?;
        ctx.out.info(&format!(
            "Wrote a new gateway token to `{}`",
            crate::output::display_path(&paths.serve_token())
        ));
        ctx.out.info("note: clients in gateway mode need `aigate use gateway` again to pick it up");
        if let ServeStatus::Running(info) = gateway_info::serve_status(paths) {
            ctx.out.info(&format!("note: restart the running gateway (pid {}) to use it", info.pid));
        }
        return Ok(0);
    }
    let ip = parse_host(&args.host)?;
    if !ip.is_loopback() && !args.allow_remote {
        return Err(Error::refused(format!("Refusing to listen on non-loopback address `{}`", args.host))
            .hint("anyone who can reach it could use your providers; pass `--allow-remote` if you mean it"));
    }
    match gateway_info::serve_status(paths) {
        ServeStatus::Running(info) => {
            return Err(Error::internal(format!(
                "aigate serve is already running (pid {}) on {}",
                info.pid, info.address
            ))
            .hint(format!("stop it first (`kill {}`), or use it", info.pid)));
        }
        ServeStatus::Stale(info) => {
            crate::fsx::remove_file(&paths.serve_info())?;
            ctx.out.warn(&format!(
                "`{}` named pid {}, which is not running; removed the stale file",
                crate::output::display_path(&paths.serve_info()),
                info.pid
            ));
        }
        ServeStatus::NotRunning => {}
    }
    // Without `--provider`, the chain `aigate use gateway --provider ...` recorded applies.
    let names = if args.providers.is_empty() {
        crate::gateway::records::recorded_chain(&paths.aigate_home)?
    } else {
        args.providers.clone()
    };
    let chain = crate::launch::resolve_chain(paths, None, &names)?;
    let provider_names: Vec<String> = chain
        .iter()
        .map(|entry| match entry {
            ChainEntry::Official => crate::providers::OFFICIAL.to_string(),
            ChainEntry::Provider(provider) => provider.name.clone(),
        })
        .collect();
    let official = chain.iter().any(|entry| matches!(entry, ChainEntry::Official));
    let token = gateway_info::read_or_create_serve_token(paths)?;
    let listen = SocketAddr::new(ip, args.port);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::internal("Failed to start the async runtime").cause(error))?;
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        // A closed terminal stops the gateway cleanly too (serve.json is removed).
        let mut hangup = signal(SignalKind::hangup())?;
        let config = ProxyConfig {
            listen,
            token,
            chain,
            client: None,
            session_id: None,
            aigate_home: paths.aigate_home.clone(),
            official: OfficialUpstreams::from_env(official && crate::launch::codex_chatgpt_login(paths)),
            body_limit: crate::proxy::DEFAULT_BODY_LIMIT,
            idle_timeout: crate::proxy::DEFAULT_IDLE_TIMEOUT,
        };
        let handle = match proxy::start(config).await {
            Ok(handle) => handle,
            Err(error) => return Err(bind_error(listen, error)),
        };
        let pid = std::process::id();
        let info = ServeInfo {
            version: 1,
            address: handle.addr.to_string(),
            pid,
            started_at: jiff::Timestamp::now().to_string(),
            providers: provider_names,
            token_file: paths.serve_token(),
        };
        if let Err(error) = gateway_info::write_serve_info(paths, &info) {
            handle.shutdown(Duration::ZERO).await;
            return Err(error);
        }
        ctx.out.info(&format!("aigate gateway listening on {}", handle.base_url()));
        ctx.out.verbose(&format!("providers: {}", info.providers.join(", ")));
        if ctx.json() {
            ctx.out.json(&Listening { address: info.address.clone(), pid, token_file: &info.token_file })?;
        }
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
        ctx.out.info("aigate gateway stopping");
        handle.shutdown(DRAIN).await;
        gateway_info::remove_serve_info(paths, pid)?;
        Ok(0)
    })
}

/// `--host`: an IP address, or `localhost`.
fn parse_host(host: &str) -> Result<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    host.trim_start_matches('[').trim_end_matches(']').parse().map_err(|error| {
        Error::refused(format!("`{host}` is not an IP address")).cause(error).hint("pass `--host 127.0.0.1`")
    })
}

/// Turn a failed bind into a clear message: a taken port says so (exit 2).
fn bind_error(listen: SocketAddr, error: Error) -> Error {
    match std::net::TcpListener::bind(listen) {
        Err(probe) if probe.kind() == std::io::ErrorKind::AddrInUse => {
            Error::internal(format!("Port {} on {} is already in use", listen.port(), listen.ip()))
                .hint("pick another with `--port N` (0 picks a free one), or stop what is listening there")
        }
        Err(_) | Ok(_) => error,
    }
}
