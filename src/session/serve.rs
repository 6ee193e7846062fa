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

use super::state::{self, ServeInfo, ServeStatus};
use crate::error::{Error, Result};
use crate::output::Printer;
use crate::paths::Paths;
use crate::providers::{ChainFor, resolve_chain};
use crate::proxy::{self, OfficialUpstreams, ProxyConfig};

/// How long open streams may drain on shutdown.
const DRAIN: Duration = Duration::from_secs(5);

/// `--json` once listening.
#[derive(Serialize)]
struct Listening<'a> {
    address: String,
    pid: u32,
    token_file: &'a std::path::Path,
}

/// What `aigate serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `--host`: an IP address or `localhost`.
    pub host: String,
    pub port: u16,
    pub allow_remote: bool,
    /// `--provider` names in order; empty means the chain `use gateway` recorded.
    pub providers: Vec<String>,
    /// Print the listening address as JSON on stdout.
    pub json: bool,
}

/// `aigate serve --rotate-token`: a new token for the gateway.
pub fn rotate_token(out: &Printer, paths: &Paths) -> Result<u8> {
    state::rotate_serve_token(paths)?;
    out.info(&format!(
        "Wrote a new gateway token to `{}`",
        crate::output::display_path(&paths.serve_token())
    ));
    out.info("note: clients in gateway mode need `aigate use gateway` again to pick it up");
    if let ServeStatus::Running(info) = state::serve_status(paths) {
        out.info(&format!("note: restart the running gateway (pid {}) to use it", info.pid));
    }
    Ok(0)
}

/// Run the gateway until SIGINT, SIGTERM or SIGHUP.
pub fn serve(out: &Printer, paths: &Paths, args: &ServeOptions) -> Result<u8> {
    let ip = parse_host(&args.host)?;
    if !ip.is_loopback() && !args.allow_remote {
        return Err(Error::refused(format!("Refusing to listen on non-loopback address `{}`", args.host))
            .hint("anyone who can reach it could use your providers; pass `--allow-remote` if you mean it"));
    }
    match state::serve_status(paths) {
        ServeStatus::Running(info) => {
            return Err(Error::internal(format!(
                "aigate serve is already running (pid {}) on {}",
                info.pid, info.address
            ))
            .hint(format!("stop it first (`kill {}`), or use it", info.pid)));
        }
        ServeStatus::Stale(info) => {
            crate::fsx::remove_file(&paths.serve_info())?;
            out.warn(&format!(
                "`{}` named pid {}, which is not running; removed the stale file",
                crate::output::display_path(&paths.serve_info()),
                info.pid
            ));
        }
        ServeStatus::NotRunning => {}
    }
    // Without `--provider`, the chain `aigate use gateway --provider ...` recorded applies.
    let names = if args.providers.is_empty() {
        crate::clients::gateway::records::recorded_chain(&paths.aigate_home)?
    } else {
        args.providers.clone()
    };
    let chain = resolve_chain(&paths.aigate_home, ChainFor::ANY, &names)?;
    check_gateway_chain(out, &chain)?;
    let provider_names: Vec<String> = chain.iter().map(|entry| entry.name().to_string()).collect();
    let official = chain.iter().any(|entry| matches!(entry, crate::providers::ChainEntry::Official));
    let token = state::read_or_create_serve_token(paths)?;
    let listen = SocketAddr::new(ip, args.port);

    super::runtime(None)?.block_on(async {
        // A closed terminal stops the gateway cleanly too (serve.json is removed).
        let stop = super::StopSignals::new()?;
        let config = ProxyConfig {
            listen,
            token,
            chain,
            client: None,
            session_id: None,
            aigate_home: paths.aigate_home.clone(),
            official: OfficialUpstreams::from_env(
                official && crate::clients::launch::codex_chatgpt_login(paths),
            ),
            body_limit: crate::proxy::DEFAULT_BODY_LIMIT,
            idle_timeout: crate::proxy::DEFAULT_IDLE_TIMEOUT,
            body_timeouts: crate::proxy::server::BodyTimeouts::default(),
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
        if let Err(error) = state::write_serve_info(paths, &info) {
            handle.shutdown(Duration::ZERO).await;
            return Err(error);
        }
        out.info(&format!("aigate gateway listening on {}", handle.base_url()));
        out.verbose(&format!("providers: {}", info.providers.join(", ")));
        if args.json {
            out.json(&Listening { address: info.address.clone(), pid, token_file: &info.token_file })?;
        }
        stop.wait().await;
        out.info("aigate gateway stopping");
        handle.shutdown(DRAIN).await;
        state::remove_serve_info(paths, pid)?;
        Ok(0)
    })
}

/// The gateway serves every client: say how the chain serves each, and refuse a chain
/// that can serve none of them.
fn check_gateway_chain(out: &Printer, chain: &[crate::providers::ChainEntry]) -> Result<()> {
    let mut usable_for_any = false;
    let mut refusals = Vec::new();
    for client in crate::clients::Client::ALL {
        match crate::providers::check_chain(chain, client.title(), client.api(), client.has_official_login())
        {
            Ok(uses) => {
                usable_for_any = true;
                super::run::report_chain(out, client.title(), &uses);
            }
            Err(error) => refusals.push(error),
        }
    }
    match refusals.into_iter().next() {
        Some(error) if !usable_for_any => Err(error),
        Some(error) => {
            out.warn(&error.message);
            Ok(())
        }
        None => Ok(()),
    }
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
