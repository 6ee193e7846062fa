//! How `aigate run gemini` selects the Gemini API key login without writing a file of the
//! user's (client-formats.md 4.3).
//!
//! Gemini CLI 0.61 takes its endpoint and key from the environment (`GOOGLE_GEMINI_BASE_URL`,
//! `GEMINI_API_KEY`) but its auth *type* only from a settings file: with the environment
//! alone it exits 41 "Invalid auth method selected". So:
//!
//! - When the settings layers already select `gemini-api-key`, the environment is enough
//!   ([`AuthPlan::EnvOnly`]).
//! - Else the session gets its own Gemini home ([`AuthPlan::Overlay`]): a private directory
//!   given as `GEMINI_CLI_HOME`, whose `.gemini/settings.json` is the user's settings with
//!   `security.auth.selectedType` set to `gemini-api-key`, and whose every other entry
//!   (`.gemini/*`, `.agents`) is a symlink to the real one, so history, trust, MCP
//!   enablement and skills are the user's own (`tmp/` and `history/`, where the chats go,
//!   are made in the real home first, as the client would, so they are links too). What the
//!   client creates or replaces at the top of `.gemini/` during the session is handed back
//!   into the real one when it ends: through a symlink there, into an existing folder entry
//!   by entry; what cannot go back (something else in the way) is kept, never deleted, and a
//!   note says where. A session killed before its end is handed back by the next one
//!   ([`sweep`]).
//! - A layer above the user's (a system file Gemini CLI trusts, or the project's
//!   `.gemini/settings.json`) that selects another login cannot be outranked from the user
//!   layer: refused. So is a login in the user's file when run from the home folder: with a
//!   session home, Gemini CLI no longer sees that folder as its home and reads the user's
//!   file as the project's too.
//!
//! Why not a per-session system settings file (`GEMINI_CLI_SYSTEM_SETTINGS_PATH`): Gemini
//! CLI skips a system file unless the file and every directory above it are owned by root
//! and not group- or other-writable (`isFileAndDirectorySecureSync`), so it works for no
//! ordinary user and for no path under `/tmp`. The same rule decides whether a system file
//! counts here ([`trusted_system_file`]).
//!
//! Invariants: the user's `settings.json` is read, never written; the session home is 0700
//! (its settings copy 0600: it may hold what the user's holds) and removed when the session
//! ends; the session token is never in it (it is in the environment only).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::doc::{Document, Format};
use crate::error::{Error, Result};
use crate::paths::Paths;

/// The auth type the session needs.
pub const API_KEY_AUTH: &str = "gemini-api-key";
const AUTH_KEY: [&str; 3] = ["security", "auth", "selectedType"];
const SETTINGS: &str = "settings.json";

/// How the session selects the API-key login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthPlan {
    /// The settings already select `gemini-api-key`.
    EnvOnly,
    /// A session home whose settings are `settings` (the user's plus the auth type).
    Overlay { settings: Vec<u8> },
}

/// One settings layer that selects an auth type.
struct Layer {
    label: &'static str,
    path: PathBuf,
    selected: Option<String>,
}

