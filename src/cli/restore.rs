//! `aigate restore [ID]`: put files back exactly as a snapshot holds them.
//!
//! Without an id it restores the newest snapshot transaction (the state just before the
//! last aigate change), or with `--client` the newest snapshot of each named client.
//! A restore first snapshots the current state, so a second `restore` undoes the first.

use serde::Serialize;

use super::Ctx;
use crate::backup::RestoredPath;
use crate::backup::restore::{self, Restored, ids};
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  aigate restore              # undo the last aigate change (or the last restore)
  aigate restore 42 --dry-run
  aigate restore --client codex")]
pub struct RestoreArgs {
    /// The snapshot id; default: the newest snapshot transaction (or, with --client, the
    /// newest snapshot of each named client)
    pub id: Option<i64>,
    /// Only these clients
    #[arg(long, value_enum)]
    pub client: Vec<super::ClientChoice>,
    /// Every client (the same as `--client all`)
    #[arg(long, conflicts_with = "client")]
    pub all: bool,
    /// Print the diff that would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Serialize)]
struct RestoreReport {
    restored_from: Vec<i64>,
    pre_restore_snapshots: Vec<i64>,
    dry_run: bool,
    paths: Vec<RestoredPath>,
}

pub(crate) fn run(ctx: &Ctx, args: &RestoreArgs) -> Result<u8> {
    let mut connection = ctx.db()?;
    let names: Vec<String> = super::chosen(&super::with_all(&args.client, args.all))
        .iter()
        .map(|client| client.name().to_string())
        .collect();
    let targets = restore::choose(&connection, args.id, &names)?;
    // Work out what would change first: nothing to do means no pre-restore snapshot.
    let plan = restore::plan(&connection, targets)?;
    let restored_from = plan.snapshot_ids();
    if args.dry_run || plan.would_change.is_empty() {
        if plan.would_change.is_empty() {
            ctx.out.info(&format!(
                "Nothing to restore: the files already match snapshot {}",
                ids(&restored_from)
            ));
        } else if !ctx.json() {
            ctx.out.data(&plan.would_change.iter().map(describe).collect::<String>());
        }
        if ctx.json() {
            ctx.out.json(&RestoreReport {
                restored_from,
                pre_restore_snapshots: Vec::new(),
                dry_run: args.dry_run,
                paths: plan.would_change,
            })?;
        }
        return Ok(0);
    }
    let Restored { pre_restore, done } = restore::apply(&mut connection, &plan, &ctx.command_line)?;
    // aigate's own records follow the files: a file put back before `use gateway` is no
    // longer in gateway mode.
    crate::clients::gateway::records::reconcile(&mut connection)?;
    ctx.out.info(&format!(
        "Restored {} path{} from snapshot {} (undo with `aigate restore`)",
        done.len(),
        if done.len() == 1 { "" } else { "s" },
        ids(&restored_from)
    ));
    for change in &done {
        ctx.out.verbose(&format!("  {} {}", change.action, change.path));
    }
    if ctx.json() {
        ctx.out.json(&RestoreReport {
            restored_from,
            pre_restore_snapshots: pre_restore,
            dry_run: false,
            paths: done,
        })?;
    }
    Ok(0)
}

fn describe(change: &RestoredPath) -> String {
    if change.diff.is_empty() { format!("{}: {}\n", change.action, change.path) } else { change.diff.clone() }
}
