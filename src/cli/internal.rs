//! Hidden test hooks: drive the write path in a loop so the crash and contention tests
//! can kill it at random instants or race it with another writer.

use std::path::PathBuf;

use super::Ctx;
use crate::error::{Error, Result};
use crate::write::{self, Change, ModePolicy};

#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
pub enum InternalCommand {
    /// Set `counter = i` in a TOML file for i in 1..=count, printing `done i` after each write
    WriteLoop {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        count: u64,
    },
}

pub(crate) fn run(ctx: &Ctx, command: InternalCommand) -> Result<u8> {
    match command {
        InternalCommand::WriteLoop { file, count } => {
            for counter in 1..=count {
                let change = Change::new("codex", &file, ModePolicy::Keep, move |old| {
                    let text = std::str::from_utf8(old.unwrap_or_default())
                        .map_err(|error| Error::refused("not UTF-8").cause(error))?;
                    let mut document: toml_edit::DocumentMut =
                        text.parse().map_err(|error| Error::refused("invalid TOML").cause(error))?;
                    document["counter"] = toml_edit::value(i64::try_from(counter).unwrap_or(i64::MAX));
                    Ok(Some(document.to_string().into_bytes()))
                });
                match write::apply(&ctx.paths, &ctx.command_line, "write-loop", &[change], false) {
                    Ok(_) => ctx.out.data(&format!("done {counter}")),
                    Err(error) => ctx.out.data(&format!("refused {counter}: {error}")),
                }
            }
            Ok(0)
        }
    }
}
