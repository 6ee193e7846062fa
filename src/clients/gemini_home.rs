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
//!   enablement and skills are the user's own. What the client creates or replaces at the
//!   top of `.gemini/` during the session is moved back into the real one when it ends.
//! - A layer above the user's (the system file or the project's `.gemini/settings.json`)
//!   that selects another login cannot be outranked from the user layer: refused.
//!
//! Why not a per-session system settings file (`GEMINI_CLI_SYSTEM_SETTINGS_PATH`): Gemini
//! CLI skips a system file unless the file and every directory above it are owned by root
//! and not group- or other-writable (`isFileAndDirectorySecureSync`), so it works for no
//! ordinary user and for no path under `/tmp`.
//!
//! Invariants: the user's `settings.json` is read, never written; the overlay is 0700 and
//! removed when the session ends; nothing in it holds a secret (the token is in the
//! environment only).

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
    let system = lookup("GEMINI_CLI_SYSTEM_SETTINGS_PATH")
        .filter(|value| !value.is_empty())
        .map_or_else(|| PathBuf::from("/etc/gemini-cli/settings.json"), PathBuf::from);
    let defaults = lookup("GEMINI_CLI_SYSTEM_DEFAULTS_PATH")
        .filter(|value| !value.is_empty())
        .map_or_else(|| system.with_file_name("system-defaults.json"), PathBuf::from);
    let user_path = paths.gemini_settings();
    let user_bytes = read_optional(&user_path)?;
    let user = layer("user", &user_path, user_bytes.as_deref())?;
    // Gemini CLI reads no project file when the folder is its home.
    let project_path = cwd.join(".gemini").join(SETTINGS);
    let project = if same_dir(cwd, &paths.gemini_home) {
        None
    } else {
        Some(layer("project", &project_path, read_optional(&project_path)?.as_deref())?)
    };
    let system = layer("system", &system, read_optional(&system)?.as_deref())?;
    let defaults = layer("system defaults", &defaults, read_optional(&defaults)?.as_deref())?;
    let layers = [Some(system), project, Some(user), Some(defaults)];
    let deciding = layers.iter().flatten().find(|layer| layer.selected.is_some());
    match deciding {
        Some(layer) if layer.selected.as_deref() == Some(API_KEY_AUTH) => Ok(AuthPlan::EnvOnly),
        Some(layer) if matches!(layer.label, "system" | "project") => Err(Error::refused(format!(
            "Gemini CLI's {} settings `{}` select the `{}` login, which outranks anything a session can set",
            layer.label,
            layer.path.display(),
            layer.selected.as_deref().unwrap_or_default()
        ))
        .hint(format!(
            "set `security.auth.selectedType` to \"{API_KEY_AUTH}\" there, or run from another folder"
        ))),
        _ => {
            let mut document = match &user_bytes {
                Some(bytes) => Document::parse(bytes, Format::Jsonc, &user_path)?,
                None => Document::new_empty(Format::Jsonc),
            };
            document.set(&AUTH_KEY, &Value::String(API_KEY_AUTH.into()))?;
            Ok(AuthPlan::Overlay { settings: document.to_bytes() })
        }
    }
}

fn layer(label: &'static str, path: &Path, bytes: Option<&[u8]>) -> Result<Layer> {
    let selected = match bytes {
        Some(bytes) => Document::parse(bytes, Format::Jsonc, path)?
            .get(&AUTH_KEY)
            .and_then(|value| value.as_str().map(str::to_string)),
        None => None,
    };
    Ok(Layer { label, path: path.to_path_buf(), selected })
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs_err::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::internal(format!("Failed to read `{}`", path.display())).cause(error)),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A session's own Gemini home (see the module docs). Dropping it without [`finish`]
/// leaves it for the next session's sweep.
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

