//! The one write path every command that changes a user's file goes through.
//!
//! For each file: re-read it (through symlinks), or take the caller's own read of it
//! when the caller had to look into it to know its edits ([`apply_read`]); apply the
//! caller's pure edit to the bytes; if nothing changed, write nothing (mtime untouched).
//! Otherwise, before any byte is written, snapshot the current state of every file the
//! operation touches in one transaction; then per file: write a temp file in the
//! target's directory, fsync it, check the target still holds the bytes the edit was
//! computed from (if not, redo the edit on the fresh bytes, a few times at most, and
//! re-snapshot them), rename it over the target, fsync the directory, and read it back.
//! If a later file fails, the files already written are put back from the snapshot (all
//! or nothing).
//!
//! A large file (a 20 MB `.claude.json`) is never copied whole in memory (an edit can be
//! a splice of the bytes read, [`NewBytes`]), and its two durable writes are kept off the
//! path from the read to the rename as far as the order above allows: while the edit
//! runs, other threads stage its snapshot blob (written, synced and hashed) and copy its
//! bytes into its temp file, so a splice only rewrites that file's tail; the db opens
//! meanwhile; the check before the rename runs while the snapshot commits, and the
//! directory sync after it while the file is read back (`bench/PROFILE.md`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::backup::{self, Capture, Entry, store};
use crate::error::{Error, Result};
use crate::fsx::{self, FileState};
use crate::output::display_path;
use crate::paths::Paths;

pub use crate::diff::unified_diff;
pub use crate::doc::NewBytes;

/// How many times an edit is redone when another process rewrites the file under us.
const MAX_ATTEMPTS: usize = 4;

/// The mode a written file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModePolicy {
    /// Keep the existing mode; a new file gets 0644.
    Keep,
    /// 0600: the file holds a secret.
    Private,
    /// Exactly this mode (used to put an original mode back).
    Exactly(u32),
}

/// What a pure edit made of a file: its new bytes (`None` to remove the file; a splice
/// of the bytes it was given, for a large file, so it is not copied) and the edit's own
/// answer (what it found, what it changed), which the caller gets back in
/// [`Outcome::results`] for the bytes that were actually written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited<T> {
    pub bytes: Option<NewBytes>,
    pub result: T,
}

/// What an edit is computed from: the file as read once by [`apply`].
#[derive(Debug, Clone, Copy)]
pub struct Current<'b> {
    /// `None` when the file does not exist.
    pub bytes: Option<&'b [u8]>,
    /// Its permission bits, when it exists.
    pub mode: Option<u32>,
}

/// A pure edit: the current file to [`Edited`].
pub type EditFn<'a, T> = Box<dyn Fn(Current<'_>) -> Result<Edited<T>> + 'a>;

/// One file an operation changes.
pub struct Change<'a, T = ()> {
    /// The snapshot group: `codex`, `claude`, `opencode`, or `skills`.
    pub client: String,
    /// The path as the user knows it (may be a symlink; the write goes through it).
    pub path: PathBuf,
    pub mode: ModePolicy,
    pub edit: EditFn<'a, T>,
}

impl<'a> Change<'a, ()> {
    /// An edit that only makes bytes.
    pub fn new(
        client: impl Into<String>,
        path: impl Into<PathBuf>,
        mode: ModePolicy,
        edit: impl Fn(Option<&[u8]>) -> Result<Option<Vec<u8>>> + 'a,
    ) -> Self {
        Self::with_result(client, path, mode, move |current| {
            Ok(Edited { bytes: edit(current.bytes)?.map(NewBytes::Whole), result: () })
        })
    }
}

