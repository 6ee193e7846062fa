//! File-system primitives every writer uses: symlink resolution, reading a file's
//! state, and `write_atomic`.
//!
//! Invariants: a symlink is never replaced by a regular file (writes go through the
//! whole chain to the final target, and the rename happens in the target's directory);
//! a write is a temp file in the same directory, fsynced, renamed over the target, and
//! the directory fsynced, so a crash leaves the old or the new content, never a mix.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::output::display_path;

/// How many links a chain may have before it is called a loop (Linux uses 40).
const MAX_LINKS: usize = 40;

/// What a path holds right now, read through any symlinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// The final target of the symlink chain (the path itself when it is no link).
    pub target: PathBuf,
    /// `None` when the file does not exist.
    pub bytes: Option<Vec<u8>>,
    /// Permission bits, when the file exists.
    pub mode: Option<u32>,
}

/// Follow a symlink chain to the file a write must replace.
///
/// A missing final target is allowed only when `path` itself is not a link (a new file);
/// a dangling link or a loop is refused: writing would create a file the user never
/// pointed at, or never finish.
pub fn resolve_target(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs_err::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = fs_err::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
                if fs_err::symlink_metadata(&current).is_err() {
                    return Err(Error::refused(format!(
                        "`{}` is a symlink to `{}`, which does not exist",
                        display_path(path),
                        display_path(&current)
                    ))
                    .hint("fix or remove the dangling link, then run the command again"));
                }
            }
            Ok(metadata) if metadata.is_dir() => {
                return Err(Error::refused(format!("`{}` is a directory, not a file", display_path(path))));
            }
            Ok(_) => return Ok(current),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(error) => return Err(error.into()),
        }
    }
    Err(Error::refused(format!("`{}` is a symlink loop", display_path(path)))
        .hint("fix the links so they end at a file, then run the command again"))
}

/// Read a file's bytes and mode through its symlinks.
pub fn read_state(path: &Path) -> Result<FileState> {
    let target = resolve_target(path)?;
    match read(&target) {
        Ok(bytes) => {
            let mode = fs_err::metadata(&target)?.permissions().mode() & 0o7777;
            Ok(FileState { target, bytes: Some(bytes), mode: Some(mode) })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Ok(FileState { target, bytes: None, mode: None })
        }
        Err(error) => Err(error.into()),
    }
}

/// Files this large are read by two threads, a half each: most of the time of reading a
/// 20 MB `.claude.json` is the kernel filling fresh pages, which two cores do at once.
const PARALLEL_READ_MIN: u64 = 4 << 20;

/// `fs_err::read`, in two halves at once for a large file ([`PARALLEL_READ_MIN`]).
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek};
    use std::os::unix::fs::FileExt;
    let mut file = fs_err::File::open(path)?;
    let length = file.metadata()?.len();
    if length < PARALLEL_READ_MIN || usize::try_from(length).is_err() {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        return Ok(bytes);
    }
    let mut bytes = vec![0; length as usize];
    let half = bytes.len() / 2;
    let (first, second) = bytes.split_at_mut(half);
    let whole = std::thread::scope(|scope| {
        let handle = file.file();
        let Ok(other) = std::thread::Builder::new()
            .spawn_scoped(scope, move || handle.read_exact_at(second, half as u64))
        else {
            return false;
        };
        let mine = handle.read_exact_at(first, 0);
        let theirs = other.join().unwrap_or_else(|_| Err(std::io::ErrorKind::Other.into()));
        mine.is_ok() && theirs.is_ok()
    });
    if !whole {
        // No second thread, a read failed, or the file shrank meanwhile: read it again as
        // a whole (which also gives the error its path).
        return fs_err::read(path);
    }
    // It grew meanwhile: the rest too.
    file.seek(std::io::SeekFrom::Start(length))?;
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Whether `path` (through its symlinks) holds exactly `expected` (`None`: no file), the
/// bytes given in pieces (a large file spliced, without a copy of it put together),
/// compared as it is read, a block at a time (in two halves at once for a large one).
pub fn holds(path: &Path, expected: Option<&[&[u8]]>) -> Result<bool> {
    let target = resolve_target(path)?;
    let file = match fs_err::File::open(&target) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(expected.is_none()),
        Err(error) => return Err(error.into()),
    };
    let Some(expected) = expected else { return Ok(false) };
    let total: usize = expected.iter().map(|part| part.len()).sum();
    let length = file.metadata()?.len();
    if length != total as u64 {
        return Ok(false);
    }
    let handle = file.file();
    let same = if length >= PARALLEL_READ_MIN {
        let (first, second) = split_parts(expected, total / 2);
        std::thread::scope(|scope| {
            let other = std::thread::Builder::new()
                .spawn_scoped(scope, || same_at(handle, &second, (total / 2) as u64))
                .ok();
            let mine = same_at(handle, &first, 0);
            let theirs = match other {
                Some(other) => other.join().unwrap_or_else(|_| Err(std::io::ErrorKind::Other.into())),
                None => same_at(handle, &second, (total / 2) as u64),
            };
            Ok::<_, std::io::Error>(mine? && theirs?)
        })
    } else {
        same_at(handle, expected, 0)
    };
    let same = same.map_err(|error| {
        Error::internal(format!("Failed to read `{}`", display_path(&target))).cause(error)
    })?;
    // And nothing past the end (it may have grown since its length was read).
    Ok(same && std::os::unix::fs::FileExt::read_at(handle, &mut [0], length).is_ok_and(|read| read == 0))
}

