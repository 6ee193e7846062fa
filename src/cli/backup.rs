//! `aigate backup create|list|show|diff`: snapshots of client files.

use std::path::Path;

use serde::Serialize;

use super::Ctx;
use crate::backup::{self, Capture, EntryKind, SnapshotInfo, store};
use crate::clients::{self, Client};
use crate::error::{Error, Result};
use crate::output::display_path;

#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
pub enum BackupCommand {
    /// Snapshot the current files of the chosen clients
    #[command(after_long_help = "Examples:
  aigate backup create
  aigate backup create --client codex --label before-upgrade
  aigate backup create --all --dry-run")]
    Create {
        /// Only these clients (default: every client whose files exist)
        #[arg(long, value_enum)]
        client: Vec<super::ClientChoice>,
        /// Every client (the same as `--client all`)
        #[arg(long, conflicts_with = "client")]
        all: bool,
        /// A note stored with the snapshot
        #[arg(long)]
        label: Option<String>,
        /// List the files that would be captured and write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List snapshots, newest first
    #[command(after_long_help = "Examples:
  aigate backup list
  aigate backup list --client claude --json")]
    List {
        #[arg(long, value_enum)]
        client: Vec<super::ClientChoice>,
        /// Every client (the same as `--client all`)
        #[arg(long, conflicts_with = "client")]
        all: bool,
    },
    /// Show one snapshot and its files
    #[command(after_long_help = "Examples:
  aigate backup show 12
  aigate backup show 12 --json")]
    Show {
        /// The snapshot id (from `aigate backup list`)
        id: i64,
    },
    /// Unified diff from a snapshot to the current files
    #[command(after_long_help = "Examples:
  aigate backup diff 12
  aigate backup diff 12 --json")]
    Diff {
        /// The snapshot id (from `aigate backup list`)
        id: i64,
    },
}

#[derive(Serialize)]
struct SnapshotList {
    snapshots: Vec<SnapshotInfo>,
}

pub(crate) fn run(ctx: &Ctx, command: BackupCommand) -> Result<u8> {
    match command {
        BackupCommand::Create { client, all, label, dry_run } => {
            create(ctx, &super::chosen(&super::with_all(&client, all)), label.as_deref(), dry_run)
        }
        BackupCommand::List { client, all } => list(ctx, &super::chosen(&super::with_all(&client, all))),
        BackupCommand::Show { id } => show(ctx, id),
        BackupCommand::Diff { id } => diff(ctx, id),
    }
}

fn create(ctx: &Ctx, requested: &[Client], label: Option<&str>, dry_run: bool) -> Result<u8> {
    let chosen = clients::select(requested, &ctx.paths);
    if chosen.is_empty() {
        return Err(Error::refused("No client files found to back up")
            .hint("name a client with `--client codex|claude|opencode|gemini`"));
    }
    if dry_run {
        #[derive(Serialize)]
        struct Planned {
            client: Client,
            files: Vec<String>,
        }
        let planned: Vec<Planned> = chosen
            .iter()
            .map(|client| Planned {
                client: *client,
                files: crate::write::original_files(client.name(), &ctx.paths)
                    .iter()
                    .map(|path| display_path(path))
                    .collect(),
            })
            .collect();
        if ctx.json() {
            #[derive(Serialize)]
            struct DryRun {
                dry_run: bool,
                snapshots: Vec<Planned>,
            }
            ctx.out.json(&DryRun { dry_run: true, snapshots: planned })?;
        } else {
            let text: String = planned
                .iter()
                .flat_map(|plan| plan.files.iter().map(move |file| format!("{}  {file}\n", plan.client)))
                .collect();
            ctx.out.data(&text);
            ctx.out.info("Would snapshot these files (dry run, nothing written)");
        }
        return Ok(0);
    }
    let mut connection = ctx.db()?;
    let txn = backup::new_txn();
    let mut snapshots = Vec::new();
    for client in chosen {
        let items: Vec<Capture> =
            crate::write::original_files(client.name(), &ctx.paths).into_iter().map(Capture::File).collect();
        let id = backup::snapshot(
            &mut connection,
            &txn,
            client.name(),
            "backup create",
            label,
            &ctx.command_line,
            &items,
        )?;
        if let Some(info) = store::get(&connection, id)? {
            let present = info.files.iter().filter(|file| file.existed).count();
            ctx.out.info(&format!(
                "Created snapshot {id} of {client} ({present} file{})",
                if present == 1 { "" } else { "s" }
            ));
            snapshots.push(info);
        }
    }
    if ctx.json() {
        ctx.out.json(&SnapshotList { snapshots })?;
    }
    Ok(0)
}

fn list(ctx: &Ctx, requested: &[Client]) -> Result<u8> {
    let connection = ctx.db()?;
    let names: Vec<String> = requested.iter().map(|client| client.name().to_string()).collect();
    let snapshots = store::list(&connection, &names)?;
    if ctx.json() {
        return ctx.out.json(&SnapshotList { snapshots }).map(|()| 0);
    }
    if snapshots.is_empty() {
        ctx.out.info("No snapshots yet; `aigate backup create` makes one");
        return Ok(0);
    }
    let mut text = format!(
        "{:>5}  {:<20}  {:<8}  {:<6}  {:>5}  {}\n",
        "ID", "CREATED", "CLIENT", "PINNED", "FILES", "REASON"
    );
    for snapshot in &snapshots {
        let reason = match &snapshot.label {
            Some(label) => format!("{} ({label})", snapshot.reason),
            None => snapshot.reason.clone(),
        };
        text.push_str(&format!(
            "{:>5}  {:<20}  {:<8}  {:<6}  {:>5}  {}\n",
            snapshot.id,
            short_time(&snapshot.created_at),
            snapshot.client,
            if snapshot.pinned { "yes" } else { "" },
            snapshot.files.len(),
            reason
        ));
    }
    ctx.out.data(&text);
    Ok(0)
}

fn show(ctx: &Ctx, id: i64) -> Result<u8> {
    let connection = ctx.db()?;
    let snapshot = crate::backup::restore::find(&connection, id)?;
    if ctx.json() {
        return ctx.out.json(&snapshot).map(|()| 0);
    }
    let mut text = format!(
        "snapshot {}\ncreated:  {}\nclient:   {}\nreason:   {}\npinned:   {}\ncommand:  {}\n",
        snapshot.id,
        snapshot.created_at,
        snapshot.client,
        snapshot.reason,
        if snapshot.pinned { "yes (the client's original, never pruned)" } else { "no" },
        snapshot.command
    );
    if let Some(label) = &snapshot.label {
        text.push_str(&format!("label:    {label}\n"));
    }
    text.push_str("files:\n");
    for file in &snapshot.files {
        let detail = match file.kind {
            EntryKind::Absent => "did not exist".to_string(),
            EntryKind::Dir => format!("directory, mode {}", file.mode.as_deref().unwrap_or("?")),
            EntryKind::Symlink => format!("link to {}", file.link_target.as_deref().unwrap_or("?")),
            EntryKind::File => format!(
                "mode {}, sha256 {}",
                file.mode.as_deref().unwrap_or("?"),
                file.sha256.as_deref().map_or("?", |sha| &sha[..12.min(sha.len())])
            ),
        };
        text.push_str(&format!("  {}  ({detail})\n", display_path(Path::new(&file.path))));
    }
    ctx.out.data(&text);
    Ok(0)
}

fn diff(ctx: &Ctx, id: i64) -> Result<u8> {
    let connection = ctx.db()?;
    crate::backup::restore::find(&connection, id)?;
    let entries = store::entries(&connection, id)?;
    #[derive(Serialize)]
    struct Changed {
        path: String,
        diff: String,
    }
    let mut changed = Vec::new();
    for entry in &entries {
        if matches!(entry.kind, EntryKind::Dir | EntryKind::Symlink) {
            continue;
        }
        let path = Path::new(&entry.path);
        let current = crate::fsx::read_state(path).ok().and_then(|state| state.bytes);
        if current.as_deref() != entry.bytes.as_deref() {
            let label = display_path(path);
            let diff = crate::diff::unified_diff(&label, entry.bytes.as_deref(), current.as_deref());
            changed.push(Changed { path: label, diff });
        }
    }
    if ctx.json() {
        #[derive(Serialize)]
        struct DiffReport {
            snapshot: i64,
            changed: Vec<Changed>,
        }
        return ctx.out.json(&DiffReport { snapshot: id, changed }).map(|()| 0);
    }
    let text: String = changed.iter().map(|change| change.diff.as_str()).collect();
    if text.is_empty() {
        ctx.out.info(&format!("The files match snapshot {id}"));
    } else {
        ctx.out.data(&text);
    }
    Ok(0)
}

fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..19).map_or_else(|| rfc3339.to_string(), |text| text.replace('T', " "))
}
