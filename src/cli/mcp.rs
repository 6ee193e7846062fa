//! `aigate mcp add|list|remove|enable|disable|sync`: argv to [`crate::skills_mcp::ops`],
//! and the reports it prints.

use serde::Serialize;

use super::Ctx;
use crate::clients::Client;
use crate::error::Result;
use crate::skills_mcp::Scope;
use crate::skills_mcp::ops::{self, AddRequest, Changed, Env, Listing, NameRequest, SyncRequest, Synced};
use crate::write;

#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
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
        client: Vec<super::ClientChoice>,
        /// Every client (the same as `--client all`)
        #[arg(long, conflicts_with = "client")]
        all: bool,
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
    /// Disable a server in the chosen clients (Claude Code: parked in aigate's records;
    /// Gemini CLI: its name in `mcp.excluded`)
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
    pub client: Vec<super::ClientChoice>,
    /// Add to every client
    #[arg(long)]
    pub all: bool,
    /// user: the client's user config; project: files in the current directory
    /// (Gemini CLI: `.gemini/settings.json`);
    /// local: Claude Code's per-project entry in `.claude.json`
    #[arg(long, value_enum, default_value = "user")]
    pub scope: super::ScopeChoice,
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
    pub client: Vec<super::ClientChoice>,
    /// Every client (the same as `--client all`)
    #[arg(long, conflicts_with = "client")]
    pub all: bool,
    /// Only this scope (default: the first of user, local, project that has the server)
    #[arg(long, value_enum)]
    pub scope: Option<super::ScopeChoice>,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct McpSyncArgs {
    /// The client to copy from
    #[arg(long, value_enum)]
    pub from: super::AgentChoice,
    /// The clients to copy to (repeat; default: every other detected client)
    #[arg(long, value_enum)]
    pub to: Vec<super::ClientChoice>,
    /// The scope to copy from and to
    #[arg(long, value_enum, default_value = "user")]
    pub scope: super::ScopeChoice,
    /// Overwrite servers whose definitions differ
    #[arg(long)]
    pub force: bool,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

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
    let env = Env { paths: &ctx.paths, command_line: &ctx.command_line };
    match command {
        McpCommand::Add(args) => report(ctx, ops::add(&env, &args.request())?),
        McpCommand::List { client, all } => {
            print_list(ctx, ops::list(&env, &super::chosen(&super::with_all(&client, all)))?)
        }
        McpCommand::Remove(args) => report(ctx, ops::remove(&env, &args.request())?),
        McpCommand::Enable(args) => report(ctx, ops::toggle(&env, &args.request(), true)?),
        McpCommand::Disable(args) => report(ctx, ops::toggle(&env, &args.request(), false)?),
        McpCommand::Sync(args) => print_sync(ctx, &ops::sync(&env, &args.request())?, args.dry_run),
    }
}

impl McpAddArgs {
    fn request(&self) -> AddRequest {
        AddRequest {
            name: self.name.clone(),
            client: super::chosen(&self.client),
            all: self.all,
            scope: self.scope.into(),
            env: self.env.clone(),
            header: self.header.clone(),
            url: self.url.clone(),
            sse: self.transport == Some(Remote::Sse),
            force: self.force,
            dry_run: self.dry_run,
            command: self.command.clone(),
        }
    }
}

impl McpNameArgs {
    fn request(&self) -> NameRequest {
        NameRequest {
            name: self.name.clone(),
            client: super::chosen(&super::with_all(&self.client, self.all)),
            scope: self.scope.map(Into::into),
            dry_run: self.dry_run,
        }
    }
}

impl McpSyncArgs {
    fn request(&self) -> SyncRequest {
        SyncRequest {
            from: self.from.into(),
            to: super::chosen(&self.to),
            scope: self.scope.into(),
            force: self.force,
            dry_run: self.dry_run,
        }
    }
}

fn report(ctx: &Ctx, changed: Changed) -> Result<u8> {
    let Changed { action, name, outcome, notes, done, nothing } = changed;
    let name = Some(name.as_str());
    let outcome = &outcome;
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

fn print_list(ctx: &Ctx, listing: Listing) -> Result<u8> {
    #[derive(Serialize)]
    struct ListReport {
        servers: Vec<ops::ListRow>,
    }
    let Listing { servers, warnings } = listing;
    for warning in &warnings {
        ctx.out.warn(warning);
    }
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

fn print_sync(ctx: &Ctx, synced: &Synced, dry_run: bool) -> Result<u8> {
    let Synced { from, items, outcome } = synced;
    for item in items {
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
            items: &'a [ops::SyncItem],
            files: &'a [write::FileOutcome],
            #[serde(skip_serializing_if = "Option::is_none")]
            diff: Option<String>,
        }
        ctx.out.json(&SyncReport {
            from: *from,
            dry_run,
            txn: outcome.txn.clone(),
            items,
            files: &outcome.files,
            diff: dry_run.then(|| outcome.diff()),
        })?;
    } else if dry_run {
        ctx.out.data(&outcome.diff());
    }
    let count = |result: &str| items.iter().filter(|item| item.result == result).count();
    ctx.out.info(&format!(
        "Synced from {}: {} added, {} replaced, {} identical, {} differ, {} skipped{}",
        from,
        count("added"),
        count("replaced"),
        count("identical"),
        count("differs"),
        count("skipped"),
        if dry_run { " (dry run, nothing written)" } else { "" }
    ));
    Ok(0)
}
