//! `aigate restore [ID]`: put files back exactly as a snapshot holds them.
//!
//! Without an id it restores the newest snapshot transaction (the state just before the
//! last aigate change), or with `--client` the newest snapshot of each named client.
//! A restore first snapshots the current state, so a second `restore` undoes the first.

use serde::Serialize;

use super::Ctx;
use crate::backup::{self, RestoredPath, SnapshotInfo, store};
use crate::clients::Client;
use crate::error::{Error, Result};

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
    pub client: Vec<Client>,
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
    let names: Vec<String> = args.client.iter().map(|client| client.name().to_string()).collect();
    let targets = choose(&connection, args.id, &names)?;

    // Work out what would change first: nothing to do means no pre-restore snapshot.
    let mut planned = Vec::new();
    for snapshot in &targets {
        let entries = store::entries(&connection, snapshot.id)?;
        let changes = backup::restore_entries(&entries, true)?;
        planned.push((snapshot, entries, changes));
    }
    let would_change: Vec<RestoredPath> =
        planned.iter().flat_map(|(_, _, changes)| changes.clone()).collect();
    let restored_from: Vec<i64> = targets.iter().map(|snapshot| snapshot.id).collect();
    if args.dry_run || would_change.is_empty() {
        if would_change.is_empty() {
            ctx.out.info(&format!(
                "Nothing to restore: the files already match snapshot {}",
                ids(&restored_from)
            ));
        } else if !ctx.json() {
            ctx.out.data(&would_change.iter().map(describe).collect::<String>());
        }
        if ctx.json() {
            ctx.out.json(&RestoreReport {
                restored_from,
                pre_restore_snapshots: Vec::new(),
                dry_run: args.dry_run,
                paths: would_change,
            })?;
        }
        return Ok(0);
    }

    let txn = backup::new_txn();
    let mut pre_restore = Vec::new();
    for (snapshot, entries, _) in &planned {
        let items = backup::capture_items_for(entries);
        let reason = format!("before restore of snapshot {}", snapshot.id);
        pre_restore.push(backup::snapshot(
            &mut connection,
            &txn,
            &snapshot.client,
            &reason,
            None,
            &ctx.command_line,
            &items,
        )?);
    }
    let mut done = Vec::new();
    for (snapshot, entries, _) in &planned {
        let changes = backup::restore_entries(entries, false).map_err(|error| {
            error.context(format!("Failed to restore snapshot {}", snapshot.id)).hint(format!(
                "the state before this restore is snapshot {}: `aigate restore {}`",
                ids(&pre_restore),
                pre_restore.first().copied().unwrap_or_default()
            ))
        })?;
        done.extend(changes);
    }
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

fn choose(
    connection: &rusqlite::Connection,
    id: Option<i64>,
    clients: &[String],
) -> Result<Vec<SnapshotInfo>> {
    if let Some(id) = id {
        let snapshot = super::backup::find(connection, id)?;
        if !clients.is_empty() && !clients.contains(&snapshot.client) {
            return Err(Error::refused(format!(
                "Snapshot {id} is of {}, not {}",
                snapshot.client,
                clients.join(", ")
            )));
        }
        return Ok(vec![snapshot]);
    }
    let all = store::list(connection, clients)?;
    let Some(newest) = all.first() else {
        return Err(Error::refused("No snapshot to restore").hint("`aigate backup create` makes one"));
    };
    if clients.is_empty() {
        return store::by_txn(connection, &newest.txn);
    }
    let mut chosen = Vec::new();
    for client in clients {
        match all.iter().find(|snapshot| &snapshot.client == client) {
            Some(snapshot) => chosen.push(snapshot.clone()),
            None => return Err(Error::refused(format!("No snapshot of {client} to restore"))),
        }
    }
    Ok(chosen)
}

fn describe(change: &RestoredPath) -> String {
    if change.diff.is_empty() { format!("{}: {}\n", change.action, change.path) } else { change.diff.clone() }
}

fn ids(ids: &[i64]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
