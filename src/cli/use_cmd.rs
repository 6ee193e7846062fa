//! `aigate use gateway|official`: point each client's own config at the gateway and back.
//!
//! Invariants:
//! - Every client file goes through ONE `write::apply` call, so a broken file anywhere
//!   means nothing is written to any client, and a failed write rolls back the others.
//! - What `use gateway` wrote is recorded per key (`gateway::records`) only after the
//!   write succeeded; `use official` deletes the records only after writing the files back.
//! - `use official` refuses (exit 1, nothing written) when an owned key was changed by
//!   hand, unless `--force`.
//! - The gateway token is never printed: diffs and reports mask it.

use std::path::PathBuf;

use serde::Serialize;

use super::Ctx;
use crate::clients::gateway::{self, Conflict, FileRecord, Target, records};
use crate::clients::{self, Client};
use crate::doc::DocError;
use crate::error::{Error, Result};
use crate::output::{display_path, mask_secret};
use crate::session::state::{self, ServeStatus};
use crate::write::{self, Change, Current, Edited, ModePolicy, Outcome};

#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
pub enum UseCommand {
    /// Point the clients' own config at the persistent gateway (`aigate serve`)
    #[command(after_long_help = "Examples:
  aigate use gateway
  aigate use gateway --client codex --model gpt-5
  aigate use gateway --provider deepseek --provider official
  aigate use gateway --dry-run")]
    Gateway(UseGatewayArgs),
    /// Undo exactly what `use gateway` wrote
    #[command(after_long_help = "Examples:
  aigate use official
  aigate use official --client claude --force")]
    Official(UseOfficialArgs),
}

