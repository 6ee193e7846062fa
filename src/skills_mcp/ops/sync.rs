//! `mcp sync`: one client's servers copied to the others.

use serde::Serialize;

use crate::clients::{self, Client};
use crate::error::{Error, Result};
use crate::skills_mcp;
use crate::skills_mcp::records::{self};
use crate::skills_mcp::{McpFile, McpServer, edit, gemini};
use crate::write::{self, Change, ModePolicy};

use super::{Env, SyncRequest, Synced, current_dir, gemini_blocked};

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