impl<'a, T> Change<'a, T> {
    /// An edit that makes bytes and an answer.
    pub fn with_result(
        client: impl Into<String>,
        path: impl Into<PathBuf>,
        mode: ModePolicy,
        edit: impl Fn(Current<'_>) -> Result<Edited<T>> + 'a,
    ) -> Self {
        Self { client: client.into(), path: path.into(), mode, edit: Box::new(edit) }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileOutcome {
    pub client: String,
    pub path: String,
    /// `unchanged`, `created`, `modified`, `removed`.
    pub action: &'static str,
    #[serde(skip)]
    pub diff: String,
}

/// What an operation did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome<T = ()> {
    /// The snapshot transaction, when anything was written.
    pub txn: Option<String>,
    pub snapshot_ids: Vec<i64>,
    pub files: Vec<FileOutcome>,
    pub dry_run: bool,
    /// Each change's answer, in the order of the changes: from the edit of the bytes that
    /// were written (or would be, with `--dry-run`).
    #[serde(skip)]
    pub results: Vec<T>,
}

impl<T> Outcome<T> {
    /// The outcome without the answers, and the answers.
    pub fn split(self) -> (Outcome, Vec<T>) {
        let Outcome { txn, snapshot_ids, files, dry_run, results } = self;
        (Outcome { txn, snapshot_ids, files, dry_run, results: Vec::new() }, results)
    }

    pub fn changed(&self) -> bool {
        self.files.iter().any(|file| file.action != "unchanged")
    }

    /// The unified diff of every changed file (filled in for `--dry-run` only).
    pub fn diff(&self) -> String {
        self.files.iter().map(|file| file.diff.as_str()).collect()
    }
}

struct Planned<'a, 'b, 's, T> {
    index: usize,
    /// Which of the files read this change is the write of.
    read: usize,
    change: &'b Change<'a, T>,
    state: &'s FileState,
    new_bytes: Option<NewBytes>,
}

/// A file read before an operation's edits are known ([`apply_read`]): its path as the
/// user knows it, the mode its write will get, and what it holds.
pub struct FileRead {
    pub path: PathBuf,
    pub mode: ModePolicy,
    pub state: FileState,
}

impl FileRead {
    /// Read `path` (through symlinks) for a write with `mode`.
    pub fn new(path: impl Into<PathBuf>, mode: ModePolicy) -> Result<Self> {
        let path = path.into();
        let state = fsx::read_state(&path)?;
        Ok(Self { path, mode, state })
    }

    /// The bytes, `None` when the file does not exist.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.state.bytes.as_deref()
    }
}

/// Records written in the write's own db connection just before the snapshot commits
/// (not synced on their own: the snapshot's commit syncs the log they are in), so they
/// are durable before any file is replaced.
pub type Before<'a> = Box<dyn FnOnce(&rusqlite::Connection) -> Result<()> + 'a>;

/// What an operation that read its files first ([`apply_read`]) writes.
pub struct Plan<'a, T> {
    /// Each a change of one of the files read.
    pub changes: Vec<Change<'a, T>>,
    pub before: Option<Before<'a>>,
}