#[derive(Debug, clap::Args)]
pub struct UseGatewayArgs {
    /// Which clients (repeat; default: every client whose files exist)
    #[arg(long, value_enum)]
    pub client: Vec<super::ClientChoice>,
    /// Every client (the same as `--client all`)
    #[arg(long, conflicts_with = "client")]
    pub all: bool,
    /// The gateway's provider chain to record, in order (repeat; `official` is the
    /// pass-through); `aigate serve` uses it when started without `--provider`
    #[arg(long = "provider", value_name = "P")]
    pub providers: Vec<String>,
    /// Also set the client's model
    #[arg(long)]
    pub model: Option<String>,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct UseOfficialArgs {
    /// Which clients (repeat; default: every client in gateway mode)
    #[arg(long, value_enum)]
    pub client: Vec<super::ClientChoice>,
    /// Every client (the same as `--client all`)
    #[arg(long, conflicts_with = "client")]
    pub all: bool,
    /// Undo keys that were changed by hand since `use gateway` wrote them
    #[arg(long)]
    pub force: bool,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `--json` report of either `use` command.
#[derive(Serialize)]
struct UseReport<'a> {
    mode: &'static str,
    /// Nothing was written because of conflicts.
    refused: bool,
    gateway: Option<String>,
    #[serde(flatten)]
    outcome: Option<&'a Outcome>,
    conflicts: Vec<Conflict>,
}

pub(crate) fn run(ctx: &Ctx, command: UseCommand) -> Result<u8> {
    match command {
        UseCommand::Gateway(args) => use_gateway(ctx, &args),
        UseCommand::Official(args) => use_official(ctx, &args),
    }
}

fn use_gateway(ctx: &Ctx, args: &UseGatewayArgs) -> Result<u8> {
    let paths = &ctx.paths;
    let named = !args.client.is_empty() || args.all;
    let mut chosen = super::choose(&super::with_all(&args.client, args.all), || clients::select(&[], paths));
    if chosen.is_empty() {
        return Err(Error::refused("No client found to switch")
            .hint("name one with `--client codex|claude|opencode|gemini|all`"));
    }
    // The gateway's chain as `serve` will take it (an unknown name is refused here): refuse
    // a named chain that cannot serve a chosen client; without `--provider` the registry may
    // still grow, so only warn.
    let names = if args.providers.is_empty() {
        records::recorded_chain(&paths.aigate_home)?
    } else {
        args.providers.clone()
    };
    let chain =
        match crate::providers::resolve_chain(&paths.aigate_home, crate::providers::ChainFor::ANY, &names) {
            Ok(chain) => chain,
            Err(error) if !args.providers.is_empty() => return Err(error),
            // The chain recorded earlier names a provider removed since: `serve` will say so.
            Err(error) => {
                ctx.out.warn(&format!("the recorded gateway chain is stale: {}", error.message));
                Vec::new()
            }
        };
    let mut unserved = Vec::new();
    for client in chosen.iter().filter(|_| !chain.is_empty()) {
        match crate::providers::check_chain(&chain, client.title(), client.api(), client.has_official_login())
        {
            Ok(uses) => crate::session::run::report_chain(&ctx.out, client.title(), &uses),
            Err(error) if !args.providers.is_empty() => return Err(error),
            // A client found on disk, not named, that the gateway cannot serve at all is left
            // as it is (switching it would break a working setup, e.g. Gemini CLI's Google
            // login behind an official-only chain).
            Err(error) if !named => {
                ctx.out.warn(&format!(
                    "{}; {} is left as it is (name it with `--client {}` to switch it anyway)",
                    error.message,
                    client.title(),
                    client.name()
                ));
                unserved.push(*client);
            }
            Err(error) => ctx.out.warn(&format!(
                "{}; add one with `aigate provider add` before starting `aigate serve`",
                error.message
            )),
        }
    }
    chosen.retain(|client| !unserved.contains(client));
    if chosen.is_empty() {
        return Err(Error::refused("No client found that the gateway's chain can serve")
            .hint("add a provider with `aigate provider add`, or name clients with `--client`"));
    }
    let address = match state::serve_status(paths) {
        ServeStatus::Running(info) => info.address,
        ServeStatus::NotRunning | ServeStatus::Stale(_) => {
            ctx.out.warn(&format!(
                "the gateway is not running; clients will expect it on {}",
                gateway::DEFAULT_ADDRESS
            ));
            ctx.out.info("hint: start it with `aigate serve`");
            gateway::DEFAULT_ADDRESS.to_string()
        }
    };
    if chosen.contains(&Client::Claude) {
        let in_settings = fs_err::read(paths.claude_settings()).ok().is_some_and(|bytes| {
            crate::doc::Document::parse(&bytes, crate::clients::Format::Json, &paths.claude_settings())
                .ok()
                .and_then(|document| document.get(&["env", crate::env_vars::ANTHROPIC_API_KEY]))
                .is_some()
        });
        if in_settings || crate::env_vars::var(crate::env_vars::ANTHROPIC_API_KEY).is_some() {
            ctx.out.warn("`ANTHROPIC_API_KEY` is set (environment or settings.json `env`): Claude Code sends it next to the gateway token and asks to approve it");
            ctx.out.info("hint: unset it; in gateway mode Claude Code needs only `ANTHROPIC_AUTH_TOKEN`, which aigate writes");
        }
    }
    if chosen.contains(&Client::Gemini) {
        let base_url = format!("http://{address}");
        let ours = |name: &str| match name {
            crate::env_vars::GOOGLE_GEMINI_BASE_URL => Some(base_url.clone()),
            // The token is compared, never printed.
            crate::env_vars::GEMINI_API_KEY => state::read_serve_token(paths),
            _ => None,
        };
        let cwd = std::env::current_dir().unwrap_or_else(|_| paths.home.clone());
        for shadow in gateway::inspect::gemini_shadows(paths, &cwd, &|name| crate::env_vars::var(name), &ours)
        {
            ctx.out.warn(&format!("gemini: {}", shadow.what));
            ctx.out.info(&format!("hint: {}", shadow.hint));
        }
    }
    let token = if args.dry_run {
        state::read_serve_token(paths).unwrap_or_else(|| "new-gateway-token-not-yet-created".to_string())
    } else {
        state::read_or_create_serve_token(paths)?
    };
    let previous = match records::open_existing(&paths.aigate_home)? {
        Some(connection) => records::load(&connection, &chosen)?,
        None => Vec::new(),
    };

    let mut changes = Vec::new();
    for (client, path) in chosen.iter().flat_map(|client| {
        gateway::gateway_files(*client, paths).into_iter().map(move |path| (*client, path))
    }) {
        let target = Target {
            address: address.clone(),
            token: token.clone(),
            model: args.model.clone(),
            codex_login: client == Client::Codex && paths.codex_auth().exists(),
        };
        let earlier = previous.iter().find(|record| record.client == client && record.path == path).cloned();
        let record_path = path.clone();
        changes.push(Change::with_result(
            client.name(),
            path.clone(),
            gateway::gateway_mode(client, &path),
            move |current: Current<'_>| {
                let (new_bytes, record) = gateway::gateway_bytes(
                    client,
                    &record_path,
                    current.bytes,
                    current.mode,
                    &target,
                    earlier.as_ref(),
                )
                .map_err(|error| doc_error(&error))?;
                Ok(Edited { bytes: Some(new_bytes.into()), result: record })
            },
        ));
    }
    let outcome = write::apply(paths, &ctx.command_line, "use gateway", &changes, args.dry_run)?;
    drop(changes);
    let (outcome, new_records) = outcome.split();

