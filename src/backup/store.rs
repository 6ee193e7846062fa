//! SQL for snapshots: content-addressed blobs, snapshot rows, their entries, retention.
//!
//! Invariants: a blob is stored once per sha256; the first snapshot of each client is
//! pinned and never pruned; others rotate (newest [`KEEP_PER_CLIENT`] per client);
//! blobs no snapshot refers to are deleted with the snapshot that last used them.
//!
//! A blob of [`EXTERNAL_BLOB_MIN`] bytes or more is a file beside the db,
//! `blobs/<sha256>` (0600, in a 0700 directory), with a row marked `external`: SQLite
//! writes a blob twice (its WAL, then the checkpoint into the db), a file is written once,
//! and a 20 MB `.claude.json` is snapshotted on every edit. The file is fsynced and in
//! place before the row that names it is committed, and it is removed (under the write
//! lock) with the row. A blob is checked against its sha256 when it is read back.

use std::borrow::Cow;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
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

/// Blobs this large are files beside the db instead of rows in it (see the module doc).
pub const EXTERNAL_BLOB_MIN: usize = 256 * 1024;

/// One path in a snapshot. Its bytes are borrowed while a snapshot is written (a large
/// file is not copied for it) and owned when read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'bytes> {
    pub path: String,
    pub kind: EntryKind,
    pub bytes: Option<Cow<'bytes, [u8]>>,
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
    entries: &[Entry<'_>],
) -> Result<i64> {
    insert_staged(connection, txn, client, reason, label, command, entries, Vec::new())
}

/// [`insert`], with the blobs of some entries already written ([`stage_blob`]); the
/// others are staged first, before the write lock is taken.
#[expect(clippy::too_many_arguments, reason = "insert's arguments and the staged blobs")]
pub fn insert_staged(
    connection: &mut Connection,
    txn: &str,
    client: &str,
    reason: &str,
    label: Option<&str>,
    command: &str,
    entries: &[Entry<'_>],
    staged: Vec<StagedBlob<'_>>,
) -> Result<i64> {
    let blobs = blob_dir(connection);
    let mut staged = stage_missing(&blobs, entries, staged)?;
    // The write lock from the start: a blob file goes into place under it, so a prune in
    // another process cannot remove it before its row is committed.
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let has_any = has_snapshot(&transaction, client)?;
    transaction.execute(
        "INSERT INTO snapshots (txn, created_at, client, reason, label, command, pinned) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![txn, crate::db::now_ms(), client, reason, label, command, !has_any],
    )?;
    let id = transaction.last_insert_rowid();
    for entry in entries {
        let sha = match entry.bytes.as_deref() {
            Some(bytes) => Some(put_blob(&transaction, &blobs, bytes, &mut staged)?),
            None => None,
        };
        transaction.execute(
            "INSERT OR REPLACE INTO snapshot_files (snapshot_id, path, kind, sha256, mode, link_target) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, entry.path, entry.kind.as_str(), sha, entry.mode, entry.link_target],
        )?;
    }
    prune(&transaction, client, &blobs)?;
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
pub fn replace_entry(connection: &mut Connection, snapshot_id: i64, entry: &Entry<'_>) -> Result<()> {
    let blobs = blob_dir(connection);
    let mut staged = stage_missing(&blobs, std::slice::from_ref(entry), Vec::new())?;
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sha = match entry.bytes.as_deref() {
        Some(bytes) => Some(put_blob(&transaction, &blobs, bytes, &mut staged)?),
        None => None,
    };
    transaction.execute(
        "INSERT OR REPLACE INTO snapshot_files (snapshot_id, path, kind, sha256, mode, link_target) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![snapshot_id, entry.path, entry.kind.as_str(), sha, entry.mode, entry.link_target],
    )?;
    delete_unused_blobs(&transaction, &blobs)?;
    transaction.commit()?;
    Ok(())
}

/// A large blob written ahead of its snapshot: hashed, and in a fsynced temp file in the
/// blob directory, which [`insert_staged`] renames into place (or drops, when the store
/// has that blob already). Dropping it removes the temp file.
pub struct StagedBlob<'bytes> {
    /// The very bytes it was made from (an entry is matched to it by identity).
    bytes: &'bytes [u8],
    sha: String,
    temp: tempfile::NamedTempFile,
}

impl StagedBlob<'_> {
    /// Whether it was staged from these very bytes.
    pub fn is_of(&self, bytes: &[u8]) -> bool {
        std::ptr::eq(self.bytes, bytes)
    }
}

