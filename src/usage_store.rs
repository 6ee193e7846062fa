//! The `usage` table's rows on their way in: the compact encoding the proxy queues them in,
//! their insert, and the parked batches of a busy proxy with [`settle`], which moves them
//! into the table.
//!
//! Why batches are parked: under load (thousands of requests a second) inserting each row
//! into the table and its index costs the usage writer ~1.6 µs per row on cores the proxy,
//! its agents and their upstreams share (`bench/PROFILE.md`, eighth pass). A busy writer
//! stores each batch as one blob instead (one row of `usage_parked`: as durable as the
//! rows, at a tenth of the work) and the rows go into `usage` once the load drops, or
//! before anything reads them.
//!
//! Invariants: every reader of `usage` settles first ([`settle`]), so a row is visible to
//! it whether it was inserted or parked; a parked batch is deleted in the transaction that
//! inserts its rows, so a row is never lost nor inserted twice; a batch in a format this
//! build does not know is left for the build that wrote it.

use rusqlite::Connection;

use crate::error::Result;

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

/// The encoding of [`encode`], stored with each parked batch.
const FORMAT: i64 = 1;

/// Presence bits of a row's optional columns, then `stream`.
mod bit {
    pub(super) const STATUS: u32 = 1;
    pub(super) const TTFB: u32 = 1 << 1;
    pub(super) const TTFT: u32 = 1 << 2;
    pub(super) const DURATION: u32 = 1 << 3;
    pub(super) const INPUT: u32 = 1 << 4;
    pub(super) const OUTPUT: u32 = 1 << 5;
    pub(super) const CACHED: u32 = 1 << 6;
    pub(super) const COST: u32 = 1 << 7;
    pub(super) const SESSION: u32 = 1 << 8;
    pub(super) const CLIENT: u32 = 1 << 9;
    pub(super) const API: u32 = 1 << 10;
    pub(super) const PROVIDER: u32 = 1 << 11;
    pub(super) const MODEL_REQUESTED: u32 = 1 << 12;
    pub(super) const MODEL_SENT: u32 = 1 << 13;
    pub(super) const ERROR_CLASS: u32 = 1 << 14;
    pub(super) const STREAM: u32 = 1 << 15;
}

/// Append `row` to `out`: the presence bits, `ts` and `attempts`, then each present value
/// in column order (integers little-endian, texts as a `u32` length and their bytes).
/// Nothing is allocated but `out`'s growth, so the request thread that queues the row
/// frees its strings itself.
pub fn encode(row: &UsageRow, out: &mut Vec<u8>) {
    let texts = [
        (bit::SESSION, row.session_id.as_deref()),
        (bit::CLIENT, row.client),
        (bit::API, row.api),
        (bit::PROVIDER, row.provider.as_deref()),
        (bit::MODEL_REQUESTED, row.model_requested.as_deref()),
        (bit::MODEL_SENT, row.model_sent.as_deref()),
        (bit::ERROR_CLASS, row.error_class.as_deref()),
    ];
    let integers = [
        (bit::TTFB, row.ttfb_ms),
        (bit::TTFT, row.ttft_ms),
        (bit::DURATION, row.duration_ms),
        (bit::INPUT, row.input_tokens),
        (bit::OUTPUT, row.output_tokens),
        (bit::CACHED, row.cached_tokens),
    ];
    let mut bits = if row.stream { bit::STREAM } else { 0 };
    for (flag, value) in texts {
        bits |= if value.is_some() { flag } else { 0 };
    }
    for (flag, value) in integers {
        bits |= if value.is_some() { flag } else { 0 };
    }
    bits |= if row.status.is_some() { bit::STATUS } else { 0 };
    bits |= if row.cost_usd.is_some() { bit::COST } else { 0 };
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&row.ts_ms.to_le_bytes());
    out.extend_from_slice(&row.attempts.to_le_bytes());
    put_text(out, &row.request_id);
    if let Some(status) = row.status {
        out.extend_from_slice(&status.to_le_bytes());
    }
    for value in integers.iter().filter_map(|(_, value)| *value) {
        out.extend_from_slice(&value.to_le_bytes());
    }
    if let Some(cost) = row.cost_usd {
        out.extend_from_slice(&cost.to_bits().to_le_bytes());
    }
    for text in texts.iter().filter_map(|(_, text)| *text) {
        put_text(out, text);
    }
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    // A text longer than 4 GiB is not a usage column; cut it (on a character boundary)
    // rather than corrupt the batch.
    let mut length = text.len().min(u32::MAX as usize);
    while !text.is_char_boundary(length) {
        length -= 1;
    }
    let bytes = &text.as_bytes()[..length];
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// One encoded row, read back without copying.
#[derive(Debug, Default, PartialEq)]
struct Decoded<'a> {
    ts_ms: i64,
    request_id: &'a str,
    session_id: Option<&'a str>,
    client: Option<&'a str>,
    api: Option<&'a str>,
    provider: Option<&'a str>,
    model_requested: Option<&'a str>,
    model_sent: Option<&'a str>,
    status: Option<u16>,
    stream: bool,
    ttfb_ms: Option<i64>,
    ttft_ms: Option<i64>,
    duration_ms: Option<i64>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cached_tokens: Option<i64>,
    cost_usd: Option<f64>,
    error_class: Option<&'a str>,
    attempts: u32,
}