/// Apply `changes` as one operation. `reason` and `command` are recorded with the snapshot.
pub fn apply<T>(
    paths: &Paths,
    command: &str,
    reason: &str,
    changes: &[Change<'_, T>],
    dry_run: bool,
) -> Result<Outcome<T>> {
    apply_then(paths, command, reason, changes, dry_run, |_, _| Ok(()))
}

/// [`apply`], then `after` with the db connection and the answers once every file is
/// written (not when nothing was): the caller's own records go in the same connection,
/// which SQLite syncs (checkpoints) once, when it closes, not once per connection.
pub fn apply_then<T>(
    paths: &Paths,
    command: &str,
    reason: &str,
    changes: &[Change<'_, T>],
    dry_run: bool,
    after: impl FnOnce(&rusqlite::Connection, &[T]) -> Result<()>,
) -> Result<Outcome<T>> {
    let reads: Vec<FileRead> =
        changes.iter().map(|change| FileRead::new(&change.path, change.mode)).collect::<Result<_>>()?;
    apply_core(paths, command, reason, &reads, dry_run, || Ok((changes, None)), after)
}

/// [`apply_then`] for an operation that must look into its files before it knows its
/// edits (which scope holds a server, what it is): the files in `reads` (read once, by
/// the caller) are not read again, and the work ahead of their write (snapshot blobs, the
/// copy into the temp file, the db) starts before `plan` runs, so it overlaps the
/// caller's parse of them. Every change `plan` gives must be of a file in `reads`; its
/// `before` records go in just before the snapshot commits.
pub fn apply_read<'a, T>(
    paths: &Paths,
    command: &str,
    reason: &str,
    reads: &[FileRead],
    dry_run: bool,
    plan: impl FnOnce() -> Result<Plan<'a, T>>,
    after: impl FnOnce(&rusqlite::Connection, &[T]) -> Result<()>,
) -> Result<Outcome<T>> {
    apply_core(
        paths,
        command,
        reason,
        reads,
        dry_run,
        || plan().map(|plan| (plan.changes, plan.before)),
        after,
    )
}

/// The changes of an operation: borrowed ([`apply_then`]) or made by its plan.
type Planning<'a, C> = Result<(C, Option<Before<'a>>)>;

fn apply_core<'a, 'c, T, C: std::ops::Deref<Target = [Change<'c, T>]>>(
    paths: &Paths,
    command: &str,
    reason: &str,
    reads: &[FileRead],
    dry_run: bool,
    plan: impl FnOnce() -> Planning<'a, C>,
    after: impl FnOnce(&rusqlite::Connection, &[T]) -> Result<()>,
) -> Result<Outcome<T>> {
    // A large file's snapshot blob (a fsynced copy and its hash, the same whatever the
    // edit makes) is written on other threads while the edits run; when nothing is to be
    // written, it is called off. (Only in a home that is there already, whose db every
    // caller opens anyway: a command that changes nothing creates no home for this.)
    //
    // A very large file is also copied into its temp file meanwhile: an edit of it is a
    // splice (`NewBytes::Spliced`), so once it is known only the bytes from its start on
    // are written again (and synced) instead of the whole file after the edit.
    let cancel = AtomicBool::new(false);
    // Each copy ahead is called off on its own, as soon as its edit is known to need none.
    let unneeded: Vec<AtomicBool> = reads.iter().map(|_| AtomicBool::new(false)).collect();
    let blobs = store::blob_dir_in(&paths.aigate_home);
    let background = !dry_run && paths.aigate_home.is_dir();
    std::thread::scope(|scope| {
        // The db is opened (created in a new home) meanwhile too: first, so its few
        // syncs are not queued behind the large files' ones.
        let db = background.then(|| {
            std::thread::Builder::new().spawn_scoped(scope, || crate::db::open(&paths.aigate_home)).ok()
        });
        let staging: Vec<_> = reads
            .iter()
            .filter_map(FileRead::bytes)
            .filter(|bytes| background && bytes.len() >= store::EXTERNAL_BLOB_MIN)
            .filter_map(|bytes| {
                let (blobs, cancel) = (&blobs, &cancel);
                std::thread::Builder::new()
                    .spawn_scoped(scope, move || store::stage_blob(blobs, bytes, cancel))
                    .ok()
            })
            .collect();
        let ahead: Vec<Option<Ahead<'_>>> = reads
            .iter()
            .zip(&unneeded)
            .map(|(read, cancel)| {
                let bytes = read.bytes().filter(|bytes| background && bytes.len() >= WRITE_AHEAD_MIN)?;
                let (target, mode) = (&read.state.target, final_mode(read.mode, read.state.mode));
                std::thread::Builder::new()
                    .spawn_scoped(scope, move || fsx::prepare_temp_ahead(target, bytes, mode, cancel))
                    .ok()
            })
            .collect();
        let prepared = Prepared { staging, ahead, unneeded: &unneeded, db: db.flatten(), scope: Some(scope) };
        let outcome = plan().and_then(|(changes, before)| {
            apply_staged(paths, command, reason, &changes, dry_run, reads, prepared, &cancel, before, after)
        });
        cancel.store(true, Ordering::Relaxed);
        for flag in &unneeded {
            flag.store(true, Ordering::Relaxed);
        }
        outcome
    })
}

