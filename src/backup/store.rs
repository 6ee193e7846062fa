//! SQL for snapshots: content-addressed blobs, snapshot rows, their entries, retention.
//!
//! Invariants: a blob is stored once per sha256; the first snapshot of each client is
//! pinned and never pruned; others rotate (newest [`KEEP_PER_CLIENT`] per client);
//! blobs no snapshot refers to are deleted with the snapshot that last used them.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Result;

/// Unpinned snapshots kept per client.
pub const KEEP_PER_CLIENT: usize = 50;

/// What a path held when the snapshot was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Absent,
    Dir,
    Symlink,
}

impl EntryKind {
    fn as_str(&self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Absent => "absent",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "file" => EntryKind::File,
            "dir" => EntryKind::Dir,
            "symlink" => EntryKind::Symlink,
            _ => EntryKind::Absent,
        }
    }
}

/// One path in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    pub bytes: Option<Vec<u8>>,
    pub mode: Option<u32>,
    pub link_target: Option<String>,
}

/// A snapshot row with its entries' metadata (bytes loaded on demand).
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub id: i64,
    #[serde(skip)]
    pub txn: String,
    pub created_at: String,
    pub client: String,
    pub reason: String,
    pub label: Option<String>,
    pub command: String,
    pub pinned: bool,
    pub files: Vec<FileInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub kind: EntryKind,
    pub existed: bool,
    pub sha256: Option<String>,
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Insert a snapshot with its entries in one transaction; pin it when it is the
/// client's first; prune old ones. Returns the new id.
pub fn insert(
    connection: &mut Connection,
    txn: &str,
    client: &str,
    reason: &str,
    label: Option<&str>,
    command: &str,
    entries: &[Entry],
) -> Result<i64> {
    let transaction = connection.transaction()?;
    let has_any = has_snapshot(&transaction, client)?;
    transaction.execute(
        "INSERT INTO snapshots (txn, created_at, client, reason, label, command, pinned) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![txn, crate::db::now_ms(), client, reason, label, command, !has_any],
    )?;
    let id = transaction.last_insert_rowid();
    for entry in entries {
        let sha = entry.bytes.as_deref().map(|bytes| {
            let sha = sha256_hex(bytes);
            (sha, bytes)
        });
        if let Some((sha, bytes)) = &sha {
            transaction
                .execute("INSERT OR IGNORE INTO blobs (sha256, data) VALUES (?1, ?2)", params![sha, bytes])?;
        }
        transaction.execute(
            "INSERT OR REPLACE INTO snapshot_files (snapshot_id, path, kind, sha256, mode, link_target) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, entry.path, entry.kind.as_str(), sha.map(|(sha, _)| sha), entry.mode, entry.link_target],
        )?;
    }
    prune(&transaction, client)?;
    transaction.commit()?;
    Ok(id)
}

/// Whether `client` has any snapshot yet (its first one becomes its pinned original).
pub fn has_snapshot(connection: &Connection, client: &str) -> Result<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS(SELECT 1 FROM snapshots WHERE client = ?1)",
        params![client],
        |row| row.get(0),
    )?)
}

/// Replace one entry of an existing snapshot (used when a file changed under us between
/// the snapshot and the write, and the write was redone on the fresh bytes).
pub fn replace_entry(connection: &mut Connection, snapshot_id: i64, entry: &Entry) -> Result<()> {
    let transaction = connection.transaction()?;
    let sha = entry.bytes.as_deref().map(sha256_hex);
    if let (Some(sha), Some(bytes)) = (&sha, &entry.bytes) {
        transaction
            .execute("INSERT OR IGNORE INTO blobs (sha256, data) VALUES (?1, ?2)", params![sha, bytes])?;
    }
    transaction.execute(
        "INSERT OR REPLACE INTO snapshot_files (snapshot_id, path, kind, sha256, mode, link_target) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![snapshot_id, entry.path, entry.kind.as_str(), sha, entry.mode, entry.link_target],
    )?;
    transaction.execute(
        "DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM snapshot_files WHERE sha256 IS NOT NULL)",
        [],
    )?;
    transaction.commit()?;
    Ok(())
}

