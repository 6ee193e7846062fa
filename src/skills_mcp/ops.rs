//! The MCP operations behind `aigate mcp add|list|remove|enable|disable|sync`: plans for
//! every client's own format, Claude Code's park-instead-of-disable, Gemini CLI's
//! `mcp.excluded`, and the undo records that make `add`/`remove` and `disable`/`enable`
//! byte-exact. They return values; the CLI prints them.
//!
//! Invariants:
//! - Every file change goes through one [`write::apply`] call per operation
//!   ([`write::apply_read`] for `remove`/`enable`/`disable`, which look into the files
//!   first and hand it their reads), so an operation that touches several clients changes
//!   all of them or none.
//! - A server a chosen client cannot take (its name, SSE in Codex, a `cwd` outside Codex)
//!   is refused for every client before anything is written.
//! - `add` then `remove`, and `disable` then `enable`, give back the files byte for byte:
//!   aigate records the reverse patch of its own edit and uses it when it still applies.
//! - `list` only reads files; it never starts a server. Env and header values are masked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::records::{self, Op, Parked};
use super::{McpFile, McpServer, Scope, ServerView, Transport, edit, gemini, patch};
use crate::clients::{self, Client};
use crate::doc::{Document, NewBytes};
use crate::error::{Error, Result};
use crate::output::display_path;
use crate::paths::Paths;
use crate::skills_mcp;
use crate::write::{self, Change, Current, Edited, ModePolicy, Outcome};

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

// ------------------------------------------------------------------------------- add

/// The server an `add` describes, checked: a transport, and flags that fit it.
pub fn server_from_args(args: &AddRequest) -> Result<McpServer> {
    let refuse = |message: String| Error::refused(message);
    let transport = match (&args.url, args.command.split_first()) {
        (Some(url), None) => {
            if !args.env.is_empty() {
                return Err(refuse("`--env` is for stdio servers; a remote server takes `--header`".into()));
            }
            let headers = skills_mcp::server::parse_headers(&args.header).map_err(refuse)?;
            if args.sse {
                Transport::Sse { url: url.clone(), headers }
            } else {
                Transport::Http { url: url.clone(), headers }
            }
        }
        (None, Some((command, rest))) => {
            if !args.header.is_empty() {
                return Err(refuse(
                    "`--header` is for remote servers (`--url`); a stdio server takes `--env`".into(),
                ));
            }
            Transport::Stdio {
                command: command.clone(),
                args: rest.to_vec(),
                env: skills_mcp::server::parse_env(&args.env).map_err(refuse)?,
                cwd: None,
            }
        }
        (Some(_), Some(_)) => {
            return Err(refuse("give either `--url URL` or `-- COMMAND ARGS`, not both".into()));
        }
        (None, None) => {
            return Err(refuse(format!("`{}` needs a transport", args.name))
                .hint(format!("`aigate mcp add {} -- COMMAND ARGS...` or `--url URL`", args.name)));
        }
    };
    Ok(McpServer::new(args.name.clone(), transport))
}