/// The rows of `bytes` in order; `None` where they stop making sense (a batch cut short or
/// damaged on disk), and nothing after it.
struct Rows<'a> {
    rest: &'a [u8],
}

impl<'a> Rows<'a> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(*head)
    }

    fn text(&mut self) -> Option<&'a str> {
        let length = usize::try_from(u32::from_le_bytes(self.bytes::<4>()?)).ok()?;
        let (text, rest) = self.rest.split_at_checked(length)?;
        self.rest = rest;
        std::str::from_utf8(text).ok()
    }

    fn row(&mut self) -> Option<Decoded<'a>> {
        let bits = u32::from_le_bytes(self.bytes::<4>()?);
        let has = |flag: u32| bits & flag != 0;
        let mut row = Decoded {
            ts_ms: i64::from_le_bytes(self.bytes::<8>()?),
            attempts: u32::from_le_bytes(self.bytes::<4>()?),
            request_id: self.text()?,
            stream: has(bit::STREAM),
            ..Decoded::default()
        };
        if has(bit::STATUS) {
            row.status = Some(u16::from_le_bytes(self.bytes::<2>()?));
        }
        for (flag, slot) in [
            (bit::TTFB, &mut row.ttfb_ms),
            (bit::TTFT, &mut row.ttft_ms),
            (bit::DURATION, &mut row.duration_ms),
            (bit::INPUT, &mut row.input_tokens),
            (bit::OUTPUT, &mut row.output_tokens),
            (bit::CACHED, &mut row.cached_tokens),
        ] {
            if has(flag) {
                *slot = Some(i64::from_le_bytes(self.bytes::<8>()?));
            }
        }
        if has(bit::COST) {
            row.cost_usd = Some(f64::from_bits(u64::from_le_bytes(self.bytes::<8>()?)));
        }
        for (flag, slot) in [
            (bit::SESSION, &mut row.session_id),
            (bit::CLIENT, &mut row.client),
            (bit::API, &mut row.api),
            (bit::PROVIDER, &mut row.provider),
            (bit::MODEL_REQUESTED, &mut row.model_requested),
            (bit::MODEL_SENT, &mut row.model_sent),
            (bit::ERROR_CLASS, &mut row.error_class),
        ] {
            if has(flag) {
                *slot = Some(self.text()?);
            }
        }
        Some(row)
    }
}

impl<'a> Iterator for Rows<'a> {
    type Item = Option<Decoded<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let row = self.row();
        if row.is_none() {
            self.rest = &[];
        }
        Some(row)
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

/// A batch whose bytes stop making sense partway.
fn damaged() -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure("a usage batch is damaged".into())
}

/// Insert the encoded rows of `bytes` into `usage`, inside the caller's transaction. A
/// damaged batch inserts nothing: it is read through once before the first insert, and
/// it must hold `expected` rows when that is known (a batch cut between two rows reads
/// as whole otherwise).
fn insert_encoded(
    transaction: &rusqlite::Transaction<'_>,
    bytes: &[u8],
    expected: Option<usize>,
) -> rusqlite::Result<usize> {
    static MANY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_sql(ROWS_PER_STATEMENT));
    static ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_sql(1));
    let mut readable = 0;
    for row in (Rows { rest: bytes }) {
        if row.is_none() {
            return Err(damaged());
        }
        readable += 1;
    }
    if expected.is_some_and(|expected| expected != readable) {
        return Err(damaged());
    }
    let mut rows = Rows { rest: bytes };
    let mut count = 0;
    let mut chunk: Vec<Decoded<'_>> = Vec::with_capacity(ROWS_PER_STATEMENT);
    loop {
        chunk.clear();
        for row in rows.by_ref().take(ROWS_PER_STATEMENT) {
            chunk.push(row.ok_or_else(damaged)?);
        }
        if chunk.len() == ROWS_PER_STATEMENT {
            let mut statement = transaction.prepare_cached(&MANY)?;
            for (at, row) in chunk.iter().enumerate() {
                bind_row(&mut statement, at * COLUMNS, row)?;
            }
            statement.raw_execute()?;
        } else {
            for row in &chunk {
                let mut statement = transaction.prepare_cached(&ONE)?;
                bind_row(&mut statement, 0, row)?;
                statement.raw_execute()?;
            }
        }
        count += chunk.len();
        if chunk.len() < ROWS_PER_STATEMENT {
            return Ok(count);
        }
    }
}

