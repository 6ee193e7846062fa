//! The persistent gateway's two files under `AIGATE_HOME`: `serve.json` (where `aigate serve`
//! listens, its pid, start time and chain) and `serve.token` (its long-lived local token).
//!
//! Invariants:
//! - Both files are 0600 and written atomically (temp file in the same dir, then rename),
//!   so a reader never sees half a token or half a JSON document.
//! - `serve.json` exists only while a `serve` process runs (it removes the file on exit);
//!   a file naming a dead pid is stale, and [`serve_status`] says so.
//! - The token never appears in `serve.json`, in output, or in an error.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::paths::Paths;

/// What `serve.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeInfo {
    pub version: u32,
    /// `HOST:PORT` the gateway listens on.
    pub address: String,
    pub pid: u32,
    /// RFC 3339 time the gateway started.
    pub started_at: String,
    /// Provider names in chain order (`official` for the pass-through).
    pub providers: Vec<String>,
    /// Where the token is (never the token itself).
    pub token_file: PathBuf,
}

impl ServeInfo {
    /// `http://ADDRESS` (no `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Whether the process named in `serve.json` is still there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServeStatus {
    /// No `serve.json`.
    NotRunning,
    /// `serve.json` names a live aigate process.
    Running(ServeInfo),
    /// `serve.json` names a pid that is gone (or is not aigate).
    Stale(ServeInfo),
}

/// Read `serve.json`; `None` when it is missing or unreadable.
pub fn read_serve_info(paths: &Paths) -> Option<ServeInfo> {
    let text = fs_err::read_to_string(paths.serve_info()).ok()?;
    serde_json::from_str(&text).ok()
}

/// `serve.json` and whether its process is alive.
pub fn serve_status(paths: &Paths) -> ServeStatus {
    match read_serve_info(paths) {
        None => ServeStatus::NotRunning,
        Some(info) if pid_is_aigate(info.pid) => ServeStatus::Running(info),
        Some(info) => ServeStatus::Stale(info),
    }
}

/// The gateway token if one exists (nothing is created): for dry runs and status.
pub fn read_serve_token(paths: &Paths) -> Option<String> {
    fs_err::read_to_string(paths.serve_token())
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|token| !token.is_empty())
}

/// The gateway token, created (32 random bytes, hex, 0600) on first use.
pub fn read_or_create_serve_token(paths: &Paths) -> Result<String> {
    let path = paths.serve_token();
    match fs_err::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error.into()),
    }
    rotate_serve_token(paths)
}

/// Write a fresh gateway token (0600) and return it.
pub fn rotate_serve_token(paths: &Paths) -> Result<String> {
    let token = crate::random::hex(32)?;
    write_private(&paths.aigate_home, &paths.serve_token(), format!("{token}\n").as_bytes())?;
    Ok(token)
}

/// Write `serve.json` (0600, atomically).
pub fn write_serve_info(paths: &Paths, info: &ServeInfo) -> Result<()> {
    let mut text = serde_json::to_string_pretty(info)?;
    text.push('\n');
    write_private(&paths.aigate_home, &paths.serve_info(), text.as_bytes())
}

/// Remove `serve.json` if it still names `pid` (a newer gateway's file is left alone).
pub fn remove_serve_info(paths: &Paths, pid: u32) -> Result<()> {
    match read_serve_info(paths) {
        Some(info) if info.pid != pid => Ok(()),
        Some(_) | None => crate::fsx::remove_file(&paths.serve_info()),
    }
}

/// Whether `pid` is a live process that looks like aigate. Where `/proc` is missing, a
/// live pid is taken as aigate.
pub fn pid_is_aigate(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    let alive = match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    };
    if !alive {
        return false;
    }
    let proc_dir = Path::new("/proc").join(pid.to_string());
    if !Path::new("/proc/self").exists() {
        return true;
    }
    let comm = fs_err::read_to_string(proc_dir.join("comm")).unwrap_or_default();
    let exe = fs_err::read_link(proc_dir.join("exe"))
        .map(|path| path.to_string_lossy().into_owned())
        .unwrap_or_default();
    comm.contains("aigate") || exe.contains("aigate")
}

/// Write `bytes` to `path` as a 0600 file, atomically, in the private aigate dir `dir`.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    crate::paths::ensure_private_dir(dir)?;
    crate::fsx::write_atomic(path, bytes, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn paths(dir: &Path) -> Paths {
        Paths { aigate_home: dir.join("state"), ..Paths::for_home(dir) }
    }

    #[test]
    fn token_is_created_once_private_and_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let first = read_or_create_serve_token(&paths).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(read_or_create_serve_token(&paths).unwrap(), first);
        let mode = fs_err::metadata(paths.serve_token()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = rotate_serve_token(&paths).unwrap();
        assert_ne!(first, second);
        assert_eq!(read_or_create_serve_token(&paths).unwrap(), second);
    }

    #[test]
    fn serve_info_round_trips_and_is_removed_only_by_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        assert_eq!(serve_status(&paths), ServeStatus::NotRunning);
        let info = ServeInfo {
            version: 1,
            address: "127.0.0.1:8787".into(),
            pid: std::process::id(),
            started_at: "2026-01-01T00:00:00Z".into(),
            providers: vec!["official".into()],
            token_file: paths.serve_token(),
        };
        write_serve_info(&paths, &info).unwrap();
        assert_eq!(read_serve_info(&paths), Some(info.clone()));
        let mode = fs_err::metadata(paths.serve_info()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        remove_serve_info(&paths, info.pid + 1).unwrap();
        assert!(paths.serve_info().exists());
        remove_serve_info(&paths, info.pid).unwrap();
        assert!(!paths.serve_info().exists());
    }
}