/// `mcp add`: the server in every chosen client, in one write.
pub fn add(ctx: &Env<'_>, args: &AddRequest) -> Result<Changed> {
    let server = server_from_args(args)?;
    let chosen = if args.all { Client::ALL.to_vec() } else { clients::select(&args.client, ctx.paths) };
    if chosen.is_empty() {
        return Err(Error::refused("No client files found to add the server to")
            .hint("name the clients with `--client codex|claude|opencode|gemini`, or use `--all`"));
    }
    let cwd = current_dir()?;
    let mut files = Vec::new();
    let mut reasons = Vec::new();
    for client in chosen {
        match skills_mcp::mcp_file(client, args.scope, ctx.paths, &cwd) {
            Ok(file) => files.push(file),
            Err(reason) => reasons.push(reason),
        }
        if let Err(reason) = skills_mcp::check_name(client, &server.name) {
            reasons.push(reason);
        }
        if let Err(reason) = skills_mcp::to_entry(client, &server, None) {
            reasons.push(reason);
        }
    }
    if !reasons.is_empty() {
        let mut error = Error::refused(format!("Cannot add `{}`", server.name));
        for reason in &reasons {
            error = error.cause(reason);
        }
        return Err(error.hint("leave that client out with `--client`, or change the server"));
    }
    // Parked entries are in the db, when there is one. The write creates it (in a new
    // home, while the edit runs: the home is there for it); a dry run creates nothing.
    if !args.dry_run {
        crate::paths::ensure_private_dir(&ctx.paths.aigate_home)?;
    }
    if let (false, Some(connection)) = (args.force, crate::db::open_existing(&ctx.paths.aigate_home)?) {
        for file in files.iter().filter(|file| file.client == Client::Claude) {
            if records::parked(&connection, file, &server.name)?.is_some() {
                return Err(conflict(&server.name, file, " (disabled by aigate)"));
            }
        }
    }
    let mut notes = Vec::new();
    if server.name.contains('_') && files.iter().any(|file| file.client == Client::Gemini) {
        notes.push(format!(
            "gemini: Gemini CLI's policy rules split tool names (`mcp_<server>_<tool>`) at the first `_`, so rules for `{}` may miss it; its docs advise `-` in server names",
            server.name
        ));
    }
    for file in files.iter().filter(|file| file.client == Client::Gemini) {
        let bytes = crate::fsx::read_state(&file.path)?.bytes;
        // A file that does not parse is refused with its location by the edit below.
        if let Some(Ok(document)) = bytes.as_deref().map(|bytes| edit::load(Some(bytes), file)) {
            let allowed = document.get(&["mcp", "allowed"]);
            if allowed.as_ref().is_some_and(serde_json::Value::is_array)
                && !gemini::lists(allowed.as_ref(), &server.name)
            {
                notes.push(format!(
                    "{}: `{}` is not in `mcp.allowed` of `{}`, so Gemini CLI blocks it until you add it there",
                    file.client,
                    server.name,
                    display_path(&file.path)
                ));
            }
            if gemini_excluded(&document, &server.name) {
                notes.push(format!(
                    "{}: `{}` is listed in `mcp.excluded` of `{}`, so Gemini CLI blocks it; `aigate mcp enable {} --client gemini` lifts that",
                    file.client,
                    server.name,
                    display_path(&file.path),
                    server.name
                ));
            }
        }
    }
    // Each edit answers with the undo record of what it made, from the bytes it saw:
    // `Some` when the server was not there before (reversing a replacement would bring the
    // old definition back), holding `None` when the record cannot be made (not UTF-8).
    let changes: Vec<Change<'_, Option<Option<patch::Undo>>>> = files
        .iter()
        .map(|file| {
            let server = &server;
            mcp_change(file, move |old: Option<&[u8]>| {
                let mut document = edit::load(old, file)?;
                let existing = edit::entry(&document, file, &server.name);
                if existing.is_some() && !args.force {
                    return Err(conflict(&server.name, file, ""));
                }
                let entry =
                    skills_mcp::to_entry(file.client, server, existing.as_ref()).map_err(Error::refused)?;
                edit::upsert_in(&mut document, file, &server.name, &entry)?;
                // The containers this add made, for a semantic remove to take out again.
                let created = document.created_parents().to_vec();
                // A splice of a large file stays one: it is not copied to be written.
                let new = document.into_new_bytes();
                let unchanged = old.is_some_and(|old| new.is(Some(old), old));
                let added = (existing.is_none() && !unchanged).then(|| {
                    patch::record_new(old, &new).map(|undo| patch::Undo { created_keys: created, ..undo })
                });
                Ok(Edited { bytes: Some(new), result: added })
            })
        })
        .collect();
    // The records of what was added go in the write's own connection, once every file
    // is written. One transaction for all, not synced on its own: an undo record lost to
    // a crash only makes a later `remove` take the semantic edit.
    let records_of = |connection: &rusqlite::Connection, added: &[Option<Option<patch::Undo>>]| {
        records_after(connection, |transaction| {
            for (file, added) in files.iter().zip(added) {
                let Some(undo) = added else { continue };
                records::forget_undo(transaction, file, &server.name, None)?;
                if let Some(undo) = undo {
                    records::save_undo(transaction, file, &server.name, Op::Add, undo)?;
                }
                if file.client == Client::Claude {
                    records::unpark(transaction, file, &server.name)?;
                }
            }
            Ok(())
        })
    };
    let outcome = write::apply_then(
        ctx.paths,
        ctx.command_line,
        &format!("mcp add {}", server.name),
        &changes,
        args.dry_run,
        records_of,
    )?;
    drop(changes);
    let (outcome, _) = outcome.split();
    Ok(Changed {
        action: "add",
        name: server.name.clone(),
        outcome,
        notes,
        done: "Added",
        nothing: "already there, nothing to change",
    })
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

// ---------------------------------------------------------------------------- remove

/// Where a server was found for `remove`/`enable`/`disable`.
struct Found<'r> {
    file: McpFile,
    entry: Option<serde_json::Value>,
    parked: Option<Parked>,
    /// Gemini CLI: the name is in the file's `mcp.excluded` (disabled).
    excluded: bool,
    /// The file as parsed to find the server, for the edit to take when the write gives
    /// it the same bytes (a 20 MB `.claude.json` is then read and parsed once per command).
    parsed: std::cell::RefCell<Option<Document<'r>>>,
}

