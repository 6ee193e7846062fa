//! `mcp enable|disable`.

use crate::clients::Client;
use crate::doc::NewBytes;
use crate::error::{Error, Result};
use crate::output::display_path;
use crate::skills_mcp::records::{self, Op, Parked};
use crate::skills_mcp::{McpFile, edit, gemini, patch};
use crate::write::{self, Change, Edited};

use super::find::{Found, find, keep, places};
use super::{Changed, Env, NameRequest, current_dir, gemini_blocked, mcp_change, records_after};

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