/// `parts` cut in two at byte `at` of their concatenation.
fn split_parts<'bytes>(parts: &[&'bytes [u8]], mut at: usize) -> (Vec<&'bytes [u8]>, Vec<&'bytes [u8]>) {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for part in parts {
        if at >= part.len() {
            first.push(*part);
            at -= part.len();
        } else {
            let (head, tail) = part.split_at(at);
            first.push(head);
            second.push(tail);
            at = 0;
        }
    }
    (first, second)
}

/// Whether `file` holds the concatenation of `parts` at `offset` (false when it ends
/// before).
fn same_at(file: &std::fs::File, parts: &[&[u8]], offset: u64) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let total: usize = parts.iter().map(|part| part.len()).sum();
    let mut block = vec![0; (256 * 1024).min(total)];
    let mut at = offset;
    for part in parts {
        let mut done = 0;
        while done < part.len() {
            let size = block.len().min(part.len() - done);
            match file.read_exact_at(&mut block[..size], at) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(error) => return Err(error),
            }
            if block[..size] != part[done..done + size] {
                return Ok(false);
            }
            done += size;
            at += size as u64;
        }
    }
    Ok(true)
}

/// Write `bytes` to `target` (already resolved) atomically with the given mode.
pub fn write_atomic(target: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    commit_temp(prepare_temp(target, &[bytes], mode)?, target)
}

/// The first half of [`write_atomic`]: the bytes (in pieces, written one after the
/// other) in a fsynced temp file with `mode`, in the target's directory so the rename
/// cannot cross devices. Dropping it removes it.
pub fn prepare_temp(target: &Path, parts: &[&[u8]], mode: u32) -> Result<tempfile::NamedTempFile> {
    let mut temp = create_temp(target, mode)?;
    for part in parts {
        temp.write_all(part)?;
    }
    temp.as_file().sync_all()?;
    Ok(temp)
}

/// [`prepare_temp`] of a file's current `bytes`, ahead of an edit of them that is not
/// known yet (see [`resplice_temp`]): `None`, and nothing left, when `cancel` is set
/// meanwhile.
pub fn prepare_temp_ahead(
    target: &Path,
    bytes: &[u8],
    mode: u32,
    cancel: &AtomicBool,
) -> Result<Option<tempfile::NamedTempFile>> {
    let mut temp = create_temp(target, mode)?;
    Ok(write_synced_unless_cancelled(&mut temp, bytes, cancel)?.then_some(temp))
}

/// Write `bytes` into `temp` a megabyte at a time and sync it; `false` (the file left
/// partly written, for the caller to drop) as soon as `cancel` is set.
pub fn write_synced_unless_cancelled(
    temp: &mut tempfile::NamedTempFile,
    bytes: &[u8],
    cancel: &AtomicBool,
) -> std::io::Result<bool> {
    for chunk in bytes.chunks(1 << 20) {
        if cancel.load(Ordering::Relaxed) {
            return Ok(false);
        }
        temp.write_all(chunk)?;
    }
    if cancel.load(Ordering::Relaxed) {
        return Ok(false);
    }
    temp.as_file().sync_all()?;
    Ok(true)
}

/// A temp file from [`prepare_temp_ahead`] made into its first `keep` bytes followed by
/// `tail`: only the tail is written (and synced) again.
pub fn resplice_temp(
    mut temp: tempfile::NamedTempFile,
    keep: u64,
    tail: &[&[u8]],
) -> Result<tempfile::NamedTempFile> {
    use std::io::Seek;
    temp.as_file().set_len(keep)?;
    temp.seek(std::io::SeekFrom::Start(keep))?;
    for part in tail {
        temp.write_all(part)?;
    }
    temp.as_file().sync_all()?;
    Ok(temp)
}

