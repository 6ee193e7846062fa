//! Restore planning: which snapshots `aigate restore [ID] [--client C]` puts back, what
//! that would change, and doing it with a pre-restore snapshot first.
//!
//! Invariants: nothing to change means nothing written (no pre-restore snapshot either);
//! every restore is preceded by a snapshot of what it replaces, in one transaction, so a
//! second `restore` undoes the first. This module knows snapshot groups by name only.

use super::{RestoredPath, SnapshotInfo, store};
use crate::error::{Error, Result};

/// Look a snapshot up or refuse with a hint.
pub fn find(connection: &rusqlite::Connection, id: i64) -> Result<SnapshotInfo> {
    store::get(connection, id)?.ok_or_else(|| {
        Error::refused(format!("No snapshot with id {id}")).hint("list them with `aigate backup list`")
    })
}

/// The snapshots a restore puts back: `id`, else the newest transaction, else (with
/// `groups`) the newest snapshot of each named group.
pub fn choose(
    connection: &rusqlite::Connection,
    id: Option<i64>,
    groups: &[String],
) -> Result<Vec<SnapshotInfo>> {
    if let Some(id) = id {
        let snapshot = find(connection, id)?;
        if !groups.is_empty() && !groups.contains(&snapshot.client) {
            return Err(Error::refused(format!(
                "Snapshot {id} is of {}, not {}",
                snapshot.client,
                groups.join(", ")
            )));
        }
        return Ok(vec![snapshot]);
    }
    let all = store::list(connection, groups)?;
    let Some(newest) = all.first() else {
        return Err(Error::refused("No snapshot to restore").hint("`aigate backup create` makes one"));
    };
    if groups.is_empty() {
        return store::by_txn(connection, &newest.txn);
    }
    let mut chosen = Vec::new();
    for group in groups {
        match all.iter().find(|snapshot| &snapshot.client == group) {
            Some(snapshot) => chosen.push(snapshot.clone()),
            None => return Err(Error::refused(format!("No snapshot of {group} to restore"))),
        }
    }
    Ok(chosen)
}

/// A restore worked out before anything is written.
pub struct Plan {
    targets: Vec<(SnapshotInfo, Vec<super::Entry<'static>>)>,
    /// What would change (with diffs), in snapshot order.
    pub would_change: Vec<RestoredPath>,
}

impl Plan {
    /// The ids restored from.
    pub fn snapshot_ids(&self) -> Vec<i64> {
        self.targets.iter().map(|(snapshot, _)| snapshot.id).collect()
    }

    /// The snapshots restored from.
    pub fn snapshots(&self) -> impl Iterator<Item = &SnapshotInfo> {
        self.targets.iter().map(|(snapshot, _)| snapshot)
    }
}

/// Work out what restoring `targets` would change.
pub fn plan(connection: &rusqlite::Connection, targets: Vec<SnapshotInfo>) -> Result<Plan> {
    let mut planned = Vec::new();
    let mut would_change = Vec::new();
    for snapshot in targets {
        let entries = store::entries(connection, snapshot.id)?;
        would_change.extend(super::restore_entries(&entries, true)?);
        planned.push((snapshot, entries));
    }
    Ok(Plan { targets: planned, would_change })
}

/// What a restore did.
pub struct Restored {
    pub pre_restore: Vec<i64>,
    pub done: Vec<RestoredPath>,
}

/// Snapshot what the plan replaces (one transaction), then put the files back.
pub fn apply(connection: &mut rusqlite::Connection, plan: &Plan, command: &str) -> Result<Restored> {
    let txn = super::new_txn();
    let mut pre_restore = Vec::new();
    for (snapshot, entries) in &plan.targets {
        let items = super::capture_items_for(entries);
        let reason = format!("before restore of snapshot {}", snapshot.id);
        pre_restore.push(super::snapshot(
            connection,
            &txn,
            &snapshot.client,
            &reason,
            None,
            command,
            &items,
        )?);
    }
    let mut done = Vec::new();
    for (snapshot, entries) in &plan.targets {
        let changes = super::restore_entries(entries, false).map_err(|error| {
            error.context(format!("Failed to restore snapshot {}", snapshot.id)).hint(format!(
                "the state before this restore is snapshot {}: `aigate restore {}`",
                ids(&pre_restore),
                pre_restore.first().copied().unwrap_or_default()
            ))
        })?;
        done.extend(changes);
    }
    Ok(Restored { pre_restore, done })
}

/// `3, 4`.
pub fn ids(ids: &[i64]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
