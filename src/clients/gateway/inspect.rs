//! What `status` and `doctor` report about each client and the gateway: read-only.
//!
//! A client's mode, exactly:
//! - `gateway`: aigate's keys are in the client's file. Either a key `use gateway`
//!   recorded still holds the value aigate wrote, or (with no record, e.g. a copied
//!   config or a lost database) the file selects aigate: Codex `model_provider = "aigate"`
//!   or a `[model_providers.aigate]` table, OpenCode `provider.aigate`, Claude Code
//!   `env.ANTHROPIC_BASE_URL` or Gemini CLI's `.env` `GOOGLE_GEMINI_BASE_URL` equal to the
//!   gateway's address.
//! - `official`: none of aigate's keys are in the file, and aigate has switched this
//!   client before (a record whose keys were all changed by hand, or a snapshot taken by
//!   `aigate use`).
//! - `unmanaged`: none of aigate's keys are in the file and aigate never switched it.
//!
//! Drift: recorded keys that no longer hold what aigate wrote (changed or removed by hand).
//!
//! Invariants: nothing here writes (the db is opened only if it exists); tokens are masked.

use std::os::unix::fs::PermissionsExt;

use serde::Serialize;

use super::health::{self, Health};
use super::{Conflict, FileRecord, records};
use crate::clients::{Client, Format};
use crate::doc::Document;
use crate::error::Result;
use crate::output::display_path;
use crate::paths::Paths;
use crate::session::state::{self, ServeStatus};

/// `official`, `gateway` or `unmanaged` (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Official,
    Gateway,
    Unmanaged,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Official => "official",
            Mode::Gateway => "gateway",
            Mode::Unmanaged => "unmanaged",
        }
    }
}

/// A parse failure with its position.
#[derive(Debug, Clone, Serialize)]
pub struct ParseFailure {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// One file of a client.
#[derive(Debug, Clone, Serialize)]
pub struct FileStatus {
    pub role: &'static str,
    /// As shown to humans (`~/...`).
    pub path: String,
    #[serde(skip)]
    pub full_path: std::path::PathBuf,
    pub exists: bool,
    /// Where a symlink points (its final target).
    pub symlink_target: Option<String>,
    pub format: Format,
    /// `None` when the file does not exist.
    pub parses: Option<bool>,
    pub error: Option<ParseFailure>,
    /// Octal permission bits, e.g. `0600`.
    pub mode: Option<String>,
    #[serde(skip)]
    pub mode_bits: Option<u32>,
    /// Whether aigate's gateway token is in this file.
    pub holds_gateway_token: bool,
    #[serde(skip)]
    pub document: Option<std::rc::Rc<Document<'static>>>,
}

/// One client.
#[derive(Debug, Clone, Serialize)]
pub struct ClientStatus {
    pub client: Client,
    pub detected: bool,
    pub mode: Mode,
    /// Why the mode is what it is, when that is not obvious.
    pub note: Option<String>,
    pub files: Vec<FileStatus>,
    pub drift: Vec<Conflict>,
    /// How many snapshots of this client the store holds.
    pub snapshots: usize,
}

/// The persistent gateway.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayStatus {
    /// `HOST:PORT` from `serve.json`, else the default.
    pub address: String,
    /// `serve.json` names a live aigate process.
    pub running: bool,
    pub pid: Option<u32>,
    /// `serve.json` names a process that is gone.
    pub stale: bool,
    pub health: Health,
    /// The provider chain, in order.
    pub providers: Vec<String>,
    /// `serve` (the running gateway's), `recorded` (`use gateway --provider`), `registered`
    /// (every provider by priority) or `default` (the official pass-through).
    pub providers_source: &'static str,
}

/// Everything `status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub gateway: GatewayStatus,
    pub clients: Vec<ClientStatus>,
}