/// An empty temp file with `mode` in `target`'s directory (created if missing).
fn create_temp(target: &Path, mode: u32) -> Result<tempfile::NamedTempFile> {
    let dir = parent_dir(target);
    if !dir.exists() {
        fs_err::create_dir_all(&dir)?;
    }
    let name = target.file_name().map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}.aigate-"))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|error| {
            Error::internal(format!("Failed to create a temp file in `{}`", display_path(&dir))).cause(error)
        })?;
    temp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(temp)
}

/// The second half of [`write_atomic`]: rename the temp file over `target` and fsync the
/// directory.
pub fn commit_temp(temp: tempfile::NamedTempFile, target: &Path) -> Result<()> {
    persist_temp(temp, target)?;
    sync_dir(&parent_dir(target))
}

/// [`commit_temp`] without the directory sync: the caller makes the rename durable with
/// [`sync_dir`] of [`parent_dir`] (the same target) before it relies on it.
pub fn persist_temp(temp: tempfile::NamedTempFile, target: &Path) -> Result<()> {
    temp.persist(target).map_err(|error| {
        Error::internal(format!("Failed to replace `{}`", display_path(target))).cause(error.error)
    })?;
    Ok(())
}

/// Remove a file (resolved target) and fsync its directory; a missing file is fine.
pub fn remove_file(target: &Path) -> Result<()> {
    match fs_err::remove_file(target) {
        Ok(()) => sync_dir(&parent_dir(target)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// fsync a directory so a rename or removal in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let handle = fs_err::File::open(dir)?;
    handle.sync_all()?;
    Ok(())
}

/// The directory a file is in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn writes_through_a_relative_symlink_chain_and_keeps_the_links() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs_err::create_dir_all(&real_dir).unwrap();
        fs_err::write(real_dir.join("config.toml"), "a = 1\n").unwrap();
        symlink("real/config.toml", dir.path().join("middle.toml")).unwrap();
        symlink("middle.toml", dir.path().join("config.toml")).unwrap();

        let state = read_state(&dir.path().join("config.toml")).unwrap();
        assert_eq!(state.target, real_dir.join("config.toml"));
        assert_eq!(state.bytes.as_deref(), Some(&b"a = 1\n"[..]));
        write_atomic(&state.target, b"a = 2\n", 0o640).unwrap();

        assert!(fs_err::symlink_metadata(dir.path().join("config.toml")).unwrap().file_type().is_symlink());
        assert_eq!(fs_err::read_to_string(real_dir.join("config.toml")).unwrap(), "a = 2\n");
        let mode = fs_err::metadata(real_dir.join("config.toml")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn refuses_dangling_links_and_loops() {
        let dir = tempfile::tempdir().unwrap();
        symlink("nowhere.json", dir.path().join("dangling.json")).unwrap();
        symlink("loop-b.json", dir.path().join("loop-a.json")).unwrap();
        symlink("loop-a.json", dir.path().join("loop-b.json")).unwrap();
        let dangling = resolve_target(&dir.path().join("dangling.json")).unwrap_err();
        assert_eq!(dangling.exit_code(), 1);
        assert!(dangling.message.contains("does not exist"), "{}", dangling.message);
        let looped = resolve_target(&dir.path().join("loop-a.json")).unwrap_err();
        assert_eq!(looped.exit_code(), 1);
    }

    #[test]
    fn a_large_file_is_read_and_compared_in_halves_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("large.json");
        let bytes: Vec<u8> = (0..(5 << 20) + 7).map(|index: usize| (index % 251) as u8).collect();
        fs_err::write(&path, &bytes).unwrap();
        assert_eq!(read_state(&path).unwrap().bytes.as_deref(), Some(bytes.as_slice()));
        assert!(holds(&path, Some(&[&bytes])).unwrap());
        let (head, tail) = bytes.split_at(1000);
        assert!(holds(&path, Some(&[head, &[], tail])).unwrap(), "in pieces");
        let mut other = bytes.clone();
        *other.last_mut().unwrap() ^= 1;
        assert!(!holds(&path, Some(&[&other])).unwrap(), "a difference in the second half");
        other = bytes.clone();
        other[0] ^= 1;
        assert!(!holds(&path, Some(&[&other])).unwrap(), "a difference in the first half");
        assert!(!holds(&path, Some(&[&bytes[..bytes.len() - 1]])).unwrap(), "longer than expected");
        assert!(!holds(&path, None).unwrap());
        assert!(holds(&dir.path().join("missing.json"), None).unwrap());
    }

    #[test]
    fn a_missing_file_reads_as_absent() {
        let dir = tempfile::tempdir().unwrap();
        let state = read_state(&dir.path().join("new.json")).unwrap();
        assert_eq!(state.bytes, None);
        assert_eq!(state.mode, None);
    }
}
