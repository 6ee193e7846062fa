//! The Skills store on disk: `~/.agents/skills/<name>/` (read by Codex, OpenCode and Gemini
//! CLI, the last unless `GEMINI_CLI_HOME` moves its home elsewhere) plus
//! `<claude dir>/skills/<name>`, a symlink to it (a copy where a link cannot be made), for
//! Claude Code.
//!
//! Invariants:
//! - An import never writes outside the skill's directory: zip entries with an absolute
//!   path or a `..` component, and symlinks (in a zip or a source directory) that point
//!   outside the skill, are refused before anything is written.
//! - Files keep their modes (scripts stay executable); directories get at least `u+rwx`
//!   so the skill can later be disabled or removed.
//! - Sources are staged in a hidden `.aigate-*` directory inside the store (clients skip
//!   dot-directories) and renamed into place, so a half-copied skill is never visible.
//! - The caller snapshots the skill directory and the Claude link before any change.
//! - A zip's extraction reports its progress in bytes (`Expect` the entries' sizes, then
//!   `Begin` each file or link and `Advance` as its bytes are written); it draws nothing.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::skills::{self, Problem};
use crate::error::{Error, Result};
use crate::output::display_path;
use crate::paths::Paths;
use crate::progress::{Progress, Report};

/// A skill copied into a hidden staging directory, ready to be renamed into place.
pub struct Staged {
    _temp: tempfile::TempDir,
    /// The staged skill directory (holds SKILL.md).
    pub root: PathBuf,
    /// The name the source suggests: the directory's name, or the zip's top folder or stem.
    pub source_name: String,
}

/// Where one skill name lives.
#[derive(Debug, Clone, Serialize)]
pub struct Location {
    pub path: String,
    /// `store`, `claude`, `codex`, `opencode`, `gemini`.
    pub root: &'static str,
    /// `dir`, `link` (to where), `copy` (a Claude copy of the store's skill).
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

/// One row of `skill list`.
#[derive(Debug, Clone, Serialize)]
pub struct SkillInfo {
    pub name: String,
    pub path: String,
    pub enabled: bool,
    pub description: Option<String>,
    /// The clients that load it (none while it is disabled).
    pub clients: Vec<&'static str>,
    pub locations: Vec<Location>,
    pub problems: Vec<Problem>,
}

/// `~/.agents/skills/<name>` and `<claude dir>/skills/<name>`.
pub fn skill_paths(paths: &Paths, name: &str) -> (PathBuf, PathBuf) {
    (paths.agents_skills().join(name), paths.claude_skills().join(name))
}

/// Copy a skill directory or extract a `.zip` into a staging directory inside `store`,
/// reporting a zip's extraction to `progress`.
pub fn stage(source: &Path, store: &Path, progress: Report<'_>) -> Result<Staged> {
    let metadata = fs_err::metadata(source)
        .map_err(|error| Error::refused(format!("Cannot read `{}`", display_path(source))).cause(error))?;
    fs_err::create_dir_all(store)?;
    let temp = tempfile::Builder::new().prefix(".aigate-").tempdir_in(store).map_err(|error| {
        Error::internal(format!("Failed to create a staging directory in `{}`", display_path(store)))
            .cause(error)
    })?;
    let staging = temp.path().join("skill");
    if metadata.is_dir() {
        let source_name = file_name(source);
        copy_tree(source, source, &staging)?;
        return Ok(Staged { _temp: temp, root: staging, source_name });
    }
    let is_zip = source.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("zip"));
    if !is_zip {
        return Err(Error::refused(format!("`{}` is neither a directory nor a .zip", display_path(source))));
    }
    extract_zip(source, &staging, progress)?;
    let stem = source.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
    if staging.join("SKILL.md").is_file() {
        return Ok(Staged { _temp: temp, root: staging, source_name: stem });
    }
    let top: Vec<PathBuf> = fs_err::read_dir(&staging)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| file_name(path) != "__MACOSX")
        .collect();
    match top.as_slice() {
        [only] if only.join("SKILL.md").is_file() => {
            let source_name = file_name(only);
            Ok(Staged { _temp: temp, root: only.clone(), source_name })
        }
        _ => Err(Error::refused(format!(
            "`{}` has no SKILL.md at its top or in one top folder",
            display_path(source)
        ))),
    }
}

