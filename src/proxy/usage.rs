//! Usage records: one row per proxied request, written by a background thread, plus the
//! built-in price table.
//!
//! Invariants: nothing here runs on the request path but a push onto a queue under a lock
//! the writer holds only to swap the queue out ([`UsageSink::record`]), which wakes the
//! writer at most twice per batch window; the writer batches rows into one transaction per
//! wake-up (inserted, or parked as one blob when the proxy is busy: `usage_store`), and
//! settles parked rows in steps of a few milliseconds between them; [`UsageSink::flush`]
//! returns once every row queued before it is in the db (in `usage` or parked). A db that
//! cannot be opened loses rows, never requests.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

pub use crate::usage_store::UsageRow;

/// The sending side; cheap to clone.
#[derive(Clone, Debug)]
pub struct UsageSink {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Shared with the writer, which ends once every sink is gone.
    queue: Arc<Mutex<Queue>>,
    /// The writer thread, started by the first row (a session that proxies nothing starts
    /// no thread), then woken by the first row of a batch, by [`UsageSink::flush`] and by
    /// the row that makes [`WAKE_AT`] rows waiting (other rows never wake it: it sleeps
    /// out its batch window and then takes them all). `None` inside when the thread could
    /// not be started.
    writer: std::sync::OnceLock<Option<std::thread::Thread>>,
    /// Where the writer writes, taken by its start.
    start: Mutex<Option<PathBuf>>,
}

/// What waits for the writer. Rows are encoded onto a buffer that the writer swaps for its
/// own emptied one (`usage_store::encode`): no allocation per row, and the request thread
/// frees each row's strings itself (a channel allocates a block every few messages, and
/// a row moved to the writer would be freed there, across cores).
#[derive(Debug, Default)]
struct Queue {
    bytes: Vec<u8>,
    /// Rows encoded in `bytes`.
    rows: usize,
    /// Flushes waiting for every row queued before them.
    acks: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Every sink is gone: the writer writes what is left and ends.
    closed: bool,
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    // A panic while the lock was held left the queue whole (pushes and swaps only).
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Shared {
    fn drop(&mut self) {
        lock(&self.queue).closed = true;
        if let Some(Some(writer)) = self.writer.get() {
            writer.unpark();
        }
    }
}

impl UsageSink {
    /// A sink for the db under `aigate_home`; its writer thread starts with the first row.
    pub fn start(aigate_home: PathBuf) -> Self {
        let shared = Shared {
            queue: Arc::default(),
            writer: std::sync::OnceLock::new(),
            start: Mutex::new(Some(aigate_home)),
        };
        Self { shared: Arc::new(shared) }
    }

    /// The writer thread, started on the first call.
    fn writer_thread(&self) -> Option<&std::thread::Thread> {
        let shared = &*self.shared;
        shared
            .writer
            .get_or_init(|| {
                let aigate_home = shared.start.lock().ok()?.take()?;
                let queue = shared.queue.clone();
                let spawned = std::thread::Builder::new()
                    .name("aigate-usage".into())
                    .spawn(move || writer(&aigate_home, &queue));
                // Without a thread nobody takes the rows: `record` drops them.
                spawned.ok().map(|handle| handle.thread().clone())
            })
            .as_ref()
    }

    /// Queue a row (never waits for the writer's work).
    pub fn record(&self, row: UsageRow) {
        let Some(writer) = self.writer_thread() else { return };
        let waiting = {
            let mut queue = lock(&self.shared.queue);
            crate::usage_store::encode(&row, &mut queue.bytes);
            queue.rows += 1;
            queue.rows
        };
        drop(row);
        if waiting == 1 || waiting == WAKE_AT {
            writer.unpark();
        }
    }