impl Found<'_> {
    /// `f` of `bytes` (the file as the write has it) as a document: the one parsed to find
    /// the server when they are still its bytes (once), else parsed again.
    fn with_document<R>(&self, bytes: Option<&[u8]>, f: impl FnOnce(Document<'_>) -> Result<R>) -> Result<R> {
        let parsed = self.parsed.borrow_mut().take();
        match parsed {
            Some(document) if bytes.is_some_and(|bytes| document.is_parse_of(bytes)) => f(document),
            _ => f(edit::load(bytes, &self.file)?),
        }
    }
}

/// Where [`find`] looks, per chosen client: its scopes' files in order (or the given
/// scope's), each with the index of its read among the files read (Claude Code's user and
/// local scopes are one file, read once), or the error reading it gave, which counts only
/// if the search gets there.
type Places = Vec<Vec<(McpFile, Result<usize>)>>;

/// The files `remove`, `enable` and `disable` may change, read once (the write takes
/// these reads), and where in them to look.
fn places(ctx: &Env<'_>, args: &NameRequest) -> Result<(Vec<write::FileRead>, Places)> {
    let cwd = current_dir()?;
    let mut reads: Vec<write::FileRead> = Vec::new();
    let mut places = Vec::new();
    for client in clients::select(&args.client, ctx.paths) {
        let scopes: Vec<Scope> = match args.scope {
            Some(scope) => vec![scope],
            None => skills_mcp::scopes(client).to_vec(),
        };
        let mut files = Vec::new();
        for scope in scopes {
            let Ok(file) = skills_mcp::mcp_file(client, scope, ctx.paths, &cwd) else { continue };
            let read = match reads.iter().position(|read| read.path == file.path) {
                Some(index) => Ok(index),
                None => write::FileRead::new(&file.path, ModePolicy::Keep).map(|read| {
                    reads.push(read);
                    reads.len() - 1
                }),
            };
            files.push((file, read));
        }
        places.push(files);
    }
    Ok((reads, places))
}

/// For each chosen client, the first scope (or the given one) where `name` is configured
/// or parked.
fn find<'r>(
    args: &NameRequest,
    connection: &rusqlite::Connection,
    reads: &'r [write::FileRead],
    places: Places,
) -> Result<Vec<Found<'r>>> {
    let mut found = Vec::new();
    for files in places {
        // Claude Code's user and local scopes are the same file: parsed once.
        let mut previous: Option<(usize, Option<Document<'r>>)> = None;
        for (file, read) in files {
            let read = read?;
            let document = match previous.take() {
                Some((index, document)) if index == read => document,
                _ => match reads[read].bytes() {
                    Some(bytes) => Some(Document::parse(bytes, file.format, &file.path)?),
                    None => None,
                },
            };
            let client = file.client;
            let entry = document.as_ref().and_then(|document| edit::entry(document, &file, &args.name));
            let excluded = client == Client::Gemini
                && document.as_ref().is_some_and(|document| gemini_excluded(document, &args.name));
            let parked =
                if client == Client::Claude { records::parked(connection, &file, &args.name)? } else { None };
            if entry.is_some() || parked.is_some() {
                found.push(Found { file, entry, parked, excluded, parsed: document.into() });
                break;
            }
            previous = Some((read, document));
        }
    }
    if found.is_empty() {
        return Err(Error::refused(format!("No MCP server named `{}`", args.name))
            .hint("see what there is with `aigate mcp list`"));
    }
    Ok(found)
}

/// Keep what a write's plan found, for after the write: `cell` is filled once.
fn keep<T>(cell: &std::cell::OnceCell<T>, value: T) -> Result<&T> {
    let _ = cell.set(value);
    cell.get().ok_or_else(|| Error::internal("a plan ran twice"))
}

/// What `mcp remove` found: the servers, and for each the undo of its `add` and (Gemini
/// CLI, disabled by aigate) of its `disable`.
struct Removal<'r> {
    found: Vec<Found<'r>>,
    undos: Vec<(Option<patch::Undo>, Option<patch::Undo>)>,
}