/// Problems of a staged skill installed under `name`.
pub fn check(staged: &Staged, name: &str) -> Vec<Problem> {
    let skill_md = staged.root.join("SKILL.md");
    match fs_err::read(&skill_md).ok().map(String::from_utf8) {
        Some(Ok(text)) => skills::validate_skill_md(&text, name).1,
        Some(Err(_)) => vec![Problem { code: "unreadable", message: "SKILL.md is not valid UTF-8".into() }],
        None => vec![Problem { code: "missing-skill-md", message: "there is no SKILL.md".into() }],
    }
}

/// Every file under a staged skill, relative, for the dry-run report.
pub fn files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// Move the staged skill to `target` (replacing what is there) and give Claude Code its
/// link (or a copy). Returns whether a copy was made instead of a link.
pub fn install(staged: Staged, target: &Path, link: &Path) -> Result<bool> {
    remove_path(target)?;
    fs_err::rename(&staged.root, target)?;
    drop(staged);
    link_for_claude(target, link)
}

/// Point `link` at `target`; copy the tree where a link cannot be made.
pub fn link_for_claude(target: &Path, link: &Path) -> Result<bool> {
    remove_path(link)?;
    if let Some(parent) = link.parent() {
        fs_err::create_dir_all(parent)?;
    }
    if fs_err::os::unix::fs::symlink(target, link).is_ok() {
        return Ok(false);
    }
    copy_tree(target, target, link)?;
    Ok(true)
}

/// Remove a file, link or directory tree; a missing path is fine.
pub fn remove_path(path: &Path) -> Result<()> {
    match fs_err::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => Ok(fs_err::remove_dir_all(path)?),
        Ok(_) => Ok(fs_err::remove_file(path)?),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Whether `link` is a symlink to `target`.
pub fn links_to(link: &Path, target: &Path) -> bool {
    fs_err::read_link(link).is_ok_and(|points_to| points_to == target)
}

/// Every skill the clients can find in the user-level roots, by name.
pub fn list(paths: &Paths) -> Result<Vec<SkillInfo>> {
    let claude_seen_by_opencode = paths.claude_skills() == paths.home.join(".claude").join("skills");
    // Gemini CLI reads `~/.agents/skills` under its own home (`GEMINI_CLI_HOME`).
    let gemini_reads_store = paths.gemini_home == paths.home;
    let store_clients =
        if gemini_reads_store { vec!["codex", "gemini", "opencode"] } else { vec!["codex", "opencode"] };
    let mut roots: Vec<(&'static str, PathBuf, Vec<&'static str>)> = vec![
        ("store", paths.agents_skills(), store_clients),
        (
            "claude",
            paths.claude_skills(),
            if claude_seen_by_opencode { vec!["claude", "opencode"] } else { vec!["claude"] },
        ),
        ("codex", paths.codex_home.join("skills"), vec!["codex"]),
        ("opencode", paths.opencode_dir.join("skills"), vec!["opencode"]),
        ("opencode", paths.opencode_dir.join("skill"), vec!["opencode"]),
        ("gemini", paths.gemini_dir().join("skills"), vec!["gemini"]),
    ];
    if !gemini_reads_store {
        roots.push(("gemini", paths.gemini_home.join(".agents").join("skills"), vec!["gemini"]));
    }
    let mut by_name: std::collections::BTreeMap<String, SkillInfo> = std::collections::BTreeMap::new();
    for (root_name, root, clients) in roots {
        let Ok(entries) = fs_err::read_dir(&root) else { continue };
        let mut entries: Vec<PathBuf> =
            entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
        entries.sort();
        for path in entries {
            let name = file_name(&path);
            if name.starts_with('.') || !path.is_dir() {
                continue;
            }
            let link_target = fs_err::read_link(&path).ok();
            let store_dir = paths.agents_skills().join(&name);
            let kind = match (&link_target, root_name) {
                (Some(_), _) => "link",
                (None, "claude") if store_dir.is_dir() => "copy",
                (None, _) => "dir",
            };
            let enabled = path.join("SKILL.md").is_file();
            let info = by_name.entry(name.clone()).or_insert_with(|| {
                let skills::SkillCheck { frontmatter, problems, .. } = skills::check_skill_dir(&path);
                SkillInfo {
                    name: name.clone(),
                    path: display_path(&path),
                    enabled,
                    description: frontmatter.description,
                    clients: Vec::new(),
                    locations: Vec::new(),
                    problems,
                }
            });
            if enabled {
                for client in &clients {
                    if !info.clients.contains(client) {
                        info.clients.push(client);
                    }
                }
            }
            info.locations.push(Location {
                path: display_path(&path),
                root: root_name,
                kind,
                link_target: link_target.map(|target| display_path(&target)),
            });
        }
    }
    let mut out: Vec<SkillInfo> = by_name.into_values().collect();
    for info in &mut out {
        info.clients.sort_unstable();
    }
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        let metadata = fs_err::symlink_metadata(&path)?;
        if metadata.is_dir() {
            walk(root, &path, out)?;
        } else {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

/// Copy `from` (inside the skill rooted at `root`) to `to`, keeping modes and links.
fn copy_tree(root: &Path, from: &Path, to: &Path) -> Result<()> {
    let metadata = fs_err::symlink_metadata(from)?;
    if metadata.file_type().is_symlink() {
        let target = fs_err::read_link(from)?;
        let relative = from.strip_prefix(root).unwrap_or(from);
        check_link(relative, &target).map_err(|reason| {
            Error::refused(format!("`{}` is a link that {reason}", display_path(from)))
                .hint("replace the link with the file it points to, then add the skill again")
        })?;
        fs_err::os::unix::fs::symlink(&target, to)?;
    } else if metadata.is_dir() {
        fs_err::create_dir_all(to)?;
        let mut children: Vec<PathBuf> =
            fs_err::read_dir(from)?.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
        children.sort();
        for child in children {
            copy_tree(root, &child, &to.join(child.file_name().unwrap_or_default()))?;
        }
        let mode = (metadata.permissions().mode() & 0o7777) | 0o700;
        fs_err::set_permissions(to, std::fs::Permissions::from_mode(mode))?;
    } else {
        fs_err::copy(from, to)?;
        fs_err::set_permissions(to, std::fs::Permissions::from_mode(metadata.permissions().mode() & 0o7777))?;
    }
    Ok(())
}

/// A link at `relative` (inside the skill) to `target` must stay inside the skill.
fn check_link(relative: &Path, target: &Path) -> std::result::Result<(), String> {
    if target.is_absolute() {
        return Err(format!("points to an absolute path (`{}`)", target.display()));
    }
    let mut depth: i64 = relative.parent().map_or(0, |parent| parent.components().count() as i64);
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("points to an absolute path".into()),
        }
        if depth < 0 {
            return Err(format!("points outside the skill (`{}`)", target.display()));
        }
    }
    Ok(())
}

/// A zip entry's path, if it stays inside the skill.
fn safe_entry_path(name: &str) -> std::result::Result<PathBuf, String> {
    let normalised = name.replace('\\', "/");
    if normalised.starts_with('/') || normalised.get(1..2) == Some(":") {
        return Err(format!("`{name}` is an absolute path"));
    }
    let mut out = PathBuf::new();
    for part in normalised.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("`{name}` climbs out of the skill with `..`")),
            part => out.push(part),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!("`{name}` has no file name"));
    }
    Ok(out)
}