/// Decide how the session selects the API-key login, from the settings layers Gemini CLI
/// reads in `cwd` (highest first: system, project, user, system defaults).
pub fn plan_auth(paths: &Paths, cwd: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<AuthPlan> {
    let system_path = lookup("GEMINI_CLI_SYSTEM_SETTINGS_PATH")
        .filter(|value| !value.is_empty())
        .map_or_else(|| PathBuf::from("/etc/gemini-cli/settings.json"), PathBuf::from);
    let defaults_path = lookup("GEMINI_CLI_SYSTEM_DEFAULTS_PATH")
        .filter(|value| !value.is_empty())
        .map_or_else(|| system_path.with_file_name("system-defaults.json"), PathBuf::from);
    let user_path = paths.gemini_settings();
    let user_bytes = read_optional(&user_path)?;
    let user = layer("user", &user_path, user_bytes.as_deref())?;
    // Gemini CLI reads no project file when the folder is its home.
    let at_home = same_dir(cwd, &paths.gemini_home);
    let project_path = cwd.join(".gemini").join(SETTINGS);
    let project = if at_home {
        None
    } else {
        Some(layer("project", &project_path, read_optional(&project_path)?.as_deref())?)
    };
    // Gemini CLI skips a system file that is not root's (see the module docs).
    let system_layer = |label, path: &Path| -> Result<Option<Layer>> {
        if !trusted_system_file(path) {
            return Ok(None);
        }
        Ok(Some(layer(label, path, read_optional(path)?.as_deref())?))
    };
    let system = system_layer("system", &system_path)?;
    let defaults = system_layer("system defaults", &defaults_path)?;
    let layers = [system, project, Some(user), defaults];
    let deciding = layers.iter().flatten().find(|layer| layer.selected.is_some());
    let outranked = |layer: &Layer, why: &str| {
        Error::refused(format!(
            "Gemini CLI's {} settings `{}` select the `{}` login, which outranks anything a session can set{why}",
            layer.label,
            layer.path.display(),
            layer.selected.as_deref().unwrap_or_default()
        ))
        .hint(format!("set `security.auth.selectedType` to \"{API_KEY_AUTH}\" there, or run from another folder"))
    };
    match deciding {
        Some(layer) if layer.selected.as_deref() == Some(API_KEY_AUTH) => Ok(AuthPlan::EnvOnly),
        Some(layer) if matches!(layer.label, "system" | "project") => Err(outranked(layer, "")),
        // With a session home, the real home is no longer Gemini CLI's home, so run from
        // there it reads the user's file as this folder's project settings too.
        Some(layer) if at_home => Err(outranked(
            layer,
            " (from your home folder, Gemini CLI also reads it as the project's settings)",
        )),
        _ => {
            let mut document = match &user_bytes {
                Some(bytes) => Document::parse(bytes, Format::JsonComments, &user_path)?,
                None => Document::new_empty(Format::JsonComments),
            };
            document.set(&AUTH_KEY, &Value::String(API_KEY_AUTH.into()))?;
            Ok(AuthPlan::Overlay { settings: document.to_bytes() })
        }
    }
}

fn layer(label: &'static str, path: &Path, bytes: Option<&[u8]>) -> Result<Layer> {
    let selected = match bytes {
        Some(bytes) => Document::parse(bytes, Format::JsonComments, path)?
            .get(&AUTH_KEY)
            .and_then(|value| value.as_str().map(str::to_string)),
        None => None,
    };
    Ok(Layer { label, path: path.to_path_buf(), selected })
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs_err::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        // A missing file, or a `.gemini` that is not a folder: Gemini CLI reads nothing there.
        Err(error)
            if matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) =>
        {
            Ok(None)
        }
        Err(error) => Err(Error::internal(format!("Failed to read `{}`", path.display())).cause(error)),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Whether Gemini CLI would read a system settings file at `path`: a regular file that
/// it, every directory above it, and a symlink on the way are owned by root and not
/// writable by group or others (`isFileAndDirectorySecureSync` in its bundle).
fn trusted_system_file(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let secure = |meta: &std::fs::Metadata| meta.uid() == 0 && meta.mode() & 0o022 == 0;
    let Ok(meta) = fs_err::metadata(path) else { return false };
    if !meta.is_file() || !secure(&meta) {
        return false;
    }
    if fs_err::symlink_metadata(path).is_ok_and(|link| link.file_type().is_symlink() && link.uid() != 0) {
        return false;
    }
    let Ok(absolute) = std::path::absolute(path) else { return false };
    let canonical = path.canonicalize().unwrap_or_else(|_| absolute.clone());
    [absolute, canonical]
        .iter()
        .all(|file| file.ancestors().skip(1).all(|dir| fs_err::metadata(dir).is_ok_and(|meta| secure(&meta))))
}

/// A session's own Gemini home (see the module docs). Dropping it without [`finish`]
/// leaves it for a later session's [`sweep`].
///
/// [`finish`]: Overlay::finish
#[derive(Debug)]
pub struct Overlay {
    /// The directory given as `GEMINI_CLI_HOME`.
    pub home: PathBuf,
    /// The real Gemini home (`$GEMINI_CLI_HOME` or `$HOME`).
    real: PathBuf,
    settings: Vec<u8>,
}

/// Files of a session root beside `home/`.
const PID_FILE: &str = "pid";
const REAL_FILE: &str = "real-home";
const WRITTEN_FILE: &str = "settings.written";

impl Overlay {
    /// Build the session home under `sessions_dir/<session_id>` (0700).
    pub fn create(paths: &Paths, sessions_dir: &Path, session_id: &str, settings: Vec<u8>) -> Result<Self> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::PermissionsExt;
        crate::paths::ensure_private_dir(sessions_dir)?;
        let root = sessions_dir.join(session_id);
        private_dir(&root)?;
        let real = paths.gemini_home.clone();
        fs_err::write(root.join(PID_FILE), std::process::id().to_string())?;
        fs_err::write(root.join(REAL_FILE), real.as_os_str().as_bytes())?;
        fs_err::write(root.join(WRITTEN_FILE), &settings)?;
        let home = root.join("home");
        let gemini = home.join(".gemini");
        private_dir(&gemini)?;
        // Gemini CLI keeps its chats and history in these; made first (as it would make
        // them), they are links, and what it writes there is at home at once.
        let real_gemini = real.join(".gemini");
        for dir in ["tmp", "history"] {
            fs_err::create_dir_all(real_gemini.join(dir))?;
        }
        for entry in fs_err::read_dir(&real_gemini)? {
            let name = entry?.file_name();
            if name != SETTINGS {
                fs_err::os::unix::fs::symlink(real_gemini.join(&name), gemini.join(&name))?;
            }
        }
        let agents = real.join(".agents");
        if agents.symlink_metadata().is_ok() {
            fs_err::os::unix::fs::symlink(&agents, home.join(".agents"))?;
        }
        let settings_path = gemini.join(SETTINGS);
        fs_err::write(&settings_path, &settings)?;
        fs_err::set_permissions(&settings_path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Self { home, real, settings })
    }

    /// End the session: move what the client created or replaced at the top of the
    /// session's `.gemini/` (and a new `.agents`) into the real home, then remove the
    /// overlay. Whatever cannot be handed back stays, and a note says where: nothing the
    /// client wrote is deleted. Returns notes for stderr.
    pub fn finish(self) -> Vec<String> {
        let mut notes = Vec::new();
        let mut kept = false;
        let gemini = self.home.join(".gemini");
        let real_gemini = self.real.join(".gemini");
        if let Ok(entries) = fs_err::read_dir(&gemini) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let path = entry.path();
                if name == SETTINGS {
                    if fs_err::read(&path).ok().as_deref() == Some(self.settings.as_slice()) {
                        let _ = fs_err::remove_file(&path);
                    } else {
                        notes.push(format!(
                            "Gemini CLI changed its settings during the session; the change was not copied to `{}`",
                            real_gemini.join(SETTINGS).display()
                        ));
                        kept = true;
                    }
                    continue;
                }
                if is_our_link(&path, &real_gemini.join(&name)) {
                    let _ = fs_err::remove_file(&path);
                    continue;
                }
                kept |= !hand_back(&path, &real_gemini.join(&name), &mut notes);
            }
        }
        let agents = self.home.join(".agents");
        if agents.symlink_metadata().is_ok() {
            if is_our_link(&agents, &self.real.join(".agents")) {
                let _ = fs_err::remove_file(&agents);
            } else {
                kept |= !hand_back(&agents, &self.real.join(".agents"), &mut notes);
            }
        }
        if let Some(root) = self.home.parent() {
            if kept {
                notes.push(format!("what could not be handed back is kept in `{}`", root.display()));
            } else {
                let _ = fs_err::remove_dir_all(root);
            }
        }
        notes
    }
}

fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(0o700).recursive(true);
    builder
        .create(dir)
        .map_err(|error| Error::internal(format!("Failed to create `{}`", dir.display())).cause(error))
}

fn is_our_link(path: &Path, target: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|meta| meta.file_type().is_symlink())
        && fs_err::read_link(path).is_ok_and(|link| link == target)
}

/// Move `path` (made by the client in the session home) to `target` in the real home:
/// through a symlink there (a dotfiles link stays a link), into an existing folder entry
/// by entry. Returns whether all of it went; what did not stays, with a note.
fn hand_back(path: &Path, target: &Path, notes: &mut Vec<String>) -> bool {
    let target = if target.is_symlink() {
        target.canonicalize().unwrap_or_else(|_| target.to_path_buf())
    } else {
        target.to_path_buf()
    };
    let is_dir = |path: &Path| path.symlink_metadata().is_ok_and(|meta| meta.is_dir());
    if is_dir(path) && is_dir(&target) {
        let Ok(entries) = fs_err::read_dir(path) else { return false };
        let mut all = true;
        for entry in entries.flatten() {
            all &= hand_back(&entry.path(), &target.join(entry.file_name()), notes);
        }
        if all {
            let _ = fs_err::remove_dir(path);
        }
        return all;
    }
    if target.symlink_metadata().is_ok() && (is_dir(path) || is_dir(&target)) {
        notes.push(format!("`{}` was not handed back: `{}` is in the way", path.display(), target.display()));
        return false;
    }
    let moved = target.parent().is_some_and(|parent| fs_err::create_dir_all(parent).is_ok())
        && (fs_err::rename(path, &target).is_ok()
            // Another file system: copy a file, then take it away.
            || (!is_dir(path) && fs_err::copy(path, &target).is_ok() && fs_err::remove_file(path).is_ok()));
    if !moved {
        notes.push(format!("could not move `{}` to `{}`", path.display(), target.display()));
    }
    moved
}

