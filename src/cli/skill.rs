//! `aigate skill add|list|remove|enable|disable`: Skills in the shared store.

use std::path::PathBuf;

use super::{Ctx, not_yet};
use crate::error::Result;

#[derive(Debug, clap::Subcommand)]
pub enum SkillCommand {
    /// Add a skill from a directory or a .zip
    #[command(after_long_help = "Examples:
  aigate skill add ./pdf-tools
  aigate skill add ~/Downloads/review-helper.zip --name review-helper")]
    Add {
        /// A skill directory (holding SKILL.md) or a .zip of one
        path: PathBuf,
        /// Install under this name (must equal the frontmatter `name`)
        #[arg(long)]
        name: Option<String>,
        /// Replace a skill of the same name
        #[arg(long)]
        force: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// Each skill, where it lives, which clients see it, problems found
    List,
    /// Remove a skill from the store and every client
    Remove {
        name: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// Enable a disabled skill (`SKILL.md.disabled` -> `SKILL.md`)
    Enable {
        name: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// Disable a skill (`SKILL.md` -> `SKILL.md.disabled`)
    Disable {
        name: String,
        #[arg(long)]
        dry_run: bool,
    },
}

pub(crate) fn run(_ctx: &Ctx, _command: SkillCommand) -> Result<u8> {
    Err(not_yet("skill"))
}
