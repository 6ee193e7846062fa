//! `aigate mcp add|list|remove|enable|disable|sync`: MCP servers in every client's own format.

use super::{Ctx, not_yet};
use crate::clients::Client;
use crate::error::Result;

#[derive(Debug, clap::Subcommand)]
pub enum McpCommand {
    /// Add an MCP server to each chosen client in that client's own format
    #[command(after_long_help = "Examples:
  aigate mcp add fs -- npx -y @modelcontextprotocol/server-filesystem ~/src
  aigate mcp add docs --url https://example.com/mcp --header 'Authorization: Bearer ${DOCS_TOKEN}'
  aigate mcp add db --client codex --scope project --env PGHOST=localhost -- pg-mcp")]
    Add(McpAddArgs),
    /// One row per server: which clients have it, scope, enabled, transport
    List {
        #[arg(long, value_enum)]
        client: Vec<Client>,
    },
    /// Remove a server from the chosen clients
    Remove(McpNameArgs),
    /// Enable a server in the chosen clients
    Enable(McpNameArgs),
    /// Disable a server in the chosen clients (Claude Code: parked in aigate's records)
    Disable(McpNameArgs),
    /// Copy one client's servers to the others
    #[command(after_long_help = "Examples:
  aigate mcp sync --from claude
  aigate mcp sync --from codex --to opencode --dry-run")]
    Sync(McpSyncArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scope {
    User,
    Project,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
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
    /// user: the client's user config; project: files in the current directory
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
    pub transport: Option<Transport>,
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
    #[arg(long, value_enum)]
    pub client: Vec<Client>,
    #[arg(long, value_enum, default_value = "user")]
    pub scope: Scope,
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
    /// Overwrite servers whose definitions differ
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub dry_run: bool,
}

pub(crate) fn run(_ctx: &Ctx, _command: McpCommand) -> Result<u8> {
    Err(not_yet("mcp"))
}