/// Where the external blobs of the db in `aigate_home` live.
pub fn blob_dir_in(aigate_home: &Path) -> PathBuf {
    aigate_home.join("blobs")
}

/// Stage `bytes` as an external blob in `blobs`: written to a fsynced temp file while a
/// second thread hashes them. `None` when `cancel` was set meanwhile (nothing is left).
pub fn stage_blob<'bytes>(
    blobs: &Path,
    bytes: &'bytes [u8],
    cancel: &AtomicBool,
) -> Result<Option<StagedBlob<'bytes>>> {
    const CHUNK: usize = 1 << 20;
    crate::paths::ensure_private_dir(blobs)?;
    std::thread::scope(|scope| {
        let hash = || {
            let mut hasher = Sha256::new();
            for chunk in bytes.chunks(CHUNK) {
                if cancel.load(Ordering::Relaxed) {
                    return None;
                }
                hasher.update(chunk);
            }
            Some(hex::encode(hasher.finalize()))
        };
        // Hashing on this thread instead when no thread can be had.
        let hasher = std::thread::Builder::new().spawn_scoped(scope, hash).ok();
        let mut temp = tempfile::Builder::new()
            .prefix(".blob-")
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(blobs)
            .map_err(|error| {
                crate::error::Error::internal(format!(
                    "Failed to create a temp file in `{}`",
                    crate::output::display_path(blobs)
                ))
                .cause(error)
            })?;
        if !crate::fsx::write_synced_unless_cancelled(&mut temp, bytes, cancel)? {
            return Ok(None);
        }
        let sha = match hasher {
            Some(hasher) => hasher
                .join()
                .map_err(|_| crate::error::Error::internal("hashing a snapshot's bytes failed"))?,
            None => hash(),
        };
        Ok(sha.map(|sha| StagedBlob { bytes, sha, temp }))
    })
}

/// `staged`, and a staged blob for each large entry it has none for.
fn stage_missing<'bytes>(
    blobs: &Path,
    entries: &'bytes [Entry<'_>],
    mut staged: Vec<StagedBlob<'bytes>>,
) -> Result<Vec<StagedBlob<'bytes>>> {
    let never = AtomicBool::new(false);
    for entry in entries {
        let Some(bytes) = entry.bytes.as_deref().filter(|bytes| bytes.len() >= EXTERNAL_BLOB_MIN) else {
            continue;
        };
        if !staged.iter().any(|blob| blob.is_of(bytes)) {
            staged.extend(stage_blob(blobs, bytes, &never)?);
        }
    }
    Ok(staged)
}

/// Store `bytes` (once per content) and return their sha256. A large blob must be among
/// `staged`: it is put in place from there.
fn put_blob(
    transaction: &rusqlite::Transaction<'_>,
    blobs: &Path,
    bytes: &[u8],
    staged: &mut Vec<StagedBlob<'_>>,
) -> Result<String> {
    if bytes.len() < EXTERNAL_BLOB_MIN {
        let sha = sha256_hex(bytes);
        transaction
            .execute("INSERT OR IGNORE INTO blobs (sha256, data) VALUES (?1, ?2)", params![sha, bytes])?;
        return Ok(sha);
    }
    let index = staged
        .iter()
        .position(|blob| blob.is_of(bytes))
        .ok_or_else(|| crate::error::Error::internal("a large snapshot blob was not staged"))?;
    let StagedBlob { sha, temp, .. } = staged.swap_remove(index);
    let stored: Option<bool> = transaction
        .query_row("SELECT external FROM blobs WHERE sha256 = ?1", params![sha], |row| row.get(0))
        .optional()?;
    let file = blobs.join(&sha);
    match stored {
        // Already stored: the staged copy goes (dropped).
        Some(false) => {}
        Some(true) if file.exists() => {}
        Some(true) | None => {
            crate::fsx::commit_temp(temp, &file)?;
            transaction.execute(
                "INSERT OR IGNORE INTO blobs (sha256, data, external) VALUES (?1, X'', 1)",
                params![sha],
            )?;
        }
    }
    Ok(sha)
}

/// Where external blobs live: `blobs/` beside the db file.
fn blob_dir(connection: &Connection) -> PathBuf {
    let db = Path::new(connection.path().unwrap_or_default());
    blob_dir_in(db.parent().unwrap_or_else(|| Path::new(".")))
}

