//! `mcp add`: one server into every chosen client, each in its own format, with the undo
//! record that makes `remove` give the bytes back.

use crate::clients::{self, Client};
use crate::error::{Error, Result};
use crate::output::display_path;
use crate::skills_mcp;
use crate::skills_mcp::records::{self, Op};
use crate::skills_mcp::{McpServer, Transport, edit, gemini, patch};
use crate::write::{self, Change, Edited};

use super::{AddRequest, Changed, Env, conflict, current_dir, gemini_excluded, mcp_change, records_after};

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
