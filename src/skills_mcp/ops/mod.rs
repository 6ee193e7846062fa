//! The MCP operations behind `aigate mcp add|list|remove|enable|disable|sync`: plans for
//! every client's own format, Claude Code's park-instead-of-disable, Gemini CLI's
//! `mcp.excluded`, and the undo records that make `add`/`remove` and `disable`/`enable`
//! byte-exact. They return values; the CLI prints them.
//!
//! Invariants:
//! - Every file change goes through one [`crate::write::apply`] call per operation
//!   ([`crate::write::apply_read`] for `remove`/`enable`/`disable`, which look into the files
//!   first and hand it their reads), so an operation that touches several clients changes
//!   all of them or none.
//! - A server a chosen client cannot take (its name, SSE in Codex, a `cwd` outside Codex)
//!   is refused for every client before anything is written.
//! - `add` then `remove`, and `disable` then `enable`, give back the files byte for byte:
//!   aigate records the reverse patch of its own edit and uses it when it still applies.
//! - `list` only reads files; it never starts a server. Env and header values are masked.

use std::path::{Path, PathBuf};

use super::{McpFile, Scope, edit, gemini};
use crate::clients::Client;
use crate::doc::Document;
use crate::error::{Error, Result};
use crate::output::display_path;
use crate::paths::Paths;
use crate::skills_mcp;
use crate::write::{Change, Current, Edited, ModePolicy, Outcome};

mod add;
mod find;
mod list;
mod remove;
mod sync;
mod toggle;

pub use add::{add, server_from_args};
pub use list::{ListEntry, ListRow, list};
pub use remove::remove;
pub use sync::{SyncItem, sync};
pub use toggle::toggle;

/// Where an operation runs: the paths, and the command line recorded with its snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    pub paths: &'a Paths,
    pub command_line: &'a str,
}

impl Env<'_> {
    fn db(&self) -> Result<rusqlite::Connection> {
        crate::db::open(&self.paths.aigate_home)
    }
}

/// `mcp add`, as plain data.
#[derive(Debug, Clone)]
pub struct AddRequest {
    pub name: String,
    /// The chosen clients (empty: every client whose files exist), unless `all`.
    pub client: Vec<Client>,
    pub all: bool,
    pub scope: Scope,
    pub env: Vec<String>,
    pub header: Vec<String>,
    pub url: Option<String>,
    /// A remote server speaks SSE (else streamable HTTP).
    pub sse: bool,
    pub force: bool,
    pub dry_run: bool,
    pub command: Vec<String>,
}

/// `mcp remove|enable|disable`, as plain data.
#[derive(Debug, Clone)]
pub struct NameRequest {
    pub name: String,
    pub client: Vec<Client>,
    pub scope: Option<Scope>,
    pub dry_run: bool,
}

/// `mcp sync`, as plain data.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub from: Client,
    pub to: Vec<Client>,
    pub scope: Scope,
    pub force: bool,
    pub dry_run: bool,
}

/// What a mutating operation did, for the CLI to report.
#[derive(Debug)]
pub struct Changed {
    /// `add`, `remove`, `enable`, `disable`.
    pub action: &'static str,
    pub name: String,
    pub outcome: Outcome,
    pub notes: Vec<String>,
    /// The past tense for the summary (`Added`).
    pub done: &'static str,
    /// What to say when nothing changed.
    pub nothing: &'static str,
}

/// `mcp list`'s answer.
pub struct Listing {
    pub servers: Vec<ListRow>,
    /// Files that could not be read (each rendered with its location).
    pub warnings: Vec<String>,
}

/// `mcp sync`'s answer.
pub struct Synced {
    pub from: Client,
    pub items: Vec<SyncItem>,
    pub outcome: Outcome,
}

/// Records of what a write did, written once its files are: one transaction, not synced
/// on its own (SQLite syncs the db once, when its last connection closes). A record lost
/// to a power cut only makes a later command take the semantic edit instead of the byte
/// exact one, or keep a disabled copy it no longer needs.
fn records_after(
    connection: &rusqlite::Connection,
    write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
) -> Result<()> {
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    let transaction = connection.unchecked_transaction()?;
    write(&transaction)?;
    transaction.commit()?;
    Ok(())
}

fn conflict(name: &str, file: &McpFile, detail: &str) -> Error {
    Error::refused(format!(
        "`{name}` already exists in {} (`{}`){detail}",
        file.client,
        display_path(&file.path)
    ))
    .hint(format!(
        "replace it with `--force`, or remove it first: `aigate mcp remove {name} --client {}`",
        file.client
    ))
}

/// The write of one MCP file: its mode kept, `edit` given its bytes as the write read them.
fn mcp_change<'a, T>(
    file: &McpFile,
    edit: impl Fn(Option<&[u8]>) -> Result<Edited<T>> + 'a,
) -> Change<'a, T> {
    Change::with_result(
        file.client.name(),
        file.path.clone(),
        ModePolicy::Keep,
        move |current: Current<'_>| edit(current.bytes),
    )
}

/// Whether `name` is in `mcp.excluded` of a Gemini CLI settings document.
fn gemini_excluded(document: &Document, name: &str) -> bool {
    gemini::lists(document.get(&gemini::EXCLUDED).as_ref(), name)
}

/// What keeps Gemini CLI from loading a server, from the settings of every scope and its
/// own switch file. Files that do not parse count for nothing here (listing them warns
/// elsewhere).
fn gemini_blocked(ctx: &Env<'_>, cwd: &Path) -> Result<gemini::Blocked> {
    let mut settings = Vec::new();
    for &scope in skills_mcp::scopes(Client::Gemini) {
        let Ok(file) = skills_mcp::mcp_file(Client::Gemini, scope, ctx.paths, cwd) else { continue };
        let Some(bytes) = crate::fsx::read_state(&file.path)?.bytes else { continue };
        if let Ok(document) = edit::load(Some(&bytes), &file) {
            settings.push(document.to_value());
        }
    }
    Ok(gemini::Blocked::new(&settings, gemini::enablement_disabled(&ctx.paths.gemini_mcp_enablement())))
}

fn current_dir() -> Result<PathBuf> {
    std::env::current_dir().map_err(|error| Error::internal("Cannot read the current directory").cause(error))
}