/// Files this large are copied into their temp file while their edit runs.
const WRITE_AHEAD_MIN: usize = 4 << 20;

/// A blob being staged on another thread.
type Staging<'scope, 'bytes> =
    std::thread::ScopedJoinHandle<'scope, Result<Option<store::StagedBlob<'bytes>>>>;

/// A temp file being filled with a file's current bytes on another thread.
type Ahead<'scope> = std::thread::ScopedJoinHandle<'scope, Result<Option<tempfile::NamedTempFile>>>;

/// Whether a file still holds what it held (read on another thread).
type Check<'scope> = std::thread::ScopedJoinHandle<'scope, Result<bool>>;

/// What [`apply`] started on other threads before the edits ran.
struct Prepared<'scope, 'bytes> {
    staging: Vec<Staging<'scope, 'bytes>>,
    /// By change, and what calls each off.
    ahead: Vec<Option<Ahead<'scope>>>,
    unneeded: &'scope [AtomicBool],
    db: Option<std::thread::ScopedJoinHandle<'scope, Result<rusqlite::Connection>>>,
    /// For the checks of the files before they are replaced, started while the snapshot
    /// is taken.
    scope: Option<&'scope std::thread::Scope<'scope, 'bytes>>,
}

#[expect(clippy::too_many_arguments, reason = "apply's arguments and what it prepared")]
fn apply_staged<'scope, 'env: 'scope, T>(
    paths: &Paths,
    command: &str,
    reason: &str,
    changes: &[Change<'_, T>],
    dry_run: bool,
    reads: &'env [FileRead],
    prepared_ahead: Prepared<'scope, 'env>,
    cancel: &AtomicBool,
    before: Option<Before<'_>>,
    after: impl FnOnce(&rusqlite::Connection, &[T]) -> Result<()>,
) -> Result<Outcome<T>> {
    let Prepared { staging, mut ahead, unneeded, db, scope } = prepared_ahead;
    let mut planned = Vec::new();
    let mut files = Vec::new();
    let mut results = Vec::with_capacity(changes.len());
    for (index, change) in changes.iter().enumerate() {
        let read =
            reads.iter().position(|read| read.path == change.path && read.mode == change.mode).ok_or_else(
                || Error::internal(format!("`{}` was not read before its edit", change.path.display())),
            )?;
        let state = &reads[read].state;
        let Edited { bytes: new_bytes, result } =
            (change.edit)(Current { bytes: state.bytes.as_deref(), mode: state.mode })?;
        results.push(result);
        let label = display_path(&change.path);
        let old = state.bytes.as_deref();
        // A file copied ahead gets whole new bytes as the splice they are, so that only
        // the tail from the first changed byte is written again.
        let copied_ahead = ahead.get(read).is_some_and(Option::is_some);
        let new_bytes = new_bytes.map(|new| if copied_ahead { new.into_splice(old) } else { new });
        let action = action_for(old, new_bytes.as_ref(), mode_change(change.mode, state));
        // A whole-file diff costs real time on a 20 MB `.claude.json`: only `--dry-run`
        // shows it.
        let diff = if action == "unchanged" || !dry_run {
            String::new()
        } else {
            let new = new_bytes.as_ref().map(|new| new.parts(old).concat());
            unified_diff(&label, old, new.as_deref())
        };
        files.push(FileOutcome { client: change.client.clone(), path: label, action, diff });
        if action != "unchanged" {
            planned.push(Planned { index, read, change, state, new_bytes });
        }
    }
    if dry_run || planned.is_empty() {
        cancel.store(true, Ordering::Relaxed);
        return Ok(Outcome { txn: None, snapshot_ids: Vec::new(), files, dry_run, results });
    }
    for (index, flag) in unneeded.iter().enumerate() {
        let spliced = planned
            .iter()
            .any(|item| item.read == index && matches!(item.new_bytes, Some(NewBytes::Spliced { .. })));
        if !spliced {
            flag.store(true, Ordering::Relaxed);
        }
    }
    // The new contents go into temp files beside their targets (nothing a client reads)
    // while the snapshot blobs are still being written.
    let mut prepared = Vec::with_capacity(planned.len());
    for item in &planned {
        let mode = final_mode(item.change.mode, item.state.mode);
        let old = item.state.bytes.as_deref();
        // A splice of a file copied ahead: only its tail is written again.
        let written_ahead = match (&item.new_bytes, ahead.get_mut(item.read).and_then(Option::take), old) {
            (Some(NewBytes::Spliced { range, with }), Some(handle), Some(old)) => match handle.join() {
                Ok(Ok(Some(temp))) => {
                    let tail = old.get(range.end..).unwrap_or_default();
                    Some(fsx::resplice_temp(temp, range.start as u64, &[with, tail])?)
                }
                Ok(Ok(None) | Err(_)) | Err(_) => None,
            },
            _ => None,
        };
        prepared.push(match (&item.new_bytes, written_ahead) {
            (Some(_), Some(temp)) => Some(temp),
            (Some(bytes), None) => Some(fsx::prepare_temp(&item.state.target, &bytes.parts(old), mode)?),
            (None, _) => None,
        });
    }
    // Each file is checked (it still holds what the edit was made from) while the
    // snapshot is taken: the check and the rename are then a snapshot commit apart.
    let mut checks: Vec<Option<Check<'_>>> = planned
        .iter()
        .map(|item| {
            let read = &reads[item.read];
            let (path, bytes) = (&read.path, read.bytes());
            let check = move || {
                let parts = bytes.map(|bytes| [bytes]);
                fsx::holds(path, parts.as_ref().map(|parts| &parts[..]))
            };
            std::thread::Builder::new().spawn_scoped(scope?, check).ok()
        })
        .collect();
    let mut staged = Vec::new();
    for handle in staging {
        let blob = handle.join().map_err(|_| Error::internal("writing a snapshot's bytes failed"))??;
        staged.extend(blob);
    }

    let mut connection = match db {
        Some(db) => db.join().map_err(|_| Error::internal("opening the aigate database failed"))??,
        None => crate::db::open(&paths.aigate_home)?,
    };
    if let Some(before) = before {
        // Not synced on their own: the snapshot's commit below syncs the write-ahead log,
        // whose frames are in order, so these records are durable with it (before any
        // file is replaced) at the cost of one sync, not two.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        before(&connection)?;
        connection.pragma_update(None, "synchronous", "FULL")?;
    }
    let txn = backup::new_txn();
    let mut snapshot_ids: Vec<(String, i64)> = Vec::new();
    let mut clients: Vec<&str> = planned.iter().map(|item| item.change.client.as_str()).collect();
    clients.sort_unstable();
    clients.dedup();
    for client in clients {
        let mut entries: Vec<Entry<'_>> = planned
            .iter()
            .filter(|item| item.change.client == client)
            .map(|item| backup::file_entry_of(&item.change.path, item.state))
            .collect();
        // The first snapshot of a client is its pinned original: take every file of it.
        if !store::has_snapshot(&connection, client)? {
            let extra: Vec<Capture> = original_files(client, paths)
                .into_iter()
                .filter(|path| !entries.iter().any(|entry| Path::new(&entry.path) == path))
                .map(Capture::File)
                .collect();
            entries.extend(backup::capture(&extra)?);
        }
        let (mine, others): (Vec<_>, Vec<_>) = staged.into_iter().partition(|blob| {
            entries.iter().any(|entry| entry.bytes.as_deref().is_some_and(|bytes| blob.is_of(bytes)))
        });
        staged = others;
        let id = store::insert_staged(&mut connection, &txn, client, reason, None, command, &entries, mine)?;
        snapshot_ids.push((client.to_string(), id));
    }

    for (index, temp) in prepared.into_iter().enumerate() {
        let item = &mut planned[index];
        let snapshot_id =
            snapshot_ids.iter().find(|(client, _)| *client == item.change.client).map(|(_, id)| *id);
        let new_bytes = item.new_bytes.take();
        let check = checks.get_mut(index).and_then(Option::take);
        let written = write_one(item, check, temp, new_bytes, &mut connection, snapshot_id);
        if let Ok(Some(result)) = written {
            results[planned[index].index] = result;
        } else if let Err(error) = written {
            let rollback = roll_back(&planned[..index]);
            let error = error.context(format!(
                "Failed to write `{}`; {}",
                display_path(&planned[index].change.path),
                if rollback.is_ok() {
                    "files already written were put back"
                } else {
                    "putting back the files already written failed too"
                }
            ));
            return Err(error.hint(format!(
                "the state before this command is snapshot transaction {txn}: `aigate restore`"
            )));
        }
    }
    after(&connection, &results)?;
    Ok(Outcome {
        txn: Some(txn),
        snapshot_ids: snapshot_ids.into_iter().map(|(_, id)| id).collect(),
        files,
        dry_run,
        results,
    })
}

