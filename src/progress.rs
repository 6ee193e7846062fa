//! Progress of long work (`provider test`'s probes, a zip's extraction), as plain events.
//!
//! A core takes a [`Report`] and calls it as the work goes; it never draws anything, so it
//! stays testable (a test passes a recorder) and knows nothing of terminals. `cli/` passes
//! the bar from [`crate::output::Printer::progress`], which draws on stderr only when stderr
//! is a terminal; other callers pass [`none`].

/// One thing that happened in long work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// `units` more units of work are coming (probes, bytes): the total grows by this.
    Expect(u64),
    /// Work on this starts now (the API being probed, the file being extracted).
    Begin(&'a str),
    /// `units` more units are done.
    Advance(u64),
}

/// What a core takes to report its progress.
pub type Report<'a> = &'a dyn Fn(Progress<'_>);

/// Report to nobody.
pub fn none(_: Progress<'_>) {}
