//! Snapshots of client files and skill directories, and putting them back.
//!
//! Every write goes through [`crate::write`], which calls [`snapshot`] first. A snapshot
//! records, for each path: its bytes and mode (symlinks followed for client files), that
//! it did not exist, or for a directory tree (skills) every entry under it with links
//! kept as links. [`restore_snapshot`] reproduces exactly that state and writes only what
//! differs; files are replaced atomically through their symlinks.

pub mod restore;
pub mod store;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::Result;
use crate::fsx;
pub use store::{Entry, EntryKind, SnapshotInfo};

/// What to capture.
#[derive(Debug, Clone)]
pub enum Capture {
    /// A client file, read through its symlinks.
    File(PathBuf),
    /// A directory tree (a skill), links recorded as links, not followed.
    Tree(PathBuf),
}

/// A path a restore changed (or would change, with `--dry-run`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoredPath {
    pub path: String,
    /// `written`, `removed`, `linked`, `created-dir`.
    pub action: &'static str,
    #[serde(skip)]
    pub diff: String,
}

/// Read the current state of each item into snapshot entries.
pub fn capture(items: &[Capture]) -> Result<Vec<Entry<'static>>> {
    let mut entries = Vec::new();
    for item in items {
        match item {
            Capture::File(path) => entries.push(file_entry(path, fsx::read_state(path)?)),
            Capture::Tree(path) => capture_tree(path, &mut entries)?,
        }
    }
    Ok(entries)
}

/// The snapshot entry of a client file whose state was just read.
pub fn file_entry(path: &Path, state: fsx::FileState) -> Entry<'static> {
    Entry {
        path: path_string(path),
        kind: if state.bytes.is_some() { EntryKind::File } else { EntryKind::Absent },
        bytes: state.bytes.map(Cow::Owned),
        mode: state.mode,
        link_target: None,
    }
}

/// [`file_entry`] borrowing the bytes of `state` (a large file is not copied).
pub fn file_entry_of<'state>(path: &Path, state: &'state fsx::FileState) -> Entry<'state> {
    Entry {
        path: path_string(path),
        kind: if state.bytes.is_some() { EntryKind::File } else { EntryKind::Absent },
        bytes: state.bytes.as_deref().map(Cow::Borrowed),
        mode: state.mode,
        link_target: None,
    }
}

/// Capture `items` and store them as one snapshot of `client` within transaction `txn`.
pub fn snapshot(
    connection: &mut Connection,
    txn: &str,
    client: &str,
    reason: &str,
    label: Option<&str>,
    command: &str,
    items: &[Capture],
) -> Result<i64> {
    let entries = capture(items)?;
    store::insert(connection, txn, client, reason, label, command, &entries)
}

/// A new transaction id: time plus randomness, sortable.
pub fn new_txn() -> String {
    // Unique enough by time alone should the OS random source fail.
    format!("{}-{}", crate::db::now_ms(), crate::random::hex(6).unwrap_or_default())
}

