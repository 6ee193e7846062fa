//! `aigate use gateway|official`: point each client's own config at the gateway and back.

use super::{Ctx, not_yet};
use crate::error::Result;

#[derive(Debug, clap::Subcommand)]
pub enum UseCommand {
    /// Point the clients' own config at the persistent gateway (`aigate serve`)
    #[command(after_long_help = "Examples:
  aigate use gateway
  aigate use gateway --client codex --model gpt-5
  aigate use gateway --dry-run")]
    Gateway(UseGatewayArgs),
    /// Undo exactly what `use gateway` wrote
    #[command(after_long_help = "Examples:
  aigate use official
  aigate use official --client claude --force")]
    Official(UseOfficialArgs),
}

/// Which clients: `codex`, `claude`, `opencode` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientChoice {
    Codex,
    Claude,
    #[value(name = "opencode")]
    OpenCode,
    All,
}

#[derive(Debug, clap::Args)]
pub struct UseGatewayArgs {
    /// Which clients (repeat; default: every client whose files exist)
    #[arg(long, value_enum)]
    pub client: Vec<ClientChoice>,
    /// The gateway's provider chain to record for these clients (repeat)
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
    pub client: Vec<ClientChoice>,
    /// Undo keys that were changed by hand since `use gateway` wrote them
    #[arg(long)]
    pub force: bool,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub(crate) fn run(_ctx: &Ctx, _command: UseCommand) -> Result<u8> {
    Err(not_yet("use"))
}