/// `mcp remove`: the server out of every chosen client (its own bytes back when they still
/// apply), and its parked copy dropped.
pub fn remove(ctx: &Env<'_>, args: &NameRequest) -> Result<Changed> {
    let connection = ctx.db()?;
    let (reads, places) = places(ctx, args)?;
    let removal = std::cell::OnceCell::new();
    // The server is looked for while the write's work ahead (the snapshot of a large
    // file) runs.
    let plan = || {
        let found = find(args, &connection, &reads, places)?;
        // (the undo of `add`, and for a Gemini CLI server aigate disabled the undo of that:
        // its name leaves `mcp.excluded` with it)
        let undos = found
            .iter()
            .map(|item| {
                let disable = if item.excluded {
                    records::undo(&connection, &item.file, &args.name, Op::Disable)?
                } else {
                    None
                };
                Ok((records::undo(&connection, &item.file, &args.name, Op::Add)?, disable))
            })
            .collect::<Result<_>>()?;
        let Removal { found, undos } = keep(&removal, Removal { found, undos })?;
        let changes: Vec<Change<'_>> = found
            .iter()
            .zip(undos)
            .filter(|(item, _)| item.entry.is_some())
            .map(|(item, (undo, disable_undo))| {
                let file = &item.file;
                let name = args.name.as_str();
                mcp_change(file, move |old: Option<&[u8]>| {
                    // Gone since it was listed: nothing to remove from (nor to create).
                    if old.is_none() {
                        return Ok(Edited { bytes: None, result: () });
                    }
                    // Gemini CLI: the name leaves `mcp.excluded` first (a small settings
                    // file, taken whole).
                    let included = match disable_undo {
                        Some(disable_undo) => Some(
                            edit::prefer_reverse(Some(disable_undo), old, file, name, || {
                                gemini::include(old, file, name, disable_undo.created_keys.as_slice())
                                    .map(NewBytes::from)
                            })?
                            .map(|included| included.into_vec(old)),
                        ),
                        None => None,
                    };
                    let current = included.as_ref().map_or(old, Option::as_deref);
                    let created = undo.as_ref().map_or(&[][..], |undo| undo.created_keys.as_slice());
                    let removed = edit::prefer_reverse(undo.as_ref(), current, file, name, || {
                        item.with_document(current, |document| edit::remove_in(document, file, name, created))
                    })?;
                    // Bytes made from what the include gave are the file's new bytes whole.
                    let bytes = match &included {
                        Some(_) => removed.map(|removed| NewBytes::Whole(removed.into_vec(current))),
                        None => removed,
                    };
                    Ok(Edited { bytes, result: () })
                })
            })
            .collect();
        Ok(write::Plan { changes, before: None })
    };
    let outcome = write::apply_read(
        ctx.paths,
        ctx.command_line,
        &format!("mcp remove {}", args.name),
        &reads,
        args.dry_run,
        plan,
        |_, _| Ok(()),
    )?;
    let Some(Removal { found, undos }) = removal.get() else {
        return Err(Error::internal("the removal was not planned"));
    };
    let mut notes = Vec::new();
    for (item, (_, disable_undo)) in found.iter().zip(undos) {
        if item.excluded && disable_undo.is_none() {
            notes.push(format!(
                "{}: `{}` stays in `mcp.excluded` of `{}` (aigate did not put it there)",
                item.file.client,
                args.name,
                display_path(&item.file.path)
            ));
        }
        if item.parked.is_some() {
            notes.push(format!("{}: dropped the disabled copy aigate kept", item.file.client));
        }
    }
    // (Even when no file changed: a server that is only parked leaves just its records.)
    if !args.dry_run {
        records_after(&connection, |transaction| {
            for item in found {
                if item.parked.is_some() {
                    records::unpark(transaction, &item.file, &args.name)?;
                }
                records::forget_undo(transaction, &item.file, &args.name, None)?;
            }
            Ok(())
        })?;
    }
    Ok(Changed {
        action: "remove",
        name: args.name.clone(),
        outcome,
        notes,
        done: "Removed",
        nothing: "nothing to change",
    })
}

// --------------------------------------------------------------------- enable/disable

/// What `mcp enable|disable` found: the servers, which of them change (by index, with the
/// undo record of the edit that put them in their current state), what Claude Code's
/// `mcp add` created around each (left with it), and the notes for those that stay.
struct Toggle<'r> {
    found: Vec<Found<'r>>,
    chosen: Vec<(usize, Option<patch::Undo>)>,
    add_created: Vec<Vec<Vec<String>>>,
    notes: Vec<String>,
}

