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

#[cfg(test)]
pub(crate) mod testing {
    use std::cell::RefCell;

    use super::Progress;

    /// An owned [`Progress`], as a test records it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Seen {
        Expect(u64),
        Begin(String),
        Advance(u64),
    }

    /// Records every event, in order.
    #[derive(Default)]
    pub(crate) struct Recorder(RefCell<Vec<Seen>>);

    impl Recorder {
        pub(crate) fn report(&self, event: Progress<'_>) {
            self.0.borrow_mut().push(match event {
                Progress::Expect(units) => Seen::Expect(units),
                Progress::Begin(label) => Seen::Begin(label.to_string()),
                Progress::Advance(units) => Seen::Advance(units),
            });
        }

        pub(crate) fn seen(&self) -> Vec<Seen> {
            self.0.borrow().clone()
        }

        /// The totals: (units expected, labels begun, units advanced).
        pub(crate) fn totals(&self) -> (u64, Vec<String>, u64) {
            let mut expected = 0;
            let mut begun = Vec::new();
            let mut advanced = 0;
            for event in self.0.borrow().iter() {
                match event {
                    Seen::Expect(units) => expected += units,
                    Seen::Begin(label) => begun.push(label.clone()),
                    Seen::Advance(units) => advanced += units,
                }
            }
            (expected, begun, advanced)
        }
    }
}
