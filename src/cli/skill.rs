//! `aigate skill add|list|remove|enable|disable`: Skills in the shared store.
//!
//! Invariants:
//! - The store is `~/.agents/skills/<name>/` (Codex, OpenCode and Gemini CLI read it); Claude Code gets
//!   `<claude dir>/skills/<name>`, a link to it (a copy where links are impossible).
//! - Before any change the skill directory and the Claude link are snapshotted (client
//!   `skills`), so `aigate restore` brings a removed or replaced skill back.
//! - An invalid skill is refused with every problem found; nothing is written.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ctx;
use crate::backup::{self, Capture};
use crate::error::{Error, Result};
use crate::output::{Unit, display_path};
use crate::skills_mcp::skill_store::{self, SkillInfo};

#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
pub enum SkillCommand {
    /// Add a skill from a directory or a .zip
    ///
    /// On a terminal a progress bar on stderr counts a zip's bytes as they are extracted;
    /// it is cleared when done, and never drawn when stderr is piped, with `--json` or `-q`.
    #[command(after_long_help = "Examples:
  aigate skill add ./pdf-tools
  aigate skill add ~/Downloads/review-helper.zip --name review-helper")]
    Add {
        /// A skill directory (holding SKILL.md) or a .zip of one
        path: PathBuf,
        /// Install under this name (must equal the frontmatter `name`)
        #[arg(long)]
        name: Option<String>,
        /// Replace a skill of the same name
        #[arg(long)]
        force: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// Each skill, where it lives, which clients see it, problems found
    #[command(after_long_help = "Examples:
  aigate skill list
  aigate skill list --json")]
    List,
    /// Remove a skill from the store and every client
    #[command(after_long_help = "Examples:
  aigate skill remove pdf-tools
  aigate restore              # brings it back")]
    Remove {
        name: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// Enable a disabled skill (`SKILL.md.disabled` -> `SKILL.md`)
    #[command(after_long_help = "Examples:
  aigate skill enable pdf-tools")]
    Enable {
        name: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// Disable a skill (`SKILL.md` -> `SKILL.md.disabled`)
    #[command(after_long_help = "Examples:
  aigate skill disable pdf-tools --dry-run")]
    Disable {
        name: String,
        #[arg(long)]
        dry_run: bool,
    },
}

pub(crate) fn run(ctx: &Ctx, command: SkillCommand) -> Result<u8> {
    match command {
        SkillCommand::Add { path, name, force, dry_run } => add(ctx, &path, name.as_deref(), force, dry_run),
        SkillCommand::List => list(ctx),
        SkillCommand::Remove { name, dry_run } => remove(ctx, &name, dry_run),
        SkillCommand::Enable { name, dry_run } => toggle(ctx, &name, true, dry_run),
        SkillCommand::Disable { name, dry_run } => toggle(ctx, &name, false, dry_run),
    }
}

/// The `--json` report of a change.
#[derive(Serialize)]
struct SkillReport {
    action: &'static str,
    name: String,
    dry_run: bool,
    snapshot_id: Option<i64>,
    paths: Vec<String>,
}

fn add(ctx: &Ctx, source: &Path, name: Option<&str>, force: bool, dry_run: bool) -> Result<u8> {
    let store = ctx.paths.agents_skills();
    let staged = {
        // Cleared (dropped) before anything else is printed.
        let shown = source
            .file_name()
            .map_or_else(|| display_path(source), |name| name.to_string_lossy().into_owned());
        let bar = ctx.out.progress(&format!("extracting `{shown}`"), Unit::Bytes);
        skill_store::stage(source, &store, &|event| bar.report(event))?
    };
    let name = name.map_or_else(|| staged.source_name.clone(), ToString::to_string);
    let problems = skill_store::check(&staged, &name);
    if !problems.is_empty() {
        let mut error =
            Error::refused(format!("`{}` is not a valid skill named `{name}`", display_path(source)));
        for problem in &problems {
            error = error.cause(problem);
        }
        return Err(error.hint("fix SKILL.md's frontmatter (`name` equal to the directory, a one-line `description`), then add it again"));
    }
    let (target, link) = skill_store::skill_paths(&ctx.paths, &name);
    let taken: Vec<&Path> = [target.as_path(), link.as_path()]
        .into_iter()
        .filter(|path| {
            path.symlink_metadata().is_ok()
                && !(*path == link.as_path() && skill_store::links_to(path, &target))
        })
        .collect();
    if !taken.is_empty() && !force {
        let where_ =
            taken.iter().map(|path| format!("`{}`", display_path(path))).collect::<Vec<_>>().join(" and ");
        return Err(Error::refused(format!("A skill named `{name}` already exists at {where_}"))
            .hint(format!("replace it with `aigate skill add {} --force`, or remove it with `aigate skill remove {name}`", source.display())));
    }
    let files = skill_store::files(&staged.root)?;
    if dry_run {
        let mut text = String::new();
        for file in &files {
            let bytes = fs_err::read(staged.root.join(file)).ok();
            text.push_str(&crate::diff::unified_diff(
                &display_path(&target.join(file)),
                None,
                bytes.as_deref(),
            ));
        }
        text.push_str(&format!("link {} -> {}\n", display_path(&link), display_path(&target)));
        report(ctx, "add", &name, true, None, vec![display_path(&target), display_path(&link)], &text)?;
        ctx.out.info(&format!("Would add skill `{name}` ({} files; dry run, nothing written)", files.len()));
        return Ok(0);
    }
    let snapshot_id = snapshot(ctx, &format!("skill add {name}"), &target, &link)?;
    let copied = skill_store::install(staged, &target, &link)?;
    if copied {
        ctx.out.warn(&format!("could not link `{}`; made a copy instead", display_path(&link)));
    }
    report(
        ctx,
        "add",
        &name,
        false,
        Some(snapshot_id),
        vec![display_path(&target), display_path(&link)],
        "",
    )?;
    ctx.out.info(&format!(
        "Added skill `{name}` to `{}` ({} file{}) and linked it for Claude Code at `{}` (undo with `aigate restore`)",
        display_path(&target),
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        display_path(&link)
    ));
    Ok(0)
}

fn remove(ctx: &Ctx, name: &str, dry_run: bool) -> Result<u8> {
    let (target, link) = skill_store::skill_paths(&ctx.paths, name);
    let present: Vec<PathBuf> =
        [target.clone(), link.clone()].into_iter().filter(|path| path.symlink_metadata().is_ok()).collect();
    if present.is_empty() {
        return Err(Error::refused(format!("No skill named `{name}`"))
            .hint("see what there is with `aigate skill list`"));
    }
    let shown: Vec<String> = present.iter().map(|path| display_path(path)).collect();
    if dry_run {
        let text: String = shown.iter().flat_map(|path| ["remove ", path.as_str(), "\n"]).collect();
        report(ctx, "remove", name, true, None, shown, &text)?;
        return Ok(0);
    }
    let snapshot_id = snapshot(ctx, &format!("skill remove {name}"), &target, &link)?;
    skill_store::remove_path(&link)?;
    skill_store::remove_path(&target)?;
    report(ctx, "remove", name, false, Some(snapshot_id), shown.clone(), "")?;
    ctx.out.info(&format!("Removed skill `{name}` ({}) (undo with `aigate restore`)", shown.join(", ")));
    Ok(0)
}

fn toggle(ctx: &Ctx, name: &str, enable: bool, dry_run: bool) -> Result<u8> {
    let (target, link) = skill_store::skill_paths(&ctx.paths, name);
    // The store, and a Claude copy (not a link) if there is one.
    let dirs: Vec<PathBuf> = [target.clone(), link.clone()]
        .into_iter()
        .filter(|dir| dir.is_dir() && fs_err::read_link(dir).is_err())
        .collect();
    if dirs.is_empty() {
        return Err(Error::refused(format!("No skill named `{name}`"))
            .hint("see what there is with `aigate skill list`"));
    }
    let (from, to) =
        if enable { ("SKILL.md.disabled", "SKILL.md") } else { ("SKILL.md", "SKILL.md.disabled") };
    let renames: Vec<(PathBuf, PathBuf)> = dirs
        .iter()
        .filter(|dir| dir.join(from).is_file())
        .map(|dir| (dir.join(from), dir.join(to)))
        .collect();
    let verb = if enable { "enable" } else { "disable" };
    if renames.is_empty() {
        ctx.out.info(&format!("Skill `{name}` is already {verb}d"));
        report(ctx, verb, name, dry_run, None, Vec::new(), "")?;
        return Ok(0);
    }
    for (_, destination) in &renames {
        if destination.exists() {
            return Err(Error::refused(format!(
                "Both `SKILL.md` and `SKILL.md.disabled` exist in `{}`",
                display_path(destination.parent().unwrap_or(destination))
            ))
            .hint("keep one of them, then run the command again"));
        }
    }
    let shown: Vec<String> = renames.iter().map(|(source, _)| display_path(source)).collect();
    if dry_run {
        let text: String = renames
            .iter()
            .map(|(source, destination)| {
                [
                    "rename ".to_string(),
                    display_path(source),
                    " -> ".to_string(),
                    display_path(destination),
                    "
"
                    .to_string(),
                ]
                .concat()
            })
            .collect();
        report(ctx, verb, name, true, None, shown, &text)?;
        return Ok(0);
    }
    let snapshot_id = snapshot(ctx, &format!("skill {verb} {name}"), &target, &link)?;
    for (source, destination) in &renames {
        fs_err::rename(source, destination)?;
    }
    report(ctx, verb, name, false, Some(snapshot_id), shown, "")?;
    ctx.out.info(&format!(
        "{}d skill `{name}` (undo with `aigate restore`)",
        if enable { "Enable" } else { "Disable" }
    ));
    Ok(0)
}

fn list(ctx: &Ctx) -> Result<u8> {
    #[derive(Serialize)]
    struct SkillList {
        skills: Vec<SkillInfo>,
    }
    let skills = skill_store::list(&ctx.paths)?;
    if ctx.json() {
        return ctx.out.json(&SkillList { skills }).map(|()| 0);
    }
    if skills.is_empty() {
        ctx.out.info("No skills yet; add one with `aigate skill add PATH`");
        return Ok(0);
    }
    let mut text = format!("{:<28}  {:<8}  {:<22}  {}\n", "NAME", "ENABLED", "CLIENTS", "PATH");
    for skill in &skills {
        let clients = if skill.clients.is_empty() { "-".to_string() } else { skill.clients.join(",") };
        text.push_str(&format!(
            "{:<28}  {:<8}  {:<22}  {}\n",
            skill.name,
            if skill.enabled { "yes" } else { "no" },
            clients,
            skill
                .locations
                .iter()
                .map(|location| match &location.link_target {
                    Some(target) => format!("{} -> {target}", location.path),
                    None => location.path.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for problem in &skill.problems {
            text.push_str(&format!("{:<28}  problem: {problem}\n", ""));
        }
    }
    ctx.out.data(&text);
    Ok(0)
}

/// Snapshot the skill directory and the Claude link (client `skills`).
fn snapshot(ctx: &Ctx, reason: &str, target: &Path, link: &Path) -> Result<i64> {
    let mut connection = ctx.db()?;
    let txn = backup::new_txn();
    backup::snapshot(
        &mut connection,
        &txn,
        "skills",
        reason,
        None,
        &ctx.command_line,
        &[Capture::Tree(target.to_path_buf()), Capture::Tree(link.to_path_buf())],
    )
}

fn report(
    ctx: &Ctx,
    action: &'static str,
    name: &str,
    dry_run: bool,
    snapshot_id: Option<i64>,
    paths: Vec<String>,
    text: &str,
) -> Result<()> {
    if ctx.json() {
        ctx.out.json(&SkillReport { action, name: name.to_string(), dry_run, snapshot_id, paths })?;
    } else if !text.is_empty() {
        ctx.out.data(text);
    }
    Ok(())
}