/// `mcp enable|disable`: Codex and OpenCode flip `enabled`; Claude Code, which has no such
/// field, has the entry parked in aigate's records while disabled; Gemini CLI has the
/// name in `mcp.excluded` of the same file.
pub fn toggle(ctx: &Env<'_>, args: &NameRequest, enable: bool) -> Result<Changed> {
    let connection = ctx.db()?;
    let (reads, places) = places(ctx, args)?;
    let name = args.name.as_str();
    let toggled = std::cell::OnceCell::new();
    // The server is looked for while the write's work ahead (the snapshot of a large
    // file) runs.
    let plan = || {
        let found = find(args, &connection, &reads, places)?;
        let mut notes = Vec::new();
        let mut chosen = Vec::new();
        for (index, item) in found.iter().enumerate() {
            let client = item.file.client;
            let enabled = match client {
                Client::Claude => item.entry.is_some(),
                Client::Gemini => !item.excluded,
                Client::Codex | Client::OpenCode => item
                    .entry
                    .as_ref()
                    .and_then(|entry| entry.get("enabled"))
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(true),
            };
            if enabled == enable {
                notes.push(format!("{client}: already {}", if enable { "enabled" } else { "disabled" }));
                continue;
            }
            if client == Client::Claude && enable && item.entry.is_some() {
                notes.push(format!("{client}: `{name}` is in the file again; the disabled copy is kept"));
                continue;
            }
            let undo = match (client, enable) {
                (Client::Claude, true) => item.parked.as_ref().and_then(|parked| parked.undo.clone()),
                (Client::Codex | Client::OpenCode | Client::Gemini, true) => {
                    records::undo(&connection, &item.file, name, Op::Disable)?
                }
                (_, false) => None,
            };
            chosen.push((index, undo));
        }
        // Claude Code: what the server's `mcp add` created around it (a top-level
        // `mcpServers`) leaves with it when disabling empties it, as `mcp remove` would do.
        let add_created: Vec<Vec<Vec<String>>> = chosen
            .iter()
            .map(|(index, _)| match (found[*index].file.client, enable) {
                (Client::Claude, false) => {
                    Ok(records::undo(&connection, &found[*index].file, name, Op::Add)?
                        .map(|undo| undo.created_keys)
                        .unwrap_or_default())
                }
                _ => Ok(Vec::new()),
            })
            .collect::<Result<_>>()?;
        let Toggle { found, chosen, add_created, .. } =
            keep(&toggled, Toggle { found, chosen, add_created, notes })?;
        // Each edit answers with the undo record of the bytes it made (`None`: no bytes).
        let changes: Vec<Change<'_, Option<Option<patch::Undo>>>> = chosen
            .iter()
            .zip(add_created)
            .map(|((index, undo), add_created)| {
                let item = &found[*index];
                let file = &item.file;
                let parked_entry = item.parked.as_ref().map(|parked| parked.entry.clone());
                mcp_change(file, move |old: Option<&[u8]>| {
                    // Gone since it was listed: nothing to take out or switch (nor to create).
                    if old.is_none()
                        && matches!(
                            (file.client, enable),
                            (Client::Claude, false) | (Client::Codex | Client::OpenCode, _)
                        )
                    {
                        return Ok(Edited { bytes: None, result: None });
                    }
                    let created = undo.as_ref().map_or(&[][..], |undo| undo.created_keys.as_slice());
                    let semantic = || match (file.client, enable) {
                        (Client::Claude, false) => item.with_document(old, |document| {
                            edit::remove_in(document, file, name, add_created)
                        }),
                        (Client::Gemini, false) => gemini::exclude(old, file, name).map(NewBytes::from),
                        (Client::Gemini, true) => {
                            gemini::include(old, file, name, created).map(NewBytes::from)
                        }
                        (Client::Claude, true) => {
                            let entry = parked_entry
                                .as_ref()
                                .ok_or_else(|| Error::internal("the parked entry is gone"))?;
                            item.with_document(old, |mut document| {
                                edit::upsert_in(&mut document, file, name, entry)?;
                                Ok(document.into_new_bytes())
                            })
                        }
                        (Client::Codex | Client::OpenCode, _) => item.with_document(old, |document| {
                            edit::set_enabled_in(document, file, name, enable)
                        }),
                    };
                    let new = edit::prefer_reverse(undo.as_ref(), old, file, name, semantic)?;
                    let mut undo = new.as_ref().map(|new| patch::record_new(old, new));
                    if let (Client::Gemini, false, Some(Some(undo))) = (file.client, enable, &mut undo) {
                        // What disable created, so a semantic enable takes it away again.
                        undo.created_keys = gemini::missing_for_exclude(&edit::load(old, file)?.to_value());
                    }
                    Ok(Edited { bytes: new, result: undo })
                })
            })
            .collect();
        // Claude Code: the entry is parked before it leaves the file, so a crash cannot
        // lose it (in the write's connection, durable with its snapshot).
        let parks: Vec<(&McpFile, &serde_json::Value)> = chosen
            .iter()
            .map(|(index, _)| &found[*index])
            .filter(|item| !enable && item.file.client == Client::Claude)
            .filter_map(|item| Some((&item.file, item.entry.as_ref()?)))
            .collect();
        let before: Option<write::Before<'_>> = (!parks.is_empty()).then(|| {
            Box::new(move |connection: &rusqlite::Connection| {
                for (file, entry) in parks {
                    records::park(connection, file, name, &Parked { entry: entry.clone(), undo: None })?;
                }
                Ok(())
            }) as write::Before<'_>
        });
        Ok(write::Plan { changes, before })
    };
    let verb = if enable { "enable" } else { "disable" };
    let outcome = write::apply_read(
        ctx.paths,
        ctx.command_line,
        &format!("mcp {verb} {name}"),
        &reads,
        args.dry_run,
        plan,
        |_, _| Ok(()),
    );
    let Some(Toggle { found, chosen, notes, .. }) = toggled.get() else {
        // Nothing was planned: the search itself failed.
        return Err(outcome.err().unwrap_or_else(|| Error::internal("the toggle was not planned")));
    };
    let chosen: Vec<(&Found<'_>, &Option<patch::Undo>)> =
        chosen.iter().map(|(index, undo)| (&found[*index], undo)).collect();
    let mut notes = notes.clone();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            if !enable && !args.dry_run {
                for (item, _) in &chosen {
                    if item.file.client == Client::Claude {
                        records::unpark(&connection, &item.file, name)?;
                    }
                }
            }
            return Err(error);
        }
    };
    let (outcome, undos) = outcome.split();
    if !args.dry_run {
        records_after(&connection, |transaction| {
            for ((item, _), undo) in chosen.iter().zip(undos) {
                let Some(undo) = undo else { continue };
                match (item.file.client, enable) {
                    (Client::Claude, false) => {
                        if let Some(entry) = &item.entry {
                            records::park(
                                transaction,
                                &item.file,
                                name,
                                &Parked { entry: entry.clone(), undo },
                            )?;
                        }
                    }
                    (Client::Claude, true) => records::unpark(transaction, &item.file, name)?,
                    (Client::Codex | Client::OpenCode | Client::Gemini, false) => {
                        if let Some(undo) = &undo {
                            records::save_undo(transaction, &item.file, name, Op::Disable, undo)?;
                        }
                    }
                    (Client::Codex | Client::OpenCode | Client::Gemini, true) => {
                        records::forget_undo(transaction, &item.file, name, Some(Op::Disable))?;
                    }
                }
            }
            Ok(())
        })?;
    }
    let gemini_enabled = enable && chosen.iter().any(|(item, _)| item.file.client == Client::Gemini);
    if gemini_enabled && !args.dry_run && gemini_blocked(ctx, &current_dir()?)?.blocks(name) {
        notes.push(format!(
            "gemini: `{name}` is still off for Gemini CLI: left out of an `mcp.allowed` list, in `mcp.excluded` of its other settings file, or switched off in `{}` (Gemini CLI's own switch, which aigate does not write)",
            display_path(&ctx.paths.gemini_mcp_enablement())
        ));
    }
    let done = if enable { "Enabled" } else { "Disabled" };
    Ok(Changed { action: verb, name: name.to_string(), outcome, notes, done, nothing: "nothing to change" })
}