/// Hand back and remove the session homes whose `aigate run` is gone (killed before its
/// end). Returns notes for stderr.
pub fn sweep(sessions_dir: &Path) -> Vec<String> {
    use std::os::unix::ffi::OsStringExt;
    let mut notes = Vec::new();
    let Ok(entries) = fs_err::read_dir(sessions_dir) else { return notes };
    for entry in entries.flatten() {
        let root = entry.path();
        let pid =
            fs_err::read_to_string(root.join(PID_FILE)).ok().and_then(|text| text.trim().parse::<i32>().ok());
        let Some(pid) = pid else { continue };
        let alive = pid == std::process::id() as i32
            || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        let real = fs_err::read(root.join(REAL_FILE))
            .ok()
            .map(|bytes| PathBuf::from(std::ffi::OsString::from_vec(bytes)));
        let (false, Some(real)) = (alive, real) else { continue };
        let settings = fs_err::read(root.join(WRITTEN_FILE)).unwrap_or_default();
        notes.extend(Overlay { home: root.join("home"), real, settings }.finish());
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn paths_in(home: &Path) -> Paths {
        Paths::for_home(home)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_user_file_that_selects_the_api_key_needs_nothing_more() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        fs_err::create_dir_all(dir.path().join(".gemini")).unwrap();
        fs_err::write(
            paths.gemini_settings(),
            "// mine\n{\"security\": {\"auth\": {\"selectedType\": \"gemini-api-key\"}}}\n",
        )
        .unwrap();
        let work = dir.path().join("work");
        fs_err::create_dir_all(&work).unwrap();
        assert_eq!(plan_auth(&paths, &work, &no_env).unwrap(), AuthPlan::EnvOnly);
    }

    #[test]
    fn a_google_login_gets_an_overlay_with_only_the_auth_type_changed() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        fs_err::create_dir_all(dir.path().join(".gemini")).unwrap();
        let user = "{\n  // my theme\n  \"ui\": {\"theme\": \"Dracula\"},\n  \"security\": {\"auth\": {\"selectedType\": \"oauth-personal\"}}\n}\n";
        fs_err::write(paths.gemini_settings(), user).unwrap();
        let work = dir.path().join("work");
        fs_err::create_dir_all(&work).unwrap();
        let AuthPlan::Overlay { settings } = plan_auth(&paths, &work, &no_env).unwrap() else {
            panic!("expected an overlay");
        };
        assert_eq!(String::from_utf8(settings).unwrap(), user.replace("oauth-personal", "gemini-api-key"));
        // No settings at all: a file with just the auth type.
        fs_err::remove_file(paths.gemini_settings()).unwrap();
        let AuthPlan::Overlay { settings } = plan_auth(&paths, &work, &no_env).unwrap() else {
            panic!("expected an overlay");
        };
        let value: Value = serde_json::from_slice(&settings).unwrap();
        assert_eq!(value, serde_json::json!({"security": {"auth": {"selectedType": "gemini-api-key"}}}));
    }

    #[test]
    fn a_higher_layer_with_another_login_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        let work = dir.path().join("work");
        fs_err::create_dir_all(work.join(".gemini")).unwrap();
        fs_err::write(
            work.join(".gemini/settings.json"),
            r#"{"security": {"auth": {"selectedType": "vertex-ai"}}}"#,
        )
        .unwrap();
        let error = plan_auth(&paths, &work, &no_env).unwrap_err().render();
        assert!(error.contains("project settings"), "{error}");
        assert!(error.contains("vertex-ai"), "{error}");
        // Run from the home folder, the same file is the user's; but a session home makes
        // Gemini CLI read it as the project's too, so a Google login there is refused.
        fs_err::create_dir_all(dir.path().join(".gemini")).unwrap();
        fs_err::copy(work.join(".gemini/settings.json"), paths.gemini_settings()).unwrap();
        let error = plan_auth(&paths, dir.path(), &no_env).unwrap_err().render();
        assert!(error.contains("from your home folder"), "{error}");
        // With no login chosen there, the home folder is fine.
        fs_err::write(paths.gemini_settings(), "{}").unwrap();
        assert!(matches!(plan_auth(&paths, dir.path(), &no_env).unwrap(), AuthPlan::Overlay { .. }));
    }

    #[test]
    fn a_system_file_gemini_would_skip_does_not_count() {
        // Gemini CLI reads a system file only when root owns it and every folder above it,
        // none writable by group or others: a file in a temp dir is skipped, so its
        // `gemini-api-key` does not make the environment enough.
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        let system = dir.path().join("system.json");
        fs_err::write(&system, r#"{"security": {"auth": {"selectedType": "gemini-api-key"}}}"#).unwrap();
        assert!(!trusted_system_file(&system));
        let lookup = |name: &str| {
            (name == "GEMINI_CLI_SYSTEM_SETTINGS_PATH").then(|| system.to_string_lossy().into_owned())
        };
        let work = dir.path().join("work");
        fs_err::create_dir_all(&work).unwrap();
        assert!(matches!(plan_auth(&paths, &work, &lookup).unwrap(), AuthPlan::Overlay { .. }));
        assert!(!trusted_system_file(&dir.path().join("absent.json")));
    }

    #[test]
    fn the_overlay_links_the_real_home_and_hands_back_what_the_client_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        let real = dir.path().join(".gemini");
        fs_err::create_dir_all(real.join("tmp")).unwrap();
        fs_err::write(real.join("settings.json"), "{}").unwrap();
        fs_err::write(real.join("projects.json"), "old").unwrap();
        fs_err::create_dir_all(dir.path().join(".agents/skills")).unwrap();
        let sessions = dir.path().join(".aigate/sessions");
        let overlay = Overlay::create(&paths, &sessions, "s1", b"{\"x\":1}".to_vec()).unwrap();
        let gemini = overlay.home.join(".gemini");
        assert_eq!(fs_err::read(gemini.join("settings.json")).unwrap(), b"{\"x\":1}");
        assert!(gemini.join("tmp").is_symlink());
        assert!(overlay.home.join(".agents/skills").is_dir());
        // The client writes through a link, replaces a file by rename, and makes a new one.
        fs_err::write(gemini.join("tmp/chat.jsonl"), "turn").unwrap();
        fs_err::remove_file(gemini.join("projects.json")).unwrap();
        fs_err::write(gemini.join("projects.json"), "new").unwrap();
        fs_err::write(gemini.join("installation_id"), "id").unwrap();
        let root = overlay.home.parent().unwrap().to_path_buf();
        assert!(overlay.finish().is_empty());
        assert!(real.join("history").is_dir(), "made first, so the session wrote into it directly");
        assert_eq!(fs_err::read_to_string(real.join("tmp/chat.jsonl")).unwrap(), "turn");
        assert_eq!(fs_err::read_to_string(real.join("projects.json")).unwrap(), "new");
        assert_eq!(fs_err::read_to_string(real.join("installation_id")).unwrap(), "id");
        assert_eq!(fs_err::read_to_string(real.join("settings.json")).unwrap(), "{}");
        assert!(!root.exists());
    }

    #[test]
    fn nothing_the_client_wrote_is_deleted_when_it_cannot_go_back() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        let real = dir.path().join(".gemini");
        fs_err::create_dir_all(&real).unwrap();
        // A dotfiles user: projects.json is a link into their repo.
        let dotfiles = dir.path().join("dotfiles");
        fs_err::create_dir_all(&dotfiles).unwrap();
        fs_err::write(dotfiles.join("projects.json"), "old").unwrap();
        std::os::unix::fs::symlink(dotfiles.join("projects.json"), real.join("projects.json")).unwrap();
        let sessions = dir.path().join(".aigate/sessions");
        let overlay = Overlay::create(&paths, &sessions, "s1", b"{}".to_vec()).unwrap();
        let gemini = overlay.home.join(".gemini");
        // The client replaces the link by rename, and makes a folder where the real home
        // has a file.
        fs_err::remove_file(gemini.join("projects.json")).unwrap();
        fs_err::write(gemini.join("projects.json"), "new").unwrap();
        fs_err::write(real.join("extensions"), "a file").unwrap();
        fs_err::create_dir_all(gemini.join("extensions")).unwrap();
        fs_err::write(gemini.join("extensions/ext.json"), "{}").unwrap();
        let root = overlay.home.parent().unwrap().to_path_buf();
        let notes = overlay.finish();
        assert!(real.join("projects.json").is_symlink(), "the link stays a link");
        assert_eq!(fs_err::read_to_string(dotfiles.join("projects.json")).unwrap(), "new");
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[1].contains(&root.display().to_string()), "{notes:?}");
        assert_eq!(fs_err::read_to_string(root.join("home/.gemini/extensions/ext.json")).unwrap(), "{}");
    }

    #[test]
    fn a_session_killed_before_its_end_is_handed_back_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        let sessions = dir.path().join(".aigate/sessions");
        let overlay = Overlay::create(&paths, &sessions, "dead", b"{}".to_vec()).unwrap();
        fs_err::write(overlay.home.join(".gemini/installation_id"), "id").unwrap();
        let root = overlay.home.parent().unwrap().to_path_buf();
        drop(overlay);
        // Still running (this process): left alone.
        assert!(sweep(&sessions).is_empty());
        assert!(root.exists());
        // Its process is gone (no process has that pid).
        fs_err::write(root.join(PID_FILE), i32::MAX.to_string()).unwrap();
        assert!(sweep(&sessions).is_empty());
        assert!(!root.exists());
        assert_eq!(fs_err::read_to_string(dir.path().join(".gemini/installation_id")).unwrap(), "id");
    }
}
