//! `aigate restore [ID]`: put files back exactly as a snapshot holds them.

use super::{Ctx, not_yet};
use crate::clients::Client;
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate restore              # undo the last aigate change (or the last restore)
  aigate restore 42 --dry-run
  aigate restore --client codex")]
pub struct RestoreArgs {
    /// The snapshot id; default: the newest snapshot of each chosen client
    pub id: Option<i64>,
    /// Only these clients
    #[arg(long, value_enum)]
    pub client: Vec<Client>,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub(crate) fn run(_ctx: &Ctx, _args: &RestoreArgs) -> Result<u8> {
    Err(not_yet("restore"))
}