/// Write one planned file (its new bytes already in `temp`, when it is not removed).
/// `Some(result)` when the edit had to be redone on bytes another program wrote
/// meanwhile: that answer replaces the first one.
fn write_one<T>(
    item: &Planned<'_, '_, '_, T>,
    mut first_check: Option<Check<'_>>,
    mut temp: Option<tempfile::NamedTempFile>,
    mut new_bytes: Option<NewBytes>,
    connection: &mut rusqlite::Connection,
    snapshot_id: Option<i64>,
) -> Result<Option<T>> {
    let mut redone = None;
    // What the target must still hold for the write to go ahead (and what the new bytes
    // were made from): the planned state, until a fresh read replaces it. (No copies:
    // these can be 20 MB each, and the checks below compare the file with them as they
    // read it.)
    let mut replaced_expectation: Option<Option<Vec<u8>>> = None;
    let target = &item.state.target;
    for _ in 0..MAX_ATTEMPTS {
        let expected = replaced_expectation.as_ref().unwrap_or(&item.state.bytes).as_deref();
        let new_parts = new_bytes.as_ref().map(|bytes| bytes.parts(expected));
        let prepared = match (temp.take(), &new_parts) {
            (Some(temp), Some(_)) => Some(temp),
            (_, Some(parts)) => {
                Some(fsx::prepare_temp(target, parts, final_mode(item.change.mode, item.state.mode))?)
            }
            (_, None) => None,
        };
        let expected_parts = expected.map(|bytes| [bytes]);
        let unchanged = match first_check.take() {
            Some(check) => {
                check.join().map_err(|_| Error::internal("checking the file before the write failed"))??
            }
            None => fsx::holds(&item.change.path, expected_parts.as_ref().map(|parts| &parts[..]))?,
        };
        if unchanged {
            let read_back = || fsx::holds(&item.change.path, new_parts.as_ref().map(|parts| &parts[..]));
            let written = if let Some(temp) = prepared {
                // The rename is made durable (its directory synced) while the file is read
                // back.
                fsx::persist_temp(temp, target)?;
                let dir = fsx::parent_dir(target);
                std::thread::scope(|scope| {
                    let sync = std::thread::Builder::new().spawn_scoped(scope, || fsx::sync_dir(&dir)).ok();
                    let written = read_back();
                    match sync {
                        Some(sync) => {
                            sync.join().map_err(|_| Error::internal("syncing a directory failed"))??;
                        }
                        None => fsx::sync_dir(&dir)?,
                    }
                    written
                })?
            } else {
                fsx::remove_file(target)?;
                read_back()?
            };
            // Read back: another program may have replaced the file right after our
            // rename, losing our edit; then redo it on what is there now.
            if written {
                return Ok(redone);
            }
        } else {
            drop(prepared);
        }
        // Another process rewrote the file since we read it: make the snapshot hold what
        // we are about to replace, and redo the edit on its bytes.
        let fresh = fsx::read_state(&item.change.path)?;
        if let Some(id) = snapshot_id {
            store::replace_entry(connection, id, &backup::file_entry_of(&item.change.path, &fresh))?;
        }
        let Edited { bytes, result } =
            (item.change.edit)(Current { bytes: fresh.bytes.as_deref(), mode: fresh.mode })?;
        new_bytes = bytes;
        redone = Some(result);
        let unchanged = match (&new_bytes, fresh.bytes.as_deref()) {
            (Some(new), Some(old)) => new.is(Some(old), old),
            (None, None) => true,
            (Some(_), None) | (None, Some(_)) => false,
        };
        if unchanged {
            return Ok(redone);
        }
        replaced_expectation = Some(fresh.bytes);
    }
    Err(Error::internal(format!(
        "`{}` kept changing while aigate was writing it",
        display_path(&item.change.path)
    ))
    .hint("stop the program that is rewriting it (is the agent running?), then try again"))
}