/// Look at the gateway and `clients` (empty: all of them).
pub fn inspect(paths: &Paths, clients: &[Client]) -> Result<Inspection> {
    let connection = records::open_existing(&paths.aigate_home)?;
    let gateway = gateway_status(paths, connection.as_ref())?;
    let token = crate::session::state::read_serve_token(paths);
    let stored = match &connection {
        Some(connection) => records::load(connection, &[])?,
        None => Vec::new(),
    };
    let chosen: Vec<Client> = if clients.is_empty() { Client::ALL.to_vec() } else { clients.to_vec() };
    let mut statuses = Vec::new();
    for client in chosen {
        let files: Vec<FileStatus> = client
            .files(paths)
            .into_iter()
            .map(|file| file_status(file.role, &file.path, file.format, token.as_deref()))
            .collect();
        let gateway_paths = super::gateway_files(client, paths);
        let client_records: Vec<&FileRecord> =
            stored.iter().filter(|record| record.client == client).collect();
        let mut drift = Vec::new();
        let mut holds_ours = false;
        let mut unreadable = false;
        for record in &client_records {
            let status =
                files.iter().find(|file| file.full_path == record.path).cloned().unwrap_or_else(|| {
                    file_status(
                        "config",
                        &record.path,
                        super::gateway_format(client, &record.path),
                        token.as_deref(),
                    )
                });
            match &status.document {
                Some(document) => {
                    let found = super::drift(document, record);
                    holds_ours |= found.len() < record.edits.len();
                    drift.extend(found);
                }
                None if status.exists => unreadable = true,
                None => {
                    let format = super::gateway_format(client, &record.path);
                    drift.extend(super::drift(&Document::new_empty(format), record));
                }
            }
        }
        let signature = files
            .iter()
            .filter(|file| gateway_paths.contains(&file.full_path))
            .filter_map(|file| file.document.as_ref())
            .any(|document| {
                super::looks_like_gateway(client, document, &format!("http://{}", gateway.address))
            });
        let client_snapshots = match &connection {
            Some(connection) => crate::backup::store::list(connection, &[client.name().to_string()])?,
            None => Vec::new(),
        };
        // Switched before: records now, or a snapshot `aigate use` took.
        let switched_before = !client_records.is_empty()
            || client_snapshots.iter().any(|snapshot| snapshot.reason.starts_with("use "));
        let (mode, note) = if holds_ours || unreadable {
            let note =
                unreadable.then(|| "the file does not parse; aigate's records say gateway".to_string());
            (Mode::Gateway, note)
        } else if signature {
            let note = client_records.is_empty().then(|| {
                "aigate's keys are in the file but not in aigate's records: `aigate use official` cannot undo them"
                    .to_string()
            });
            (Mode::Gateway, note)
        } else if switched_before {
            (Mode::Official, None)
        } else {
            (Mode::Unmanaged, None)
        };
        let snapshots = client_snapshots.len();
        statuses.push(ClientStatus {
            client,
            detected: client.detected(paths),
            mode,
            note,
            files,
            drift,
            snapshots,
        });
    }
    Ok(Inspection { gateway, clients: statuses })
}

/// Where the gateway is, whether it answers, and its chain.
pub fn gateway_status(paths: &Paths, connection: Option<&rusqlite::Connection>) -> Result<GatewayStatus> {
    let (address, running, pid, stale, serve_providers) = match state::serve_status(paths) {
        ServeStatus::Running(info) => (info.address, true, Some(info.pid), false, Some(info.providers)),
        ServeStatus::Stale(info) => (super::DEFAULT_ADDRESS.to_string(), false, Some(info.pid), true, None),
        ServeStatus::NotRunning => (super::DEFAULT_ADDRESS.to_string(), false, None, false, None),
    };
    let health = health::check(&address);
    let recorded = match connection {
        Some(connection) => records::load_chain(connection)?,
        None => Vec::new(),
    };
    let (providers, providers_source) = if let Some(providers) = serve_providers {
        (providers, "serve")
    } else if !recorded.is_empty() {
        (recorded, "recorded")
    } else {
        let registered: Vec<String> = crate::providers::load_providers(&paths.aigate_home)?
            .into_iter()
            .map(|provider| provider.name)
            .collect();
        if registered.is_empty() {
            (vec![crate::providers::OFFICIAL.to_string()], "default")
        } else {
            (registered, "registered")
        }
    };
    Ok(GatewayStatus { address, running, pid, stale, health, providers, providers_source })
}

