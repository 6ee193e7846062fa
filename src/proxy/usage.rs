//! Usage records: one row per proxied request, written by a background thread, plus the
//! built-in price table.
//!
//! Invariants: nothing here runs on the request path but a push onto a queue under a lock
//! the writer holds only to swap the queue out ([`UsageSink::record`]), which wakes the
//! writer at most twice per batch window; the writer batches rows into one transaction per
//! wake-up; [`UsageSink::flush`] returns once every row queued before it is in the db. A
//! db that cannot be opened loses rows, never requests.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// One row of the `usage` table.
#[derive(Debug, Clone, Default)]
pub struct UsageRow {
    pub ts_ms: i64,
    pub request_id: String,
    pub session_id: Option<std::sync::Arc<str>>,
    pub client: Option<&'static str>,
    pub api: Option<&'static str>,
    pub provider: Option<std::sync::Arc<str>>,
    pub model_requested: Option<String>,
    pub model_sent: Option<String>,
    pub status: Option<u16>,
    pub stream: bool,
    pub ttfb_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub error_class: Option<String>,
    pub attempts: u32,
}

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

/// What waits for the writer. Rows are pushed onto a `Vec` that the writer swaps for its
/// own emptied one: no allocation per row (a channel allocates a block every few
/// messages, and frees it on the other thread).
#[derive(Debug, Default)]
struct Queue {
    rows: Vec<UsageRow>,
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
            queue.rows.push(row);
            queue.rows.len()
        };
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
/// transactions of at most [`BATCH_ROWS`].
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(100);
const BATCH_ROWS: usize = 1024;
/// Under load the writer is woken once this many rows wait, so the rows held in memory
/// stay few (a 100 ms window at 40k requests a second would hold 4,000: megabytes).
const WAKE_AT: usize = 256;

fn writer(aigate_home: &std::path::Path, queue: &Mutex<Queue>) {
    // Retention: once per writer, before the first row, on this thread (off the request path).
    crate::stats::retention::prune_at_start(aigate_home);
    let mut connection = None;
    // Swapped with the queue's, so both keep their capacity.
    let mut rows = Vec::new();
    let mut acks = Vec::new();
    // Sleeps until the first row of a batch; then sleeps out the window (a flush or the
    // WAKE_AT-th row unparks it) and takes what came meanwhile. Waking per row would be a
    // futex wake and a context switch per request on the hot path's cores.
    loop {
        loop {
            let waiting = lock(queue);
            if !waiting.rows.is_empty() || !waiting.acks.is_empty() {
                break;
            }
            if waiting.closed {
                return;
            }
            drop(waiting);
            std::thread::park();
        }
        let deadline = std::time::Instant::now() + BATCH_WINDOW;
        loop {
            let ready = {
                let waiting = lock(queue);
                !waiting.acks.is_empty() || waiting.rows.len() >= WAKE_AT || waiting.closed
            };
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if ready || left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
        }
        {
            let mut waiting = lock(queue);
            std::mem::swap(&mut waiting.rows, &mut rows);
            std::mem::swap(&mut waiting.acks, &mut acks);
        }
        if !rows.is_empty() {
            if connection.is_none() {
                connection = crate::db::open(aigate_home).ok().inspect(|connection| {
                    // Usage rows may lose the last instants on power loss; WAL keeps the
                    // db itself consistent. This saves an fsync per batch.
                    let _ = connection.pragma_update(None, "synchronous", "NORMAL");
                    // The writer only appends: a small page cache (SQLite's default is
                    // 2 MiB) keeps the proxy's memory down.
                    let _ = connection.pragma_update(None, "cache_size", -128);
                });
            }
            if let Some(connection) = connection.as_mut() {
                for batch in rows.chunks(BATCH_ROWS) {
                    // A failed batch is dropped: usage is best effort, the request already went.
                    let _ = insert(connection, batch);
                }
            }
            rows.clear();
            // A burst's capacity is not kept for good.
            rows.shrink_to(4 * WAKE_AT);
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

/// Rows per `INSERT` statement: one statement of many rows costs SQLite far less than as
/// many statements of one (each statement opens its cursors, seeks the table's end and
/// halts).
const ROWS_PER_STATEMENT: usize = 32;
const COLUMNS: usize = 19;

/// `INSERT OR FAIL INTO usage (...) VALUES (?, ...), ...` for `rows` rows. `OR FAIL`
/// spares SQLite a statement journal (a savepoint and a copy of every page the statement
/// touches, kept so that a failing row could undo the rows before it): a failed row fails
/// the whole batch's transaction anyway. It took 6% off the writer's time per row.
fn insert_sql(rows: usize) -> String {
    let one = format!("({})", vec!["?"; COLUMNS].join(", "));
    format!(
        "INSERT OR FAIL INTO usage (ts, request_id, session_id, client, api, provider, model_requested, model_sent,
             status, stream, ttfb_ms, ttft_ms, duration_ms, input_tokens, output_tokens, cached_tokens,
             cost_usd, error_class, attempts)
         VALUES {}",
        vec![one; rows].join(", ")
    )
}

fn insert(connection: &mut rusqlite::Connection, rows: &[UsageRow]) -> rusqlite::Result<()> {
    static MANY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_sql(ROWS_PER_STATEMENT));
    static ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_sql(1));
    let transaction = connection.transaction()?;
    let mut chunks = rows.chunks_exact(ROWS_PER_STATEMENT);
    for chunk in &mut chunks {
        let mut statement = transaction.prepare_cached(&MANY)?;
        for (at, row) in chunk.iter().enumerate() {
            bind_row(&mut statement, at * COLUMNS, row)?;
        }
        statement.raw_execute()?;
    }
    for row in chunks.remainder() {
        let mut statement = transaction.prepare_cached(&ONE)?;
        bind_row(&mut statement, 0, row)?;
        statement.raw_execute()?;
    }
    transaction.commit()
}