    if args.dry_run {
        print_dry_run(ctx, &outcome, &token);
    } else {
        let mut connection = ctx.db()?;
        let changed: Vec<FileRecord> =
            new_records.into_iter().filter(|record| !previous.contains(record)).collect();
        records::save(&mut connection, &changed).map_err(|error| {
            error
                .context("The client files were switched, but recording what aigate wrote failed")
                .hint("`aigate restore` puts the files back as they were before this command")
        })?;
        if !args.providers.is_empty() {
            records::save_chain(&mut connection, &args.providers)?;
            ctx.out.info(&format!(
                "Recorded the gateway's provider chain: {} (a running `aigate serve` keeps its own until restarted)",
                args.providers.join(" -> ")
            ));
        }
        summarize(ctx, &outcome, "gateway mode", &address);
    }
    if ctx.json() {
        ctx.out.json(&UseReport {
            mode: "gateway",
            refused: false,
            gateway: Some(address),
            outcome: Some(&outcome),
            conflicts: Vec::new(),
        })?;
    }
    Ok(0)
}

fn use_official(ctx: &Ctx, args: &UseOfficialArgs) -> Result<u8> {
    let paths = &ctx.paths;
    let Some(connection) = records::open_existing(&paths.aigate_home)? else {
        ctx.out.info("Nothing to undo: aigate has not switched any client to the gateway");
        return report_nothing(ctx);
    };
    let requested = super::choose(&super::with_all(&args.client, args.all), Vec::new);
    let mut stored = records::load(&connection, &requested)?;
    drop(connection);
    // `use gateway` resolves the OpenCode file anew each time; undo the recorded one.
    stored.retain(|record| !record.edits.is_empty());
    if stored.is_empty() {
        ctx.out.info("Nothing to undo: no chosen client is in gateway mode");
        return report_nothing(ctx);
    }

    // First pass: every conflict, on the files as they are now.
    let mut conflicts = Vec::new();
    for record in &stored {
        let state = crate::fsx::read_state(&record.path)?;
        let (_, found) = gateway::official_bytes(state.bytes.as_deref(), record, false)
            .map_err(|error| doc_error(&error))?;
        conflicts.extend(found);
    }
    if !conflicts.is_empty() {
        for conflict in &conflicts {
            ctx.out.warn(&describe_conflict(conflict));
        }
        if !args.force {
            let count = conflicts.len();
            if ctx.json() {
                ctx.out.json(&UseReport {
                    mode: "official",
                    refused: true,
                    gateway: None,
                    outcome: None,
                    conflicts,
                })?;
            }
            return Err(Error::refused(format!(
                "{count} key{} aigate owns {} changed by hand since `aigate use gateway`; nothing was written",
                if count == 1 { "" } else { "s" },
                if count == 1 { "was" } else { "were" },
            ))
            .hint("check those keys; `aigate use official --force` puts the values from before `use gateway` back anyway, replacing the hand edits"));
        }
    }

    let mut changes = Vec::new();
    for record in &stored {
        let state = crate::fsx::read_state(&record.path)?;
        let mode = match (record.file_existed, record.file_mode, state.mode) {
            (true, Some(before), Some(0o600)) if before != 0o600 => ModePolicy::Exactly(before),
            _ => ModePolicy::Keep,
        };
        let force = args.force;
        changes.push(Change::new(record.client.name(), record.path.clone(), mode, move |bytes| {
            let (new_bytes, _) =
                gateway::official_bytes(bytes, record, force).map_err(|error| doc_error(&error))?;
            Ok(new_bytes)
        }));
    }
    let outcome = write::apply(paths, &ctx.command_line, "use official", &changes, args.dry_run)?;
    drop(changes);
    if args.dry_run {
        let token = state::read_serve_token(paths).unwrap_or_default();
        print_dry_run(ctx, &outcome, &token);
    } else {
        let mut connection = ctx.db()?;
        let files: Vec<(Client, PathBuf)> =
            stored.iter().map(|record| (record.client, record.path.clone())).collect();
        records::delete(&mut connection, &files)?;
        summarize(ctx, &outcome, "official mode", "");
    }
    if ctx.json() {
        ctx.out.json(&UseReport {
            mode: "official",
            refused: false,
            gateway: None,
            outcome: Some(&outcome),
            conflicts,
        })?;
    }
    Ok(0)
}

