//! `aigate mcp add|list|remove|enable|disable|sync`: MCP servers in every client's own format.
//!
//! Invariants:
//! - Every file change goes through one [`write::apply`] call per command, so a command
//!   that touches several clients changes all of them or none.
//! - A server a chosen client cannot take (its name, SSE in Codex, a `cwd` outside Codex)
//!   is refused for every client before anything is written.
//! - `add` then `remove`, and `disable` then `enable`, give back the files byte for byte:
//!   aigate records the reverse patch of its own edit and uses it when it still applies.
//! - `list` only reads files; it never starts a server. Env and header values are masked.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ctx;
use crate::clients::Format;
use crate::clients::{self, Client};
use crate::error::{Error, Result};
use crate::output::display_path;
use crate::skills_mcp::json_fast::{self, FastAdd};
use crate::skills_mcp::records::{self, Op, Parked};
use crate::skills_mcp::{self, McpFile, McpServer, Scope, ServerView, Transport, edit, patch};
use crate::write::{self, Change, ModePolicy, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum McpCommand {
    /// Add an MCP server to each chosen client in that client's own format
    #[command(after_long_help = "Examples:
  aigate mcp add fs -- npx -y @modelcontextprotocol/server-filesystem ~/src
  aigate mcp add docs --url https://example.com/mcp --header 'Authorization: Bearer ${DOCS_TOKEN}'
  aigate mcp add db --client codex --scope project --env PGHOST=localhost -- pg-mcp")]
    Add(McpAddArgs),
    /// One row per server: which clients have it, scope, enabled, transport
    #[command(after_long_help = "Examples:
  aigate mcp list
  aigate mcp list --client codex --json")]
    List {
        #[arg(long, value_enum)]
        client: Vec<Client>,
    },
    /// Remove a server from the chosen clients
    #[command(after_long_help = "Examples:
  aigate mcp remove fs
  aigate mcp remove db --client codex --scope project --dry-run")]
    Remove(McpNameArgs),
    /// Enable a server in the chosen clients
    #[command(after_long_help = "Examples:
  aigate mcp enable fs")]
    Enable(McpNameArgs),
    /// Disable a server in the chosen clients (Claude Code: parked in aigate's records)
    #[command(after_long_help = "Examples:
  aigate mcp disable fs --client claude")]
    Disable(McpNameArgs),
    /// Copy one client's servers to the others
    #[command(after_long_help = "Examples:
  aigate mcp sync --from claude
  aigate mcp sync --from codex --to opencode --dry-run")]
    Sync(McpSyncArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Remote {
    Http,
    Sse,
}

#[derive(Debug, clap::Args)]
pub struct McpAddArgs {
    /// The server's name
    pub name: String,
    /// Add to these clients (repeat; default: every client whose files exist)
    #[arg(long, value_enum, conflicts_with = "all")]
    pub client: Vec<Client>,
    /// Add to all three clients
    #[arg(long)]
    pub all: bool,
    /// user: the client's user config; project: files in the current directory;
    /// local: Claude Code's per-project entry in `.claude.json`
    #[arg(long, value_enum, default_value = "user")]
    pub scope: Scope,
    /// An environment variable for a stdio server (repeat)
    #[arg(long, value_name = "K=V")]
    pub env: Vec<String>,
    /// An HTTP header for a remote server (repeat)
    #[arg(long, value_name = "'K: V'")]
    pub header: Vec<String>,
    /// The URL of a remote server
    #[arg(long, conflicts_with = "command")]
    pub url: Option<String>,
    /// The remote transport
    #[arg(long, value_enum, requires = "url")]
    pub transport: Option<Remote>,
    /// Replace a server of the same name
    #[arg(long)]
    pub force: bool,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The command of a stdio server and its arguments
    #[arg(last = true, value_name = "COMMAND ARGS")]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct McpNameArgs {
    pub name: String,
    /// Only these clients (repeat; default: every client whose files exist)
    #[arg(long, value_enum)]
    pub client: Vec<Client>,
    /// Only this scope (default: the first of user, local, project that has the server)
    #[arg(long, value_enum)]
    pub scope: Option<Scope>,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct McpSyncArgs {
    /// The client to copy from
    #[arg(long, value_enum)]
    pub from: Client,
    /// The clients to copy to (repeat; default: every other detected client)
    #[arg(long, value_enum)]
    pub to: Vec<Client>,
    /// The scope to copy from and to
    #[arg(long, value_enum, default_value = "user")]
    pub scope: Scope,
    /// Overwrite servers whose definitions differ
    #[arg(long)]
    pub force: bool,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// What one edit closure saw and made: (old bytes, new bytes, extra), for undo records.
type Seen<T> = RefCell<Option<(Option<Vec<u8>>, Vec<u8>, T)>>;

/// The `--json` report of a mutating command.
#[derive(Serialize)]
struct ChangeReport<'a> {
    action: &'a str,
    name: Option<&'a str>,
    dry_run: bool,
    txn: Option<String>,
    files: Vec<write::FileOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

pub(crate) fn run(ctx: &Ctx, command: McpCommand) -> Result<u8> {
    match command {
        McpCommand::Add(args) => add(ctx, &args),
        McpCommand::List { client } => list(ctx, &client),
        McpCommand::Remove(args) => remove(ctx, &args),
        McpCommand::Enable(args) => toggle(ctx, &args, true),
        McpCommand::Disable(args) => toggle(ctx, &args, false),
        McpCommand::Sync(args) => sync(ctx, &args),
    }
}

// ------------------------------------------------------------------------------- add

fn server_from_args(args: &McpAddArgs) -> Result<McpServer> {
    let refuse = |message: String| Error::refused(message);
    let transport = match (&args.url, args.command.split_first()) {
        (Some(url), None) => {
            if !args.env.is_empty() {
                return Err(refuse("`--env` is for stdio servers; a remote server takes `--header`".into()));
            }
            let headers = skills_mcp::server::parse_headers(&args.header).map_err(refuse)?;
            match args.transport {
                Some(Remote::Sse) => Transport::Sse { url: url.clone(), headers },
                Some(Remote::Http) | None => Transport::Http { url: url.clone(), headers },
            }
        }
        (None, Some((command, rest))) => {
            if !args.header.is_empty() {
                return Err(refuse(
                    "`--header` is for remote servers (`--url`); a stdio server takes `--env`".into(),
                ));
            }
            Transport::Stdio {
                command: command.clone(),
                args: rest.to_vec(),
                env: skills_mcp::server::parse_env(&args.env).map_err(refuse)?,
                cwd: None,
            }
        }
        (Some(_), Some(_)) => {
            return Err(refuse("give either `--url URL` or `-- COMMAND ARGS`, not both".into()));
        }
        (None, None) => {
            return Err(refuse(format!("`{}` needs a transport", args.name))
                .hint(format!("`aigate mcp add {} -- COMMAND ARGS...` or `--url URL`", args.name)));
        }
    };
    Ok(McpServer::new(args.name.clone(), transport))
}

fn add(ctx: &Ctx, args: &McpAddArgs) -> Result<u8> {
    let server = server_from_args(args)?;
    let chosen = if args.all { Client::ALL.to_vec() } else { clients::select(&args.client, &ctx.paths) };
    if chosen.is_empty() {
        return Err(Error::refused("No client files found to add the server to")
            .hint("name the clients with `--client codex|claude|opencode`, or use `--all`"));
    }
    let cwd = current_dir()?;
    let mut files = Vec::new();
    let mut reasons = Vec::new();
    for client in chosen {
        match skills_mcp::mcp_file(client, args.scope, &ctx.paths, &cwd) {
            Ok(file) => files.push(file),
            Err(reason) => reasons.push(reason),
        }
        if let Err(reason) = skills_mcp::check_name(client, &server.name) {
            reasons.push(reason);
        }
        if let Err(reason) = skills_mcp::to_entry(client, &server, None) {
            reasons.push(reason);
        }
    }
    if !reasons.is_empty() {
        let mut error = Error::refused(format!("Cannot add `{}`", server.name));
        for reason in &reasons {
            error = error.cause(reason);
        }
        return Err(error.hint("leave that client out with `--client`, or change the server"));
    }
    let connection = ctx.db()?;
    for file in files.iter().filter(|file| file.client == Client::Claude) {
        if !args.force && records::parked(&connection, file, &server.name)?.is_some() {
            return Err(conflict(&server.name, file, " (disabled by aigate)"));
        }
    }
    // What each edit saw and made, for the undo record: (old bytes, new bytes, existed).
    let seen: Vec<Seen<Option<std::ops::Range<usize>>>> = files.iter().map(|_| RefCell::new(None)).collect();
    let changes: Vec<Change<'_>> = files
        .iter()
        .zip(&seen)
        .map(|(file, cell)| {
            let server = &server;
            Change::new(file.client.name(), file.path.clone(), ModePolicy::Keep, move |old: Option<&[u8]>| {
                // A huge `.claude.json` takes the splice fast path when it can.
                if let (Format::Json, Some(bytes)) = (file.format, old) {
                    let entry = skills_mcp::to_entry(file.client, server, None).map_err(Error::refused)?;
                    match json_fast::try_add(bytes, &file.container, &server.name, &entry) {
                        FastAdd::Added(new, inserted) => {
                            *cell.borrow_mut() = Some((Some(bytes.to_vec()), new.clone(), Some(inserted)));
                            return Ok(Some(new));
                        }
                        FastAdd::Exists if !args.force => return Err(conflict(&server.name, file, "")),
                        FastAdd::Exists | FastAdd::Unsupported => {}
                    }
                }
                let mut document = edit::load(old, file)?;
                let existing = edit::entry(&document, file, &server.name);
                if existing.is_some() && !args.force {
                    return Err(conflict(&server.name, file, ""));
                }
                let entry =
                    skills_mcp::to_entry(file.client, server, existing.as_ref()).map_err(Error::refused)?;
                edit::upsert_in(&mut document, file, &server.name, &entry)?;
                let new = document.to_bytes();
                if existing.is_none() {
                    *cell.borrow_mut() = Some((old.map(<[u8]>::to_vec), new.clone(), None));
                }
                Ok(Some(new))
            })
        })
        .collect();
    let outcome = write::apply(
        &ctx.paths,
        &ctx.command_line,
        &format!("mcp add {}", server.name),
        &changes,
        args.dry_run,
    )?;
    drop(changes);
    if !args.dry_run {
        for (file, cell) in files.iter().zip(&seen) {
            // Only a server that was not there before gets an undo record (reversing a
            // replacement would bring the old definition back).
            if let Some((old, new, inserted)) = cell.take() {
                if old.as_deref() == Some(new.as_slice()) {
                    continue;
                }
                records::forget_undo(&connection, file, &server.name, None)?;
                let undo = match (&old, inserted) {
                    (Some(old), Some(inserted)) => patch::record_insert(old, &new, inserted),
                    _ => patch::record(old.as_deref(), Some(&new)),
                };
                if let Some(undo) = undo {
                    records::save_undo(&connection, file, &server.name, Op::Add, &undo)?;
                }
                if file.client == Client::Claude {
                    records::unpark(&connection, file, &server.name)?;
                }
            }
        }
    }
    report(ctx, "add", Some(&server.name), &outcome, Vec::new(), "Added", "already there, nothing to change")
}

fn conflict(name: &str, file: &McpFile, detail: &str) -> Error {
    Error::refused(format!(
        "`{name}` already exists in {} (`{}`){detail}",
        file.client,
        display_path(&file.path)
    ))
    .hint(format!(
        "replace it with `--force`, or remove it first: `aigate mcp remove {name} --client {}`",
        file.client
    ))
}

// ---------------------------------------------------------------------------- remove

/// Where a server was found for `remove`/`enable`/`disable`.
struct Found {
    file: McpFile,
    entry: Option<serde_json::Value>,
    parked: Option<Parked>,
}

/// For each chosen client, the first scope (or the given one) where `name` is configured
/// or parked.
fn find(ctx: &Ctx, args: &McpNameArgs, connection: &rusqlite::Connection) -> Result<Vec<Found>> {
    let cwd = current_dir()?;
    let mut found = Vec::new();
    for client in clients::select(&args.client, &ctx.paths) {
        let scopes: Vec<Scope> = match args.scope {
            Some(scope) => vec![scope],
            None => skills_mcp::scopes(client).to_vec(),
        };
        for scope in scopes {
            let Ok(file) = skills_mcp::mcp_file(client, scope, &ctx.paths, &cwd) else { continue };
            let bytes = crate::fsx::read_state(&file.path)?.bytes;
            let entry = match &bytes {
                Some(bytes) => edit::entry(&edit::load(Some(bytes), &file)?, &file, &args.name),
                None => None,
            };
            let parked =
                if client == Client::Claude { records::parked(connection, &file, &args.name)? } else { None };
            if entry.is_some() || parked.is_some() {
                found.push(Found { file, entry, parked });
                break;
            }
        }
    }
    if found.is_empty() {
        return Err(Error::refused(format!("No MCP server named `{}`", args.name))
            .hint("see what there is with `aigate mcp list`"));
    }
    Ok(found)
}

fn remove(ctx: &Ctx, args: &McpNameArgs) -> Result<u8> {
    let connection = ctx.db()?;
    let found = find(ctx, args, &connection)?;
    let undos: Vec<Option<patch::Undo>> = found
        .iter()
        .map(|item| records::undo(&connection, &item.file, &args.name, Op::Add))
        .collect::<Result<_>>()?;
    let changes: Vec<Change<'_>> = found
        .iter()
        .zip(&undos)
        .filter(|(item, _)| item.entry.is_some())
        .map(|(item, undo)| {
            let file = &item.file;
            let name = args.name.as_str();
            Change::new(file.client.name(), file.path.clone(), ModePolicy::Keep, move |old: Option<&[u8]>| {
                let path = file.entry_path(name);
                edit::prefer_reverse(
                    undo.as_ref(),
                    old,
                    file,
                    name,
                    |value| edit::remove_at(value, &path),
                    || edit::remove(old, file, name),
                )
            })
        })
        .collect();
    let outcome = write::apply(
        &ctx.paths,
        &ctx.command_line,
        &format!("mcp remove {}", args.name),
        &changes,
        args.dry_run,
    )?;
    drop(changes);
    let mut notes = Vec::new();
    for item in &found {
        if item.parked.is_some() {
            notes.push(format!("{}: dropped the disabled copy aigate kept", item.file.client));
            if !args.dry_run {
                records::unpark(&connection, &item.file, &args.name)?;
            }
        }
        if !args.dry_run {
            records::forget_undo(&connection, &item.file, &args.name, None)?;
        }
    }
    report(ctx, "remove", Some(&args.name), &outcome, notes, "Removed", "nothing to change")
}

// --------------------------------------------------------------------- enable/disable

fn toggle(ctx: &Ctx, args: &McpNameArgs, enable: bool) -> Result<u8> {
    let connection = ctx.db()?;
    let found = find(ctx, args, &connection)?;
    let name = args.name.as_str();
    let mut notes = Vec::new();
    let mut chosen: Vec<(&Found, Option<patch::Undo>)> = Vec::new();
    for item in &found {
        let client = item.file.client;
        let enabled = match client {
            Client::Claude => item.entry.is_some(),
            Client::Codex | Client::OpenCode => item
                .entry
                .as_ref()
                .and_then(|entry| entry.get("enabled"))
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(true),
        };
        if enabled == enable {
            notes.push(format!("{client}: already {}", if enable { "enabled" } else { "disabled" }));
            continue;
        }
        if client == Client::Claude && enable && item.entry.is_some() {
            notes.push(format!("{client}: `{name}` is in the file again; the disabled copy is kept"));
            continue;
        }
        let undo = match (client, enable) {
            (Client::Claude, true) => item.parked.as_ref().and_then(|parked| parked.undo.clone()),
            (Client::Codex | Client::OpenCode, true) => {
                records::undo(&connection, &item.file, name, Op::Disable)?
            }
            (_, false) => None,
        };
        chosen.push((item, undo));
    }
    let seen: Vec<Seen<()>> = chosen.iter().map(|_| RefCell::new(None)).collect();
    let changes: Vec<Change<'_>> = chosen
        .iter()
        .zip(&seen)
        .map(|((item, undo), cell)| {
            let file = &item.file;
            let parked_entry = item.parked.as_ref().map(|parked| parked.entry.clone());
            Change::new(file.client.name(), file.path.clone(), ModePolicy::Keep, move |old: Option<&[u8]>| {
                let path = file.entry_path(name);
                let expect = |value: &mut serde_json::Value| match (file.client, enable) {
                    (Client::Claude, false) => edit::remove_at(value, &path),
                    (Client::Claude, true) => {
                        if let Some(entry) = &parked_entry {
                            edit::set_at(value, &path, entry.clone());
                        }
                    }
                    (Client::Codex | Client::OpenCode, _) => {
                        let mut enabled_path = path.clone();
                        enabled_path.push("enabled".to_string());
                        edit::set_at(value, &enabled_path, serde_json::Value::Bool(enable));
                    }
                };
                let semantic = || match (file.client, enable) {
                    (Client::Claude, false) => edit::remove(old, file, name),
                    (Client::Claude, true) => {
                        let entry = parked_entry
                            .as_ref()
                            .ok_or_else(|| Error::internal("the parked entry is gone"))?;
                        edit::upsert(old, file, name, entry)
                    }
                    (Client::Codex | Client::OpenCode, _) => edit::set_enabled(old, file, name, enable),
                };
                let new = edit::prefer_reverse(undo.as_ref(), old, file, name, expect, semantic)?;
                if let Some(new) = &new {
                    *cell.borrow_mut() = Some((old.map(<[u8]>::to_vec), new.clone(), ()));
                }
                Ok(new)
            })
        })
        .collect();
    // Claude Code: park the entry before it leaves the file, so a crash cannot lose it.
    if !enable && !args.dry_run {
        for (item, _) in &chosen {
            if let (Client::Claude, Some(entry)) = (item.file.client, &item.entry) {
                records::park(&connection, &item.file, name, &Parked { entry: entry.clone(), undo: None })?;
            }
        }
    }
    let verb = if enable { "enable" } else { "disable" };
    let outcome = match write::apply(
        &ctx.paths,
        &ctx.command_line,
        &format!("mcp {verb} {name}"),
        &changes,
        args.dry_run,
    ) {
        Ok(outcome) => outcome,
        Err(error) => {
            if !enable && !args.dry_run {
                for (item, _) in &chosen {
                    if item.file.client == Client::Claude {
                        records::unpark(&connection, &item.file, name)?;
                    }
                }
            }
            return Err(error);
        }
    };
    drop(changes);
    if !args.dry_run {
        for ((item, _), cell) in chosen.iter().zip(&seen) {
            let Some((old, new, ())) = cell.take() else { continue };
            let undo = patch::record(old.as_deref(), Some(&new));
            match (item.file.client, enable) {
                (Client::Claude, false) => {
                    if let Some(entry) = &item.entry {
                        records::park(&connection, &item.file, name, &Parked { entry: entry.clone(), undo })?;
                    }
                }
                (Client::Claude, true) => records::unpark(&connection, &item.file, name)?,
                (Client::Codex | Client::OpenCode, false) => {
                    if let Some(undo) = undo {
                        records::save_undo(&connection, &item.file, name, Op::Disable, &undo)?;
                    }
                }
                (Client::Codex | Client::OpenCode, true) => {
                    records::forget_undo(&connection, &item.file, name, Some(Op::Disable))?;
                }
            }
        }
    }
    let done = if enable { "Enabled" } else { "Disabled" };
    report(ctx, verb, Some(name), &outcome, notes, done, "nothing to change")
}

// ------------------------------------------------------------------------------ list

#[derive(Serialize)]
struct ListReport {
    servers: Vec<ListRow>,
}

#[derive(Serialize)]
struct ListRow {
    name: String,
    /// The definitions differ between the places this server is configured.
    differs: bool,
    clients: Vec<ListEntry>,
}

#[derive(Serialize, Clone)]
struct ListEntry {
    client: Client,
    present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    server: Option<ServerView>,
    /// Why the entry could not be read as a server (a toggle-only OpenCode entry, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(skip)]
    canonical: Option<McpServer>,
}

/// Every configured server of `client`, in every scope, with parked Claude entries.
fn configured(
    ctx: &Ctx,
    client: Client,
    connection: &rusqlite::Connection,
    cwd: &Path,
) -> Result<Vec<(String, ListEntry)>> {
    let mut out = Vec::new();
    for &scope in skills_mcp::scopes(client) {
        let Ok(file) = skills_mcp::mcp_file(client, scope, &ctx.paths, cwd) else { continue };
        let bytes = crate::fsx::read_state(&file.path)?.bytes;
        let mut entries = match &bytes {
            Some(bytes) => match edit::load(Some(bytes), &file) {
                Ok(document) => edit::entries(&document, &file)
                    .into_iter()
                    .map(|(name, entry)| (name, entry, true))
                    .collect(),
                Err(error) => {
                    ctx.out.warn(&error.render().lines().collect::<Vec<_>>().join(" "));
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        if client == Client::Claude {
            entries.extend(
                records::parked_in(connection, &file)?.into_iter().map(|(name, entry)| (name, entry, false)),
            );
        }
        for (name, entry, in_file) in entries {
            let (canonical, note) = match skills_mcp::from_entry(client, &name, &entry) {
                Ok(server) => (Some(server), None),
                Err(reason) => (None, Some(reason)),
            };
            let enabled = match (&canonical, in_file) {
                (_, false) => false,
                (Some(server), true) => server.enabled,
                (None, true) => entry.get("enabled").and_then(serde_json::Value::as_bool).unwrap_or(true),
            };
            out.push((
                name,
                ListEntry {
                    client,
                    present: true,
                    scope: Some(scope),
                    file: Some(display_path(&file.path)),
                    enabled: Some(enabled),
                    server: canonical.as_ref().map(McpServer::view),
                    note,
                    canonical,
                },
            ));
        }
    }
    Ok(out)
}

fn list(ctx: &Ctx, requested: &[Client]) -> Result<u8> {
    let chosen = clients::select(requested, &ctx.paths);
    let connection = ctx.db()?;
    let cwd = current_dir()?;
    let mut by_name: BTreeMap<String, Vec<ListEntry>> = BTreeMap::new();
    for &client in &chosen {
        for (name, entry) in configured(ctx, client, &connection, &cwd)? {
            by_name.entry(name).or_default().push(entry);
        }
    }
    let servers: Vec<ListRow> = by_name
        .into_iter()
        .map(|(name, mut entries)| {
            let definitions: Vec<&McpServer> =
                entries.iter().filter_map(|entry| entry.canonical.as_ref()).collect();
            let differs = definitions.windows(2).any(|pair| !pair[0].same_definition(pair[1]));
            for &client in &chosen {
                if !entries.iter().any(|entry| entry.client == client) {
                    entries.push(ListEntry {
                        client,
                        present: false,
                        scope: None,
                        file: None,
                        enabled: None,
                        server: None,
                        note: None,
                        canonical: None,
                    });
                }
            }
            entries.sort_by_key(|entry| (entry.client, entry.scope));
            ListRow { name, differs, clients: entries }
        })
        .collect();
    if ctx.json() {
        ctx.out.json(&ListReport { servers })?;
        return Ok(0);
    }
    if servers.is_empty() {
        ctx.out.info("No MCP servers configured; add one with `aigate mcp add NAME -- COMMAND`");
        return Ok(0);
    }
    let mut text = format!(
        "{:<20}  {:<9}  {:<8}  {:<8}  {:<9}  {}\n",
        "NAME", "CLIENT", "SCOPE", "ENABLED", "TRANSPORT", "TARGET"
    );
    for row in &servers {
        for (index, entry) in row.clients.iter().enumerate() {
            let name = if index == 0 { row.name.as_str() } else { "" };
            if !entry.present {
                text.push_str(&format!("{name:<20}  {:<9}  {:<8}\n", entry.client.name(), "-"));
                continue;
            }
            let (transport, target) = match &entry.server {
                Some(view) => (
                    view.transport,
                    match (&view.command, &view.url) {
                        (Some(command), _) => std::iter::once(command.as_str())
                            .chain(view.args.iter().map(String::as_str))
                            .collect::<Vec<_>>()
                            .join(" "),
                        (None, Some(url)) => url.clone(),
                        (None, None) => String::new(),
                    },
                ),
                None => ("?", entry.note.clone().unwrap_or_default()),
            };
            text.push_str(&format!(
                "{name:<20}  {:<9}  {:<8}  {:<8}  {:<9}  {target}\n",
                entry.client.name(),
                entry.scope.map_or("-", Scope::name),
                match entry.enabled {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                },
                transport,
            ));
        }
        if row.differs {
            text.push_str(&format!(
                "{:<20}  ^ the definitions of `{}` differ between clients\n",
                "", row.name
            ));
        }
    }
    ctx.out.data(&text);
    Ok(0)
}

// ------------------------------------------------------------------------------ sync

#[derive(Serialize)]
struct SyncItem {
    client: Client,
    name: String,
    /// `added`, `identical`, `differs`, `replaced`, `skipped`.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

fn sync(ctx: &Ctx, args: &McpSyncArgs) -> Result<u8> {
    let cwd = current_dir()?;
    let connection = ctx.db()?;
    let source_file =
        skills_mcp::mcp_file(args.from, args.scope, &ctx.paths, &cwd).map_err(Error::refused)?;
    let source_bytes = crate::fsx::read_state(&source_file.path)?.bytes;
    let source_document = edit::load(source_bytes.as_deref(), &source_file)?;
    let mut servers = Vec::new();
    let mut items = Vec::new();
    for (name, entry) in edit::entries(&source_document, &source_file) {
        match skills_mcp::from_entry(args.from, &name, &entry) {
            Ok(server) => servers.push(server),
            Err(reason) => {
                items.push(SyncItem { client: args.from, name, result: "skipped", reason: Some(reason) });
            }
        }
    }
    let targets: Vec<Client> = if args.to.is_empty() {
        clients::select(&[], &ctx.paths)
    } else {
        clients::select(&args.to, &ctx.paths)
    }
    .into_iter()
    .filter(|client| *client != args.from)
    .collect();
    if targets.is_empty() {
        return Err(Error::refused("No client to sync to").hint("name one with `--to codex|claude|opencode`"));
    }
    let mut plans: Vec<(McpFile, Vec<McpServer>)> = Vec::new();
    for target in targets {
        let file = skills_mcp::mcp_file(target, args.scope, &ctx.paths, &cwd).map_err(Error::refused)?;
        let bytes = crate::fsx::read_state(&file.path)?.bytes;
        let document = edit::load(bytes.as_deref(), &file)?;
        let mut to_write = Vec::new();
        for server in &servers {
            let item = |result, reason: Option<String>| SyncItem {
                client: target,
                name: server.name.clone(),
                result,
                reason,
            };
            if let Err(reason) = skills_mcp::check_name(target, &server.name)
                .and_then(|()| skills_mcp::to_entry(target, server, None).map(drop))
            {
                items.push(item("skipped", Some(reason)));
                continue;
            }
            if target == Client::Claude && !server.enabled {
                items
                    .push(item("skipped", Some(format!("disabled in {}; enable it there first", args.from))));
                continue;
            }
            let in_file = edit::entry(&document, &file, &server.name);
            let existing = in_file.clone().or(if target == Client::Claude {
                records::parked(&connection, &file, &server.name)?.map(|parked| parked.entry)
            } else {
                None
            });
            match existing {
                None => {
                    items.push(item("added", None));
                    to_write.push(server.clone());
                }
                Some(entry) => {
                    let same = skills_mcp::from_entry(target, &server.name, &entry)
                        .is_ok_and(|current| current.same_definition(server));
                    if same {
                        items.push(item("identical", None));
                    } else if args.force && in_file.is_some() {
                        items.push(item("replaced", None));
                        to_write.push(server.clone());
                    } else {
                        items.push(item(
                            "differs",
                            Some(format!(
                                "left alone; `--force` replaces it with {}'s definition",
                                args.from
                            )),
                        ));
                    }
                }
            }
        }
        if !to_write.is_empty() {
            plans.push((file, to_write));
        }
    }
    let changes: Vec<Change<'_>> = plans
        .iter()
        .map(|(file, to_write)| {
            Change::new(file.client.name(), file.path.clone(), ModePolicy::Keep, move |old: Option<&[u8]>| {
                let mut document = edit::load(old, file)?;
                for server in to_write {
                    let existing = edit::entry(&document, file, &server.name);
                    let entry = skills_mcp::to_entry(file.client, server, existing.as_ref())
                        .map_err(Error::refused)?;
                    edit::upsert_in(&mut document, file, &server.name, &entry)?;
                }
                Ok(Some(document.to_bytes()))
            })
        })
        .collect();
    let outcome = write::apply(
        &ctx.paths,
        &ctx.command_line,
        &format!("mcp sync --from {}", args.from),
        &changes,
        args.dry_run,
    )?;
    drop(changes);
    for item in &items {
        let reason = item.reason.as_deref().map(|reason| format!(": {reason}")).unwrap_or_default();
        match item.result {
            "differs" | "skipped" => {
                ctx.out.warn(&format!("{} `{}` {}{reason}", item.client, item.name, item.result));
            }
            _ => ctx.out.verbose(&format!("{} `{}` {}{reason}", item.client, item.name, item.result)),
        }
    }
    if ctx.json() {
        #[derive(Serialize)]
        struct SyncReport<'a> {
            from: Client,
            dry_run: bool,
            txn: Option<String>,
            items: &'a [SyncItem],
            files: &'a [write::FileOutcome],
            #[serde(skip_serializing_if = "Option::is_none")]
            diff: Option<String>,
        }
        ctx.out.json(&SyncReport {
            from: args.from,
            dry_run: args.dry_run,
            txn: outcome.txn.clone(),
            items: &items,
            files: &outcome.files,
            diff: args.dry_run.then(|| outcome.diff()),
        })?;
    } else if args.dry_run {
        ctx.out.data(&outcome.diff());
    }
    let count = |result: &str| items.iter().filter(|item| item.result == result).count();
    ctx.out.info(&format!(
        "Synced from {}: {} added, {} replaced, {} identical, {} differ, {} skipped{}",
        args.from,
        count("added"),
        count("replaced"),
        count("identical"),
        count("differs"),
        count("skipped"),
        if args.dry_run { " (dry run, nothing written)" } else { "" }
    ));
    Ok(0)
}

// --------------------------------------------------------------------------- helpers

fn report(
    ctx: &Ctx,
    action: &str,
    name: Option<&str>,
    outcome: &Outcome,
    notes: Vec<String>,
    done: &str,
    nothing: &str,
) -> Result<u8> {
    for note in &notes {
        ctx.out.info(note);
    }
    if ctx.json() {
        ctx.out.json(&ChangeReport {
            action,
            name,
            dry_run: outcome.dry_run,
            txn: outcome.txn.clone(),
            files: outcome.files.clone(),
            diff: outcome.dry_run.then(|| outcome.diff()),
            notes,
        })?;
    } else if outcome.dry_run {
        ctx.out.data(&outcome.diff());
    }
    let changed: Vec<String> = outcome
        .files
        .iter()
        .filter(|file| file.action != "unchanged")
        .map(|file| format!("{} (`{}`)", file.client, file.path))
        .collect();
    let subject = name.map(|name| format!(" `{name}`")).unwrap_or_default();
    if changed.is_empty() {
        ctx.out.info(&format!("{}{subject}: {nothing}", capitalise(action)));
    } else if outcome.dry_run {
        ctx.out
            .info(&format!("Would {action}{subject} in {} (dry run, nothing written)", changed.join(", ")));
    } else {
        ctx.out.info(&format!("{done}{subject} in {} (undo with `aigate restore`)", changed.join(", ")));
    }
    Ok(0)
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn current_dir() -> Result<PathBuf> {
    std::env::current_dir().map_err(|error| Error::internal("Cannot read the current directory").cause(error))
}