/// Bind `row`'s columns after the first `before` parameters of `statement`.
fn bind_row(
    statement: &mut rusqlite::CachedStatement<'_>,
    before: usize,
    row: &UsageRow,
) -> rusqlite::Result<()> {
    let values: [&dyn rusqlite::ToSql; COLUMNS] = [
        &row.ts_ms,
        &row.request_id,
        &row.session_id,
        &row.client,
        &row.api,
        &row.provider,
        &row.model_requested,
        &row.model_sent,
        &row.status,
        &row.stream,
        &row.ttfb_ms,
        &row.ttft_ms,
        &row.duration_ms,
        &row.input_tokens,
        &row.output_tokens,
        &row.cached_tokens,
        &row.cost_usd,
        &row.error_class,
        &row.attempts,
    ];
    for (column, value) in values.into_iter().enumerate() {
        statement.raw_bind_parameter(before + column + 1, value)?;
    }
    Ok(())
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
    async fn every_column_of_every_row_lands_in_its_place() {
        // More rows than one statement takes, so that rows go both in statements of many
        // rows and one by one.
        let count = ROWS_PER_STATEMENT * 2 + 3;
        let row = |index: usize| {
            let n = i64::try_from(index).unwrap();
            UsageRow {
                ts_ms: 1_000 + n,
                request_id: format!("r{index}"),
                session_id: Some(format!("s{index}").into()),
                client: Some("codex"),
                api: Some("responses"),
                provider: Some(format!("p{index}").into()),
                model_requested: Some(format!("asked{index}")),
                model_sent: (index % 2 == 0).then(|| format!("sent{index}")),
                status: Some(200 + u16::try_from(index).unwrap()),
                stream: index % 3 == 0,
                ttfb_ms: Some(10 + n),
                ttft_ms: None,
                duration_ms: Some(30 + n),
                input_tokens: Some(40 + n),
                output_tokens: Some(50 + n),
                cached_tokens: Some(60 + n),
                cost_usd: Some(0.5 + f64::from(u32::try_from(index).unwrap())),
                error_class: (index % 5 == 0).then(|| format!("e{index}")),
                attempts: 1 + u32::try_from(index).unwrap(),
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let sink = UsageSink::start(dir.path().to_path_buf());
        for index in 0..count {
            sink.record(row(index));
        }
        sink.flush().await;
        let connection = crate::db::open(dir.path()).unwrap();
        let mut statement = connection
            .prepare(
                "SELECT ts, request_id, session_id, client, api, provider, model_requested, model_sent,
                     status, stream, ttfb_ms, ttft_ms, duration_ms, input_tokens, output_tokens,
                     cached_tokens, cost_usd, error_class, attempts
                 FROM usage ORDER BY id",
            )
            .unwrap();
        let written: Vec<String> = statement
            .query_map([], |stored| {
                let values: Vec<String> =
                    (0..19).map(|column| format!("{:?}", stored.get_ref(column).unwrap())).collect();
                Ok(values.join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected: Vec<String> = (0..count)
            .map(|index| {
                let r = row(index);
                let text = |value: Option<&str>| match value {
                    Some(value) => format!("Text({:?})", value.as_bytes()),
                    None => "Null".to_string(),
                };
                let integer = |value: Option<i64>| match value {
                    Some(value) => format!("Integer({value})"),
                    None => "Null".to_string(),
                };
                [
                    integer(Some(r.ts_ms)),
                    text(Some(&r.request_id)),
                    text(r.session_id.as_deref()),
                    text(r.client),
                    text(r.api),
                    text(r.provider.as_deref()),
                    text(r.model_requested.as_deref()),
                    text(r.model_sent.as_deref()),
                    integer(r.status.map(i64::from)),
                    integer(Some(i64::from(r.stream))),
                    integer(r.ttfb_ms),
                    integer(r.ttft_ms),
                    integer(r.duration_ms),
                    integer(r.input_tokens),
                    integer(r.output_tokens),
                    integer(r.cached_tokens),
                    format!("Real({:?})", r.cost_usd.unwrap()),
                    text(r.error_class.as_deref()),
                    integer(Some(i64::from(r.attempts))),
                ]
                .join("|")
            })
            .collect();
        assert_eq!(written, expected);
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
        let count: i64 = connection.query_row("SELECT count(*) FROM usage", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 2800, "more rows than one batch holds, all written");
    }
}