fn extract_zip(source: &Path, staging: &Path, progress: Report<'_>) -> Result<()> {
    let bad_zip = |error: &dyn std::fmt::Display| {
        Error::refused(format!("`{}` is not a readable zip", display_path(source))).cause(error)
    };
    let file = fs_err::File::open(source)?;
    let mut archive = zip::ZipArchive::new(file).map_err(|error| bad_zip(&error))?;
    // Check every entry first: nothing is written if one would land outside.
    let mut plan = Vec::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|error| bad_zip(&error))?;
        let refuse = |reason: String| {
            Error::refused(format!(
                "Refusing `{}`: an entry would land outside the skill",
                display_path(source)
            ))
            .cause(reason)
            .hint("imports never write outside the skill's directory; fix the archive")
        };
        let relative = safe_entry_path(entry.name()).map_err(refuse)?;
        if entry.enclosed_name().is_none() {
            return Err(refuse(format!("`{}` is not a safe path", entry.name())));
        }
        if !entry.is_dir() {
            total = total.saturating_add(entry.size());
        }
        plan.push((index, relative, entry.is_dir(), entry.is_symlink(), entry.unix_mode()));
    }
    fs_err::create_dir_all(staging)?;
    progress(Progress::Expect(total));
    for (index, relative, is_dir, is_symlink, mode) in plan {
        let mut entry = archive.by_index(index).map_err(|error| bad_zip(&error))?;
        let destination = staging.join(&relative);
        if is_dir {
            fs_err::create_dir_all(&destination)?;
            continue;
        }
        if let Some(parent) = destination.parent() {
            fs_err::create_dir_all(parent)?;
        }
        progress(Progress::Begin(&relative.display().to_string()));
        if is_symlink {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            progress(Progress::Advance(bytes.len() as u64));
            let target = PathBuf::from(String::from_utf8_lossy(&bytes).into_owned());
            check_link(&relative, &target).map_err(|reason| {
                Error::refused(format!(
                    "Refusing `{}`: an entry would land outside the skill",
                    display_path(source)
                ))
                .cause(format!("`{}` is a link that {reason}", relative.display()))
            })?;
            fs_err::os::unix::fs::symlink(&target, &destination)?;
            continue;
        }
        copy_reporting(&mut entry, &destination, progress)?;
        let mode = mode.map_or(0o644, |mode| mode & 0o7777);
        fs_err::set_permissions(
            &destination,
            std::fs::Permissions::from_mode(if mode == 0 { 0o644 } else { mode }),
        )?;
    }
    // Directories from the zip get at least u+rwx.
    let mut dirs = vec![staging.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let path = entry?.path();
            if fs_err::symlink_metadata(&path)?.is_dir() {
                let mode = fs_err::metadata(&path)?.permissions().mode() & 0o7777;
                fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o700))?;
                dirs.push(path);
            }
        }
    }
    Ok(())
}