fn report_nothing(ctx: &Ctx) -> Result<u8> {
    if ctx.json() {
        ctx.out.json(&UseReport {
            mode: "official",
            refused: false,
            gateway: None,
            outcome: None,
            conflicts: Vec::new(),
        })?;
    }
    Ok(0)
}

/// A refusal that names `file:line:column`, and says nothing was written anywhere.
/// A refusal that names `file:line:column` (one format everywhere: [`DocError`]'s own).
pub(crate) fn doc_error(error: &DocError) -> Error {
    Error::from(error.clone())
}

fn print_dry_run(ctx: &Ctx, outcome: &Outcome, token: &str) {
    let mut diff = outcome.diff();
    if !token.is_empty() {
        diff = diff.replace(token, &mask_secret(token));
    }
    if !ctx.json() {
        ctx.out.data(&diff);
    }
    if diff.is_empty() {
        ctx.out.info("Nothing to change (dry run)");
    } else {
        ctx.out.info("Dry run: nothing was written");
    }
}

fn summarize(ctx: &Ctx, outcome: &Outcome, mode: &str, address: &str) {
    let changed: Vec<String> = outcome
        .files
        .iter()
        .filter(|file| file.action != "unchanged")
        .map(|file| format!("{} ({} {})", file.client, file.action, file.path))
        .collect();
    if changed.is_empty() {
        ctx.out.info(&format!("Already in {mode}; nothing changed"));
        return;
    }
    let at = if address.is_empty() { String::new() } else { format!(" at http://{address}") };
    ctx.out.info(&format!("Switched to {mode}{at}: {}", changed.join(", ")));
    if let Some(txn) = &outcome.txn {
        ctx.out.verbose(&format!("snapshot transaction {txn}; undo with `aigate restore`"));
    }
}

fn describe_conflict(conflict: &Conflict) -> String {
    format!("conflict in `{}`: {}", display_path(&conflict.path), gateway::describe(conflict))
}