    /// Wait until every row queued before this call is written (at once when none ever
    /// was).
    pub async fn flush(&self) {
        let Some(Some(writer)) = self.shared.writer.get() else { return };
        let (done, wait) = tokio::sync::oneshot::channel();
        lock(&self.shared.queue).acks.push(done);
        writer.unpark();
        let _ = wait.await;
    }
}

/// Rows are gathered for up to this long (or until [`WAKE_AT`] wait) and written in
/// one transaction.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(100);
/// Under load the writer is woken once this many rows wait, so the rows held in memory
/// stay few (a 100 ms window at 40k requests a second would hold 4,000: megabytes).
const WAKE_AT: usize = 256;
/// A batch of this many rows or more means the proxy is busy (2,560 requests a second or
/// more): it is parked as one encoded blob (`usage_store::park`) instead of inserted row by
/// row, and settled into `usage` once the load drops.
const PARK_AT: usize = WAKE_AT;
/// Parked rows are settled, a step at a time while no row comes, once no row came for
/// this long; ...
const SETTLE_IDLE: std::time::Duration = std::time::Duration::from_secs(1);
/// ... a batch smaller than [`PARK_AT`] (the load dropped, not ended) settles about this
/// many first (a few milliseconds of work, so that the requests of a quieter phase do not
/// share the cores with all of a burst's rows at once); ...
const SETTLE_STEP: u64 = 4_096;
/// ... and once this many wait, a batch is inserted (after a step of settling) instead of
/// parked, so that a load that never drops does not grow the parked batches without bound
/// (about 100 MB of them).
const SETTLE_AT: u64 = 1 << 20;

fn writer(aigate_home: &std::path::Path, queue: &Mutex<Queue>) {
    // Retention: once per writer, before the first row, on this thread (off the request path).
    crate::stats::retention::prune_at_start(aigate_home);
    let mut connection: Option<rusqlite::Connection> = None;
    // Swapped with the queue's, so both keep their capacity.
    let mut bytes = Vec::new();
    let mut acks = Vec::new();
    // Rows parked (by this writer, or found at its start) and not yet settled.
    let mut parked: u64 = 0;
    // Sleeps until the first row of a batch; then sleeps out the window (a flush or the
    // WAKE_AT-th row unparks it) and takes what came meanwhile. Waking per row would be a
    // futex wake and a context switch per request on the hot path's cores.
    loop {
        loop {
            let waiting = lock(queue);
            if waiting.rows > 0 || !waiting.acks.is_empty() {
                break;
            }
            if waiting.closed {
                // Parked rows stay parked: the next writer or reader settles them.
                return;
            }
            drop(waiting);
            if parked == 0 {
                std::thread::park();
                continue;
            }
            let since = std::time::Instant::now();
            std::thread::park_timeout(SETTLE_IDLE);
            if queue_is_empty(queue) && since.elapsed() >= SETTLE_IDLE {
                if let Some(connection) = connection.as_ref() {
                    // A step at a time, so a row, a flush or the end is not kept waiting
                    // behind a long backlog.
                    while parked > 0 && queue_is_empty(queue) {
                        let before = parked;
                        parked = settle(connection, parked, SETTLE_STEP);
                        if parked >= before {
                            // No progress (a failing db, or another proxy parking as
                            // fast): the next idle second tries again.
                            break;
                        }
                    }
                }
            }
        }
        let deadline = std::time::Instant::now() + BATCH_WINDOW;
        loop {
            let ready = {
                let waiting = lock(queue);
                !waiting.acks.is_empty() || waiting.rows >= WAKE_AT || waiting.closed
            };
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if ready || left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
        }
        let rows = {
            let mut waiting = lock(queue);
            std::mem::swap(&mut waiting.bytes, &mut bytes);
            std::mem::swap(&mut waiting.acks, &mut acks);
            std::mem::take(&mut waiting.rows)
        };
        if rows > 0 {
            if connection.is_none() {
                connection = crate::db::open(aigate_home).ok().inspect(|connection| {
                    // Usage rows may lose the last instants on power loss; WAL keeps the
                    // db itself consistent. This saves an fsync per batch.
                    let _ = connection.pragma_update(None, "synchronous", "NORMAL");
                    // The writer only appends: a small page cache (SQLite's default is
                    // 2 MiB) keeps the proxy's memory down.
                    let _ = connection.pragma_update(None, "cache_size", -128);
                    // Rows an earlier proxy parked and nobody settled.
                    parked = crate::usage_store::parked(connection).unwrap_or(0);
                });
            }
            if let Some(connection) = connection.as_ref() {
                // A failed batch is dropped: usage is best effort, the request already went.
                if rows >= PARK_AT && parked < SETTLE_AT {
                    if crate::usage_store::park(connection, rows, &bytes).is_ok() {
                        parked += rows as u64;
                    }
                } else {
                    // The oldest parked rows first. (So a row's id need not follow its
                    // time: readers order by `ts`.)
                    parked = settle(connection, parked, SETTLE_STEP);
                    let _ = crate::usage_store::insert(connection, &bytes);
                }
            }
            bytes.clear();
            // A burst's capacity is not kept for good.
            bytes.shrink_to(1 << 20);
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

/// Settle `limit` of the `parked` rows or more, if any; returns how many are left
/// parked. The oldest batches go first, whichever proxy parked them, so after a step the
/// count is read again. A failed settle leaves them (0 when even the count fails: the
/// next writer or reader settles them).
fn settle(connection: &rusqlite::Connection, parked: u64, limit: u64) -> u64 {
    if parked == 0 {
        return 0;
    }
    match crate::usage_store::settle_up_to(connection, limit) {
        Ok(moved) if moved < limit => 0,
        Ok(_) => crate::usage_store::parked(connection).unwrap_or(0),
        Err(_) => parked,
    }
}

/// No row, flush or end waits for the writer.
fn queue_is_empty(queue: &Mutex<Queue>) -> bool {
    let waiting = lock(queue);
    waiting.rows == 0 && waiting.acks.is_empty() && !waiting.closed
}

/// USD per million tokens: input, output, cached input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cached: f64,
}

const fn price(input: f64, output: f64, cached: f64) -> Price {
    Price { input, output, cached }
}

/// List prices (USD per 1M tokens) for common models; the longest matching prefix of the
/// normalised model name wins (a vendor prefix like `anthropic/` is ignored, `.` counts as
/// `-`). Prices change: this is an estimate, and unknown models cost NULL.
const PRICES: &[(&str, Price)] = &[
    ("gpt-5-nano", price(0.05, 0.40, 0.005)),
    ("gpt-5-mini", price(0.25, 2.00, 0.025)),
    ("gpt-5", price(1.25, 10.00, 0.125)),
    ("gpt-4-1-nano", price(0.10, 0.40, 0.025)),
    ("gpt-4-1-mini", price(0.40, 1.60, 0.10)),
    ("gpt-4-1", price(2.00, 8.00, 0.50)),
    ("gpt-4o-mini", price(0.15, 0.60, 0.075)),
    ("gpt-4o", price(2.50, 10.00, 1.25)),
    ("o3-mini", price(1.10, 4.40, 0.55)),
    ("o3", price(2.00, 8.00, 0.50)),
    ("o4-mini", price(1.10, 4.40, 0.275)),
    ("claude-opus-4-5", price(5.00, 25.00, 0.50)),
    ("claude-opus-4", price(15.00, 75.00, 1.50)),
    ("claude-sonnet-4", price(3.00, 15.00, 0.30)),
    ("claude-haiku-4", price(1.00, 5.00, 0.10)),
    ("claude-3-7-sonnet", price(3.00, 15.00, 0.30)),
    ("claude-3-5-sonnet", price(3.00, 15.00, 0.30)),
    ("claude-3-5-haiku", price(0.80, 4.00, 0.08)),
    ("deepseek-chat", price(0.28, 0.42, 0.028)),
    ("deepseek-reasoner", price(0.28, 0.42, 0.028)),
    ("kimi-k2", price(0.60, 2.50, 0.15)),
    ("moonshot-v1", price(0.60, 2.50, 0.15)),
    ("glm-4-6", price(0.60, 2.20, 0.11)),
    ("glm-4-5-air", price(0.20, 1.10, 0.03)),
    ("glm-4-5", price(0.60, 2.20, 0.11)),
    ("qwen3-coder-plus", price(1.00, 5.00, 0.10)),
    ("qwen-max", price(1.60, 6.40, 0.32)),
    ("qwen-plus", price(0.40, 1.20, 0.08)),
    ("minimax-m2", price(0.30, 1.20, 0.03)),
    ("mistral-large", price(2.00, 6.00, 2.00)),
    ("mistral-medium", price(0.40, 2.00, 0.40)),
    ("devstral-medium", price(0.40, 2.00, 0.40)),
    ("codestral", price(0.30, 0.90, 0.30)),
    ("llama-3-3-70b", price(0.59, 0.79, 0.59)),
    ("llama-3-1-8b", price(0.05, 0.08, 0.05)),
    ("grok-code-fast", price(0.20, 1.50, 0.02)),
    ("grok-4", price(3.00, 15.00, 0.75)),
    ("gemini-2-5-pro", price(1.25, 10.00, 0.31)),
    ("gemini-2-5-flash", price(0.30, 2.50, 0.075)),
];

/// The price of `model`, if it is in the table.
pub fn price_of(model: &str) -> Option<Price> {
    let base = model.rsplit('/').next().unwrap_or(model);
    // `base` lower-cased with `.` read as `-`, compared byte by byte (nothing is copied).
    let normalised_starts_with = |prefix: &str| {
        base.len() >= prefix.len()
            && base.bytes().zip(prefix.bytes()).all(|(byte, want)| {
                let byte = if byte == b'.' { b'-' } else { byte.to_ascii_lowercase() };
                byte == want
            })
    };
    PRICES
        .iter()
        .filter(|(prefix, _)| normalised_starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, price)| *price)
}

/// Cost in USD: cached input at the cached price, the rest of the input and the output at
/// theirs. `None` for an unknown model or when no token count is known.
pub fn cost(model: &str, input: Option<i64>, output: Option<i64>, cached: Option<i64>) -> Option<f64> {
    if input.is_none() && output.is_none() {
        return None;
    }
    let price = price_of(model)?;
    let input = input.unwrap_or(0).max(0) as f64;
    let cached = (cached.unwrap_or(0).max(0) as f64).min(input);
    let output = output.unwrap_or(0).max(0) as f64;
    Some(((input - cached) * price.input + cached * price.cached + output * price.output) / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_by_longest_prefix() {
        assert_eq!(price_of("gpt-5-mini-2025-08-07"), Some(price(0.25, 2.00, 0.025)));
        assert_eq!(price_of("gpt-5-codex"), Some(price(1.25, 10.00, 0.125)));
        assert_eq!(price_of("anthropic/claude-sonnet-4.5"), Some(price(3.00, 15.00, 0.30)));
        assert_eq!(price_of("gpt-4.1-mini"), Some(price(0.40, 1.60, 0.10)));
        assert_eq!(price_of("my-local-model"), None);
    }

    #[test]
    fn cost_counts_cached_input_at_its_price() {
        let value = cost("gpt-5", Some(1_000_000), Some(1_000_000), Some(500_000)).unwrap();
        assert!((value - (0.625 + 0.0625 + 10.0)).abs() < 1e-9);
        assert_eq!(cost("unknown", Some(1), Some(1), None), None);
        assert_eq!(cost("gpt-5", None, None, None), None);
    }

    #[tokio::test]
    async fn rows_are_written_and_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let sink = UsageSink::start(dir.path().to_path_buf());
        sink.record(UsageRow { ts_ms: 1, request_id: "r1".into(), status: Some(200), ..UsageRow::default() });
        sink.flush().await;
        let connection = crate::db::open(dir.path()).unwrap();
        let count: i64 = connection.query_row("SELECT count(*) FROM usage", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 1);
    }

    #[tokio::test]
    async fn a_burst_is_written_whole_and_in_order_and_the_next_quiet_batch_settles_it() {
        // 300 rows queued at once: the writer takes them as one batch and parks it, or in
        // two and inserts the second; either way a reader sees them all, in order, and a
        // batch of one row after them leaves nothing parked.
        let dir = tempfile::tempdir().unwrap();
        let sink = UsageSink::start(dir.path().to_path_buf());
        let row =
            |index: i64| UsageRow { ts_ms: index, request_id: format!("r{index}"), ..UsageRow::default() };
        for index in 0..300 {
            sink.record(row(index));
        }
        sink.flush().await;
        sink.record(row(300));
        sink.flush().await;
        let connection = crate::db::open(dir.path()).unwrap();
        assert_eq!(crate::usage_store::parked(&connection).unwrap(), 0, "the quiet batch settled the burst");
        let mut statement = connection.prepare("SELECT ts, request_id FROM usage ORDER BY id").unwrap();
        let stored: Vec<(i64, String)> = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected: Vec<(i64, String)> = (0..=300).map(|index| (index, format!("r{index}"))).collect();
        assert_eq!(stored, expected);
    }

    #[test]
    fn a_busy_batch_is_parked_whole_and_left_parked_at_the_end() {
        // 300 rows waiting when the writer looks, and the sinks gone: one batch, parked as
        // one blob, and not settled on the way out (the next writer or reader does that).
        let dir = tempfile::tempdir().unwrap();
        let mut waiting = Queue { closed: true, ..Queue::default() };
        for index in 0..300 {
            crate::usage_store::encode(
                &UsageRow { ts_ms: index, request_id: format!("r{index}"), ..UsageRow::default() },
                &mut waiting.bytes,
            );
            waiting.rows += 1;
        }
        writer(dir.path(), &Mutex::new(waiting));
        let connection = crate::db::open(dir.path()).unwrap();
        assert_eq!(crate::usage_store::parked(&connection).unwrap(), 300);
        let batches: i64 =
            connection.query_row("SELECT count(*) FROM usage_parked", [], |row| row.get(0)).unwrap();
        assert_eq!(batches, 1);
        let inserted: i64 = connection.query_row("SELECT count(*) FROM usage", [], |row| row.get(0)).unwrap();
        assert_eq!(inserted, 0);
        assert_eq!(crate::usage_store::settle(&connection).unwrap(), 300);
    }

    #[tokio::test]
    async fn a_sink_that_records_nothing_flushes_at_once_and_creates_no_db() {
        let dir = tempfile::tempdir().unwrap();
        let sink = UsageSink::start(dir.path().to_path_buf());
        sink.flush().await;
        assert!(sink.shared.writer.get().is_none(), "no writer thread was started");
        assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn rows_that_arrive_while_the_writer_sleeps_are_all_written() {
        // The writer sleeps out its batch window instead of waking per row; whatever came
        // meanwhile, from any clone of the sink, is drained into the db before a flush
        // returns.
        let dir = tempfile::tempdir().unwrap();
        let sink = UsageSink::start(dir.path().to_path_buf());
        let senders: Vec<_> = (0..4)
            .map(|thread| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for index in 0..700 {
                        sink.record(UsageRow {
                            request_id: format!("r{thread}-{index}"),
                            ..UsageRow::default()
                        });
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.join().unwrap();
        }
        sink.flush().await;
        let connection = crate::db::open(dir.path()).unwrap();
        // A batch of 256 rows or more is parked: a reader settles it first.
        crate::usage_store::settle(&connection).unwrap();
        let count: i64 = connection.query_row("SELECT count(*) FROM usage", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 2800, "more rows than one batch holds, all written");
    }
}
