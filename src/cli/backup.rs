//! `aigate backup create|list|show|diff`: snapshots of client files.

use super::{Ctx, not_yet};
use crate::clients::Client;
use crate::error::Result;

#[derive(Debug, clap::Subcommand)]
pub enum BackupCommand {
    /// Snapshot the current files of the chosen clients
    #[command(after_long_help = "Examples:
  aigate backup create
  aigate backup create --client codex --label before-upgrade")]
    Create {
        /// Only these clients (default: every client whose files exist)
        #[arg(long, value_enum)]
        client: Vec<Client>,
        /// A note stored with the snapshot
        #[arg(long)]
        label: Option<String>,
    },
    /// List snapshots, newest first
    #[command(after_long_help = "Examples:
  aigate backup list
  aigate backup list --client claude --json")]
    List {
        #[arg(long, value_enum)]
        client: Vec<Client>,
    },
    /// Show one snapshot and its files
    Show {
        /// The snapshot id (from `aigate backup list`)
        id: i64,
    },
    /// Unified diff from a snapshot to the current files
    Diff {
        /// The snapshot id (from `aigate backup list`)
        id: i64,
    },
}

pub(crate) fn run(_ctx: &Ctx, _command: BackupCommand) -> Result<u8> {
    Err(not_yet("backup"))
}
