//! `aigate status`: each client's files (exists, symlink target, format, parses or where it
//! breaks, mode), its mode (`official`, `gateway`, `unmanaged`; defined in
//! `gateway::inspect`), drift, snapshots; the gateway's address, `/health` and chain.
//!
//! It only reports: exit 0 whatever it finds (`aigate doctor` exits 1 on problems). It
//! writes nothing and creates nothing (not even the db).

use super::Ctx;
use crate::clients::gateway::health::Health;
use crate::clients::gateway::inspect::{self, ClientStatus, FileStatus};
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate status
  aigate status --client codex --json")]
pub struct StatusArgs {
    /// Only these clients (default: all of them)
    #[arg(long, value_enum)]
    pub client: Vec<super::ClientChoice>,
    /// Every client (the same as `--client all`)
    #[arg(long, conflicts_with = "client")]
    pub all: bool,
}

pub(crate) fn run(ctx: &Ctx, args: &StatusArgs) -> Result<u8> {
    let report = inspect::inspect(&ctx.paths, &super::chosen(&super::with_all(&args.client, args.all)))?;
    if ctx.json() {
        ctx.out.json(&report)?;
        return Ok(0);
    }
    let gateway = &report.gateway;
    let health = match &gateway.health {
        Health::Ok => "answers /health".to_string(),
        Health::Unhealthy(status) => format!("answers /health with `{status}`"),
        Health::Unreachable(_) => "not reachable".to_string(),
    };
    let serve = match (gateway.running, gateway.stale, gateway.pid) {
        (true, _, Some(pid)) => format!("aigate serve pid {pid}"),
        (_, true, Some(pid)) => format!("stale serve.json (pid {pid} is gone)"),
        _ => "aigate serve not running".to_string(),
    };
    let mut text = format!(
        "gateway   http://{}  {health}  ({serve})\n          providers: {} ({})\n",
        gateway.address,
        gateway.providers.join(" -> "),
        gateway.providers_source
    );
    if let Some(usage) = crate::stats::retention::status_line(&ctx.paths.aigate_home) {
        text.push_str(&format!("{usage}\n"));
    }
    for client in &report.clients {
        text.push_str(&client_text(client));
    }
    ctx.out.data(&text);
    if !gateway.health.is_ok() && report.clients.iter().any(|client| client.mode == inspect::Mode::Gateway) {
        ctx.out.info(
            "hint: a client is in gateway mode but the gateway does not answer: start it with `aigate serve`",
        );
    }
    Ok(0)
}

fn client_text(client: &ClientStatus) -> String {
    let mut text = format!(
        "\n{:<9} {}{}  snapshots: {}\n",
        client.client.name(),
        client.mode.as_str(),
        if client.drift.is_empty() { String::new() } else { format!(" (drift: {})", client.drift.len()) },
        client.snapshots
    );
    if let Some(note) = &client.note {
        text.push_str(&format!("          note: {note}\n"));
    }
    for file in &client.files {
        text.push_str(&format!("          {}\n", file_text(file)));
    }
    for drift in &client.drift {
        text.push_str(&format!(
            "          drift in {}: {}\n",
            crate::output::display_path(&drift.path),
            crate::clients::gateway::describe(drift)
        ));
    }
    text
}

fn file_text(file: &FileStatus) -> String {
    let mut parts = vec![format!("{:<8}", file.role), file.path.clone()];
    if !file.exists {
        parts.push("(missing)".to_string());
        return parts.join(" ");
    }
    if let Some(target) = &file.symlink_target {
        parts.push(format!("-> {target}"));
    }
    let format = match file.format {
        crate::clients::Format::Toml => "toml",
        crate::clients::Format::Json => "json",
        crate::clients::Format::Jsonc => "jsonc",
        crate::clients::Format::JsonComments => "json-comments",
        crate::clients::Format::Dotenv => "dotenv",
    };
    parts.push(format!(
        "({format}{})",
        file.mode.as_ref().map(|mode| format!(", {mode}")).unwrap_or_default()
    ));
    match (&file.parses, &file.error) {
        (Some(false), Some(error)) => match (error.line, error.column) {
            (Some(line), Some(column)) => {
                parts.push(format!("does not parse at {}:{line}:{column}: {}", file.path, error.message));
            }
            _ => parts.push(format!("unreadable: {}", error.message)),
        },
        _ => parts.push("ok".to_string()),
    }
    if file.holds_gateway_token {
        parts.push("[holds the gateway token]".to_string());
    }
    parts.join(" ")
}
