//! Where `remove`, `enable` and `disable` find a server: the candidate files, read once
//! for the write to take, and the first scope of each client that holds or parks it.

use crate::clients::{self, Client};
use crate::doc::Document;
use crate::error::{Error, Result};
use crate::skills_mcp;
use crate::skills_mcp::records::{self, Parked};
use crate::skills_mcp::{McpFile, Scope, edit};
use crate::write::{self, ModePolicy};

use super::{Env, NameRequest, current_dir, gemini_excluded};

/// Where a server was found for `remove`/`enable`/`disable`.
pub(super) struct Found<'r> {
    pub(super) file: McpFile,
    pub(super) entry: Option<serde_json::Value>,
    pub(super) parked: Option<Parked>,
    /// Gemini CLI: the name is in the file's `mcp.excluded` (disabled).
    pub(super) excluded: bool,
    /// The file as parsed to find the server, for the edit to take when the write gives
    /// it the same bytes (a 20 MB `.claude.json` is then read and parsed once per command).
    pub(super) parsed: std::cell::RefCell<Option<Document<'r>>>,
}

impl Found<'_> {
    /// `f` of `bytes` (the file as the write has it) as a document: the one parsed to find
    /// the server when they are still its bytes (once), else parsed again.
    pub(super) fn with_document<R>(
        &self,
        bytes: Option<&[u8]>,
        f: impl FnOnce(Document<'_>) -> Result<R>,
    ) -> Result<R> {
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
pub(super) type Places = Vec<Vec<(McpFile, Result<usize>)>>;

/// The files `remove`, `enable` and `disable` may change, read once (the write takes
/// these reads), and where in them to look.
pub(super) fn places(ctx: &Env<'_>, args: &NameRequest) -> Result<(Vec<write::FileRead>, Places)> {
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
pub(super) fn find<'r>(
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
pub(super) fn keep<T>(cell: &std::cell::OnceCell<T>, value: T) -> Result<&T> {
    let _ = cell.set(value);
    cell.get().ok_or_else(|| Error::internal("a plan ran twice"))
}
