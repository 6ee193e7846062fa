//! `aigate status`: each client's files, whether they parse, mode, drift, snapshots.

use super::{Ctx, not_yet};
use crate::clients::Client;
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate status
  aigate status --client codex --json")]
pub struct StatusArgs {
    /// Only these clients (default: every client whose files exist)
    #[arg(long, value_enum)]
    pub client: Vec<Client>,
}

pub(crate) fn run(_ctx: &Ctx, _args: &StatusArgs) -> Result<u8> {
    Err(not_yet("status"))
}