fn prune(transaction: &rusqlite::Transaction<'_>, client: &str, blobs: &Path) -> Result<()> {
    transaction.execute(
        "DELETE FROM snapshots WHERE client = ?1 AND pinned = 0 AND id NOT IN (
             SELECT id FROM snapshots WHERE client = ?1 AND pinned = 0 ORDER BY id DESC LIMIT ?2)",
        params![client, KEEP_PER_CLIENT as i64],
    )?;
    transaction
        .execute("DELETE FROM snapshot_files WHERE snapshot_id NOT IN (SELECT id FROM snapshots)", [])?;
    delete_unused_blobs(transaction, blobs)
}

/// Delete the blobs no snapshot refers to, and the files of the external ones. The files
/// go while the write lock is held, so no other process can be reusing them; should the
/// commit then fail, only snapshots that were being pruned lose their bytes.
fn delete_unused_blobs(transaction: &rusqlite::Transaction<'_>, blobs: &Path) -> Result<()> {
    const UNUSED: &str = "sha256 NOT IN (SELECT sha256 FROM snapshot_files WHERE sha256 IS NOT NULL)";
    let files: Vec<String> = {
        let mut statement =
            transaction.prepare(&format!("SELECT sha256 FROM blobs WHERE external = 1 AND {UNUSED}"))?;
        statement.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?
    };
    for sha in files {
        match fs_err::remove_file(blobs.join(&sha)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error.into()),
        }
    }
    transaction.execute(&format!("DELETE FROM blobs WHERE {UNUSED}"), [])?;
    remove_stale_staged(blobs);
    Ok(())
}

/// Staged blobs a process never put in place (it died first) go once they are an hour
/// old: a younger one may be another process's, about to be put in place.
fn remove_stale_staged(blobs: &Path) {
    const STALE: std::time::Duration = std::time::Duration::from_secs(3600);
    let Ok(entries) = fs_err::read_dir(blobs) else { return };
    for entry in entries.flatten() {
        let staged = entry.file_name().to_string_lossy().starts_with(".blob-");
        let stale = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > STALE));
        if staged && stale {
            // Best effort: a leftover is only disk space.
            let _ = fs_err::remove_file(entry.path());
        }
    }
}

/// The external blob `sha`, checked against its hash.
fn read_blob_file(blobs: &Path, sha: &str) -> Result<Vec<u8>> {
    let path = blobs.join(sha);
    let bytes = fs_err::read(&path).map_err(|error| {
        crate::error::Error::internal(format!(
            "A snapshot's bytes are missing: `{}`",
            crate::output::display_path(&path)
        ))
        .cause(error)
    })?;
    if sha256_hex(&bytes) != sha {
        return Err(crate::error::Error::internal(format!(
            "A snapshot's bytes are damaged: `{}` does not match its sha256",
            crate::output::display_path(&path)
        )));
    }
    Ok(bytes)
}

/// The external blobs the db names whose files are gone (for `doctor`).
pub fn missing_blob_files(connection: &Connection) -> Result<Vec<PathBuf>> {
    let blobs = blob_dir(connection);
    let mut statement = connection.prepare("SELECT sha256 FROM blobs WHERE external = 1")?;
    let shas: Vec<String> = statement.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(shas.into_iter().map(|sha| blobs.join(sha)).filter(|path| !path.exists()).collect())
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
pub fn entries(connection: &Connection, id: i64) -> Result<Vec<Entry<'static>>> {
    let blobs = blob_dir(connection);
    let mut statement = connection.prepare(
        "SELECT f.path, f.kind, b.data, f.mode, f.link_target, f.sha256, b.external FROM snapshot_files f
         LEFT JOIN blobs b ON b.sha256 = f.sha256 WHERE f.snapshot_id = ?1 ORDER BY f.path",
    )?;
    let rows = statement.query_map(params![id], |row| {
        let entry = Entry {
            path: row.get(0)?,
            kind: EntryKind::parse(&row.get::<_, String>(1)?),
            bytes: row.get::<_, Option<Vec<u8>>>(2)?.map(Cow::Owned),
            mode: row.get(3)?,
            link_target: row.get(4)?,
        };
        let external = row.get::<_, Option<bool>>(6)?.unwrap_or(false);
        Ok((entry, external.then(|| row.get::<_, String>(5)).transpose()?))
    })?;
    let mut entries = Vec::new();
    for row in rows {
        let (mut entry, external) = row?;
        if let Some(sha) = external {
            entry.bytes = Some(Cow::Owned(read_blob_file(&blobs, &sha)?));
        }
        entries.push(entry);
    }
    Ok(entries)
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