fn roll_back<T>(written: &[Planned<'_, '_, '_, T>]) -> Result<()> {
    for item in written.iter().rev() {
        match &item.state.bytes {
            Some(bytes) => fsx::write_atomic(&item.state.target, bytes, item.state.mode.unwrap_or(0o644))?,
            None => fsx::remove_file(&item.state.target)?,
        }
    }
    Ok(())
}

fn final_mode(policy: ModePolicy, current: Option<u32>) -> u32 {
    match policy {
        ModePolicy::Keep => current.unwrap_or(0o644),
        ModePolicy::Private => 0o600,
        ModePolicy::Exactly(mode) => mode,
    }
}

fn mode_change(policy: ModePolicy, state: &FileState) -> bool {
    match (policy, state.mode) {
        (ModePolicy::Keep, _) | (_, None) => false,
        (ModePolicy::Private, Some(mode)) => mode != 0o600,
        (ModePolicy::Exactly(wanted), Some(mode)) => mode != wanted,
    }
}

fn action_for(old: Option<&[u8]>, new: Option<&NewBytes>, mode_changes: bool) -> &'static str {
    match (old, new) {
        (None, None) => "unchanged",
        (None, Some(_)) => "created",
        (Some(_), None) => "removed",
        (Some(old), Some(new)) if new.is(Some(old), old) && !mode_changes => "unchanged",
        (Some(_), Some(_)) => "modified",
    }
}