// ------------------------------------------------------------------------------ list

/// One server of `mcp list`.
#[derive(Serialize)]
pub struct ListRow {
    pub name: String,
    /// The definitions differ between the places this server is configured.
    pub differs: bool,
    pub clients: Vec<ListEntry>,
}

/// One client's view of a listed server.
#[derive(Serialize, Clone)]
pub struct ListEntry {
    pub client: Client,
    pub present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerView>,
    /// Why the entry could not be read as a server (a toggle-only OpenCode entry, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip)]
    pub canonical: Option<McpServer>,
}

/// Every configured server of `client`, in every scope, with parked Claude entries.
fn configured(
    ctx: &Env<'_>,
    client: Client,
    connection: &rusqlite::Connection,
    cwd: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, ListEntry)>> {
    let mut out = Vec::new();
    let gemini_blocked =
        if client == Client::Gemini { gemini_blocked(ctx, cwd)? } else { gemini::Blocked::default() };
    // Scopes can share a file (Claude Code's user and local servers are both in a
    // `.claude.json` that can be 20 MB): each file is read and parsed once.
    let mut documents: Vec<(PathBuf, Option<Document<'static>>)> = Vec::new();
    for &scope in skills_mcp::scopes(client) {
        let Ok(file) = skills_mcp::mcp_file(client, scope, ctx.paths, cwd) else { continue };
        let index = if let Some(index) = documents.iter().position(|(path, _)| *path == file.path) {
            index
        } else {
            let document = match crate::fsx::read_state(&file.path)?.bytes {
                Some(bytes) => match Document::parse_owned(bytes, file.format, &file.path) {
                    Ok(document) => Some(document),
                    Err(error) => {
                        let error = Error::from(error);
                        warnings.push(error.render().lines().collect::<Vec<_>>().join(" "));
                        None
                    }
                },
                None => None,
            };
            documents.push((file.path.clone(), document));
            documents.len() - 1
        };
        let mut entries: Vec<(String, serde_json::Value, bool)> = match &documents[index].1 {
            Some(document) => {
                edit::entries(document, &file).into_iter().map(|(name, entry)| (name, entry, true)).collect()
            }
            None => Vec::new(),
        };
        if client == Client::Claude {
            entries.extend(
                records::parked_in(connection, &file)?.into_iter().map(|(name, entry)| (name, entry, false)),
            );
        }
        for (name, entry, in_file) in entries {
            let (canonical, note) = match skills_mcp::from_entry(client, &name, &entry) {
                Ok(server) => (Some(server), None),
                Err(reason) => (None, Some(reason)),
            };
            let enabled = match (&canonical, in_file) {
                (_, false) => false,
                (_, true) if client == Client::Gemini => !gemini_blocked.blocks(&name),
                (Some(server), true) => server.enabled,
                (None, true) => entry.get("enabled").and_then(serde_json::Value::as_bool).unwrap_or(true),
            };
            out.push((
                name,
                ListEntry {
                    client,
                    present: true,
                    scope: Some(scope),
                    file: Some(display_path(&file.path)),
                    enabled: Some(enabled),
                    server: canonical.as_ref().map(McpServer::view),
                    note,
                    canonical,
                },
            ));
        }
    }
    Ok(out)
}

/// `mcp list`: every server of the chosen clients, grouped by name (files only read).
pub fn list(ctx: &Env<'_>, requested: &[Client]) -> Result<Listing> {
    let chosen = clients::select(requested, ctx.paths);
    let connection = ctx.db()?;
    let cwd = current_dir()?;
    let mut by_name: BTreeMap<String, Vec<ListEntry>> = BTreeMap::new();
    let mut warnings = Vec::new();
    for &client in &chosen {
        for (name, entry) in configured(ctx, client, &connection, &cwd, &mut warnings)? {
            by_name.entry(name).or_default().push(entry);
        }
    }
    let servers: Vec<ListRow> = by_name
        .into_iter()
        .map(|(name, mut entries)| {
            let definitions: Vec<&McpServer> =
                entries.iter().filter_map(|entry| entry.canonical.as_ref()).collect();
            let differs = definitions.windows(2).any(|pair| !pair[0].same_definition(pair[1]));
            for &client in &chosen {
                if !entries.iter().any(|entry| entry.client == client) {
                    entries.push(ListEntry {
                        client,
                        present: false,
                        scope: None,
                        file: None,
                        enabled: None,
                        server: None,
                        note: None,
                        canonical: None,
                    });
                }
            }
            entries.sort_by_key(|entry| (entry.client, entry.scope));
            ListRow { name, differs, clients: entries }
        })
        .collect();
    Ok(Listing { servers, warnings })
}

// ------------------------------------------------------------------------------ sync

/// What `sync` did with one server for one client.
#[derive(Serialize)]
pub struct SyncItem {
    pub client: Client,
    pub name: String,
    /// `added`, `identical`, `differs`, `replaced`, `skipped`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `mcp sync`: copy one client's servers to the others, in each one's format.
pub fn sync(ctx: &Env<'_>, args: &SyncRequest) -> Result<Synced> {
    let cwd = current_dir()?;
    let connection = ctx.db()?;
    let source_file = skills_mcp::mcp_file(args.from, args.scope, ctx.paths, &cwd).map_err(Error::refused)?;
    let source_bytes = crate::fsx::read_state(&source_file.path)?.bytes;
    let source_document = edit::load(source_bytes.as_deref(), &source_file)?;
    let mut servers = Vec::new();
    let mut items = Vec::new();
    let blocked =
        if args.from == Client::Gemini { gemini_blocked(ctx, &cwd)? } else { gemini::Blocked::default() };
    for (name, entry) in edit::entries(&source_document, &source_file) {
        match skills_mcp::from_entry(args.from, &name, &entry) {
            Ok(mut server) => {
                // Gemini CLI disables by name, outside the entry.
                if args.from == Client::Gemini && blocked.blocks(&name) {
                    server.enabled = false;
                }
                servers.push(server);
            }
            Err(reason) => {
                items.push(SyncItem { client: args.from, name, result: "skipped", reason: Some(reason) });
            }
        }
    }
    let targets: Vec<Client> = if args.to.is_empty() {
        clients::select(&[], ctx.paths)
    } else {
        clients::select(&args.to, ctx.paths)
    }
    .into_iter()
    .filter(|client| *client != args.from)
    .collect();
    if targets.is_empty() {
        return Err(
            Error::refused("No client to sync to").hint("name one with `--to codex|claude|opencode|gemini`")
        );
    }
    let mut plans: Vec<(McpFile, Vec<McpServer>)> = Vec::new();
    for target in targets {
        let file = skills_mcp::mcp_file(target, args.scope, ctx.paths, &cwd).map_err(Error::refused)?;
        let bytes = crate::fsx::read_state(&file.path)?.bytes;
        let document = edit::load(bytes.as_deref(), &file)?;
        let mut to_write = Vec::new();
        for server in &servers {
            let item = |result, reason: Option<String>| SyncItem {
                client: target,
                name: server.name.clone(),
                result,
                reason,
            };
            if let Err(reason) = skills_mcp::check_name(target, &server.name)
                .and_then(|()| skills_mcp::to_entry(target, server, None).map(drop))
            {
                items.push(item("skipped", Some(reason)));
                continue;
            }
            // Neither has a disabled state in the entry: copy it once it is enabled.
            if matches!(target, Client::Claude | Client::Gemini) && !server.enabled {
                items
                    .push(item("skipped", Some(format!("disabled in {}; enable it there first", args.from))));
                continue;
            }
            let in_file = edit::entry(&document, &file, &server.name);
            let existing = in_file.clone().or(if target == Client::Claude {
                records::parked(&connection, &file, &server.name)?.map(|parked| parked.entry)
            } else {
                None
            });
            match existing {
                None => {
                    items.push(item("added", None));
                    to_write.push(server.clone());
                }
                Some(entry) => {
                    let same = skills_mcp::from_entry(target, &server.name, &entry)
                        .is_ok_and(|current| current.same_definition(server));
                    if same {
                        items.push(item("identical", None));
                    } else if args.force && in_file.is_some() {
                        items.push(item("replaced", None));
                        to_write.push(server.clone());
                    } else {
                        items.push(item(
                            "differs",
                            Some(format!(
                                "left alone; `--force` replaces it with {}'s definition",
                                args.from
                            )),
                        ));
                    }
                }
            }
        }
        if !to_write.is_empty() {
            plans.push((file, to_write));
        }
    }
    let changes: Vec<Change<'_>> = plans
        .iter()
        .map(|(file, to_write)| {
            Change::new(file.client.name(), file.path.clone(), ModePolicy::Keep, move |old: Option<&[u8]>| {
                let mut document = edit::load(old, file)?;
                for server in to_write {
                    let existing = edit::entry(&document, file, &server.name);
                    let entry = skills_mcp::to_entry(file.client, server, existing.as_ref())
                        .map_err(Error::refused)?;
                    edit::upsert_in(&mut document, file, &server.name, &entry)?;
                }
                Ok(Some(document.to_bytes()))
            })
        })
        .collect();
    let outcome = write::apply(
        ctx.paths,
        ctx.command_line,
        &format!("mcp sync --from {}", args.from),
        &changes,
        args.dry_run,
    )?;
    drop(changes);
    Ok(Synced { from: args.from, items, outcome })
}

// --------------------------------------------------------------------------- helpers

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