/// Look at one file: exists, link target, parses, mode, whether it holds the token.
pub fn file_status(
    role: &'static str,
    path: &std::path::Path,
    format: Format,
    token: Option<&str>,
) -> FileStatus {
    let mut status = FileStatus {
        role,
        path: display_path(path),
        full_path: path.to_path_buf(),
        exists: false,
        symlink_target: None,
        format,
        parses: None,
        error: None,
        mode: None,
        mode_bits: None,
        holds_gateway_token: false,
        document: None,
    };
    let is_link = fs_err::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink());
    if is_link {
        match crate::fsx::resolve_target(path) {
            Ok(target) => status.symlink_target = Some(display_path(&target)),
            Err(error) => {
                status.exists = true;
                status.parses = Some(false);
                status.error = Some(ParseFailure { line: None, column: None, message: error.message });
                return status;
            }
        }
    }
    let bytes = match crate::fsx::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return status,
        Err(error) => {
            status.exists = true;
            status.parses = Some(false);
            status.error = Some(ParseFailure { line: None, column: None, message: error.to_string() });
            return status;
        }
    };
    status.exists = true;
    if let Ok(metadata) = fs_err::metadata(path) {
        let bits = metadata.permissions().mode() & 0o7777;
        status.mode_bits = Some(bits);
        status.mode = Some(format!("{bits:04o}"));
    }
    status.holds_gateway_token = token
        .is_some_and(|token| !token.is_empty() && memchr::memmem::find(&bytes, token.as_bytes()).is_some());
    match Document::parse_owned(bytes, format, path) {
        Ok(document) => {
            status.parses = Some(true);
            status.document = Some(std::rc::Rc::new(document));
        }
        Err(error) => {
            status.parses = Some(false);
            let (line, column) =
                error.location().map_or((None, None), |(line, column)| (Some(line), Some(column)));
            status.error = Some(ParseFailure { line, column, message: error.message().to_string() });
        }
    }
    status
}

/// Something that keeps Gemini CLI from the gateway although its files are switched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiShadow {
    /// `gemini-environment`, `gemini-env-file` or `gemini-login` (doctor's check ids).
    pub check: &'static str,
    pub what: String,
    pub location: Option<String>,
    pub hint: String,
}

/// The one-line reminder every Gemini CLI `.env` hint carries.
pub const GEMINI_ENV_NOTE: &str = "Gemini CLI loads only the first `.env` it finds walking up from its working directory (`.gemini/.env` or `.env`), so one in a project or a parent of it shadows `~/.gemini/.env`; and in an untrusted folder it takes no `GOOGLE_GEMINI_BASE_URL` from any `.env`";

