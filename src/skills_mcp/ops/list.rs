//! `mcp list`: every server of every chosen client, read only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::clients::{self, Client};
use crate::doc::Document;
use crate::error::{Error, Result};
use crate::output::display_path;
use crate::skills_mcp;
use crate::skills_mcp::records::{self};
use crate::skills_mcp::{McpServer, Scope, ServerView, edit, gemini};

use super::{Env, Listing, current_dir, gemini_blocked};

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
