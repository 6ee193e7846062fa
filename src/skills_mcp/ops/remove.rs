//! `mcp remove`.

use crate::doc::NewBytes;
use crate::error::{Error, Result};
use crate::output::display_path;
use crate::skills_mcp::records::{self, Op};
use crate::skills_mcp::{edit, gemini, patch};
use crate::write::{self, Change, Edited};

use super::find::{Found, find, keep, places};
use super::{Changed, Env, NameRequest, mcp_change, records_after};

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