fn prune(transaction: &rusqlite::Transaction<'_>, client: &str) -> Result<()> {
    transaction.execute(
        "DELETE FROM snapshots WHERE client = ?1 AND pinned = 0 AND id NOT IN (
             SELECT id FROM snapshots WHERE client = ?1 AND pinned = 0 ORDER BY id DESC LIMIT ?2)",
        params![client, KEEP_PER_CLIENT as i64],
    )?;
    transaction
        .execute("DELETE FROM snapshot_files WHERE snapshot_id NOT IN (SELECT id FROM snapshots)", [])?;
    transaction.execute(
        "DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM snapshot_files WHERE sha256 IS NOT NULL)",
        [],
    )?;
    Ok(())
}

/// Snapshots, newest first, optionally only these clients.
pub fn list(connection: &Connection, clients: &[String]) -> Result<Vec<SnapshotInfo>> {
    let mut statement = connection.prepare(
        "SELECT id, txn, created_at, client, reason, label, command, pinned FROM snapshots ORDER BY id DESC",
    )?;
    let rows = statement.query_map([], row_to_info)?;
    let mut snapshots = Vec::new();
    for row in rows {
        let mut info = row?;
        if !clients.is_empty() && !clients.contains(&info.client) {
            continue;
        }
        info.files = files(connection, info.id)?;
        snapshots.push(info);
    }
    Ok(snapshots)
}

pub fn get(connection: &Connection, id: i64) -> Result<Option<SnapshotInfo>> {
    let info = connection
        .query_row(
            "SELECT id, txn, created_at, client, reason, label, command, pinned FROM snapshots WHERE id = ?1",
            params![id],
            row_to_info,
        )
        .optional()?;
    match info {
        Some(mut info) => {
            info.files = files(connection, info.id)?;
            Ok(Some(info))
        }
        None => Ok(None),
    }
}

/// The snapshots of one transaction (one per client it touched).
pub fn by_txn(connection: &Connection, txn: &str) -> Result<Vec<SnapshotInfo>> {
    let ids: Vec<i64> = {
        let mut statement = connection.prepare("SELECT id FROM snapshots WHERE txn = ?1 ORDER BY id")?;
        statement.query_map(params![txn], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?
    };
    let mut snapshots = Vec::new();
    for id in ids {
        if let Some(info) = get(connection, id)? {
            snapshots.push(info);
        }
    }
    Ok(snapshots)
}

/// The entries of a snapshot, with their bytes.
pub fn entries(connection: &Connection, id: i64) -> Result<Vec<Entry>> {
    let mut statement = connection.prepare(
        "SELECT f.path, f.kind, b.data, f.mode, f.link_target FROM snapshot_files f
         LEFT JOIN blobs b ON b.sha256 = f.sha256 WHERE f.snapshot_id = ?1 ORDER BY f.path",
    )?;
    let rows = statement.query_map(params![id], |row| {
        Ok(Entry {
            path: row.get(0)?,
            kind: EntryKind::parse(&row.get::<_, String>(1)?),
            bytes: row.get(2)?,
            mode: row.get(3)?,
            link_target: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn files(connection: &Connection, id: i64) -> Result<Vec<FileInfo>> {
    let mut statement = connection
        .prepare("SELECT path, kind, sha256, mode, link_target FROM snapshot_files WHERE snapshot_id = ?1 ORDER BY path")?;
    let rows = statement.query_map(params![id], |row| {
        let kind = EntryKind::parse(&row.get::<_, String>(1)?);
        let mode: Option<u32> = row.get(3)?;
        Ok(FileInfo {
            path: row.get(0)?,
            existed: kind != EntryKind::Absent,
            kind,
            sha256: row.get(2)?,
            mode: mode.map(|mode| format!("{mode:04o}")),
            link_target: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn row_to_info(row: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotInfo> {
    let created_ms: i64 = row.get(2)?;
    let created_at = jiff::Timestamp::from_millisecond(created_ms)
        .map_or_else(|_| created_ms.to_string(), |timestamp| timestamp.to_string());
    Ok(SnapshotInfo {
        id: row.get(0)?,
        txn: row.get(1)?,
        created_at,
        client: row.get(3)?,
        reason: row.get(4)?,
        label: row.get(5)?,
        command: row.get(6)?,
        pinned: row.get(7)?,
        files: Vec::new(),
    })
}