/// What would keep Gemini CLI started in `cwd` from the gateway: a variable of the shell
/// (`lookup`) that differs from what `.env` holds (`written`; the shell's own beats any
/// `.env`), a closer `.env` file, a system or project settings layer that selects another
/// login. Read-only.
pub fn gemini_shadows(
    paths: &Paths,
    cwd: &std::path::Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    written: &dyn Fn(&str) -> Option<String>,
) -> Vec<GeminiShadow> {
    use crate::env_vars::{GEMINI_API_KEY, GOOGLE_GEMINI_BASE_URL};
    let mut out = Vec::new();
    for name in [GOOGLE_GEMINI_BASE_URL, GEMINI_API_KEY] {
        let Some(value) = lookup(name) else { continue };
        if written(name).as_deref() == Some(value.as_str()) {
            continue;
        }
        let effect = if name == GEMINI_API_KEY {
            "so it sends that key, not the gateway's token"
        } else {
            "so it does not talk to the gateway"
        };
        out.push(GeminiShadow {
            check: "gemini-environment",
            what: format!(
                "`{name}` is set in this environment: Gemini CLI takes it over `~/.gemini/.env`, {effect}"
            ),
            location: None,
            hint: format!("unset it (and take it out of your shell profile). {GEMINI_ENV_NOTE}"),
        });
    }
    let ours = paths.gemini_env();
    if let Some(first) = gemini_env_file(cwd, &paths.gemini_home).filter(|first| *first != ours) {
        out.push(GeminiShadow {
            check: "gemini-env-file",
            what: format!(
                "Gemini CLI started in `{}` reads `{}`, not `{}`",
                display_path(cwd),
                display_path(&first),
                display_path(&ours)
            ),
            location: Some(display_path(&first)),
            hint: format!(
                "start Gemini CLI where that file is not found, or put `GOOGLE_GEMINI_BASE_URL` and `GEMINI_API_KEY` from `{}` in it yourself (keep the token out of version control); a plain `.env` (not `.gemini/.env`) is skipped with `\"advanced\": {{\"ignoreLocalEnv\": true}}` in Gemini CLI's settings. {GEMINI_ENV_NOTE}",
                display_path(&ours)
            ),
        });
    }
    if let Err(error) = crate::clients::gemini_home::plan_auth(paths, cwd, lookup) {
        out.push(GeminiShadow {
            check: "gemini-login",
            what: error.message,
            location: None,
            hint: error.hint.unwrap_or_default(),
        });
    }
    out
}

/// The `.env` file Gemini CLI loads when started in `cwd` (in a trusted folder): the first
/// `.gemini/.env` or `.env` walking up from `cwd`, else `~/.gemini/.env`, else `~/.env`,
/// where `~` is `gemini_home` (its `findEnvFile`). Only that one file is read.
pub fn gemini_env_file(cwd: &std::path::Path, gemini_home: &std::path::Path) -> Option<std::path::PathBuf> {
    let mut dir = Some(cwd);
    while let Some(current) = dir {
        for candidate in [current.join(".gemini").join(".env"), current.join(".env")] {
            if candidate.exists() {
                return Some(candidate);
            }
        }
        dir = current.parent();
    }
    [gemini_home.join(".gemini").join(".env"), gemini_home.join(".env")]
        .into_iter()
        .find(|path| path.exists())
}

#[cfg(test)]
mod tests {
    use super::gemini_env_file;

    #[test]
    fn the_first_env_file_up_from_the_cwd_wins_then_the_home_ones() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let project = home.join("src/project/sub");
        fs_err::create_dir_all(&project).unwrap();
        fs_err::create_dir_all(home.join(".gemini")).unwrap();
        assert_eq!(gemini_env_file(&project, &home), None);
        fs_err::write(home.join(".env"), "A=1\n").unwrap();
        assert_eq!(gemini_env_file(&project, &home), Some(home.join(".env")));
        fs_err::write(home.join(".gemini/.env"), "A=1\n").unwrap();
        // In the home itself `.gemini/.env` comes first; elsewhere the home ones come last.
        assert_eq!(gemini_env_file(&project, &home), Some(home.join(".gemini/.env")));
        assert_eq!(gemini_env_file(&root.path().join("elsewhere"), &home), Some(home.join(".gemini/.env")));
        fs_err::write(home.join("src/.env"), "A=1\n").unwrap();
        assert_eq!(gemini_env_file(&project, &home), Some(home.join("src/.env")));
        fs_err::create_dir_all(project.join(".gemini")).unwrap();
        fs_err::write(project.join(".gemini/.env"), "A=1\n").unwrap();
        assert_eq!(gemini_env_file(&project, &home), Some(project.join(".gemini/.env")));
    }
}
