//! The only module that prints. stdout carries data (tables, JSON, diffs); stderr
//! carries talk (summaries, notes, warnings, hints). `-q` silences talk, `-v` adds
//! detail, `--json` turns data into one JSON document with `"version": 1`.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

/// How much talk goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Default,
    Verbose,
}

#[derive(Debug, Clone)]
pub struct Printer {
    pub verbosity: Verbosity,
    pub json: bool,
    pub color: bool,
}

#[derive(Serialize)]
struct Versioned<'a, T: Serialize> {
    version: u32,
    #[serde(flatten)]
    data: &'a T,
}

impl Printer {
    pub fn new(json: bool, quiet: bool, verbose: bool, no_color: bool) -> Self {
        let verbosity = if quiet {
            Verbosity::Quiet
        } else if verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Default
        };
        let color = !no_color && crate::env_vars::var(crate::env_vars::NO_COLOR).is_none();
        Self { verbosity, json, color }
    }

    /// Data on stdout, as it is (a trailing newline is added if missing).
    pub fn data(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // A closed pipe (`aigate logs | head`) is not an error.
        let _ = stdout.write_all(text.as_bytes());
        if !text.ends_with('\n') && !text.is_empty() {
            let _ = stdout.write_all(b"\n");
        }
        let _ = stdout.flush();
    }

    /// One line of data on stdout, flushed at once (a live feed); `false` once stdout is
    /// closed (`aigate logs --follow | head`), so the feed can stop.
    pub fn data_line(&self, text: &str) -> bool {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.write_all(b"\n"))
            .and_then(|()| stdout.flush())
            .is_ok()
    }

    /// One JSON document on stdout with `"version": 1` added at the top.
    pub fn json<T: Serialize>(&self, value: &T) -> crate::error::Result<()> {
        let text = serde_json::to_string_pretty(&Versioned { version: 1, data: value })?;
        self.data(&text);
        Ok(())
    }

    /// A one-line summary or note on stderr (silenced by `-q`).
    pub fn info(&self, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            talk("", text);
        }
    }

    /// A warning on stderr (silenced by `-q`).
    pub fn warn(&self, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            talk("warning: ", text);
        }
    }

    /// Detail shown only with `-v`.
    pub fn verbose(&self, text: &str) {
        if self.verbosity == Verbosity::Verbose {
            talk("", text);
        }
    }

    /// An error, always shown.
    pub fn error(&self, error: &crate::error::Error) {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(error.render().as_bytes());
        let _ = stderr.flush();
    }
}

/// One line on stderr. A closed or broken stderr (`aigate use gateway 2>&1 | head -1`) is
/// not an error: the command goes on and exits with its own code (`eprintln!` would panic,
/// and a release build aborts on a panic).
fn talk(prefix: &str, text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(prefix.as_bytes());
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.write_all(b"\n");
    let _ = stderr.flush();
}

/// A path for humans: under `$HOME` it is shown as `~/...`.
pub fn display_path(path: &Path) -> String {
    if let Some(home) = crate::env_vars::var(crate::env_vars::HOME) {
        if let Ok(rest) = path.strip_prefix(&home) {
            if rest.as_os_str().is_empty() {
                return "~".to_string();
            }
            return format!("~/{}", rest.display());
        }
    }
    path.display().to_string()
}

/// Mask a secret for display: the first 3 and last 4 characters of long values only.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 16 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}…{tail}")
    } else {
        "****".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_fully_masked() {
        assert_eq!(mask_secret("sk-1234"), "****");
        assert_eq!(mask_secret("sk-abcdefghijklmnop1234"), "sk-…1234");
    }
}