impl Overlay {
    /// Build the session home under `sessions_dir/<session_id>` (0700).
    pub fn create(paths: &Paths, sessions_dir: &Path, session_id: &str, settings: Vec<u8>) -> Result<Self> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt, symlink};
        crate::paths::ensure_private_dir(sessions_dir)?;
        sweep(sessions_dir);
        let root = sessions_dir.join(session_id);
        std::fs::DirBuilder::new().mode(0o700).recursive(true).create(&root)?;
        fs_err::write(root.join("pid"), std::process::id().to_string())?;
        let home = root.join("home");
        let gemini = home.join(".gemini");
        std::fs::DirBuilder::new().mode(0o700).recursive(true).create(&gemini)?;
        let real = paths.gemini_home.clone();
        let real_gemini = real.join(".gemini");
        if let Ok(entries) = fs_err::read_dir(&real_gemini) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if name != SETTINGS {
                    symlink(entry.path(), gemini.join(&name))?;
                }
            }
        }
        let agents = real.join(".agents");
        if agents.symlink_metadata().is_ok() {
            symlink(&agents, home.join(".agents"))?;
        }
        let settings_path = gemini.join(SETTINGS);
        fs_err::write(&settings_path, &settings)?;
        fs_err::set_permissions(&settings_path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Self { home, real, settings })
    }

    /// End the session: move what the client created or replaced at the top of the
    /// session's `.gemini/` (and a new `.agents`) into the real home, then remove the
    /// overlay. Returns notes for stderr.
    pub fn finish(self) -> Vec<String> {
        let mut notes = Vec::new();
        let gemini = self.home.join(".gemini");
        let real_gemini = self.real.join(".gemini");
        if let Ok(entries) = fs_err::read_dir(&gemini) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let path = entry.path();
                if name == SETTINGS {
                    if fs_err::read(&path).ok().as_deref() != Some(self.settings.as_slice()) {
                        notes.push(format!(
                            "Gemini CLI changed its settings during the session; the change was not copied to `{}`",
                            real_gemini.join(SETTINGS).display()
                        ));
                    }
                    continue;
                }
                if is_our_link(&path, &real_gemini.join(&name)) {
                    continue;
                }
                if let Err(note) = move_back(&path, &real_gemini, &name) {
                    notes.push(note);
                }
            }
        }
        let agents = self.home.join(".agents");
        if agents.symlink_metadata().is_ok() && !is_our_link(&agents, &self.real.join(".agents")) {
            if let Err(note) = move_back(&agents, &self.real, std::ffi::OsStr::new(".agents")) {
                notes.push(note);
            }
        }
        if let Some(root) = self.home.parent() {
            let _ = fs_err::remove_dir_all(root);
        }
        notes
    }
}

fn is_our_link(path: &Path, target: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|meta| meta.file_type().is_symlink())
        && fs_err::read_link(path).is_ok_and(|link| link == target)
}

fn move_back(path: &Path, real_dir: &Path, name: &std::ffi::OsStr) -> std::result::Result<(), String> {
    let target = real_dir.join(name);
    let note = |error: std::io::Error| {
        format!(
            "could not move `{}` from the session's Gemini home to `{}`: {error}",
            name.to_string_lossy(),
            target.display()
        )
    };
    fs_err::create_dir_all(real_dir).map_err(note)?;
    if target.is_dir() && !target.is_symlink() && path.is_dir() {
        // A directory the client made again (the real one was replaced by a new one):
        // keep the real one and say so rather than merge trees.
        return Err(format!(
            "the session's `{}` was left out: `{}` already exists",
            name.to_string_lossy(),
            target.display()
        ));
    }
    fs_err::rename(path, &target).map_err(note)
}

/// Remove overlays whose session process is gone (a session killed before its end).
fn sweep(sessions_dir: &Path) {
    let Ok(entries) = fs_err::read_dir(sessions_dir) else { return };
    for entry in entries.flatten() {
        let pid = fs_err::read_to_string(entry.path().join("pid"))
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok());
        let alive = pid.is_some_and(|pid| {
            pid == std::process::id() as i32
                || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        });
        if pid.is_some() && !alive {
            let _ = fs_err::remove_dir_all(entry.path());
        }
    }
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
        // The same file in the home folder is the user's file, not a project's.
        fs_err::create_dir_all(dir.path().join(".gemini")).unwrap();
        fs_err::copy(work.join(".gemini/settings.json"), paths.gemini_settings()).unwrap();
        assert!(matches!(plan_auth(&paths, dir.path(), &no_env).unwrap(), AuthPlan::Overlay { .. }));
        // A system file selecting the API key settles it, whatever the user's says.
        let system = dir.path().join("system.json");
        fs_err::write(&system, r#"{"security": {"auth": {"selectedType": "gemini-api-key"}}}"#).unwrap();
        let lookup = |name: &str| {
            (name == "GEMINI_CLI_SYSTEM_SETTINGS_PATH").then(|| system.to_string_lossy().into_owned())
        };
        assert_eq!(plan_auth(&paths, &work, &lookup).unwrap(), AuthPlan::EnvOnly);
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
        assert_eq!(fs_err::read_to_string(real.join("tmp/chat.jsonl")).unwrap(), "turn");
        assert_eq!(fs_err::read_to_string(real.join("projects.json")).unwrap(), "new");
        assert_eq!(fs_err::read_to_string(real.join("installation_id")).unwrap(), "id");
        assert_eq!(fs_err::read_to_string(real.join("settings.json")).unwrap(), "{}");
        assert!(!root.exists());
    }
}