/// Stream `reader` into a new file at `destination` (a large entry is never held in
/// memory whole), reporting each chunk written.
fn copy_reporting(reader: &mut impl Read, destination: &Path, progress: Report<'_>) -> Result<()> {
    let mut file = fs_err::File::create(destination)?;
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        };
        file.write_all(&buffer[..read])?;
        progress(Progress::Advance(read as u64));
    }
    file.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::progress::testing::{Recorder, Seen};
    use std::io::Write;

    #[test]
    fn a_zip_reports_its_bytes_and_each_file_as_it_is_extracted() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("big.zip");
        let big: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|index: u32| (index % 251) as u8).collect();
        let skill_md = b"---\nname: big\ndescription: Big.\n---\n";
        {
            let mut writer = zip::ZipWriter::new(fs_err::File::create(&archive).unwrap());
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(0o644);
            writer.add_directory("big/", options).unwrap();
            writer.start_file("big/SKILL.md", options).unwrap();
            writer.write_all(skill_md).unwrap();
            writer.start_file("big/data/blob.bin", options).unwrap();
            writer.write_all(&big).unwrap();
            writer.add_symlink("big/data/link", "blob.bin", options).unwrap();
            writer.finish().unwrap();
        }
        let store = dir.path().join("store");
        let recorder = Recorder::default();
        let staged = stage(&archive, &store, &|event| recorder.report(event)).unwrap();
        assert_eq!(fs_err::read(staged.root.join("data/blob.bin")).unwrap(), big);

        let total = (skill_md.len() + big.len() + "blob.bin".len()) as u64;
        let (expected, begun, advanced) = recorder.totals();
        assert_eq!(expected, total, "the entries' sizes, directories not counted");
        assert_eq!(advanced, total, "every byte written is reported");
        assert_eq!(begun, vec!["big/SKILL.md", "big/data/blob.bin", "big/data/link"], "one per file or link");
        let seen = recorder.seen();
        assert_eq!(seen.first(), Some(&Seen::Expect(total)), "the total comes first");
        let chunks = seen.iter().filter(|event| matches!(event, Seen::Advance(_))).count();
        assert!(chunks > 40, "a 3 MiB entry is streamed in chunks, not read whole: {chunks}");
    }

    #[test]
    fn a_directory_source_reports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("plain");
        fs_err::create_dir_all(&source).unwrap();
        fs_err::write(source.join("SKILL.md"), "---\nname: plain\ndescription: x\n---\n").unwrap();
        let recorder = Recorder::default();
        stage(&source, &dir.path().join("store"), &|event| recorder.report(event)).unwrap();
        assert_eq!(recorder.seen(), Vec::new());
    }

    #[test]
    fn entries_and_links_that_leave_the_skill_are_refused() {
        assert!(safe_entry_path("skill/SKILL.md").is_ok());
        assert!(safe_entry_path("../evil").is_err());
        assert!(safe_entry_path("a/../../evil").is_err());
        assert!(safe_entry_path("/etc/passwd").is_err());
        assert!(safe_entry_path("C:\\evil").is_err());
        assert!(check_link(Path::new("scripts/run"), Path::new("../SKILL.md")).is_ok());
        assert!(check_link(Path::new("scripts/run"), Path::new("../../x")).is_err());
        assert!(check_link(Path::new("run"), Path::new("/etc/passwd")).is_err());
    }
}
