//! The only module that prints. stdout carries data (tables, JSON, diffs); stderr
//! carries talk (summaries, notes, warnings, hints). `-q` silences talk, `-v` adds
//! detail, `--json` turns data into one JSON document with `"version": 1`.
//!
//! Progress bars ([`Printer::progress`]) go to stderr, and only when stderr is a terminal
//! that can move its cursor: piped or redirected output gets no byte of them.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::progress::Progress;

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

    /// A progress bar labelled `prefix` on stderr, counting `unit`; hidden (drawing
    /// nothing) unless progress is wanted: not with `-q` or `--json`, and only on a
    /// terminal (stderr a tty, `TERM` set and not `dumb`). Drop it before printing more.
    pub fn progress(&self, prefix: &str, unit: Unit) -> Bar {
        let dumb = crate::env_vars::var(crate::env_vars::TERM).is_none_or(|term| term == "dumb");
        if self.verbosity == Verbosity::Quiet || self.json || dumb || !std::io::stderr().is_terminal() {
            return Bar::hidden();
        }
        Bar::on_stderr(prefix, unit)
    }

    /// An error, always shown.
    pub fn error(&self, error: &crate::error::Error) {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(error.render().as_bytes());
        let _ = stderr.flush();
    }
}

/// What a progress bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Steps of work (probes).
    Steps,
    /// Bytes (of files extracted).
    Bytes,
}

/// A progress bar on stderr fed with a core's [`Progress`] events, or nothing at all when
/// progress is not shown. It is cleared when dropped, leaving no line behind, so whatever
/// is printed next starts on a clean line.
pub struct Bar(Option<indicatif::ProgressBar>);

const STEPS_TEMPLATE: &str = "{spinner} {prefix} [{bar:20}] {pos}/{len} {elapsed} {wide_msg}";
const BYTES_TEMPLATE: &str =
    "{spinner} {prefix} [{bar:20}] {bytes}/{total_bytes} {binary_bytes_per_sec} {wide_msg}";

impl Bar {
    /// A bar that draws nothing.
    pub fn hidden() -> Self {
        Self(None)
    }

    /// A bar on stderr, once [`Printer::progress`] has decided to show one (indicatif itself
    /// also draws nothing where stderr is not a terminal).
    fn on_stderr(prefix: &str, unit: Unit) -> Self {
        let template = match unit {
            Unit::Steps => STEPS_TEMPLATE,
            Unit::Bytes => BYTES_TEMPLATE,
        };
        // No colours in the templates: the bar reads the same with NO_COLOR.
        let style = indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .tick_chars("|/-\\ ")
            .progress_chars("=> ");
        let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr())
            .with_style(style)
            .with_prefix(prefix.to_string());
        Self(Some(bar))
    }

    /// Show one event of a core's progress.
    pub fn report(&self, event: Progress<'_>) {
        let Some(bar) = &self.0 else { return };
        match event {
            Progress::Expect(units) => {
                let first = bar.length().is_none_or(|length| length == 0);
                bar.inc_length(units);
                // Drawn from the first count on (not as an empty `0/0`); the spinner then
                // moves while one slow step (a probe waiting for its timeout) goes on.
                if first && units > 0 {
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
            }
            Progress::Begin(label) => bar.set_message(label.to_string()),
            Progress::Advance(units) => bar.inc(units),
        }
    }

    /// Whether anything is drawn.
    pub fn is_shown(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
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
    fn progress_templates_parse() {
        for template in [STEPS_TEMPLATE, BYTES_TEMPLATE] {
            assert!(indicatif::ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }

    #[test]
    fn no_progress_with_json_or_quiet() {
        // Under `cargo test` stderr may or may not be a terminal; these never draw.
        assert!(!Printer::new(true, false, false, false).progress("p", Unit::Steps).is_shown());
        assert!(!Printer::new(false, true, false, false).progress("p", Unit::Bytes).is_shown());
        let hidden = Bar::hidden();
        hidden.report(Progress::Expect(3));
        hidden.report(Progress::Begin("x"));
        hidden.report(Progress::Advance(1));
        assert!(!hidden.is_shown());
    }

    #[test]
    fn short_secrets_are_fully_masked() {
        assert_eq!(mask_secret("sk-1234"), "****");
        assert_eq!(mask_secret("sk-abcdefghijklmnop1234"), "sk-…1234");
    }
}
