//! Usage records: one row per proxied request, written by a background thread, plus the
//! built-in price table.
//!
//! Invariants: nothing here runs on the request path except a non-blocking channel send
//! ([`UsageSink::record`]), which wakes the writer at most once per batch window; the
//! writer batches rows into one transaction per wake-up;
//! [`UsageSink::flush`] returns once every row sent before it is in the db. A db that
//! cannot be opened loses rows, never requests.

use std::path::PathBuf;
use std::sync::mpsc;

use rusqlite::params;

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

#[expect(
    clippy::large_enum_variant,
    reason = "rows are the messages; a box per row would be an allocation per request"
)]
enum Message {
    Row(UsageRow),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The sending side; cheap to clone.
#[derive(Clone, Debug)]
pub struct UsageSink {
    shared: std::sync::Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    sender: mpsc::Sender<Message>,
    /// Rows sent and not yet taken by the writer.
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The writer thread, started by the first row (a session that proxies nothing starts
    /// no thread), then woken by [`UsageSink::flush`] and by the row that makes
    /// [`WAKE_AT`] rows waiting (other rows never wake it: it sleeps out its batch window
    /// and then drains them). `None` inside when the thread could not be started.
    writer: std::sync::OnceLock<Option<std::thread::Thread>>,
    /// What the writer is started with, taken by the start.
    start: std::sync::Mutex<Option<(PathBuf, mpsc::Receiver<Message>)>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Row(_) => f.write_str("Row"),
            Message::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl UsageSink {
    /// A sink for the db under `aigate_home`; its writer thread starts with the first row.
    pub fn start(aigate_home: PathBuf) -> Self {
        let (sender, receiver) = mpsc::channel::<Message>();
        let shared = Shared {
            sender,
            waiting: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            writer: std::sync::OnceLock::new(),
            start: std::sync::Mutex::new(Some((aigate_home, receiver))),
        };
        Self { shared: std::sync::Arc::new(shared) }
    }

    /// The writer thread, started on the first call.
    fn writer_thread(&self) -> Option<&std::thread::Thread> {
        let shared = &*self.shared;
        shared
            .writer
            .get_or_init(|| {
                let (aigate_home, receiver) = shared.start.lock().ok()?.take()?;
                let taken = shared.waiting.clone();
                let spawned = std::thread::Builder::new()
                    .name("aigate-usage".into())
                    .spawn(move || writer(&aigate_home, &receiver, &taken));
                // Without a thread the receiver is gone and rows are dropped at send time.
                spawned.ok().map(|handle| handle.thread().clone())
            })
            .as_ref()
    }

    /// Queue a row (never blocks).
    pub fn record(&self, row: UsageRow) {
        let writer = self.writer_thread();
        let waiting = self.shared.waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let _ = self.shared.sender.send(Message::Row(row));
        if waiting == WAKE_AT {
            if let Some(writer) = writer {
                writer.unpark();
            }
        }
    }

    /// Wait until every row queued before this call is written (at once when none ever
    /// was).
    pub async fn flush(&self) {
        let Some(Some(writer)) = self.shared.writer.get() else { return };
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.shared.sender.send(Message::Flush(done)).is_ok() {
            writer.unpark();
            let _ = wait.await;
        }
    }
}

/// Rows are gathered for up to this long (or until [`WAKE_AT`] wait) into one transaction
/// of at most [`BATCH_ROWS`].
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(100);
const BATCH_ROWS: usize = 1024;
/// Under load the writer is woken once this many rows wait, so the rows held in memory
/// stay few (a 100 ms window at 40k requests a second would hold 4,000: megabytes).
const WAKE_AT: usize = 256;

fn writer(
    aigate_home: &std::path::Path,
    receiver: &mpsc::Receiver<Message>,
    waiting: &std::sync::atomic::AtomicUsize,
) {
    // Retention: once per writer, before the first row, on this thread (off the request path).
    crate::stats::retention::prune_at_start(aigate_home);
    let mut connection = None;
    // Blocks until the first row of a batch; then the thread sleeps out the window (a flush
    // unparks it) and drains what came meanwhile. Waiting on the channel row by row instead
    // (`recv_timeout`) would make every `record` wake this thread: a futex wake and a
    // context switch per request on the hot path's cores.
    while let Ok(first) = receiver.recv() {
        let mut rows = Vec::new();
        let mut acks = Vec::new();
        let deadline = std::time::Instant::now() + BATCH_WINDOW;
        let mut next = Some(first);
        loop {
            while let Some(message) = next.take() {
                match message {
                    Message::Row(row) => {
                        waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                        rows.push(row);
                    }
                    Message::Flush(ack) => acks.push(ack),
                }
                if rows.len() < BATCH_ROWS {
                    next = receiver.try_recv().ok();
                }
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if !acks.is_empty() || rows.len() >= WAKE_AT || left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
            next = receiver.try_recv().ok();
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
                // A failed batch is dropped: usage is best effort, the request already went.
                let _ = insert(connection, &rows);
            }
        }
        for ack in acks {
            let _ = ack.send(());
        }
    }
}

fn insert(connection: &mut rusqlite::Connection, rows: &[UsageRow]) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    {
        let mut statement = transaction.prepare_cached(
            "INSERT INTO usage (ts, request_id, session_id, client, api, provider, model_requested, model_sent,
                 status, stream, ttfb_ms, ttft_ms, duration_ms, input_tokens, output_tokens, cached_tokens,
                 cost_usd, error_class, attempts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?;
        for row in rows {
            statement.execute(params![
                row.ts_ms,
                row.request_id,
                row.session_id,
                row.client,
                row.api,
                row.provider,
                row.model_requested,
                row.model_sent,
                row.status,
                row.stream,
                row.ttfb_ms,
                row.ttft_ms,
                row.duration_ms,
                row.input_tokens,
                row.output_tokens,
                row.cached_tokens,
                row.cost_usd,
                row.error_class,
                row.attempts,
            ])?;
        }
    }
    transaction.commit()
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