/// Bind `row`'s columns after the first `before` parameters of `statement`.
fn bind_row(
    statement: &mut rusqlite::CachedStatement<'_>,
    before: usize,
    row: &Decoded<'_>,
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

/// Insert the encoded rows of `bytes` into `usage`, in one transaction.
pub fn insert(connection: &Connection, bytes: &[u8]) -> rusqlite::Result<()> {
    let transaction =
        rusqlite::Transaction::new_unchecked(connection, rusqlite::TransactionBehavior::Deferred)?;
    insert_encoded(&transaction, bytes, None)?;
    transaction.commit()
}

/// Park the `rows` encoded rows of `bytes` as one batch, to be settled later.
pub fn park(connection: &Connection, rows: usize, bytes: &[u8]) -> rusqlite::Result<()> {
    connection
        .prepare_cached("INSERT INTO usage_parked (format, rows, data) VALUES (?1, ?2, ?3)")?
        .execute(rusqlite::params![FORMAT, i64::try_from(rows).unwrap_or(i64::MAX), bytes])?;
    Ok(())
}

/// Rows parked and not yet settled (in batches of a format this build knows).
pub fn parked(connection: &Connection) -> rusqlite::Result<u64> {
    connection.query_row(
        "SELECT coalesce(sum(rows), 0) FROM usage_parked WHERE format = ?1",
        [FORMAT],
        |row| row.get(0),
    )
}

/// Rows moved per transaction by [`settle`], so the WAL stays small and a writer waiting
/// for the lock waits for one of them only.
const SETTLE_ROWS: i64 = 16_384;

/// Move every parked batch, oldest first, into `usage`, each transaction taking batches
/// up to [`SETTLE_ROWS`] rows. Returns how many rows were moved. A damaged batch is
/// dropped (its rows cannot be read back); one of a newer format is left where it is.
pub fn settle(connection: &Connection) -> Result<u64> {
    settle_up_to(connection, u64::MAX)
}

/// [`settle`] before a read of `usage`: best effort, since a db busy with another settle
/// (or failing) is read as it is, and rows still parked show at a later read.
pub fn settle_for_reading(connection: &Connection) {
    let _ = settle(connection);
}

/// [`settle`], stopping once `limit` rows or more were moved (whole batches, the oldest
/// first): a busy writer settles a step at a time between its own batches.
pub fn settle_up_to(connection: &Connection, limit: u64) -> Result<u64> {
    let mut moved = 0;
    while moved < limit {
        // Immediate: the transaction writes, and a reader's settle may race the writer's.
        let transaction =
            rusqlite::Transaction::new_unchecked(connection, rusqlite::TransactionBehavior::Immediate)?;
        let mut picked = Vec::new();
        {
            let mut statement = transaction
                .prepare_cached("SELECT id, rows FROM usage_parked WHERE format = ?1 ORDER BY id")?;
            let mut batches = statement.query([FORMAT])?;
            let mut total = 0;
            let most = i64::try_from(limit - moved).unwrap_or(i64::MAX).min(SETTLE_ROWS);
            while total < most
                && let Some(batch) = batches.next()?
            {
                let rows = batch.get::<_, i64>(1)?;
                picked.push((batch.get::<_, i64>(0)?, rows));
                total += rows;
            }
        }
        if picked.is_empty() {
            return Ok(moved);
        }
        for (id, rows) in picked {
            let data: Vec<u8> = transaction
                .prepare_cached("SELECT data FROM usage_parked WHERE id = ?1")?
                .query_row([id], |row| row.get(0))?;
            match insert_encoded(&transaction, &data, usize::try_from(rows).ok()) {
                Ok(rows) => moved += rows as u64,
                Err(rusqlite::Error::ToSqlConversionFailure(_)) => {}
                Err(error) => return Err(error.into()),
            }
            transaction.prepare_cached("DELETE FROM usage_parked WHERE id = ?1")?.execute([id])?;
        }
        transaction.commit()?;
    }
    Ok(moved)
}

#[cfg(test)]
#[path = "usage_store_tests.rs"]
mod tests;