/// The files a client's pinned original snapshot covers (never Codex `auth.json`, which
/// aigate must not write, so it must not restore it either).
pub fn original_files(client: &str, paths: &Paths) -> Vec<PathBuf> {
    crate::clients::Client::from_name(client)
        .map(|client| {
            client.files(paths).into_iter().filter(|file| file.writable).map(|file| file.path).collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::for_home(dir.path());
        fs_err::create_dir_all(&paths.aigate_home).unwrap();
        (dir, paths)
    }

    /// A home with one file holding `text`, read for a write.
    fn one_file(text: &str) -> (tempfile::TempDir, Paths, PathBuf, [FileRead; 1]) {
        let (dir, paths) = home();
        let path = dir.path().join("config.toml");
        fs_err::write(&path, text).unwrap();
        let reads = [FileRead::new(&path, ModePolicy::Keep).unwrap()];
        (dir, paths, path, reads)
    }

    /// An edit that adds a line to the file, answering with the bytes it was given.
    fn add_line(path: &Path) -> Change<'static, String> {
        Change::with_result("codex", path, ModePolicy::Keep, |current| {
            let old = current.bytes.unwrap_or_default();
            let new = [old, b"added = true\n"].concat();
            Ok(Edited {
                bytes: Some(NewBytes::Whole(new)),
                result: String::from_utf8_lossy(old).into_owned(),
            })
        })
    }

    fn note_table(connection: &rusqlite::Connection) -> Result<()> {
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS note (text TEXT); INSERT INTO note VALUES ('parked');",
        )?;
        Ok(())
    }

    fn notes(paths: &Paths) -> Vec<String> {
        let connection = crate::db::open(&paths.aigate_home).unwrap();
        let Ok(mut statement) = connection.prepare("SELECT text FROM note") else { return Vec::new() };
        statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn a_file_rewritten_after_the_callers_read_is_edited_again_not_overwritten() {
        let (_dir, paths, path, reads) = one_file("model = \"a\"\n");
        // Another program rewrites the file while the caller looks into what it read.
        let plan = || {
            fs_err::write(&path, "model = \"b\"\n").unwrap();
            Ok(Plan { changes: vec![add_line(&path)], before: None })
        };
        let outcome = apply_read(&paths, "test", "test", &reads, false, plan, |_, _| Ok(())).unwrap();
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "model = \"b\"\nadded = true\n");
        // The answer is the one of the edit whose bytes were written.
        assert_eq!(outcome.results, vec!["model = \"b\"\n".to_string()]);
    }

    #[test]
    fn before_records_go_in_with_the_write_only() {
        let (_dir, paths, path, reads) = one_file("model = \"a\"\n");
        let plan =
            || Ok(Plan { changes: vec![add_line(&path)], before: Some(Box::new(note_table) as Before<'_>) });
        apply_read(&paths, "test", "test", &reads, true, plan, |_, _| Ok(())).unwrap();
        assert_eq!(notes(&paths), Vec::<String>::new(), "a dry run records nothing");
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "model = \"a\"\n");

        let unchanged = || {
            let change = Change::with_result("codex", &path, ModePolicy::Keep, |current| {
                Ok(Edited {
                    bytes: current.bytes.map(|bytes| NewBytes::Whole(bytes.to_vec())),
                    result: String::new(),
                })
            });
            Ok(Plan { changes: vec![change], before: Some(Box::new(note_table) as Before<'_>) })
        };
        let outcome = apply_read(&paths, "test", "test", &reads, false, unchanged, |_, _| Ok(())).unwrap();
        assert!(!outcome.changed());
        assert_eq!(notes(&paths), Vec::<String>::new(), "nothing written, nothing recorded");

        let plan =
            || Ok(Plan { changes: vec![add_line(&path)], before: Some(Box::new(note_table) as Before<'_>) });
        let outcome = apply_read(&paths, "test", "test", &reads, false, plan, |_, _| Ok(())).unwrap();
        assert!(outcome.changed());
        assert_eq!(notes(&paths), vec!["parked".to_string()]);
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "model = \"a\"\nadded = true\n");
    }

    #[test]
    fn a_change_of_a_file_that_was_not_read_first_is_refused_before_any_write() {
        let (dir, paths) = home();
        let (read, other) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
        fs_err::write(&read, "a = 1\n").unwrap();
        let reads = [FileRead::new(&read, ModePolicy::Keep).unwrap()];
        let plan = || Ok(Plan { changes: vec![add_line(&read), add_line(&other)], before: None });
        let error = apply_read(&paths, "test", "test", &reads, false, plan, |_, _| Ok(())).unwrap_err();
        assert!(error.to_string().contains("was not read before its edit"), "{error}");
        assert_eq!(fs_err::read_to_string(&read).unwrap(), "a = 1\n");
        assert!(!other.exists());
    }
}