/// Put back the state a snapshot holds. With `dry_run`, only report what would change.
pub fn restore_entries(entries: &[Entry<'_>], dry_run: bool) -> Result<Vec<RestoredPath>> {
    let mut changes = Vec::new();
    let paths = entry_paths(entries);
    // Under a tree root that is a directory, anything not in the snapshot is removed.
    for entry in top_level(entries, &paths) {
        if entry.kind == EntryKind::Dir {
            remove_extras(Path::new(&entry.path), &paths, dry_run, &mut changes)?;
        }
    }
    for entry in entries {
        restore_entry(entry, dry_run, &mut changes)?;
    }
    Ok(changes)
}

/// What to capture before restoring `entries`, so the restore can be undone: the same
/// client files and trees (a path that is a directory now is captured as a tree).
pub fn capture_items_for(entries: &[Entry<'_>]) -> Vec<Capture> {
    let paths = entry_paths(entries);
    top_level(entries, &paths)
        .map(|entry| {
            let owned = PathBuf::from(&entry.path);
            match entry.kind {
                EntryKind::Dir | EntryKind::Symlink => Capture::Tree(owned),
                EntryKind::File | EntryKind::Absent => {
                    if fs_err::symlink_metadata(&owned).is_ok_and(|metadata| metadata.is_dir()) {
                        Capture::Tree(owned)
                    } else {
                        Capture::File(owned)
                    }
                }
            }
        })
        .collect()
}

fn entry_paths<'a>(entries: &'a [Entry<'_>]) -> BTreeSet<&'a str> {
    entries.iter().map(|entry| entry.path.as_str()).collect()
}

/// Client files and tree roots: the entries whose parent is not itself an entry.
fn top_level<'a, 'bytes>(
    entries: &'a [Entry<'bytes>],
    paths: &BTreeSet<&str>,
) -> impl Iterator<Item = &'a Entry<'bytes>> {
    entries.iter().filter(|entry| {
        Path::new(&entry.path)
            .parent()
            .is_none_or(|parent| !paths.contains(parent.to_string_lossy().as_ref()))
    })
}

fn restore_entry(entry: &Entry<'_>, dry_run: bool, changes: &mut Vec<RestoredPath>) -> Result<()> {
    let path = Path::new(&entry.path);
    let current = fs_err::symlink_metadata(path).ok();
    match entry.kind {
        EntryKind::File => {
            let bytes = entry.bytes.as_deref().unwrap_or_default();
            if current.as_ref().is_some_and(std::fs::Metadata::is_dir) && !dry_run {
                fs_err::remove_dir_all(path)?;
            }
            let state = fsx::read_state(path)?;
            let mode = entry.mode.unwrap_or(0o644);
            if state.bytes.as_deref() == Some(bytes) && state.mode == Some(mode) {
                return Ok(());
            }
            let diff = crate::diff::unified_diff(
                &crate::output::display_path(path),
                state.bytes.as_deref(),
                Some(bytes),
            );
            if !dry_run {
                fsx::write_atomic(&state.target, bytes, mode)?;
            }
            changes.push(RestoredPath { path: entry.path.clone(), action: "written", diff });
        }
        EntryKind::Absent => {
            let Some(metadata) = current else { return Ok(()) };
            let diff = if metadata.is_file() {
                let old = fs_err::read(path).ok();
                crate::diff::unified_diff(&crate::output::display_path(path), old.as_deref(), None)
            } else {
                String::new()
            };
            if !dry_run {
                if metadata.is_dir() {
                    fs_err::remove_dir_all(path)?;
                } else {
                    fsx::remove_file(path)?;
                }
            }
            changes.push(RestoredPath { path: entry.path.clone(), action: "removed", diff });
        }
        EntryKind::Dir => {
            let mode = entry.mode.unwrap_or(0o755);
            match current {
                Some(metadata) if metadata.is_dir() => {
                    if metadata.permissions().mode() & 0o7777 != mode && !dry_run {
                        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
                    }
                }
                existing => {
                    if !dry_run {
                        if existing.is_some() {
                            fs_err::remove_file(path)?;
                        }
                        fs_err::create_dir_all(path)?;
                        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
                    }
                    changes.push(RestoredPath {
                        path: entry.path.clone(),
                        action: "created-dir",
                        diff: String::new(),
                    });
                }
            }
        }
        EntryKind::Symlink => {
            let target = entry.link_target.clone().unwrap_or_default();
            let same = current.as_ref().is_some_and(|metadata| metadata.file_type().is_symlink())
                && fs_err::read_link(path).ok().is_some_and(|link| link == Path::new(&target));
            if same {
                return Ok(());
            }
            if !dry_run {
                match current {
                    Some(metadata) if metadata.is_dir() => fs_err::remove_dir_all(path)?,
                    Some(_) => fs_err::remove_file(path)?,
                    None => {}
                }
                if let Some(parent) = path.parent() {
                    fs_err::create_dir_all(parent)?;
                }
                fs_err::os::unix::fs::symlink(&target, path)?;
            }
            changes.push(RestoredPath { path: entry.path.clone(), action: "linked", diff: String::new() });
        }
    }
    Ok(())
}

fn remove_extras(
    root: &Path,
    keep: &BTreeSet<&str>,
    dry_run: bool,
    changes: &mut Vec<RestoredPath>,
) -> Result<()> {
    let Ok(metadata) = fs_err::symlink_metadata(root) else { return Ok(()) };
    if !metadata.is_dir() {
        return Ok(());
    }
    for child in fs_err::read_dir(root)? {
        let child = child?.path();
        let name = path_string(&child);
        if keep.contains(name.as_str()) {
            let child_metadata = fs_err::symlink_metadata(&child)?;
            if child_metadata.is_dir() {
                remove_extras(&child, keep, dry_run, changes)?;
            }
            continue;
        }
        if !dry_run {
            let child_metadata = fs_err::symlink_metadata(&child)?;
            if child_metadata.is_dir() {
                fs_err::remove_dir_all(&child)?;
            } else {
                fs_err::remove_file(&child)?;
            }
        }
        changes.push(RestoredPath { path: name, action: "removed", diff: String::new() });
    }
    Ok(())
}

fn capture_tree(path: &Path, entries: &mut Vec<Entry<'static>>) -> Result<()> {
    let name = path_string(path);
    let Ok(metadata) = fs_err::symlink_metadata(path) else {
        entries.push(Entry {
            path: name,
            kind: EntryKind::Absent,
            bytes: None,
            mode: None,
            link_target: None,
        });
        return Ok(());
    };
    let mode = Some(metadata.permissions().mode() & 0o7777);
    if metadata.file_type().is_symlink() {
        let target = fs_err::read_link(path)?;
        entries.push(Entry {
            path: name,
            kind: EntryKind::Symlink,
            bytes: None,
            mode: None,
            link_target: Some(target.to_string_lossy().into_owned()),
        });
    } else if metadata.is_dir() {
        entries.push(Entry { path: name, kind: EntryKind::Dir, bytes: None, mode, link_target: None });
        let mut children: Vec<PathBuf> = fs_err::read_dir(path)?
            .map(|child| child.map(|child| child.path()))
            .collect::<std::io::Result<_>>()?;
        children.sort();
        for child in children {
            capture_tree(&child, entries)?;
        }
    } else {
        let bytes = fs_err::read(path)?;
        entries.push(Entry {
            path: name,
            kind: EntryKind::File,
            bytes: Some(Cow::Owned(bytes)),
            mode,
            link_target: None,
        });
    }
    Ok(())
}

fn path_string(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn tree_capture_and_restore_brings_back_a_removed_skill_with_modes_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let skill = dir.path().join("skills/pdf-tools");
        fs_err::create_dir_all(skill.join("scripts")).unwrap();
        fs_err::write(skill.join("SKILL.md"), "---\nname: pdf-tools\n---\n").unwrap();
        fs_err::write(skill.join("scripts/extract.sh"), "#!/bin/sh\n").unwrap();
        fs_err::set_permissions(skill.join("scripts/extract.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let link = dir.path().join("claude/skills/pdf-tools");
        fs_err::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(&skill, &link).unwrap();

        let entries = capture(&[Capture::Tree(skill.clone()), Capture::Tree(link.clone())]).unwrap();
        fs_err::remove_dir_all(&skill).unwrap();
        fs_err::remove_file(&link).unwrap();

        restore_entries(&entries, false).unwrap();
        assert_eq!(fs_err::read_to_string(skill.join("SKILL.md")).unwrap(), "---\nname: pdf-tools\n---\n");
        let mode = fs_err::metadata(skill.join("scripts/extract.sh")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert_eq!(fs_err::read_link(&link).unwrap(), skill);
        // Restoring again changes nothing.
        assert!(restore_entries(&entries, false).unwrap().is_empty());
    }

    #[test]
    fn restore_removes_files_added_to_a_tree_and_files_that_did_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let skill = dir.path().join("skill");
        fs_err::create_dir_all(&skill).unwrap();
        fs_err::write(skill.join("SKILL.md"), "a").unwrap();
        let config = dir.path().join("config.toml");
        let entries = capture(&[Capture::Tree(skill.clone()), Capture::File(config.clone())]).unwrap();
        fs_err::write(skill.join("extra.md"), "b").unwrap();
        fs_err::write(&config, "x = 1\n").unwrap();

        let dry = restore_entries(&entries, true).unwrap();
        assert_eq!(dry.len(), 2);
        assert!(config.exists(), "dry run wrote nothing");

        restore_entries(&entries, false).unwrap();
        assert!(!skill.join("extra.md").exists());
        assert!(!config.exists());
    }
}
